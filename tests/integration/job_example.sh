#!/usr/bin/env bash
# The job spec example (tests/data/job_example.json, the one DESIGN.md
# shows) runs as it is through `masterfarm run`, with a generated
# music-like mix at its input path: both profiles (spotify and cd) are
# delivered, and the cd album's CUE sheet has the Red Book pregap of
# track 1 (INDEX 00 at 00:00:00, INDEX 01 at 00:02:00) although the
# spec's gap before track 1 is 0; the spotify master keeps gap 0.
. "${MF_SRC:?MF_SRC not set}/tests/lib/farm_lib.sh"

EXAMPLE="$MF_SRC/tests/data/job_example.json"
# the example's input, at the path it names
gen_album "$T/gen" --tracks 1 --seconds 8 --seed 11
mkdir -p "$T/in/album1"
mv "$T/gen/album1/"*.wav "$T/in/album1/01 intro.wav"

"$MASTERFARM" run "$EXAMPLE" --input-root "$T/in" -o "$T/out" -j 2 --quiet > "$T/run.out" 2>&1 \
    || { cat "$T/run.out"; fail "masterfarm run of the example did not exit 0"; }
album=$(find "$T/out" -mindepth 1 -maxdepth 1 -type d ! -name .masterfarm)
[ -n "$album" ] || { ls -R "$T/out"; fail "no album delivered"; }
for p in spotify cd; do
    n=$(find "$album/$p" -name '01 - Intro.*' | wc -l)
    [ "$n" = 1 ] || { ls -R "$album"; fail "no $p master of track 1"; }
done
cue=$(find "$album/cd" -name '*.cue')
grep -q "INDEX 00 00:00:00" "$cue" && grep -q "INDEX 01 00:02:00" "$cue" \
    || { cat "$cue"; fail "the cd CUE sheet lacks the 2 s pregap of track 1"; }
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
log "job_example.json ran as is: spotify and cd delivered, pregap in the CUE sheet"

# the streaming profile keeps the spec's gap of 0 before track 1: its
# first file starts with the music, not 2 s of silence
sp=$(find "$album/spotify" -name '01 - Intro.*')
lead=$(ffmpeg -nostdin -hide_banner -i "$sp" -af silencedetect=n=-70dB:d=0.5 -f null - 2>&1 \
       | awk '/silence_start: 0($|[^.0-9])/ || /silence_start: 0\.0/ {print "lead"}')
[ -z "$lead" ] || fail "the spotify master of track 1 starts with silence (gap 0 in the spec)"
log "spotify keeps gap 0 before track 1; cd has the 2 s disc pregap"
farm_pass
