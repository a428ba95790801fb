/*  The wire: one masterfarm message over ZeroMQ multipart.

    A message is [routing id (ROUTER side only)] [Envelope] [data frames...].
    The Envelope (proto/masterfarm.proto) names the protocol version and the
    message type and carries the encoded message of that type in `body`.
    Audio bytes travel only as data frames after the Envelope.

    wire_recv reads every frame of one message, then validates it: the
    Envelope decodes, its version is WIRE_PROTOCOL_VERSION, the type is a
    known one, the body decodes as that type, the control frame is at most
    WIRE_MAX_CONTROL_BYTES and there are at most WIRE_MAX_FRAMES data frames.
    Anything else is returned as WIRE_MALFORMED or WIRE_OVERSIZED so that the
    caller counts it and drops it; it is never asserted on. Every socket is
    given ZMQ_MAXMSGSIZE = WIRE_MAX_MSG_BYTES by wire_socket_setup, so that
    ZeroMQ itself refuses (and disconnects) a peer sending a larger frame.  */
#ifndef MF_WIRE_H
#define MF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include "masterfarm.pb-c.h"

#define WIRE_PROTOCOL_VERSION   1
#define WIRE_MAX_MSG_BYTES      (512LL * 1024 * 1024)  //  one frame, ZMQ_MAXMSGSIZE
#define WIRE_MAX_CONTROL_BYTES  (16 * 1024 * 1024)     //  the Envelope frame
#define WIRE_MAX_FRAMES         1024                   //  data frames per message
#define WIRE_MAX_ID_BYTES       255                    //  ZeroMQ routing id limit
//  A worker's control connection (heartbeats only) has the routing id of
//  its data connection followed by this suffix.
#define WIRE_CONTROL_SUFFIX     "#ctl"

//  wire_recv results besides 0 and MF_ERR_IO.
#define WIRE_MALFORMED   (-5)    //  == MF_ERR_PROTOCOL: undecodable or invalid
#define WIRE_OVERSIZED   (-4)    //  == MF_ERR_INVALID: over a size or count cap
#define WIRE_AGAIN       (-9)    //  == MF_ERR_TIMEOUT: nothing to read (non-blocking)

typedef struct {
    const void *data;            //  bytes of one data frame (not owned)
    size_t      size;
} wire_frame_t;

typedef struct {
    uint8_t            id [WIRE_MAX_ID_BYTES + 1];  //  ROUTER routing id
    size_t             id_size;                     //  0 on a DEALER
    uint32_t           type;                        //  Masterfarm__MsgType
    uint64_t           seq;
    ProtobufCMessage  *body;      //  decoded message of `type` (owned)
    void             **frames;    //  data frames (owned, malloc'd copies)
    size_t            *frame_sizes;
    size_t             n_frames;
    size_t             bytes;     //  total bytes received, for counters
} wire_msg_t;

//  Descriptor of the protobuf message that type carries; NULL if the type
//  is unknown (MSG_NONE included).
const ProtobufCMessageDescriptor *wire_body_descriptor (uint32_t type);

//  Short name of a message type for logs ("SUBMIT", "TASK"); "?" if unknown.
const char *wire_type_name (uint32_t type);

//  Sets ZMQ_MAXMSGSIZE, a zero linger and the given high-water marks
//  (0: keep the default) on a socket. Returns 0 or MF_ERR_IO.
int wire_socket_setup (void *socket, int hwm);

//  Sends one message: routing id (when id_size > 0), the Envelope with body
//  encoded as `type`, then the data frames. flags may hold ZMQ_DONTWAIT.
//  Returns 0, MF_ERR_IO (errno from ZeroMQ; EAGAIN when it would block),
//  MF_ERR_INVALID (body does not match type, or too many frames),
//  MF_ERR_NOMEM.
int wire_send (void *socket, const void *id, size_t id_size, uint32_t type,
               uint64_t seq, const ProtobufCMessage *body,
               const wire_frame_t *frames, size_t n_frames, int flags);

//  Receives one whole message (all its frames, whatever happens). router:
//  the first frame is a routing id. flags may hold ZMQ_DONTWAIT. Returns 0
//  with msg filled (free with wire_msg_clear), WIRE_AGAIN when nothing was
//  waiting, WIRE_MALFORMED or WIRE_OVERSIZED (msg->id and msg->bytes are
//  still set, so the caller can name the peer), MF_ERR_IO or MF_ERR_NOMEM.
int wire_recv (void *socket, bool router, wire_msg_t *msg, int flags);

//  Decodes one message from frames already in memory, as wire_recv does
//  after reading them (for tests and fuzzing): frames[0] is the Envelope.
//  Same results as wire_recv, never WIRE_AGAIN or MF_ERR_IO.
int wire_decode (const wire_frame_t *frames, size_t n_frames, wire_msg_t *msg);

//  Encodes an Envelope carrying body as type into a malloc'd buffer.
//  Returns 0, MF_ERR_INVALID or MF_ERR_NOMEM.
int wire_encode (uint32_t type, uint64_t seq, const ProtobufCMessage *body,
                 uint8_t **out, size_t *out_size);

//  Frees what a message owns and zeroes it; safe on a zeroed message.
void wire_msg_clear (wire_msg_t *msg);

#endif
