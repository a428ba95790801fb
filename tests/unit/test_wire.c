/*  Tests of the wire helpers: round trips over real ZeroMQ sockets
    (inproc ROUTER/DEALER) and every malformed form wire_recv must reject
    without asserting, leaving the stream usable for the next message.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "common/err.h"
#include "common/wire.h"

typedef struct {
    void *ctx;
    void *router;
    void *dealer;
} s_pair_t;

//  Opens a bound ROUTER and a connected DEALER with identity "peer-1".
static int
s_setup (void **state)
{
    static int n = 0;
    char url [64];
    snprintf (url, sizeof url, "inproc://wire-%d", n++);
    s_pair_t *p = calloc (1, sizeof *p);
    p->ctx = zmq_ctx_new ();
    p->router = zmq_socket (p->ctx, ZMQ_ROUTER);
    p->dealer = zmq_socket (p->ctx, ZMQ_DEALER);
    assert_int_equal (wire_socket_setup (p->router, 0), 0);
    assert_int_equal (wire_socket_setup (p->dealer, 0), 0);
    assert_int_equal (zmq_setsockopt (p->dealer, ZMQ_ROUTING_ID, "peer-1", 6), 0);
    assert_int_equal (zmq_bind (p->router, url), 0);
    assert_int_equal (zmq_connect (p->dealer, url), 0);
    *state = p;
    return 0;
}

//  Closes the sockets and the context.
static int
s_teardown (void **state)
{
    s_pair_t *p = *state;
    zmq_close (p->router);
    zmq_close (p->dealer);
    zmq_ctx_term (p->ctx);
    free (p);
    return 0;
}

//  A Task with two data frames goes DEALER -> ROUTER -> DEALER unchanged.
static void
test_round_trip (void **state)
{
    s_pair_t *p = *state;
    Masterfarm__Task task = MASTERFARM__TASK__INIT;
    task.task_id = 42;
    task.attempt = 2;
    task.kind = MASTERFARM__TASK_KIND__KIND_MASTER;
    task.profile = "cd";
    Masterfarm__Plan plan = MASTERFARM__PLAN__INIT;
    plan.gain_db = -3.25;
    task.plan = &plan;
    uint8_t big [70000];
    for (size_t i = 0; i < sizeof big; i++)
        big [i] = (uint8_t) (i * 7);
    wire_frame_t frames [2] = { { "abc", 3 }, { big, sizeof big } };
    assert_int_equal (wire_send (p->dealer, NULL, 0, MASTERFARM__MSG_TYPE__TASK, 7,
                                 &task.base, frames, 2, 0), 0);
    wire_msg_t m;
    assert_int_equal (wire_recv (p->router, true, &m, 0), 0);
    assert_int_equal (m.id_size, 6);
    assert_memory_equal (m.id, "peer-1", 6);
    assert_int_equal (m.type, MASTERFARM__MSG_TYPE__TASK);
    assert_int_equal (m.seq, 7);
    Masterfarm__Task *t = (Masterfarm__Task *) m.body;
    assert_int_equal (t->task_id, 42);
    assert_int_equal (t->attempt, 2);
    assert_string_equal (t->profile, "cd");
    assert_non_null (t->plan);
    assert_true (t->plan->gain_db == -3.25);   //  exact: doubles travel bit for bit
    assert_int_equal (m.n_frames, 2);
    assert_int_equal (m.frame_sizes [1], sizeof big);
    assert_memory_equal (m.frames [1], big, sizeof big);

    //  And back, addressed by routing id.
    Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
    hb.free_slots = 3;
    assert_int_equal (wire_send (p->router, m.id, m.id_size,
                                 MASTERFARM__MSG_TYPE__HEARTBEAT, 1, &hb.base,
                                 NULL, 0, 0), 0);
    wire_msg_clear (&m);
    assert_int_equal (wire_recv (p->dealer, false, &m, 0), 0);
    assert_int_equal (m.type, MASTERFARM__MSG_TYPE__HEARTBEAT);
    assert_int_equal (((Masterfarm__Heartbeat *) m.body)->free_slots, 3);
    assert_int_equal (m.id_size, 0);
    wire_msg_clear (&m);

    //  Nothing waiting: WIRE_AGAIN, not an error.
    assert_int_equal (wire_recv (p->router, true, &m, ZMQ_DONTWAIT), WIRE_AGAIN);
}

//  A body whose descriptor does not match the type is refused on send.
static void
test_send_mismatch (void **state)
{
    s_pair_t *p = *state;
    Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
    assert_int_equal (wire_send (p->dealer, NULL, 0, MASTERFARM__MSG_TYPE__TASK, 1,
                                 &hb.base, NULL, 0, 0), MF_ERR_INVALID);
    assert_int_equal (wire_send (p->dealer, NULL, 0, 99, 1, &hb.base, NULL, 0, 0),
                      MF_ERR_INVALID);
}

//  Sends raw frames from the dealer, then a valid heartbeat; checks that
//  the raw message is rejected with `expect` and the heartbeat still
//  arrives intact after it.
static void
s_expect_reject (s_pair_t *p, const wire_frame_t *raw, size_t n, int expect)
{
    for (size_t i = 0; i < n; i++)
        assert_true (zmq_send (p->dealer, raw [i].data, raw [i].size,
                               i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
    hb.free_slots = 9;
    assert_int_equal (wire_send (p->dealer, NULL, 0, MASTERFARM__MSG_TYPE__HEARTBEAT,
                                 2, &hb.base, NULL, 0, 0), 0);
    wire_msg_t m;
    assert_int_equal (wire_recv (p->router, true, &m, 0), expect);
    assert_int_equal (m.id_size, 6);           //  the sender is still named
    assert_null (m.body);
    assert_int_equal (m.n_frames, 0);
    assert_int_equal (wire_recv (p->router, true, &m, 0), 0);
    assert_int_equal (m.type, MASTERFARM__MSG_TYPE__HEARTBEAT);
    assert_int_equal (((Masterfarm__Heartbeat *) m.body)->free_slots, 9);
    wire_msg_clear (&m);
}

//  Encodes an envelope with arbitrary fields (body bytes given raw).
static size_t
s_envelope (uint8_t *out, uint32_t version, uint32_t type, const void *body, size_t len)
{
    Masterfarm__Envelope env = MASTERFARM__ENVELOPE__INIT;
    env.version = version;
    env.type = (Masterfarm__MsgType) type;
    env.body.data = (uint8_t *) body;
    env.body.len = len;
    return masterfarm__envelope__pack (&env, out);
}

//  Every malformed form: garbage, empty, wrong version, unknown type,
//  undecodable body, too many frames, oversized control frame.
static void
test_malformed (void **state)
{
    s_pair_t *p = *state;
    uint8_t buf [256];

    //  Not protobuf at all (a truncated varint field).
    wire_frame_t garbage [1] = { { "\xff\xff\xff\xff\xff\xff", 6 } };
    s_expect_reject (p, garbage, 1, WIRE_MALFORMED);

    //  Empty envelope: version 0.
    wire_frame_t empty [1] = { { "", 0 } };
    s_expect_reject (p, empty, 1, WIRE_MALFORMED);

    //  Wrong protocol version.
    wire_frame_t ver [1] = { { buf, s_envelope (buf, 2, MASTERFARM__MSG_TYPE__HEARTBEAT, "", 0) } };
    s_expect_reject (p, ver, 1, WIRE_MALFORMED);

    //  Unknown message type, and MSG_NONE.
    wire_frame_t unk [1] = { { buf, s_envelope (buf, 1, 77, "", 0) } };
    s_expect_reject (p, unk, 1, WIRE_MALFORMED);
    wire_frame_t none [1] = { { buf, s_envelope (buf, 1, 0, "", 0) } };
    s_expect_reject (p, none, 1, WIRE_MALFORMED);

    //  Body that does not decode as its type (string field with a length
    //  past the end).
    wire_frame_t body [1] = { { buf, s_envelope (buf, 1, MASTERFARM__MSG_TYPE__SUBMIT,
                                                 "\x0a\x7f" "ab", 4) } };
    s_expect_reject (p, body, 1, WIRE_MALFORMED);

    //  Too many data frames.
    size_t n = WIRE_MAX_FRAMES + 2;
    wire_frame_t *many = calloc (n, sizeof *many);
    size_t len = s_envelope (buf, 1, MASTERFARM__MSG_TYPE__HEARTBEAT, "", 0);
    many [0].data = buf;
    many [0].size = len;
    for (size_t i = 1; i < n; i++) {
        many [i].data = "x";
        many [i].size = 1;
    }
    s_expect_reject (p, many, n, WIRE_OVERSIZED);
    free (many);

    //  A control frame over WIRE_MAX_CONTROL_BYTES.
    size_t big_size = WIRE_MAX_CONTROL_BYTES + 16;
    uint8_t *big = calloc (1, big_size);
    wire_frame_t bigf [1] = { { big, big_size } };
    s_expect_reject (p, bigf, 1, WIRE_OVERSIZED);
    free (big);
}

//  wire_decode on frames in memory: a valid message, and no frames.
static void
test_decode_memory (void **state)
{
    Masterfarm__JobRequest req = MASTERFARM__JOB_REQUEST__INIT;
    req.job_id = 12345678901234ULL;
    uint8_t *buf;
    size_t size;
    assert_int_equal (wire_encode (MASTERFARM__MSG_TYPE__CANCEL, 3, &req.base,
                                   &buf, &size), 0);
    wire_frame_t f [2] = { { buf, size }, { "data", 4 } };
    wire_msg_t m;
    assert_int_equal (wire_decode (f, 2, &m), 0);
    assert_int_equal (m.type, MASTERFARM__MSG_TYPE__CANCEL);
    assert_int_equal (((Masterfarm__JobRequest *) m.body)->job_id, 12345678901234ULL);
    assert_int_equal (m.n_frames, 1);
    wire_msg_clear (&m);
    assert_int_equal (wire_decode (f, 0, &m), WIRE_MALFORMED);
    //  Every truncation of a valid envelope is either rejected or decodes;
    //  none crashes (run under ASan to see the difference).
    for (size_t cut = 0; cut < size; cut++) {
        wire_frame_t t [1] = { { buf, cut } };
        int rc = wire_decode (t, 1, &m);
        assert_true (rc == 0 || rc == WIRE_MALFORMED);
        wire_msg_clear (&m);
    }
    free (buf);
    assert_string_equal (wire_type_name (MASTERFARM__MSG_TYPE__RESULT), "RESULT");
    assert_string_equal (wire_type_name (999), "?");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_mismatch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed, s_setup, s_teardown),
        cmocka_unit_test (test_decode_memory),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
