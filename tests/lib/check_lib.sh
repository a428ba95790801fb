# Shared by the script tests that list checks: `check DESCRIPTION CMD...`
# runs CMD, prints "ok   DESCRIPTION" or "FAIL DESCRIPTION" and counts the
# failures in $fails; the script ends with `[ "$fails" = 0 ]` or similar.
fails=0
check () {  # check DESCRIPTION CONDITION...
    local what="$1"; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

# Numbers compared in awk: near A B TOL (|A - B| <= TOL), le A B (A <= B).
near () { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
le () { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# ebur_summary FILE: "I LRA TP" from the summary of ffmpeg's ebur128
# filter, an independent meter (true peak at its own oversampling; every
# value printed to 0.1).
ebur_summary () {
    ffmpeg -hide_banner -nostats -i "$1" -af ebur128=peak=true -f null - 2>&1 |
        awk '/Summary:/ {s=1} s && /I:/ {i=$2} s && /LRA:/ {l=$2} s && /Peak:/ {p=$2}
             END {print i, l, p}'
}
