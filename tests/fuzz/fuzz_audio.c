/*  Fuzz target for audio opening: bytes go to audio_read_mem, which must
    either refuse them with a message or return audio that keeps every
    promise of worker/audio_io.h (1..8 channels, 8 kHz .. 384 kHz, at
    least one frame, only finite samples) without crashing, leaking or
    reading out of bounds. The seed corpus (tests/fuzz/corpus/fuzz_audio/,
    made by make_audio_corpus.sh) holds tiny valid and hostile WAV, AIFF
    and FLAC files; normal builds replay it through replay_main.c.  */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "worker/audio_io.h"

//  Feeds one input to audio_read_mem and checks what it returns.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    audio_t audio;
    memset (&audio, 0, sizeof audio);
    char err [AUDIO_ERR_LEN] = "";
    int rc = audio_read_mem (data, size, "fuzz.audio", &audio, err, sizeof err);
    if (rc != 0) {
        //  a refusal must say why, and leave nothing allocated
        if (!err [0] || audio.data)
            abort ();
        return 0;
    }
    if (audio.channels < 1 || audio.channels > AUDIO_MAX_CHANNELS
    ||  audio.rate_hz < AUDIO_MIN_RATE_HZ || audio.rate_hz > AUDIO_MAX_RATE_HZ
    ||  audio.frames < 1 || !audio.data)
        abort ();
    size_t samples = (size_t) audio.frames * (size_t) audio.channels;
    for (size_t i = 0; i < samples; i++)
        if (!isfinite (audio.data [i]))
            abort ();
    audio_free (&audio);
    if (audio.data)
        abort ();
    return 0;
}
