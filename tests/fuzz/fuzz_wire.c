/*  Fuzz target for protocol message decoding: the input is split into
    frames at each S_FRAME_SEP (the first frame is the Envelope, the rest
    data frames) and given to wire_decode, the decoder behind wire_recv.
    It must refuse the frames as WIRE_MALFORMED or WIRE_OVERSIZED, leaving
    nothing but the byte count, or return a message of a known type whose
    body is a valid protobuf of that type, with every data frame copied;
    an accepted message, encoded again with wire_encode, must decode to the
    same type, sequence number and body bytes. Nothing may crash or leak.
    The seed corpus (tests/fuzz/corpus/fuzz_wire/, made by
    make_wire_corpus.sh) holds one message of each type and a few hostile
    ones; normal builds replay it through replay_main.c.  */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

#define S_FRAME_SEP      "\xffMF\xfe"
#define S_FRAME_SEP_LEN  4
#define S_MAX_FRAMES     (WIRE_MAX_FRAMES + 2)   //  one over the cap, to test it

//  Packs a message into a malloc'd buffer; NULL when out of memory.
static uint8_t *
s_pack (const ProtobufCMessage *m, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (m);
    uint8_t *buf = malloc (*size ? *size : 1);
    if (buf)
        protobuf_c_message_pack (m, buf);
    return buf;
}

//  True if m or any message below it kept unknown fields. protobuf-c keeps
//  them and packs them again, but it also keeps a field number 0 written as
//  an overlong varint (0x81 0x00), which it then refuses when it is packed
//  plainly; such a message is accepted (its unknown fields are ignored, as
//  they are for any message) but is no round trip.
static bool
s_has_unknown (const ProtobufCMessage *m)
{
    if (m->n_unknown_fields > 0)
        return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields [i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *at = (const char *) m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *) at;
            for (size_t k = 0; k < n; k++)
                if (items [k] && s_has_unknown (items [k]))
                    return true;
        }
        else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) at;
            if (sub && s_has_unknown (sub))
                return true;
        }
    }
    return false;
}

//  Checks an accepted message and that it survives encoding again.
//  Aborts (a finding) on any broken promise.
static void
s_check_accepted (const wire_msg_t *msg, const wire_frame_t *frames, size_t n_frames)
{
    const ProtobufCMessageDescriptor *desc = wire_body_descriptor (msg->type);
    if (!desc || !msg->body || msg->body->descriptor != desc
    ||  !protobuf_c_message_check (msg->body) || !strcmp (wire_type_name (msg->type), "?"))
        abort ();
    if (msg->n_frames != n_frames - 1 || msg->id_size != 0)
        abort ();
    for (size_t i = 1; i < n_frames; i++)
        if (msg->frame_sizes [i - 1] != frames [i].size
        ||  memcmp (msg->frames [i - 1], frames [i].data, frames [i].size) != 0)
            abort ();

    uint8_t *env = NULL;
    size_t env_size = 0;
    if (wire_encode (msg->type, msg->seq, msg->body, &env, &env_size) != 0)
        abort ();                           //  what decoded must encode
    wire_frame_t again_f [1] = { { env, env_size } };
    wire_msg_t again;
    int rc = wire_decode (again_f, 1, &again);
    if (rc != 0 && s_has_unknown (msg->body)) {
        free (env);                         //  see s_has_unknown
        return;
    }
    if (rc != 0 || again.type != msg->type || again.seq != msg->seq)
        abort ();
    size_t a_size, b_size;
    uint8_t *a = s_pack (msg->body, &a_size);
    uint8_t *b = s_pack (again.body, &b_size);
    if (a && b && (a_size != b_size || memcmp (a, b, a_size) != 0))
        abort ();
    free (a);
    free (b);
    wire_msg_clear (&again);
    free (env);
}

//  Splits one input into frames and decodes them.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static wire_frame_t frames [S_MAX_FRAMES];
    size_t n_frames = 0, total = size;
    const uint8_t *p = data, *end = data + size;
    while (n_frames < S_MAX_FRAMES) {
        const uint8_t *sep = memmem (p, (size_t) (end - p), S_FRAME_SEP, S_FRAME_SEP_LEN);
        frames [n_frames].data = p;
        frames [n_frames].size = (size_t) ((sep ? sep : end) - p);
        n_frames++;
        if (!sep)
            break;
        p = sep + S_FRAME_SEP_LEN;
    }
    if (n_frames == S_MAX_FRAMES)
        frames [n_frames - 1].size = (size_t) (end - (const uint8_t *) frames [n_frames - 1].data);
    total -= (n_frames - 1) * S_FRAME_SEP_LEN;

    wire_msg_t msg;
    int rc = wire_decode (frames, n_frames, &msg);
    if (msg.bytes != total)
        abort ();
    if (rc == 0)
        s_check_accepted (&msg, frames, n_frames);
    else
    if (rc != WIRE_MALFORMED && rc != WIRE_OVERSIZED)
        abort ();                           //  no other result is promised
    else
    if (msg.body || msg.frames || msg.n_frames)
        abort ();                           //  a refusal keeps nothing
    if (rc == 0 && n_frames - 1 > WIRE_MAX_FRAMES)
        abort ();
    wire_msg_clear (&msg);
    return 0;
}
