"""vigild never turns its own slowness into a failure (DESIGN.md, "Heartbeat"):
a READY=1 or WATCHDOG=1 whose sender waits for room in the notify socket's
full queue when the deadline passes is read before the deadline is judged.

The kernel holds net.unix.max_dgram_qlen datagrams in the queue (10 by
default) and a sender of one more waits in sendto() until vigild reads.
Each read wakes one waiting sender, but it runs only when a CPU is free
for it. The tests make that deterministic: vigild runs SCHED_FIFO on one
CPU with the program pinned to the same CPU, so while vigild reads and
judges in one go the woken program cannot send; it sends only once vigild
lets go of the CPU. vigild is stopped while the test fills the queue and
the program's message starts to wait, and continued a little after the
deadline: less than the 250 ms after which a late timer counts as a stall
of vigild (that case, handled separately, is test_stall.py)."""

import os
import signal
import socket
import time

import pytest

from vigiltest import command, wait_for

READY_TIMEOUT_S = 2.0
HEARTBEAT_TIMEOUT_S = 1.5
# How long after the deadline vigild is continued: a timer later than
# 250 ms would be a stall of vigild, a different path.
RESUME_AFTER_S = 0.1
ATTEMPTS = 3


def wchan(pid):
    with open(f"/proc/{pid}/wchan") as f:
        return f.read().strip()


def fill_queue(path):
    """Sends to the notify socket until the kernel says its queue is full
    (vigild drops these: not from any program's main pid)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = 0
    try:
        while True:
            s.sendto(b"X_FILLER=1", path)
            sent += 1
    except BlockingIOError:
        pass
    finally:
        s.close()
    assert sent > 0
    return sent


def share_one_cpu(vigild_pid, program_pid):
    """vigild SCHED_FIFO (children it spawns later get the normal policy)
    and both on one CPU: a woken program runs only when vigild sleeps."""
    cpu = min(os.sched_getaffinity(0))
    try:
        os.sched_setscheduler(vigild_pid, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
    except PermissionError:
        pytest.skip("needs CAP_SYS_NICE to run vigild SCHED_FIFO")
    os.sched_setaffinity(vigild_pid, {cpu})
    os.sched_setaffinity(program_pid, {cpu})


def stall_across(vigil, pid, deadline, send=None):
    """Stops vigild, fills its notify queue, lets the program start its
    send (it waits for room), and continues vigild RESUME_AFTER_S after
    `deadline` (time.monotonic()). Returns how late after the deadline
    vigild was continued."""
    os.kill(vigil.proc.pid, signal.SIGSTOP)
    try:
        fill_queue(vigil.notify_sock)
        if send:
            send()
        wait_for(lambda: wchan(pid) == "unix_wait_for_peer", timeout=deadline - time.monotonic(),
                 what="the program to wait for room in vigild's queue", interval=0.005)
        time.sleep(max(0.0, deadline + RESUME_AFTER_S - time.monotonic()))
    finally:
        os.kill(vigil.proc.pid, signal.SIGCONT)
    return time.monotonic() - deadline


# What vigild logs when it defers a verdict because senders wait for room:
# the proof that an attempt took the path under test.
DEFERRED = "reads the notify socket slower than its programs send"


def test_ready_waiting_for_room_is_not_a_failed_start(vigil):
    vigil.start(f"""
[program:svc]
command = {command("notify-worker", "-o", vigil.path("ev"), "-i", "20", "-p", "0",
                        "--ready-when-file", vigil.path("ready"))}
type = notify
ready_timeout = {READY_TIMEOUT_S}s
restart = never
""")
    for attempt in range(ATTEMPTS):
        p = vigil.wait_program("svc", lambda p: p["state"] == "STARTING" and p["pid"], "STARTING")
        pid = p["pid"]
        start = wait_for(lambda: [e for e in vigil.events("ev") if e["event"] == "start" and e["pid"] == pid],
                         what="the worker to run")[0]
        share_one_cpu(vigil.proc.pid, pid)
        # vigild's deadline runs from just before the worker's first line
        late = stall_across(vigil, pid, start["t"] + READY_TIMEOUT_S, send=lambda: vigil.touch("ready"))
        p = vigil.wait_program("svc", lambda p: p["state"] != "STARTING", "to leave STARTING")
        if DEFERRED in vigil.log() or p["state"] != "RUNNING":
            break
        # vigild read the READY=1 before the deadline passed, or this
        # machine was too slow to continue vigild in time: again
        os.unlink(vigil.path("ready"))
        assert vigil.ctl("restart", "--no-block", "svc").returncode == 0
    else:
        pytest.fail(f"the deadline never passed while READY=1 waited (last: continued {late:.3f}s after it)")
    assert p["state"] == "RUNNING" and p["pid"] == pid, p
    log = vigil.log()
    assert "no READY=1" not in log, log[-3000:]


def test_ping_waiting_for_room_is_not_a_miss(vigil):
    vigil.start(f"""
[program:svc]
command = {command("notify-worker", "-o", vigil.path("ev"), "-i", "200")}
start_secs = 0
heartbeat_timeout = {HEARTBEAT_TIMEOUT_S}s
""")
    pid = vigil.wait_running("svc")["pid"]
    for attempt in range(ATTEMPTS):
        share_one_cpu(vigil.proc.pid, pid)
        # the deadline runs from the last ping vigild read; its next one
        # (the worker pings every 200 ms) is the one that will wait
        age = wait_for(lambda: (lambda a: a if a is not None and a < 0.1 else None)(
            vigil.program("svc")["heartbeat"]["last_ping_age_s"]), what="a fresh ping")
        deadline = time.monotonic() - age + HEARTBEAT_TIMEOUT_S
        late = stall_across(vigil, pid, deadline)
        # the ping that waited, and the ones after it, keep it alive
        wait_for(lambda: vigil.program("svc")["heartbeat"]["last_ping_age_s"] < 0.5, what="its pings to be read")
        if DEFERRED in vigil.log() or vigil.program("svc")["restarts"]:
            break
    else:
        pytest.fail(f"the deadline never passed while a ping waited (last: continued {late:.3f}s after it)")
    p = vigil.program("svc")
    assert p["pid"] == pid and p["restarts"] == 0 and p["last_exit"] is None, p
    log = vigil.log()
    assert "no heartbeat" not in log, log[-3000:]
