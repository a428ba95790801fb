/*  The wire: encoding, decoding and validating masterfarm messages on
    ZeroMQ multipart sockets (see wire.h). Input from a socket is never
    trusted: every frame of a message is drained even when it is rejected,
    so one bad message never desynchronises the stream that follows.  */
#include "common/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/err.h"

typedef struct {
    uint32_t                          type;
    const char                       *name;
    const ProtobufCMessageDescriptor *desc;
} s_type_t;

static const s_type_t s_types [] = {
    { MASTERFARM__MSG_TYPE__SUBMIT,       "SUBMIT",       &masterfarm__submit_request__descriptor },
    { MASTERFARM__MSG_TYPE__STATUS,       "STATUS",       &masterfarm__status_request__descriptor },
    { MASTERFARM__MSG_TYPE__WATCH,        "WATCH",        &masterfarm__watch_request__descriptor },
    { MASTERFARM__MSG_TYPE__CANCEL,       "CANCEL",       &masterfarm__job_request__descriptor },
    { MASTERFARM__MSG_TYPE__RETRY,        "RETRY",        &masterfarm__job_request__descriptor },
    { MASTERFARM__MSG_TYPE__PRIORITY,     "PRIORITY",     &masterfarm__job_request__descriptor },
    { MASTERFARM__MSG_TYPE__PAUSE,        "PAUSE",        &masterfarm__job_request__descriptor },
    { MASTERFARM__MSG_TYPE__RESUME,       "RESUME",       &masterfarm__job_request__descriptor },
    { MASTERFARM__MSG_TYPE__LOGS,         "LOGS",         &masterfarm__logs_request__descriptor },
    { MASTERFARM__MSG_TYPE__LOGS_REPLY,   "LOGS_REPLY",   &masterfarm__logs_reply__descriptor },
    { MASTERFARM__MSG_TYPE__SUBMIT_REPLY, "SUBMIT_REPLY", &masterfarm__submit_reply__descriptor },
    { MASTERFARM__MSG_TYPE__STATUS_REPLY, "STATUS_REPLY", &masterfarm__status_reply__descriptor },
    { MASTERFARM__MSG_TYPE__WATCH_EVENT,  "WATCH_EVENT",  &masterfarm__watch_event__descriptor },
    { MASTERFARM__MSG_TYPE__JOB_REPLY,    "JOB_REPLY",    &masterfarm__job_reply__descriptor },
    { MASTERFARM__MSG_TYPE__ERROR,        "ERROR",        &masterfarm__error__descriptor },
    { MASTERFARM__MSG_TYPE__READY,        "READY",        &masterfarm__ready__descriptor },
    { MASTERFARM__MSG_TYPE__HEARTBEAT,    "HEARTBEAT",    &masterfarm__heartbeat__descriptor },
    { MASTERFARM__MSG_TYPE__PROGRESS,     "PROGRESS",     &masterfarm__progress__descriptor },
    { MASTERFARM__MSG_TYPE__RESULT,       "RESULT",       &masterfarm__result__descriptor },
    { MASTERFARM__MSG_TYPE__DISCONNECT,   "DISCONNECT",   &masterfarm__disconnect__descriptor },
    { MASTERFARM__MSG_TYPE__TASK,         "TASK",         &masterfarm__task__descriptor },
    { MASTERFARM__MSG_TYPE__TASK_CANCEL,  "TASK_CANCEL",  &masterfarm__task_cancel__descriptor },
};
#define S_NTYPES (sizeof s_types / sizeof s_types [0])

//  The table entry for a type, or NULL.
static const s_type_t *
s_type_find (uint32_t type)
{
    for (size_t i = 0; i < S_NTYPES; i++)
        if (s_types [i].type == type)
            return &s_types [i];
    return NULL;
}

const ProtobufCMessageDescriptor *
wire_body_descriptor (uint32_t type)
{
    const s_type_t *t = s_type_find (type);
    return t ? t->desc : NULL;
}

const char *
wire_type_name (uint32_t type)
{
    const s_type_t *t = s_type_find (type);
    return t ? t->name : "?";
}

int
wire_socket_setup (void *socket, int hwm)
{
    int64_t maxsize = WIRE_MAX_MSG_BYTES;
    int linger = 0;
    if (zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize)
    ||  zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger))
        return MF_ERR_IO;
    if (hwm > 0
    && (zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm)
    ||  zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm)))
        return MF_ERR_IO;
    return 0;
}

int
wire_encode (uint32_t type, uint64_t seq, const ProtobufCMessage *body,
             uint8_t **out, size_t *out_size)
{
    const ProtobufCMessageDescriptor *desc = wire_body_descriptor (type);
    if (!desc || !body || body->descriptor != desc)
        return MF_ERR_INVALID;
    size_t body_size = protobuf_c_message_get_packed_size (body);
    uint8_t *body_buf = malloc (body_size ? body_size : 1);
    if (!body_buf)
        return MF_ERR_NOMEM;
    protobuf_c_message_pack (body, body_buf);

    Masterfarm__Envelope env = MASTERFARM__ENVELOPE__INIT;
    env.version = WIRE_PROTOCOL_VERSION;
    env.type = (Masterfarm__MsgType) type;
    env.seq = seq;
    env.body.data = body_buf;
    env.body.len = body_size;
    size_t size = masterfarm__envelope__get_packed_size (&env);
    uint8_t *buf = malloc (size ? size : 1);
    if (!buf) {
        free (body_buf);
        return MF_ERR_NOMEM;
    }
    masterfarm__envelope__pack (&env, buf);
    free (body_buf);
    *out = buf;
    *out_size = size;
    return 0;
}

//  zmq_msg free callback for buffers from malloc.
static void
s_free_cb (void *data, void *hint)
{
    free (data);
}

//  zmq_send, made again when a signal interrupts it: ZeroMQ then queued
//  nothing (it fails before it takes the part), so the part is not lost
//  nor sent twice. A signal here is most often a child process ending.
static int
s_send_part (void *socket, const void *data, size_t size, int flags)
{
    int r;
    while ((r = zmq_send (socket, data, size, flags)) < 0 && zmq_errno () == EINTR)
        ;
    return r;
}

int
wire_send (void *socket, const void *id, size_t id_size, uint32_t type,
           uint64_t seq, const ProtobufCMessage *body,
           const wire_frame_t *frames, size_t n_frames, int flags)
{
    if (n_frames > WIRE_MAX_FRAMES || id_size > WIRE_MAX_ID_BYTES)
        return MF_ERR_INVALID;
    uint8_t *buf;
    size_t size;
    int rc = wire_encode (type, seq, body, &buf, &size);
    if (rc)
        return rc;
    int more = n_frames > 0 ? ZMQ_SNDMORE : 0;
    if (id_size > 0 && s_send_part (socket, id, id_size, flags | ZMQ_SNDMORE) < 0) {
        free (buf);
        return MF_ERR_IO;
    }
    zmq_msg_t m;
    if (zmq_msg_init_data (&m, buf, size, s_free_cb, NULL)) {
        free (buf);
        return MF_ERR_NOMEM;
    }
    //  Once the routing id is out the rest of the message is atomic in
    //  ZeroMQ, so later parts do not fail with EAGAIN.
    int r;
    while ((r = zmq_msg_send (&m, socket, (id_size ? 0 : flags) | more)) < 0
           && zmq_errno () == EINTR)
        ;
    if (r < 0) {
        zmq_msg_close (&m);
        return MF_ERR_IO;
    }
    for (size_t i = 0; i < n_frames; i++)
        if (s_send_part (socket, frames [i].data, frames [i].size,
                         i + 1 < n_frames ? ZMQ_SNDMORE : 0) < 0)
            return MF_ERR_IO;
    return 0;
}

void
wire_msg_clear (wire_msg_t *msg)
{
    if (!msg)
        return;
    if (msg->body)
        protobuf_c_message_free_unpacked (msg->body, NULL);
    for (size_t i = 0; i < msg->n_frames; i++)
        free (msg->frames [i]);
    free (msg->frames);
    free (msg->frame_sizes);
    memset (msg, 0, sizeof *msg);
}

//  Decodes and validates the Envelope frame into msg (type, seq, body).
static int
s_decode_envelope (const void *data, size_t size, wire_msg_t *msg)
{
    if (size > WIRE_MAX_CONTROL_BYTES)
        return WIRE_OVERSIZED;
    Masterfarm__Envelope *env = masterfarm__envelope__unpack (NULL, size, data);
    if (!env)
        return WIRE_MALFORMED;
    int rc = 0;
    const ProtobufCMessageDescriptor *desc = wire_body_descriptor (env->type);
    if (env->version != WIRE_PROTOCOL_VERSION || !desc)
        rc = WIRE_MALFORMED;
    else {
        msg->type = env->type;
        msg->seq = env->seq;
        msg->body = protobuf_c_message_unpack (desc, NULL, env->body.len,
                                               env->body.data);
        if (!msg->body)
            rc = WIRE_MALFORMED;
    }
    masterfarm__envelope__free_unpacked (env, NULL);
    return rc;
}

//  Appends a copy of one data frame to msg. Returns 0 or MF_ERR_NOMEM.
static int
s_add_frame (wire_msg_t *msg, const void *data, size_t size)
{
    void **f = realloc (msg->frames, (msg->n_frames + 1) * sizeof *f);
    if (!f)
        return MF_ERR_NOMEM;
    msg->frames = f;
    size_t *s = realloc (msg->frame_sizes, (msg->n_frames + 1) * sizeof *s);
    if (!s)
        return MF_ERR_NOMEM;
    msg->frame_sizes = s;
    void *copy = malloc (size ? size : 1);
    if (!copy)
        return MF_ERR_NOMEM;
    if (size)
        memcpy (copy, data, size);
    msg->frames [msg->n_frames] = copy;
    msg->frame_sizes [msg->n_frames] = size;
    msg->n_frames++;
    return 0;
}

//  Drops a message that could not be read whole, keeping who sent it
//  and how big it was (for the warning and the reply).
static void
s_drop_keep_sender (wire_msg_t *msg)
{
    uint8_t id [WIRE_MAX_ID_BYTES + 1];
    size_t id_size = msg->id_size, bytes = msg->bytes;
    memcpy (id, msg->id, sizeof id);
    wire_msg_clear (msg);
    memcpy (msg->id, id, sizeof id);
    msg->id_size = id_size;
    msg->bytes = bytes;
}

int
wire_decode (const wire_frame_t *frames, size_t n_frames, wire_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    if (n_frames == 0 || !frames)
        return WIRE_MALFORMED;
    for (size_t i = 0; i < n_frames; i++)
        msg->bytes += frames [i].size;
    if (n_frames - 1 > WIRE_MAX_FRAMES)
        return WIRE_OVERSIZED;
    int rc = s_decode_envelope (frames [0].data, frames [0].size, msg);
    for (size_t i = 1; rc == 0 && i < n_frames; i++)
        rc = s_add_frame (msg, frames [i].data, frames [i].size);
    if (rc)
        s_drop_keep_sender (msg);
    return rc;
}

int
wire_recv (void *socket, bool router, wire_msg_t *msg, int flags)
{
    memset (msg, 0, sizeof *msg);
    int rc = 0;
    bool first = true, expect_id = router, have_env = false;
    int more = 1;
    size_t n_parts = 0;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, socket, first ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close (&part);
            if (first && e == EAGAIN)
                return WIRE_AGAIN;
            wire_msg_clear (msg);
            errno = e;
            return MF_ERR_IO;
        }
        first = false;
        more = zmq_msg_more (&part);
        const void *data = zmq_msg_data (&part);
        size_t size = zmq_msg_size (&part);
        msg->bytes += size;
        n_parts++;
        if (expect_id) {
            expect_id = false;
            if (size <= WIRE_MAX_ID_BYTES) {
                memcpy (msg->id, data, size);
                msg->id_size = size;
            }
            else
                rc = WIRE_MALFORMED;
        }
        else
        if (rc == 0 && !have_env) {
            have_env = true;
            rc = s_decode_envelope (data, size, msg);
        }
        else
        if (rc == 0) {
            if (msg->n_frames >= WIRE_MAX_FRAMES)
                rc = WIRE_OVERSIZED;
            else
                rc = s_add_frame (msg, data, size);
        }
        zmq_msg_close (&part);
    }
    if (rc == 0 && !have_env)
        rc = WIRE_MALFORMED;
    if (rc)
        s_drop_keep_sender (msg);
    (void) n_parts;
    return rc;
}
