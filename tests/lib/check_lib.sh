# Shared by the script tests that list checks: `check DESCRIPTION CMD...`
# runs CMD, prints "ok   DESCRIPTION" or "FAIL DESCRIPTION" and counts the
# failures in $fails; the script ends with `[ "$fails" = 0 ]` or similar.
fails=0
check () {  # check DESCRIPTION CONDITION...
    local what="$1"; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
