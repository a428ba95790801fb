#!/bin/bash
# A job spec file holding a NUL byte (JSON or CSV) is refused by run and
# submit at once, with the byte's position, before anything starts: the
# text would reach the broker cut at the NUL, and the spec parser's error
# locator used to loop forever on it.
. "$MF_SRC/tests/lib/farm_lib.sh"

printf '{"name": "x",\n "albums": [{"title": "A", "tracks": [7\0]}]}' >"$T/nul.json"
printf 'album,track,path\nA,1,a.wav\0\n' >"$T/nul.csv"
mkdir -p "$T/in"
for cmd in run submit; do
    for f in nul.json:54 nul.csv:27; do
        byte=${f#*:} f=${f%:*}
        set +e
        if [ $cmd = run ]; then
            timeout 60 "$MASTERFARM" run "$T/$f" -o "$T/out-$f" >"$T/$cmd.out" 2>"$T/$cmd.err"
        else
            timeout 60 "$MASTERFARM" submit "$T/$f" --broker tcp://127.0.0.1:9 \
                >"$T/$cmd.out" 2>"$T/$cmd.err"
        fi
        rc=$?
        set -e
        cat "$T/$cmd.err"
        [ $rc != 124 ] || fail "$cmd $f did not finish in 60 s"
        [ $rc != 0 ] || fail "$cmd $f exited 0"
        grep -qF "$f: byte $byte is a NUL character" "$T/$cmd.err" \
            || fail "$cmd $f: no error naming the NUL at byte $byte"
    done
done
echo "spec_nul: ok"
