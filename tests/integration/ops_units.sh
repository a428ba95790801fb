#!/usr/bin/env bash
# The deployment files of ops/ against the real programs:
#   (a) systemd-analyze verify accepts both units (ExecStart pointed at the
#       build's binaries in a temporary copy; verify checks that they are
#       executable) and prints nothing about them (unknown keys are only
#       warnings there, so any line naming our units fails the test);
#       when systemd-analyze is not installed (package systemd) the other
#       checks still run and the test then exits 77 (skipped, not passed);
#   (b) every --option in the units, the env examples, the entrypoint and
#       the Containerfile's ENTRYPOINT/CMD appears in the --help of the
#       program it is given to; the units' and the entrypoint's command
#       lines, with the env examples' values, are accepted by the programs
#       (run with --help appended: options are parsed in order, so a bad
#       value such as --storage foo exits 2 before --help is reached);
#   (c) the env examples are plain KEY=VALUE lines that sh sources without
#       error, and define every variable the units' ExecStart uses.
# SYSTEMD_ANALYZE names the verifier (set it to a missing name to try the
# skip).
# shellcheck disable=SC2016  # single-quoted scripts get their values as arguments
set -u
BIN="${MF_BIN:?MF_BIN not set}"
SRC="${MF_SRC:?MF_SRC not set}"
TMP="${MF_TEST_TMP:-/tmp}/ops_units.$$"
ANALYZE="${SYSTEMD_ANALYZE:-systemd-analyze}"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"

UNITS="$SRC/ops/systemd"
ENTRY="$SRC/ops/entrypoint.sh"
CFILE="$SRC/ops/Containerfile"
for f in "$UNITS/masterfarm-broker.service" "$UNITS/masterfarm-worker.service" \
         "$UNITS/broker.env.example" "$UNITS/worker.env.example" "$ENTRY" "$CFILE"; do
    check "$(basename "$f") exists" test -f "$f"
done
for p in masterfarm masterfarm-broker masterfarm-worker; do
    check "$p built" test -x "$BIN/$p"
done

# Logical lines of a file: backslash continuations joined.
logical () { sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1"; }
# The --options of text on stdin, one per line, sorted, unique.
options () { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
# The ExecStart= command line of a unit.
execstart () { logical "$1" | sed -n 's/^ExecStart=//p'; }

# --- (a) systemd-analyze verify -------------------------------------------
if command -v "$ANALYZE" > /dev/null 2>&1; then
    mkdir -p "$TMP/units"
    for u in masterfarm-broker masterfarm-worker; do
        sed "s#/usr/local/bin/#$BIN/#g" "$UNITS/$u.service" > "$TMP/units/$u.service"
    done
    "$ANALYZE" verify --man=no "$TMP/units/masterfarm-broker.service" \
        "$TMP/units/masterfarm-worker.service" > "$TMP/verify.txt" 2>&1
    rc=$?
    check "systemd-analyze verify exits 0 (got $rc)" test $rc -eq 0
    check "systemd-analyze verify says nothing about the units" \
        bash -c '! grep -E "masterfarm-(broker|worker)" "$1"' _ "$TMP/verify.txt"
    grep -E "masterfarm-(broker|worker)" "$TMP/verify.txt" | sed 's/^/     /'
else
    echo "SKIP (a) systemd-analyze verify: $ANALYZE is not installed (package systemd)"
    skipped=1
fi

# --- (b) options against --help ---------------------------------------------
declare -A HELP
for p in masterfarm-broker masterfarm-worker; do
    "$BIN/$p" --help > "$TMP/$p.help" 2>&1
    check "$p --help exits 0" test $? -eq 0
    HELP[$p]="$TMP/$p.help"
done
n_checked=0
check_opts () {  # check_opts PROGRAM WHERE TEXT: TEXT's --options in PROGRAM's help
    local prog="$1" where="$2" o
    for o in $(printf '%s\n' "$3" | options); do
        n_checked=$((n_checked + 1))
        check "$where: $o is a $prog option" grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" \
            "${HELP[$prog]}"
    done
}
for r in broker worker; do
    prog="masterfarm-$r"
    ex=$(execstart "$UNITS/$prog.service")
    check "$prog.service: ExecStart runs $prog" \
        bash -c '[[ "$1" == *"/$2 "* ]]' _ "$ex" "$prog"
    check_opts "$prog" "$prog.service ExecStart" "$ex"
    check_opts "$prog" "$prog.service" \
        "$(logical "$UNITS/$prog.service" | grep -E '^Exec(Reload|Stop)' | grep -F "$prog")"
    check_opts "$prog" "$r.env.example" "$(cat "$UNITS/$r.env.example")"
    check_opts "$prog" "entrypoint.sh" "$(logical "$ENTRY" | grep -E "exec $prog( |\$)")"
    # ENTRYPOINT/CMD lines of the Containerfile that run this role
    check_opts "$prog" "Containerfile" \
        "$(logical "$CFILE" | grep -E '^(ENTRYPOINT|CMD)' | grep -E "\"$r\"")"
done
check "options were found to check ($n_checked)" test "$n_checked" -ge 10

# --- (c) the env examples ---------------------------------------------------
for r in broker worker; do
    env="$UNITS/$r.env.example"
    bad=$(grep -nvE '^[[:space:]]*(#.*)?$|^[A-Z_][A-Z0-9_]*=("[^"$`\\]*"|[^[:space:]"'"'"'$`\\;&|<>()]*)$' "$env")
    check "$r.env.example: only comments and KEY=VALUE lines" test -z "$bad"
    [ -z "$bad" ] || printf '     %s\n' "$bad"
    env -i sh -ec 'set -a; . "$1"; env' _ "$env" > "$TMP/$r.env" 2>&1
    check "$r.env.example: sh sources it" test $? -eq 0
    # every variable of ExecStart defined (the ${NAME} ones not empty)
    ex=$(execstart "$UNITS/masterfarm-$r.service")
    for v in $(printf '%s\n' "$ex" | grep -oE '\$\{?[A-Za-z_][A-Za-z0-9_]*' | tr -d '${' | sort -u); do
        if [[ "$ex" == *"\${$v}"* ]]; then
            check "$r.env.example: $v set and not empty" grep -qE "^$v=.+" "$TMP/$r.env"
        else
            check "$r.env.example: $v set" grep -qE "^$v=" "$TMP/$r.env"
        fi
    done
done

# The units' command lines with the examples' values, as systemd expands
# them (${NAME}: one word; $NAME: split into words), then --help.
expand_exec () {  # expand_exec UNIT ENVDUMP: the words of ExecStart, one per line
    local word name val
    for word in $(execstart "$1"); do
        if [[ "$word" =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
            name="${BASH_REMATCH[1]}"
            val=$(sed -n "s/^$name=//p" "$2")
            # shellcheck disable=SC2086
            [ -n "$val" ] && printf '%s\n' $val
        else
            while [[ "$word" =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
                name="${BASH_REMATCH[1]}"
                val=$(sed -n "s/^$name=//p" "$2")
                word="${word//\$\{$name\}/$val}"
            done
            printf '%s\n' "$word"
        fi
    done
}
for r in broker worker; do
    prog="masterfarm-$r"
    mapfile -t words < <(expand_exec "$UNITS/$prog.service" "$TMP/$r.env")
    "$BIN/$prog" "${words[@]:1}" --help > /dev/null 2> "$TMP/$r.err"
    rc=$?
    check "$prog.service with $r.env.example: arguments accepted (exit $rc)" test $rc -eq 0
    [ $rc -eq 0 ] || sed 's/^/     /' "$TMP/$r.err" | head -3
    # the entrypoint builds the same command line from the same variables
    mkdir -p "$TMP/path-$r"
    printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done\n' > "$TMP/path-$r/$prog"
    chmod +x "$TMP/path-$r/$prog"
    env -i PATH="$TMP/path-$r:/usr/bin:/bin" sh -c 'set -a; . "$1"; exec sh "$2" "$3"' _ \
        "$UNITS/$r.env.example" "$ENTRY" "$r" > "$TMP/$r.entry" 2>&1
    check "entrypoint.sh $r: same arguments as the unit" \
        diff <(printf '%s\n' "${words[@]:1}") "$TMP/$r.entry"
    mapfile -t ewords < "$TMP/$r.entry"
    "$BIN/$prog" "${ewords[@]}" --help > /dev/null 2>&1
    check "entrypoint.sh $r: arguments accepted" test $? -eq 0
    # docker/podman --env-file: each line taken literally, quotes kept
    vars=()
    while IFS= read -r line; do
        [[ "$line" =~ ^[A-Z_][A-Z0-9_]*= ]] && vars+=("$line")
    done < "$UNITS/$r.env.example"
    env -i PATH="$TMP/path-$r:/usr/bin:/bin" "${vars[@]}" sh "$ENTRY" "$r" \
        > "$TMP/$r.entry2" 2>&1
    check "entrypoint.sh $r with --env-file values (quotes kept): same arguments" \
        diff "$TMP/$r.entry" "$TMP/$r.entry2"
done
# A missing variable: the entrypoint names it and exits 2.
env -i PATH="/usr/bin:/bin" sh "$ENTRY" worker > /dev/null 2> "$TMP/miss.err"
rc=$?
check "entrypoint.sh worker without MF_CONNECT exits 2 (got $rc)" test $rc -eq 2
check "entrypoint.sh names the missing MF_CONNECT" grep -q MF_CONNECT "$TMP/miss.err"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
if [ "${skipped:-0}" = 1 ]; then
    echo "SKIPPED: the other checks passed, but systemd-analyze verify could not run"
    exit 77
fi
echo "all checks passed"
