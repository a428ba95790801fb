#!/bin/bash
# Tags of delivered files. A two-track album with an ISRC per track, a
# UPC, an album artist, a disc number, a date and a genre, run through
# the farm (`masterfarm run`): the FLAC masters carry ISRC, BARCODE,
# ALBUMARTIST, TRACKNUMBER, TRACKTOTAL, DISCNUMBER, TITLE, ARTIST, ALBUM,
# DATE and GENRE Vorbis comments (read back with metaflac and ffprobe),
# the WAV masters their RIFF INFO fields (ffprobe). `masterfarm master
# --title --artist --album --isrc` writes the same; a bad ISRC or date in
# a spec, or a bad --isrc, is refused naming where it is. The album FLAC
# passes flac -t (CRCs and MD5) and decodes to its tracks back to back.
# Japanese and Russian titles are kept in folder and file names.
. "$MF_SRC/tests/lib/farm_lib.sh"

command -v metaflac >/dev/null || { echo "metaflac not installed"; exit 77; }
command -v ffprobe >/dev/null || { echo "ffprobe not installed"; exit 77; }

# ffprobe_tags FILE: "key=value" per format tag, keys in lower case.
ffprobe_tags () {
    ffprobe -v error -show_entries format_tags -of default=noprint_wrappers=1 "$1" \
        | sed 's/^TAG://' | awk -F= '{ k = tolower($1); sub(/^[^=]*=/, ""); print k "=" $0 }'
}
# has LIST LINE WHAT: fails unless LIST holds the line LINE.
has () { grep -qxF -- "$2" <<<"$1" || fail "$3: no '$2' in: $(tr '\n' '|' <<<"$1")"; }

gen_album "$T/in" --tracks 2 --seconds 3 --seed 5 --profiles spotify,apple
python3 - "$T/in/job.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
a = j["albums"][0]
a.update(artist="The Testers", upc="0123456789012", date="2026-03-01", genre="Ambient")
a["tracks"][0].update(isrc="US-AB1-26-00001", disc=1)
a["tracks"][1].update(isrc="USAB12600002", disc=1, artist="Guest Singer")
json.dump(j, open(p, "w"), indent=2)
PY
"$MASTERFARM" run "$T/in/job.json" -o "$T/out" -j 2 >"$T/run.out" 2>&1 \
    || { cat "$T/run.out"; fail "masterfarm run did not exit 0"; }

flac=$(find "$T/out" -path "*/spotify/02 - *.flac" | head -n 1)
[ -n "$flac" ] || { find "$T/out"; fail "no FLAC master of track 2"; }
tags=$(metaflac --export-tags-to=- "$flac")
log "metaflac: $(tr '\n' '|' <<<"$tags")"
for t in "ISRC=USAB12600002" "BARCODE=0123456789012" "ALBUMARTIST=The Testers" \
         "ARTIST=Guest Singer" "TITLE=Harbour Lights" "ALBUM=Generated Album 1" \
         "TRACKNUMBER=2" "TRACKTOTAL=2" "DISCNUMBER=1" "DATE=2026-03-01" "GENRE=Ambient"; do
    has "$tags" "$t" "metaflac on $flac"
done
# one value per field (libsndfile's own comment block is replaced, not added to)
[ "$(grep -c '^TITLE=' <<<"$tags")" = 1 ] || fail "TITLE written more than once"
tags=$(ffprobe_tags "$flac")
for t in "isrc=USAB12600002" "barcode=0123456789012" "album_artist=The Testers" \
         "tracktotal=2" "disc=1"; do
    has "$tags" "$t" "ffprobe on $flac"
done
tags=$(metaflac --export-tags-to=- "$(dirname "$flac")/album.flac")
has "$tags" "BARCODE=0123456789012" "album.flac"
has "$tags" "ALBUMARTIST=The Testers" "album.flac"
# the album file is its tracks' frames joined (worker/flac_out.h): flac -t
# checks every frame's CRCs and the MD5 of its STREAMINFO, and ffmpeg
# decodes it to the tracks' samples back to back
if command -v flac >/dev/null; then
    for f in "$(dirname "$flac")"/*.flac; do
        flac -t -s "$f" 2>"$T/flac_t.err" || fail "flac -t $f: $(cat "$T/flac_t.err")"
        ! grep -q . "$T/flac_t.err" || fail "flac -t $f warns: $(cat "$T/flac_t.err")"
    done
fi
pcm () { ffmpeg -v error -i "$1" -f s32le - | sha256sum | cut -c1-64; }
a=$(pcm "$(dirname "$flac")/album.flac")
t=$(for f in "$(dirname "$flac")"/0*.flac; do ffmpeg -v error -i "$f" -f s32le -; done |
    sha256sum | cut -c1-64)
[ "$a" = "$t" ] || fail "album.flac does not decode to its tracks' samples back to back"

wav=$(find "$T/out" -path "*/apple/01 - *.wav" | head -n 1)
[ -n "$wav" ] || { find "$T/out"; fail "no WAV master of track 1"; }
tags=$(ffprobe_tags "$wav")
log "ffprobe WAV: $(tr '\n' '|' <<<"$tags")"
for t in "title=Intro" "artist=The Testers" "album=Generated Album 1" "track=1" \
         "date=2026-03-01" "genre=Ambient" "comment=ISRC=USAB12600001"; do
    has "$tags" "$t" "ffprobe on $wav"
done
# the INFO chunk ids themselves (INAM, IART, IPRD, ITRK, ICRD, IGNR, ICMT)
for id in INAM IART IPRD ITRK ICRD IGNR ICMT; do
    grep -qa "$id" "$wav" || fail "$wav: no $id chunk"
done
log "farm masters tagged"

# --- masterfarm master ---------------------------------------------------------
src="$T/in/album1/01 - Intro.wav"
"$MASTERFARM" master "$src" -o "$T/m.flac" --title "Solo Take" --artist "Ann Example" \
    --album "Live" --isrc gb-xyz-26-12345 >/dev/null || fail "master to FLAC failed"
tags=$(metaflac --export-tags-to=- "$T/m.flac")
for t in "TITLE=Solo Take" "ARTIST=Ann Example" "ALBUM=Live" "ISRC=GBXYZ2612345"; do
    has "$tags" "$t" "master -o m.flac"
done
"$MASTERFARM" master "$src" -o "$T/m.wav" --title "Solo Take" --artist "Ann Example" \
    --isrc GBXYZ2612345 >/dev/null || fail "master to WAV failed"
tags=$(ffprobe_tags "$T/m.wav")
for t in "title=Solo Take" "artist=Ann Example" "comment=ISRC=GBXYZ2612345"; do
    has "$tags" "$t" "master -o m.wav"
done
set +e
"$MASTERFARM" master "$src" -o "$T/bad.flac" --isrc US-AB1-26-1 >"$T/bad.out" 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "a bad --isrc exited $rc, expected 2"
grep -q -- "--isrc 'US-AB1-26-1'" "$T/bad.out" || fail "bad --isrc message: $(cat "$T/bad.out")"
[ ! -e "$T/bad.flac" ] || fail "a bad --isrc still wrote a file"
log "master --title/--artist/--album/--isrc"

# --- bad values in a spec ------------------------------------------------------
python3 - "$T/in/job.json" "$T/in/bad.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
a = j["albums"][0]
a["tracks"][1]["isrc"] = "US-AB1-26-0002"
a["date"] = "2026-02-30"
json.dump(j, open(sys.argv[2], "w"), indent=2)
PY
set +e
"$MASTERFARM" run "$T/in/bad.json" -o "$T/out2" -j 1 >"$T/bad.out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$T/bad.out"; fail "a spec with a bad ISRC exited $rc, expected 1"; }
grep -q 'albums\[0\].tracks\[1\].isrc' "$T/bad.out" || fail "no JSON path for the ISRC: $(cat "$T/bad.out")"
grep -q 'albums\[0\].date' "$T/bad.out" || fail "no JSON path for the date: $(cat "$T/bad.out")"
log "bad ISRC and date refused: $(tr '\n' '|' <<<"$(cat "$T/bad.out")")"

# --- titles in other scripts ----------------------------------------------------
# A Japanese and a Russian album: the folders and file names keep their
# titles (not "untitled", "untitled-2" and "01 - ______.flac"), the tags
# carry them exactly, and the manifests check out with sha256sum.
gen_album "$T/in3" --albums 2 --tracks 2 --seconds 3 --seed 6 --profiles spotify
python3 - "$T/in3/job.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
a, b = j["albums"]
a.update(title="夜行列車", artist="たま")
a["tracks"][0]["title"], a["tracks"][1]["title"] = "さよなら人類", "らんちう ♪"
b.update(title="Группа крови", artist="Кино")
b["tracks"][0]["title"], b["tracks"][1]["title"] = "Группа крови", "Закрой за мной дверь?"
json.dump(j, open(p, "w"), indent=2, ensure_ascii=False)
PY
"$MASTERFARM" run "$T/in3/job.json" -o "$T/out3" -j 2 >"$T/run3.out" 2>&1 \
    || { cat "$T/run3.out"; fail "masterfarm run of the other scripts did not exit 0"; }
for f in "たま-夜行列車/spotify/01 - さよなら人類.flac" "たま-夜行列車/spotify/02 - らんちう _.flac" \
         "кино-группа-крови/spotify/01 - Группа крови.flac" \
         "кино-группа-крови/spotify/02 - Закрой за мной дверь_.flac"; do
    [ -f "$T/out3/$f" ] || { find "$T/out3" -path '*/.masterfarm' -prune -o -print; fail "no $f"; }
done
has "$(metaflac --export-tags-to=- "$T/out3/кино-группа-крови/spotify/02 - Закрой за мной дверь_.flac")" \
    "TITLE=Закрой за мной дверь?" "Russian title tag"
has "$(metaflac --export-tags-to=- "$T/out3/たま-夜行列車/spotify/01 - さよなら人類.flac")" \
    "ALBUM=夜行列車" "Japanese album tag"
n=$(verify_manifests "$T/out3") || fail "manifests of the other scripts: $n"
log "Japanese and Russian titles kept in folder and file names and tags; $n files verified"
farm_pass
