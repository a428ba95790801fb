#!/usr/bin/env bash
# The programs' --help texts and README.md agree:
#   (a) every --option README.md mentions is in some program's --help
#       (options of other tools that README names are listed in FOREIGN);
#   (b) every --option of every --help is mentioned in README.md;
#   (c) each entry of README's "Commands" block names only options of that
#       command's --help, and the block and `masterfarm --help` list the
#       same client commands;
#   (d) test-only hooks (--noop, MASTERFARM_FAULT) stay out of every --help.
# DESIGN.md is checked like README.md in (a) when it is in the source tree.
set -u
BIN="${MF_BIN:?MF_BIN not set}"
SRC="${MF_SRC:?MF_SRC not set}"
TMP="${MF_TEST_TMP:-/tmp}/help_docs.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "$SRC/tests/lib/check_lib.sh"

FOREIGN="--quick" # --options of other programs that README.md shows (ops/bench.sh)
README="$SRC/README.md"
options () { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }

# the client's commands, from its own help
"$BIN/masterfarm" --help > "$TMP/masterfarm.help" || { echo "FAIL masterfarm --help"; exit 1; }
mapfile -t COMMANDS < <(sed -nE 's/^  masterfarm ([a-z]+) .*/\1/p; s/^  masterfarm ([a-z]+)$/\1/p' \
    "$TMP/masterfarm.help")
check "masterfarm --help lists commands (${#COMMANDS[@]})" test "${#COMMANDS[@]}" -ge 8
declare -A HELP
for c in "${COMMANDS[@]}"; do
    "$BIN/masterfarm" "$c" --help > "$TMP/$c.help" 2>&1
    check "masterfarm $c --help exits 0" test $? -eq 0
    HELP[$c]="$TMP/$c.help"
done
for p in masterfarm-broker masterfarm-worker; do
    "$BIN/$p" --help > "$TMP/$p.help" 2>&1
    check "$p --help exits 0" test $? -eq 0
    HELP[$p]="$TMP/$p.help"
done
cat "$TMP"/*.help | options > "$TMP/all.opts"

# (a) documented options exist
docs=("$README")
[ -f "$SRC/DESIGN.md" ] && docs+=("$SRC/DESIGN.md")
for d in "${docs[@]}"; do
    for o in $(options < "$d"); do
        [[ " $FOREIGN " == *" $o "* ]] && continue
        check "$(basename "$d"): $o is an option of some program" grep -qxF -- "$o" "$TMP/all.opts"
    done
done

# (b) every option of every help is documented
options < "$README" > "$TMP/readme.opts"
for o in $(cat "$TMP/all.opts"); do
    check "README.md mentions $o (in --help)" grep -qxF -- "$o" "$TMP/readme.opts"
done

# (c) README's Commands block, entry by entry (continuation lines start with spaces)
awk '/^## Commands/ { on = 1 } on && /^```/ { n++; if (n == 2) exit; next } on && n == 1' \
    "$README" > "$TMP/block"
check "README.md has a Commands block" test -s "$TMP/block"
entries=0
declare -A LISTED
current=""
flush () {
    [ -n "$current" ] || return 0
    local head prog cmds c o
    read -r prog head _ <<< "$current"
    if [ "$prog" = masterfarm ]; then cmds=${head//|/ }; else cmds=$prog; fi
    for c in $cmds; do
        LISTED[$c]=1
        if ! check "README Commands: $c (of '$prog $head') is a command" \
                test -n "${HELP[$c]:-}"; then
            continue
        fi
        entries=$((entries + 1))
        for o in $(printf '%s\n' "$current" | options); do
            check "README Commands: $o is an option of $c" \
                grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" "${HELP[$c]}"
        done
    done
}
while IFS= read -r line; do
    if [[ "$line" =~ ^masterfarm ]]; then
        flush
        current="$line"
    else
        current="$current $line"
    fi
done < "$TMP/block"
flush
for c in "${COMMANDS[@]}"; do
    check "README Commands lists masterfarm $c" test -n "${LISTED[$c]:-}"
done
check "README Commands entries checked ($entries)" test "$entries" -ge 10

# (d) test hooks are not user options
for h in --noop MASTERFARM_FAULT; do
    check "no --help mentions the test hook $h" bash -c '! grep -l -- "$1" "$2"/*.help >&2' _ "$h" "$TMP"
done

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
