# settings-edit.awk: the line editor of settings-edit (see there). Input: first the spec,
# "section<TAB>key<TAB>value" lines, then the settings file; output: the new settings file.
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
function line_for(k, v) { return v == "" ? k " =" : k " = " v }
# The wanted keys of section s that the file did not have: they go here.
function add_missing(s,    i) {
    for (i = 1; i <= n; i++)
        if (sec[i] == s && !done[i]) { print line_for(key[i], val[i]); done[i] = 1 }
}
function flush_held(    i) { for (i = 1; i <= held; i++) print hold[i]; held = 0 }
NR == FNR {
    n++; sec[n] = $1; key[n] = $2
    val[n] = substr($0, length($1) + length($2) + 3)
    next
}
{
    line = $0
    if (skipping) {
        if (line ~ /^[ \t]+[^ \t]/) next       # continuation of a replaced value
        skipping = 0
    }
    if (line ~ /^[ \t]*\[/) {                   # a section header
        add_missing(current); flush_held()
        name = line; sub(/^[ \t]*\[/, "", name); sub(/\].*$/, "", name)
        current = name; seen[name] = 1
        print line; next
    }
    if (line ~ /^[ \t]*$/ || line ~ /^[ \t]*[#;]/) { hold[++held] = line; next }
    flush_held()
    if (current != "") {
        low = tolower(line)
        for (i = 1; i <= n; i++) {
            if (sec[i] != current) continue
            if (match(low, "^[ \t]*" key[i] "[ \t]*[=:]")) {
                if (trim(substr(line, RLENGTH + 1)) == val[i]) print line
                else print line_for(key[i], val[i])
                done[i] = 1; skipping = 1
                next
            }
        }
    }
    print line
}
END {
    add_missing(current); flush_held()
    for (i = 1; i <= n; i++) {
        if (done[i] || seen[sec[i]]) continue
        printf "\n[%s]\n", sec[i]; seen[sec[i]] = 1; current = sec[i]
        add_missing(current)
    }
}
