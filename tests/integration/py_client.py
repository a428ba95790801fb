#!/usr/bin/env python3
"""A masterfarm client in another language, written only from proto/ and
proto/README.md, with Debian's python3-zmq and python3-protobuf.

The test compiles proto/masterfarm.proto with protoc --python_out into a
scratch folder, starts a broker and two workers on a free loopback port,
submits a generated 4-track album over a DEALER socket, follows the WATCH
stream until the final event, and checks that the job is done and that
the broker answers STATUS, an unknown job (ERROR) and a spec with errors
(SubmitReply with every error and its JSON path) as README.md says.
Exits non-zero on any failure; every process it starts is stopped."""

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

MF_BIN = os.environ["MF_BIN"]
MF_SRC = os.environ["MF_SRC"]
TMP_ROOT = os.environ.get("MF_TEST_TMP", tempfile.gettempdir())
os.makedirs(TMP_ROOT, exist_ok=True)
T = tempfile.mkdtemp(prefix="py_client.", dir=TMP_ROOT)
procs = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    for name in sorted(os.listdir(T)):
        if name.endswith(".log"):
            with open(os.path.join(T, name), errors="replace") as f:
                lines = f.readlines()[-20:]
            print("--- %s\n%s" % (name, "".join(lines)), file=sys.stderr)
    raise SystemExit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(name, argv):
    log = open(os.path.join(T, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    procs.append(p)
    return p


def stop_all():
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# ---- the protocol, from proto/README.md ---------------------------------

def load_proto():
    out = os.path.join(T, "pb")
    os.makedirs(out)
    subprocess.run(["protoc", "--python_out=" + out, "-I", os.path.join(MF_SRC, "proto"),
                    os.path.join(MF_SRC, "proto", "masterfarm.proto")], check=True)
    sys.path.insert(0, out)
    import masterfarm_pb2
    return masterfarm_pb2


class Client:
    """One DEALER socket; requests are single-frame Envelopes."""

    def __init__(self, zmq, pb, url):
        self.zmq, self.pb = zmq, pb
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(url)
        self.seq = 0
        self.url = url

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def send(self, msg_type, body):
        self.seq += 1
        env = self.pb.Envelope(version=1, type=msg_type, seq=self.seq,
                               body=body.SerializeToString())
        self.sock.send(env.SerializeToString())

    def recv(self, want, timeout_s):
        """Returns (type, decoded body) of the next message of type want or
        ERROR, or None at the deadline. Other messages are ignored."""
        pb = self.pb
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return None
            frames = self.sock.recv_multipart()
            env = pb.Envelope()
            env.ParseFromString(frames[0])
            if env.version != 1:
                continue
            if env.type == pb.ERROR:
                body = pb.Error()
            elif env.type == want:
                body = {pb.SUBMIT_REPLY: pb.SubmitReply, pb.STATUS_REPLY: pb.StatusReply,
                        pb.WATCH_EVENT: pb.WatchEvent, pb.JOB_REPLY: pb.JobReply}[want]()
            else:
                continue
            body.ParseFromString(env.body)
            return env.type, body

    def request(self, msg_type, body, want, timeout_s=5):
        self.send(msg_type, body)
        r = self.recv(want, timeout_s)
        if r is None:
            fail("cannot reach broker at %s after %d s" % (self.url, timeout_s))
        return r


def main():
    import zmq
    pb = load_proto()

    # The farm: a broker and two workers on a free port.
    data = os.path.join(T, "in")
    out = os.path.join(T, "out")
    subprocess.run([os.path.join(MF_BIN, "tests", "tool_gen_album"), data, "--tracks", "4",
                    "--seconds", "3", "--seed", "7", "--profiles", "spotify"],
                   check=True, stdout=subprocess.DEVNULL)
    url = "tcp://127.0.0.1:%d" % free_port()
    start("broker", [os.path.join(MF_BIN, "masterfarm-broker"), "--bind", url,
                     "--state", os.path.join(T, "state.db"), "--input-root", data,
                     "--output-root", out])
    for i in (1, 2):
        start("worker-%d" % i, [os.path.join(MF_BIN, "masterfarm-worker"), "--connect", url,
                                "--threads", "1"])

    c = Client(zmq, pb, url)
    try:
        # STATUS until the broker is up (it may still be binding).
        deadline = time.monotonic() + 15
        while True:
            c.send(pb.STATUS, pb.StatusRequest(job_id=0))
            if c.recv(pb.STATUS_REPLY, 1) is not None:
                break
            if time.monotonic() > deadline:
                fail("broker did not answer STATUS within 15 s")

        # A spec with errors: job_id 0 and every error with its JSON path.
        bad = '{"name": "x", "priority": 99, "albums": [{"title": "A", "tracks": ' \
              '[{"path": "album1/nope.wav", "gap_s": -1}]}]}'
        t, rep = c.request(pb.SUBMIT, pb.SubmitRequest(spec=bad, format="json",
                                                       origin="bad.json"), pb.SUBMIT_REPLY)
        if t != pb.SUBMIT_REPLY or rep.job_id != 0 or len(rep.errors) < 2:
            fail("a bad spec was not refused with its errors: %s" % rep)
        paths = [e.path for e in rep.errors]
        for p in ("$.priority", "$.albums[0].tracks[0].gap_s"):
            if p not in paths:
                fail("error for %s missing from %s" % (p, paths))
        print("bad spec refused: %s" % paths)

        # Unknown job: ERROR.
        t, rep = c.request(pb.STATUS, pb.StatusRequest(job_id=987654), pb.STATUS_REPLY)
        if t != pb.ERROR:
            fail("STATUS of an unknown job was answered with type %d, not ERROR" % t)
        print("unknown job: ERROR %d %s" % (rep.code, rep.message))

        # Submit the album and watch it.
        with open(os.path.join(data, "job.json")) as f:
            spec = f.read()
        t, rep = c.request(pb.SUBMIT, pb.SubmitRequest(spec=spec, format="json",
                                                       origin="job.json"), pb.SUBMIT_REPLY)
        if t != pb.SUBMIT_REPLY or rep.job_id == 0:
            fail("submit refused: %s" % rep)
        job = rep.job_id
        print("job %d submitted" % job)

        c.send(pb.WATCH, pb.WatchRequest(job_id=job))
        events, last_heard, final = 0, time.monotonic(), None
        deadline = time.monotonic() + 300
        while final is None:
            if time.monotonic() > deadline:
                fail("job %d did not finish within 300 s" % job)
            r = c.recv(pb.WATCH_EVENT, 1)
            if r is None:
                if time.monotonic() - last_heard > 3:     # README: re-send after 3 s
                    c.send(pb.WATCH, pb.WatchRequest(job_id=job))
                    last_heard = time.monotonic()
                continue
            t, ev = r
            if t == pb.ERROR:
                fail("WATCH answered with ERROR: %s" % ev.message)
            if ev.job.job_id != job:
                continue
            events += 1
            last_heard = time.monotonic()
            print("event: %s %d/%d tasks" % (pb.JobState.Name(ev.job.state),
                                             ev.job.tasks_done, ev.job.tasks_total))
            if ev.final:
                final = ev.job
        if final.state != pb.JOB_DONE:
            fail("job ended %s" % pb.JobState.Name(final.state))
        if final.tasks_done != final.tasks_total or final.tasks_total == 0:
            fail("final event says %d/%d tasks" % (final.tasks_done, final.tasks_total))
        if len(final.tracks) != 4:
            fail("final event lists %d tracks, expected 4" % len(final.tracks))

        t, rep = c.request(pb.STATUS, pb.StatusRequest(job_id=job), pb.STATUS_REPLY)
        if t != pb.STATUS_REPLY or rep.jobs[0].state != pb.JOB_DONE:
            fail("STATUS after the end does not say done")
        print("job %d done after %d events; %d workers known" % (job, events, len(rep.workers)))
    finally:
        c.close()


ok = False
try:
    main()
    ok = True
    print("PASS")
finally:
    stop_all()
    if ok:
        shutil.rmtree(T, ignore_errors=True)
    else:
        print("scratch folder kept: " + T, file=sys.stderr)
