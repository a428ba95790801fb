#!/bin/bash
# Writes the seed corpus of fuzz_wire: one tiny file per message type, each
# an Envelope (proto/masterfarm.proto) carrying a body with its fields set,
# then data frames behind the frame separator that fuzz_wire.c splits on,
# plus a few hostile ones (wrong version, unknown type, a body of the wrong
# type, truncated). The files are committed; run this again only to change
# them:  bash tests/fuzz/make_wire_corpus.sh   (needs python3 only)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/fuzz_wire"
mkdir -p "$out"
# (files named regress_* are inputs found by fuzzing; they are kept as they are)

python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
SEP = b"\xffMF\xfe"                      # fuzz_wire.c: S_FRAME_SEP

def varint(n):
    n &= (1 << 64) - 1
    b = b""
    while True:
        x = n & 0x7f
        n >>= 7
        if n:
            b += bytes([x | 0x80])
        else:
            return b + bytes([x])

def key(num, wt):
    return varint(num << 3 | wt)

def u(num, n):                           # varint field (ints, enums, bools)
    return key(num, 0) + varint(n)

def s(num, data):                        # length-delimited (string, bytes, message)
    if isinstance(data, str):
        data = data.encode()
    return key(num, 2) + varint(len(data)) + data

def d(num, x):                           # double
    return key(num, 1) + struct.pack("<d", x)

def packed_d(num, xs):
    return s(num, b"".join(struct.pack("<d", x) for x in xs))

def packed_f(num, xs):
    return s(num, b"".join(struct.pack("<f", x) for x in xs))

def packed_u(num, xs):
    return s(num, b"".join(varint(x) for x in xs))

def env(mtype, body, seq=7, version=1):
    return u(1, version) + u(2, mtype) + u(3, seq) + s(4, body)

def write(name, frames):
    with open(f"{out}/{name}", "wb") as f:
        f.write(SEP.join(frames))

fileref = lambda path, size=0, sha="": s(1, path) + u(2, size) + (s(3, sha) if sha else b"")
plan = d(1, -14.0) + d(2, 2.5) + d(3, -1.0) + packed_d(4, [0.5, -0.25, 0, 1]) + u(5, 441) + u(6, 882)
task = (u(1, 42) + u(2, 1) + u(3, 2) + u(4, 3) + u(5, 0) + u(6, 2) + s(7, "spotify")
        + u(8, 1) + s(9, fileref("01.wav", 4)) + s(10, fileref("01.flac"))
        + s(11, '{"name":"x"}') + s(12, plan) + s(13, b"{}"))
analysis = (s(1, "wav") + u(2, 44100) + u(3, 2) + u(4, 441000) + d(5, -16.2) + d(6, 5.5)
            + d(7, -10) + d(8, -12) + d(9, -0.5) + d(10, -0.2) + d(11, -90) + u(12, 3)
            + u(13, 10) + u(14, 20) + packed_d(15, [1, 2, 3]) + packed_f(16, [-20, -18.5]))
result = (u(1, 42) + u(2, 1) + u(3, 1) + s(5, analysis) + s(6, fileref("01.flac", 4, "ab" * 32))
          + s(7, '{"gain_db":1}') + d(8, 1.25))
track = u(1, 0) + u(2, 3) + s(3, "Song") + u(4, 4) + u(5, 1) + s(6, "") + d(7, 0.5)
job = (u(1, 9) + s(2, "Catalog") + u(3, 2) + u(4, 5) + u(5, 1700000000000) + u(7, 10)
       + u(8, 4) + u(9, 1) + d(10, 12.5) + d(11, 60) + s(13, track) + s(14, "out/x"))

write("submit", [env(1, s(1, '{"albums":[]}') + s(2, "json") + s(3, "spec.json"))])
write("status", [env(2, u(1, 9))])
write("watch", [env(3, u(1, 9))])
write("cancel", [env(4, u(1, 9))])
write("retry", [env(5, u(1, (1 << 64) - 1))])
write("submit_reply", [env(10, u(1, 0) + s(2, s(1, "$.albums") + u(2, 1) + u(3, 12) + s(4, "bad")))])
write("status_reply", [env(11, s(1, job) + s(2, s(1, "w1") + u(2, 2) + u(3, 1) + u(4, 5))
                           + s(3, u(1, 1) + u(2, 2) + u(4, 3)))])
write("watch_event", [env(12, s(1, job) + u(2, 1))])
write("job_reply", [env(13, u(1, 9) + u(2, 0) + s(3, "no such job"))])
write("error", [env(14, u(1, 5) + s(2, "malformed"))])
write("ready", [env(20, s(1, "w1") + u(2, 2) + s(3, "analyze") + s(3, "inline") + s(4, "avx2"))])
write("heartbeat", [env(21, u(1, 1) + packed_u(2, [42, 43]) + packed_u(3, [1, 2]))])
write("progress", [env(22, u(1, 42) + u(2, 1) + d(3, 0.25))])
write("result_frames", [env(23, result), b"fLaC"])
write("disconnect", [env(24, s(1, "shutdown"))])
write("task_frames", [env(30, task), b"RIFF", b""])
write("task_cancel", [env(31, u(1, 42) + u(2, 1))])
# hostile
write("bad_version", [env(20, s(1, "w1"), version=2)])
write("unknown_type", [env(99, b"")])
write("wrong_body", [env(30, analysis)])
write("truncated", [env(30, task)[:-9]])
write("empty", [b""])
PY
ls -l "$out"
