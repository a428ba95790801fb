#!/usr/bin/env python3
"""Malformed and oversized messages, and unknown job ids, against a real
broker over raw ZeroMQ (python3-zmq), as proto/README.md describes them.

Sent from DEALER sockets: garbage frames, an empty frame, an Envelope of
the wrong version, an unknown message type, a known type whose body is not
valid protobuf, a body of the wrong message type, an Envelope frame over
the 16 MiB control cap, a message with more than 1024 data frames, a
worker message from a peer that never said READY. Then requests naming
jobs that do not exist (STATUS, WATCH, CANCEL, RETRY).

Expected: every bad message is dropped (or answered with ERROR), the
broker keeps serving (a fresh client's STATUS is answered after each
round), malformed_dropped and oversized_dropped count them, unknown job
ids get ERROR (or a JobReply with ok false) and are counted in unknown_job.
Exits non-zero on failure; the broker it starts is stopped."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# python3-zmq and python3-protobuf are Debian packages of the system
# interpreter; when another python3 comes first in PATH, use the system one.
try:
    import zmq  # noqa: F401
    import google.protobuf  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise
import zmq

MF_BIN = os.environ["MF_BIN"]
MF_SRC = os.environ["MF_SRC"]
TMP_ROOT = os.environ.get("MF_TEST_TMP", tempfile.gettempdir())
os.makedirs(TMP_ROOT, exist_ok=True)
T = tempfile.mkdtemp(prefix="bad_messages.", dir=TMP_ROOT)
broker = None


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    log = os.path.join(T, "broker.log")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            print("--- broker.log\n" + "".join(f.readlines()[-30:]), file=sys.stderr)
    raise SystemExit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load_proto():
    out = os.path.join(T, "pb")
    os.makedirs(out)
    subprocess.run(["protoc", "--python_out=" + out, "-I", os.path.join(MF_SRC, "proto"),
                    os.path.join(MF_SRC, "proto", "masterfarm.proto")], check=True)
    sys.path.insert(0, out)
    import masterfarm_pb2
    return masterfarm_pb2


def main():
    global broker
    pb = load_proto()
    ctx = zmq.Context()
    os.makedirs(os.path.join(T, "in"))
    url = "tcp://127.0.0.1:%d" % free_port()
    log = open(os.path.join(T, "broker.log"), "ab")
    broker = subprocess.Popen(
        [os.path.join(MF_BIN, "masterfarm-broker"), "--bind", url, "--state",
         os.path.join(T, "state.db"), "--input-root", os.path.join(T, "in"),
         "--output-root", os.path.join(T, "out")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def envelope(msg_type, body=b"", version=1, seq=1):
        return pb.Envelope(version=version, type=msg_type, seq=seq, body=body).SerializeToString()

    def dealer():
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(url)
        return s

    def recv(s, timeout_s):
        """Next (type, body bytes) or None by the deadline."""
        if not s.poll(int(timeout_s * 1000)):
            return None
        frames = s.recv_multipart()
        env = pb.Envelope()
        env.ParseFromString(frames[0])
        return env.type, env.body

    def status(timeout_s=5):
        """STATUS from a fresh client: the broker must still serve."""
        s = dealer()
        try:
            s.send(envelope(pb.STATUS, pb.StatusRequest(job_id=0).SerializeToString()))
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                r = recv(s, deadline - time.monotonic())
                if r and r[0] == pb.STATUS_REPLY:
                    rep = pb.StatusReply()
                    rep.ParseFromString(r[1])
                    return rep
            return None
        finally:
            s.close(0)

    def wait_counter(cond, timeout_s=20):
        """STATUS until cond(counters) holds or the deadline; the last reply."""
        deadline = time.monotonic() + timeout_s
        rep = status()
        while rep is not None and not cond(rep.counters) and time.monotonic() < deadline:
            time.sleep(0.05)        # polling interval, not synchronisation
            rep = status()
        return rep

    deadline = time.monotonic() + 15
    while status(1) is None:
        if broker.poll() is not None or time.monotonic() > deadline:
            fail("the broker did not start")
    base = status().counters

    # 1. Malformed: each dropped and counted, the broker serves on.
    bad = dealer()
    malformed = [
        ("garbage frame", [b"\x00\xffgarbage\x13\x37"]),
        ("empty frame", [b""]),
        ("wrong version", [envelope(pb.STATUS, pb.StatusRequest().SerializeToString(), version=2)]),
        ("unknown type", [envelope(99)]),
        ("type NONE", [envelope(pb.MSG_NONE)]),
        ("body not protobuf", [envelope(pb.SUBMIT, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")]),
        ("truncated envelope", [envelope(pb.STATUS, b"x" * 40)[:-10]]),
        ("reply type from a client", [envelope(pb.SUBMIT_REPLY, pb.SubmitReply(job_id=5).SerializeToString())]),
    ]
    for name, frames in malformed:
        bad.send_multipart(frames)
        if broker.poll() is not None:
            fail("the broker died on: " + name)
    # Another connection's STATUS may overtake them: poll with a deadline.
    want = len(malformed) - 1       # a reply type from a client may be dropped uncounted
    rep = wait_counter(lambda c: c.malformed_dropped - base.malformed_dropped >= want)
    if rep is None:
        fail("the broker stopped serving after malformed messages")
    got = rep.counters.malformed_dropped - base.malformed_dropped
    print("malformed sent: %d, malformed_dropped counted: %d" % (len(malformed), got))
    if got < want:
        fail("malformed_dropped grew by %d for %d malformed messages" % (got, len(malformed)))

    # 2. Oversized: a control frame over 16 MiB, and too many data frames.
    big = envelope(pb.SUBMIT, pb.SubmitRequest(spec="x" * (17 << 20), format="json").SerializeToString())
    bad.send(big)
    bad.send_multipart([envelope(pb.STATUS, pb.StatusRequest().SerializeToString())] + [b"d"] * 1100)
    rep = wait_counter(lambda c: c.oversized_dropped - base.oversized_dropped >= 2)
    if rep is None:
        fail("the broker stopped serving after oversized messages")
    got = rep.counters.oversized_dropped - base.oversized_dropped
    print("oversized sent: 2, oversized_dropped counted: %d" % got)
    if got < 2:
        fail("oversized_dropped grew by %d, expected 2" % got)

    # 3. A worker message from a peer that never said READY, for a task
    #    that does not exist: dropped or ignored, never fatal.
    bad.send(envelope(pb.RESULT, pb.Result(task_id=424242, attempt=1, ok=True).SerializeToString()))
    bad.send(envelope(pb.PROGRESS, pb.Progress(task_id=424242, attempt=1, fraction=0.5).SerializeToString()))
    if status() is None:
        fail("the broker stopped serving after stray worker messages")

    # 4. Unknown job ids: ERROR (or JobReply ok=false), counted.
    c = dealer()
    answers = {}
    for msg_type, body, want in [
            (pb.STATUS, pb.StatusRequest(job_id=777777), pb.STATUS_REPLY),
            (pb.WATCH, pb.WatchRequest(job_id=777777), pb.WATCH_EVENT),
            (pb.CANCEL, pb.JobRequest(job_id=777777), pb.JOB_REPLY),
            (pb.RETRY, pb.JobRequest(job_id=777777), pb.JOB_REPLY)]:
        c.send(envelope(msg_type, body.SerializeToString()))
        r = recv(c, 5)
        if r is None:
            fail("no answer to %s of an unknown job" % pb.MsgType.Name(msg_type))
        name = pb.MsgType.Name(msg_type)
        if r[0] == pb.ERROR:
            e = pb.Error()
            e.ParseFromString(r[1])
            answers[name] = "ERROR %d: %s" % (e.code, e.message)
        elif r[0] == pb.JOB_REPLY and msg_type in (pb.CANCEL, pb.RETRY):
            jr = pb.JobReply()
            jr.ParseFromString(r[1])
            if jr.ok:
                fail("%s of an unknown job answered ok" % name)
            answers[name] = "JobReply ok=false: %s" % jr.error
        else:
            fail("%s of an unknown job answered with %s" % (name, pb.MsgType.Name(r[0])))
        print("unknown job, %s -> %s" % (name, answers[name]))
    if not answers["STATUS"].startswith("ERROR") or not answers["WATCH"].startswith("ERROR"):
        fail("STATUS and WATCH of an unknown job must be answered with ERROR")
    rep = wait_counter(lambda c: c.unknown_job - base.unknown_job >= 2)
    if rep is None:
        fail("the broker stopped serving")
    got = rep.counters.unknown_job - base.unknown_job
    print("unknown_job counted: %d" % got)
    if got < 2:
        fail("unknown_job grew by %d for 4 requests naming unknown jobs" % got)
    if broker.poll() is not None:
        fail("the broker exited")
    bad.close(0)
    c.close(0)
    ctx.term()


ok = False
try:
    main()
    ok = True
    print("PASS")
finally:
    if broker is not None and broker.poll() is None:
        os.killpg(broker.pid, signal.SIGTERM)
        try:
            broker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(broker.pid, signal.SIGKILL)
            broker.wait()
    if ok:
        shutil.rmtree(T, ignore_errors=True)
    else:
        print("scratch folder kept: " + T, file=sys.stderr)
