"""The notify socket against a hostile local user (issue 12, item 2).

A stranger (uid nobody) passes descriptors whose close() blocks: TCP
sockets with SO_LINGER {1, N} and unsent data, whose last close waits N
seconds. vigild must never close them on its event loop: ctl keeps
answering, heartbeats keep counting, a barrier sender (`systemd-notify
--barrier` passes a pipe and waits for EOF) still gets its EOF at once,
and /metrics counts the descriptors. Past a bound the kernel is told to
refuse further descriptors (SO_PASSRIGHTS, Linux 6.16+).

And a stranger's datagrams cost O(1) each: a program that moved its main
pid with MAINPID= keeps being found through the process-group index (the
timing itself is measured by hand, not asserted here).
"""

import array
import os
import select
import signal
import socket
import subprocess
import sys
import time
from http.client import HTTPException

import pytest

from vigiltest import command, wait_for

# A ctl request must be answered this fast while strangers' closes hang.
QUICK = 1.0
# Lingering time of the strangers' sockets: far longer than any check.
LINGER = 30
POOL = 8  # FD_CLOSER_THREADS_MAX
PENDING_MAX = 256  # NOTIFY_FDS_PENDING_MAX

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a sender as nobody")

# Run as nobody: COUNT TCP sockets, each connected to a listener that never
# reads, its send buffer full, SO_LINGER {1, LINGER}. Prints "ready", and on
# "go" passes them all to the notify socket with SCM_RIGHTS (up to 250 a
# datagram, without waiting) and closes its own copies, prints "sent S
# refused R", then holds the peers until stdin closes (its exit resets the
# connections, which ends the lingering).
STRANGER = r"""
import array, os, resource, socket, struct, sys
path, count, linger, message = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
S = socket
keep, socks, listener = [], [], None
for i in range(count):
    if i % 500 == 0:
        listener = S.socket()
        listener.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        keep.append(listener)
    c = S.socket()
    c.setsockopt(S.SOL_SOCKET, S.SO_SNDBUF, 4096)
    c.connect(listener.getsockname())
    keep.append(listener.accept()[0])  # never read
    c.setblocking(False)
    try:
        while True:
            c.send(b"x" * 65536)
    except BlockingIOError:
        pass
    c.setblocking(True)
    c.setsockopt(S.SOL_SOCKET, S.SO_LINGER, struct.pack("ii", 1, linger))
    socks.append(c)
print("ready", flush=True)
sys.stdin.readline()
out = S.socket(S.AF_UNIX, S.SOCK_DGRAM)
sent = refused = 0
for i in range(0, count, 250):
    fds = array.array("i", [c.fileno() for c in socks[i:i + 250]])
    try:
        out.sendmsg([message], [(S.SOL_SOCKET, S.SCM_RIGHTS, fds)], S.MSG_DONTWAIT, path)
        sent += len(fds)
    except PermissionError:
        refused += len(fds)
for c in socks:
    c.close()
print(f"sent {sent} refused {refused}", flush=True)
sys.stdin.read()
"""


class Stranger:
    """The STRANGER script as uid/gid 65534, for a `with` block."""

    def __init__(self, vigil, count, message=b"WATCHDOG=1"):
        self.vigil = vigil
        os.chmod(vigil.dir, 0o755)  # nobody must reach the notify socket
        script = vigil.path("stranger.py")
        with open(script, "w") as f:
            f.write(STRANGER)
        self.proc = subprocess.Popen(
            [sys.executable, script, vigil.notify_sock, str(count), str(LINGER), message.decode()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=vigil.env(),
            user=65534, group=65534, extra_groups=[])
        assert self.proc.stdout.readline() == "ready\n", "the stranger failed"

    def send(self):
        """Passes the sockets while vigild is stopped for a moment, so that
        the stranger's own close() is never the last one (whoever closes a
        lingering socket last waits): then vigild holds the only reference
        to each, as an attacker that wins that race makes it."""
        os.kill(self.vigil.proc.pid, signal.SIGSTOP)
        try:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline().split()
        finally:
            os.kill(self.vigil.proc.pid, signal.SIGCONT)
        assert len(line) == 4 and line[0] == "sent", f"the stranger failed: {line}"
        self.sent, self.refused = int(line[1]), int(line[3])
        return self

    def __enter__(self):
        return self.send()

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def timed(vigil, method, path):
    """The reply to a ctl request that must be answered within QUICK."""
    t0 = time.monotonic()
    try:
        r = vigil.http(method, path, timeout=QUICK + 9)
    except (OSError, HTTPException) as e:
        r = e
    took = time.monotonic() - t0
    assert getattr(r, "status", None) == 200, \
        f"{method} {path}: no answer after {took:.1f}s ({r!r})\n{vigil.log()[-2000:]}"
    assert took < QUICK, f"{method} {path} took {took:.2f}s: the event loop was blocked"
    return r


def metrics(vigil):
    """/metrics as {name: value} for the unlabelled series, fetched quickly."""
    out = {}
    for line in timed(vigil, "GET", "/metrics").text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


def quickly_until(vigil, cond, what):
    """Polls /metrics and /v1/programs, every answer within QUICK, until
    cond(metrics) holds; returns those metrics."""
    def check():
        timed(vigil, "GET", "/v1/programs")
        m = metrics(vigil)
        return m if cond(m) else None
    return wait_for(check, what=what)


def pass_pipe(path):
    """Like systemd-notify --barrier: passes a pipe's write end and returns
    its read end (EOF once vigild closed the write end), or the OSError."""
    r, w = os.pipe()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))], 0, path)
    except OSError as e:
        os.close(r)
        return e
    finally:
        s.close()
        os.close(w)
    return r


def barrier_seconds(path, deadline=10):
    """Seconds until vigild closed the passed write end (EOF)."""
    r = pass_pipe(path)
    assert not isinstance(r, OSError), f"sending the barrier failed: {r}"
    try:
        t0 = time.monotonic()
        readable, _, _ = select.select([r], [], [], deadline)
        assert readable, f"vigild kept the barrier fd open for {deadline}s"
        assert os.read(r, 1) == b""
        return time.monotonic() - t0
    finally:
        os.close(r)


HEARTBEAT = """
[program:hb]
command = {worker}
start_secs = 0
heartbeat_timeout = 1s
"""


def start_with_heartbeat(vigil):
    vigil.start(HEARTBEAT.format(worker=command("notify-worker", "-i", "100")))
    return vigil.wait_running("hb")["pid"]


def assert_alive(vigil, pid):
    p = vigil.program("hb")
    assert p["state"] == "RUNNING" and p["pid"] == pid and p["restarts"] == 0, p


def test_a_lingering_socket_does_not_block_ctl(vigil):
    pid = start_with_heartbeat(vigil)
    before = metrics(vigil)
    with Stranger(vigil, 1) as s:
        assert s.sent == 1
        m = quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_total"] >= before["vigil_notify_passed_fds_total"] + 1
                          and m["vigil_notify_passed_fds_pending"] == 1, "the lingering socket counted, still pending")
        # the stranger's datagram itself was dropped: nobody is no program
        assert m["vigil_notify_dropped_total"] > before["vigil_notify_dropped_total"]
        assert_alive(vigil, pid)
    # its peer gone, the close finishes in the closer thread
    quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == 0, "the lingering close to end")
    assert_alive(vigil, pid)


def test_more_lingering_sockets_than_closer_threads(vigil):
    """12 stuck closes (pool of 8): ctl still answers at once, the heartbeat
    program keeps its pings counted, nothing waits behind the stuck ones
    on the loop."""
    pid = start_with_heartbeat(vigil)
    with Stranger(vigil, POOL + 4) as s:
        assert s.sent == POOL + 4
        quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == POOL + 4,
                      f"{POOL + 4} passed fds pending")
        # 3 heartbeat timeouts while every closer thread is stuck
        end = time.monotonic() + 3
        while time.monotonic() < end:
            assert_alive(vigil, pid)
            timed(vigil, "GET", "/v1/programs")
            time.sleep(0.1)
        assert "closer threads are stuck" in vigil.log()
    quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == 0, "the lingering closes to end")
    assert_alive(vigil, pid)


def test_a_barrier_is_answered_while_other_closes_hang(vigil):
    pid = start_with_heartbeat(vigil)
    assert barrier_seconds(vigil.notify_sock) < QUICK
    with Stranger(vigil, 3):
        quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == 3, "3 passed fds pending")
        for _ in range(3):
            took = barrier_seconds(vigil.notify_sock)
            assert took < QUICK, f"the barrier waited {took:.2f}s behind a stuck close"
        assert_alive(vigil, pid)


def test_vigild_exits_promptly_while_closes_hang(vigil):
    """SIGTERM while every closer thread is stuck: vigild waits a bounded
    time for them, then exits 0 (the kernel closes an exiting process's
    sockets without lingering), with a clean ASan/LSan report."""
    start_with_heartbeat(vigil)
    with Stranger(vigil, POOL + 4):
        quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == POOL + 4,
                      f"{POOL + 4} passed fds pending")
        t0 = time.monotonic()
        vigil.proc.send_signal(signal.SIGTERM)
        rc = vigil.proc.wait(LINGER / 2)
        took = time.monotonic() - t0
        assert rc == 0, vigil.log()[-3000:]
        assert took < 5, f"vigild took {took:.1f}s to exit"
        assert "passed descriptors still not closed at exit" in vigil.log(), vigil.log()[-2000:]


def kernel_can_refuse_fds():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.getsockopt(socket.SOL_SOCKET, 83)  # SO_PASSRIGHTS, Linux 6.16
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.mark.skipif(not kernel_can_refuse_fds(), reason="the kernel has no SO_PASSRIGHTS (Linux < 6.16)")
def test_past_the_bound_the_kernel_refuses_passed_fds(vigil):
    pid = start_with_heartbeat(vigil)
    count = PENDING_MAX + 50
    with Stranger(vigil, count) as s:
        # all were queued in the socket before vigild read any: held
        # beyond the bound (never closed on the loop, never lost)
        assert s.sent == count and s.refused == 0, (s.sent, s.refused)
        quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == count, f"{count} fds pending")
        assert "refusing more" in vigil.log()
        # from now on a sender of fds is refused at once instead of hanging
        r = pass_pipe(vigil.notify_sock)
        if not isinstance(r, OSError):
            os.close(r)
        assert isinstance(r, PermissionError), r
        assert_alive(vigil, pid)
    quickly_until(vigil, lambda m: m["vigil_notify_passed_fds_pending"] == 0, "the lingering closes to end")
    # accepted again once they are closed (checked every second)
    wait_for(lambda: "accepting them again" in vigil.log(), what="fds accepted again")
    assert barrier_seconds(vigil.notify_sock) < QUICK
    assert_alive(vigil, pid)


# A program that moves its main pid (MAINPID=) to a forked child; with
# "member" a third process of its group does the pinging (notify_access =
# all). Writes "main=PID member=PID" to argv[1].
MOVER = r'''
import os, socket, sys, time
path, out, mode = os.environ["NOTIFY_SOCKET"], sys.argv[1], sys.argv[2]
def send(m):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(m, path)
    s.close()
def pinger(ping):
    while True:
        if ping:
            send(b"WATCHDOG=1")
        time.sleep(0.1)
main = os.fork()
if main == 0:
    pinger(mode == "main")
send(b"MAINPID=%d" % main)
member = 0
if mode == "member":
    member = os.fork()
    if member == 0:
        pinger(True)
with open(out + ".tmp", "w") as f:
    f.write(f"main={main} member={member}\n")
os.rename(out + ".tmp", out)
while True:  # never reaps: the moved main pid is vigild's to reap
    time.sleep(1)
'''


def test_moved_main_pids_are_found_and_a_stranger_flood_is_dropped(vigil):
    script = vigil.path("mover.py")
    with open(script, "w") as f:
        f.write(MOVER)
    programs = "".join(f"""
[program:{mode}]
command = {sys.executable} {script} {vigil.path(mode + '.pids')} {mode}
start_secs = 0
heartbeat_timeout = 1s
notify_access = {access}
""" for mode, access in (("main", "main"), ("member", "all")))
    vigil.start(programs)
    pids = {}
    for mode in ("main", "member"):
        pids[mode] = wait_for(lambda: dict(kv.split("=") for kv in open(vigil.path(mode + ".pids")).read().split()),
                              what=f"{mode}.pids")
        wait_for(lambda: vigil.program(mode)["pid"] == int(pids[mode]["main"]), what=f"{mode}: MAINPID= applied")
    before = metrics(vigil)
    # the test process is in no program's group: every datagram is dropped
    n = 3000
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for _ in range(n):
            s.sendto(b"WATCHDOG=1", vigil.notify_sock)
    finally:
        s.close()
    quickly_until(vigil, lambda m: m["vigil_notify_dropped_total"] >= before["vigil_notify_dropped_total"] + n,
                  f"{n} stranger datagrams counted as dropped")
    # pings from the moved main pid, and from another member of the group
    # (notify_access = all), kept both alive: no heartbeat restart
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        for mode in ("main", "member"):
            p = vigil.program(mode)
            assert p["state"] == "RUNNING" and p["restarts"] == 0 and p["pid"] == int(pids[mode]["main"]), p
        time.sleep(0.1)
