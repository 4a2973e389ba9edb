# settings-lib.sh: shell functions for the settings file of nova-snapshot-hook, for POSIX sh
# with "set -e". Installed as /usr/share/nova-snapshot-hook/settings-lib.sh: the postinst and
# settings-edit source it; debian/config carries a copy (it may run before the package is
# unpacked), which tests/unit/test_settings_table.py keeps the same. The checks accept what
# the parsers of nova_snapshot_hook/config.py accept, for the keys that debconf manages.

# The value of KEY in [SECTION] of FILE; status 1 when there is none.
setting() {       # FILE SECTION KEY
    [ -r "$1" ] || return 1
    awk -v section="$2" -v key="$3" '
        /^[ \t]*\[/ { name = $0; sub(/^[ \t]*\[/, "", name); sub(/\].*$/, "", name)
                      inside = (name == section); next }
        !inside || /^[ \t]*[#;]/ { next }
        { low = tolower($0) }
        match(low, "^[ \t]*" key "[ \t]*[=:]") {
            value = substr($0, RLENGTH + 1); gsub(/^[ \t]+|[ \t]+$/, "", value)
            print value; found = 1; exit
        }
        END { exit !found }' "$1"
}

is_count() {      # VALUE LEAST: a whole number from LEAST to 1000 (the settings' bound)
    case "$1" in
        '' | *[!0-9]* | ?????*) return 1 ;;
    esac
    [ "$1" -ge "$2" ] 2>/dev/null && [ "$1" -le 1000 ] 2>/dev/null
}

is_seconds() {    # VALUE: a number greater than 0 and at most 86400 (a day), such as 300 or 2.5
    case "$1" in
        '' | . | *[!0-9.]* | *.*.*) return 1 ;;
    esac
    case "$1" in
        *[1-9]*) ;;
        *) return 1 ;;
    esac
    whole=${1%%.*}
    whole=${whole#"${whole%%[1-9]*}"}     # no leading zeros: the shell would read octal
    case "$whole" in
        ??????*) return 1 ;;
        '') return 0 ;;
    esac
    [ "$whole" -lt 86400 ] && return 0
    [ "$whole" -eq 86400 ] || return 1
    case "$1" in
        *.*[1-9]*) return 1 ;;
    esac
    return 0
}

boolean() {       # VALUE: configparser's words; prints true or false, status 1 for others
    case "$(printf '%s' "$1" | tr 'A-Z' 'a-z')" in
        1 | yes | true | on) echo true ;;
        0 | no | false | off) echo false ;;
        *) return 1 ;;
    esac
}
