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

is_count() {      # VALUE LEAST: a whole number of at least LEAST
    case "$1" in
        '' | *[!0-9]*) return 1 ;;
    esac
    [ "$1" -ge "$2" ] 2>/dev/null
}

is_seconds() {    # VALUE: a number greater than 0, such as 300 or 2.5
    case "$1" in
        '' | . | *[!0-9.]* | *.*.*) return 1 ;;
    esac
    case "$1" in
        *[1-9]*) return 0 ;;
    esac
    return 1
}

boolean() {       # VALUE: configparser's words; prints true or false, status 1 for others
    case "$(printf '%s' "$1" | tr 'A-Z' 'a-z')" in
        1 | yes | true | on) echo true ;;
        0 | no | false | off) echo false ;;
        *) return 1 ;;
    esac
}
