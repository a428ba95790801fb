#!/bin/bash
# Writes the seed corpus of fuzz_audio: tiny WAV, AIFF and FLAC files,
# valid and hostile (truncated, lying sizes, odd channel counts and rates,
# NaN samples), each well under 2 KB. The files are committed; run this
# again only to change them:  bash tests/fuzz/make_audio_corpus.sh
# Needs python3 (standard library) and, for the FLAC seeds, the flac tool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/fuzz_audio"
mkdir -p "$out"
# (files named regress_* are inputs found by fuzzing; they are kept as they are)

python3 - "$out" <<'PY'
import math, struct, sys
out = sys.argv[1]

def chunk(tag, body):
    pad = b"\0" if len(body) % 2 else b""
    return tag + struct.pack("<I", len(body)) + body + pad

def wav(name, channels=2, rate=44100, bits=16, fmt_tag=1, frames=64,
        data=None, riff_size=None, data_size=None, extra=b""):
    if data is None:
        amp = (1 << (bits - 1)) - 1 if fmt_tag == 1 else 1.0
        samples = []
        for i in range(frames):
            v = 0.5 * math.sin(2 * math.pi * 1000 * i / rate)
            for c in range(channels):
                samples.append(v)
        if fmt_tag == 3:
            data = struct.pack("<%df" % len(samples), *samples)
        elif bits == 16:
            data = struct.pack("<%dh" % len(samples), *[int(s * amp) for s in samples])
        elif bits == 24:
            data = b"".join(struct.pack("<i", int(s * amp))[:3] for s in samples)
        else:
            data = bytes(int(128 + s * 127) for s in samples)
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    dchunk = b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    body = b"WAVE" + chunk(b"fmt ", fmt) + extra + dchunk
    riff = b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body
    open("%s/%s" % (out, name), "wb").write(riff)
    return riff

def ieee_extended(x):
    # 80-bit IEEE 754 extended, as AIFF stores the sample rate
    e = int(math.floor(math.log2(x)))
    m = int(x / 2 ** e * (1 << 63))
    return struct.pack(">HQ", e + 16383, m)

def aiff(name, channels=2, rate=44100, bits=16, frames=64, ssnd_size=None, comm_frames=None):
    samples = []
    for i in range(frames):
        v = int(16000 * math.sin(2 * math.pi * 440 * i / rate))
        samples += [v] * channels
    data = struct.pack(">%dh" % len(samples), *samples)
    comm = struct.pack(">hIh", channels, frames if comm_frames is None else comm_frames, bits) + ieee_extended(rate)
    ssnd = struct.pack(">II", 0, 0) + data
    def bchunk(tag, body, size=None):
        return tag + struct.pack(">I", len(body) if size is None else size) + body
    body = b"AIFF" + bchunk(b"COMM", comm) + bchunk(b"SSND", ssnd, ssnd_size)
    open("%s/%s" % (out, name), "wb").write(b"FORM" + struct.pack(">I", len(body)) + body)

good = wav("pcm16_stereo.wav")
wav("pcm24_mono_48k.wav", channels=1, rate=48000, bits=24)
wav("pcm8_mono.wav", channels=1, rate=8000, bits=8, frames=32)
wav("float32_stereo.wav", fmt_tag=3, bits=32, frames=32)
wav("float32_nan.wav", fmt_tag=3, bits=32, channels=1, frames=4,
    data=struct.pack("<4f", 0.0, float("nan"), 0.5, float("inf")))
wav("lying_data_size.wav", data_size=0x7ffffff0)
wav("lying_riff_size.wav", riff_size=0xfffffff0)
wav("zero_channels.wav", channels=0, frames=0, data=b"")
wav("nine_channels.wav", channels=9, frames=4)
wav("rate_1hz.wav", rate=1, frames=4)
wav("rate_huge.wav", rate=4000000000 // 4, frames=4)
wav("no_frames.wav", frames=0)
wav("odd_block.wav", channels=3, bits=24, frames=5)
wav("junk_chunk.wav", extra=chunk(b"LIST", b"INFOISFT\x05\0\0\0test\0"))
open(out + "/truncated_header.wav", "wb").write(good[:30])
open(out + "/truncated_data.wav", "wb").write(good[:60])
aiff("pcm16_stereo.aiff")
aiff("lying_ssnd.aiff", ssnd_size=0x7ffffff0)
aiff("lying_frames.aiff", comm_frames=0x7ffffff0)
open(out + "/not_audio.txt", "wb").write(b"hello, this is not audio\n")
PY

if command -v flac >/dev/null; then
    flac --silent --force --no-padding -o "$out/pcm16_stereo.flac" "$out/pcm16_stereo.wav"
    flac --silent --force --no-padding -o "$out/pcm24_mono.flac" "$out/pcm24_mono_48k.wav"
    head -c 60 "$out/pcm16_stereo.flac" > "$out/truncated.flac"
fi
ls -l "$out"
