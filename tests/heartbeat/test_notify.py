"""The notify socket: who may ping (notify_access, credentials), STATUS=,
`vigilctl ping`, and robustness against malformed datagrams and passed fds."""

import array
import os
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

from vigiltest import VIGILCTL, command, exec_fails_at_run_time, wait_for

LATE = 0.6  # see test_heartbeat.py


def stays_running(vigil, name, pid, seconds, check=None):
    """Asserts name keeps running as pid for `seconds` (observed every 0.1s)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        p = vigil.program(name)
        assert p["state"] == "RUNNING" and p["pid"] == pid, p
        if check:
            check(p)
        time.sleep(0.1)
    return p


class Pinger(threading.Thread):
    """Sends datagrams to the notify socket from the test process: a pid
    that is nobody's main pid and in no program's process group."""

    def __init__(self, path, message=b"WATCHDOG=1", interval=0.05):
        super().__init__(daemon=True)
        self.path, self.message, self.interval = path, message, interval
        self.sent = 0
        self.halt = threading.Event()

    def run(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            while not self.halt.is_set():
                s.sendto(self.message, self.path)
                self.sent += 1
                self.halt.wait(self.interval)
        finally:
            s.close()


def test_pings_from_an_unrelated_process_are_ignored(vigil):
    vigil.start(f"""
[program:silent]
command = {command("notify-worker", "-o", vigil.path("ev"), "-p", "0")}
start_secs = 0
heartbeat_timeout = 1s

[program:silent-all]
command = {command("notify-worker", "-o", vigil.path("ev-all"), "-p", "0")}
start_secs = 0
heartbeat_timeout = 1s
notify_access = all
""")
    pinger = Pinger(vigil.notify_sock)
    pinger.start()
    try:
        # also `vigilctl ping` run from outside, as a stray script would
        env = {"NOTIFY_SOCKET": vigil.notify_sock}
        r = vigil.ctl("ping", env=env)
        assert r.returncode == 0, r.stderr
        for name, ev in (("silent", "ev"), ("silent-all", "ev-all")):
            pid = vigil.wait_running(name)["pid"]
            p = vigil.wait_running(name, not_pid=pid, timeout=10)
            assert p["last_exit"]["cause"] == "heartbeat", p
            events = vigil.events(ev)
            start = [e["t"] for e in events if e["event"] == "start" and e["pid"] == pid][0]
            sig = [e["t"] for e in events if e["event"] == "signal" and e["pid"] == pid][0]
            print(f"{name}: heartbeat signal {sig - start:.3f}s after start despite foreign pings")
            assert sig - start <= 1.0 + LATE, sig - start
        assert pinger.sent > 10
    finally:
        pinger.halt.set()
        pinger.join()


def test_notify_access_all_accepts_a_grandchild_main_does_not(vigil):
    vigil.start(f"""
[program:grand-all]
command = {command("notify-worker", "-o", vigil.path("ev-all"), "-i", "100", "--grandchild")}
start_secs = 0
heartbeat_timeout = 1s
notify_access = all

[program:grand-main]
command = {command("notify-worker", "-o", vigil.path("ev-main"), "-i", "100", "--grandchild")}
start_secs = 0
heartbeat_timeout = 1s
notify_access = main
""")
    all_pid = vigil.wait_running("grand-all")["pid"]
    main_pid = vigil.wait_running("grand-main")["pid"]
    # main: its grandchild's pings are dropped, so the program is hung
    p = vigil.wait_running("grand-main", not_pid=main_pid, timeout=10)
    assert p["last_exit"]["cause"] == "heartbeat", p
    assert any(e["event"] == "ping" and e["pid"] != main_pid for e in vigil.events("ev-main"))
    # all: the same pings from the grandchild keep it alive
    stays_running(vigil, "grand-all", all_pid, 3.0,
                  lambda p: p["heartbeat"]["last_ping_age_s"] is not None and p["heartbeat"]["last_ping_age_s"] < 1.0)
    pingers = {e["pid"] for e in vigil.events("ev-all") if e["event"] == "ping"}
    assert pingers and all_pid not in pingers, pingers


def script(vigil, access, name):
    # the ping comes from vigilctl, a child of sh: only notify_access=all counts it
    return f"""
[program:{name}]
command = sh -c 'i=0; while :; do {VIGILCTL} ping --status "loop $i" || exit 7; i=$((i+1)); sleep 0.2; done'
start_secs = 0
heartbeat_timeout = 1500ms
notify_access = {access}
"""


def test_vigilctl_ping_from_a_supervised_script(vigil):
    vigil.start(script(vigil, "all", "sh-all") + script(vigil, "main", "sh-main"))
    pid = vigil.wait_running("sh-all")["pid"]
    main_pid = vigil.wait_running("sh-main")["pid"]
    p = stays_running(vigil, "sh-all", pid, 4.0,
                      lambda p: p["heartbeat"]["last_ping_age_s"] is not None and p["heartbeat"]["last_ping_age_s"] < 1.5)
    assert p["status"].startswith("loop "), p
    assert p["last_exit"] is None, p
    p = vigil.wait_running("sh-main", not_pid=main_pid, timeout=10)
    assert p["last_exit"]["cause"] == "heartbeat", p


def test_vigilctl_ping_without_notify_socket():
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    r = subprocess.run([VIGILCTL, "ping"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert "NOTIFY_SOCKET" in r.stderr, r.stderr
    assert r.stdout == ""
    # a socket nobody listens on: also exit 1, saying where it tried
    env["NOTIFY_SOCKET"] = "/nonexistent-hb/notify"
    r = subprocess.run([VIGILCTL, "ping"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert "/nonexistent-hb/notify" in r.stderr, r.stderr


def test_status_text_shows_in_api_and_vigilctl(vigil):
    vigil.start(f"""
[program:web]
command = {command("notify-worker", "-i", "100", "--status", "serving 12 clients")}
start_secs = 0
heartbeat_timeout = 2s
""")
    p = vigil.wait_program("web", lambda p: p["status"] == "serving 12 clients", "its STATUS= text")
    assert p["state"] == "RUNNING", p
    body = vigil.get("/v1/programs").json()
    assert [q["status"] for q in body["programs"] if q["name"] == "web"] == ["serving 12 clients"]
    r = vigil.ctl("status")
    assert r.returncode == 0, r.stderr
    assert "serving 12 clients" in r.stdout, r.stdout
    r = vigil.ctl("status", "web", "--json")
    assert r.returncode == 0, r.stderr
    assert '"serving 12 clients"' in r.stdout, r.stdout


def send(path, data, fds=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        if fds:
            # (socket.send_fds() drops its address argument: sendmsg directly)
            return s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))], 0, path)
        return s.sendto(data, path)
    except OSError as e:
        return e
    finally:
        s.close()


def test_malformed_datagrams_do_not_hurt(vigil):
    vigil.start(f"""
[program:junk]
command = {command("notify-worker", "-o", vigil.path("ev"), "-i", "100", "--junk",
                   "--silent-when-file", vigil.path("quiet"))}
start_secs = 0
heartbeat_timeout = 1s
""")
    pid = vigil.wait_running("junk")["pid"]
    wait_for(lambda: any(e["event"] == "junk-sent" for e in vigil.events("ev")), what="the worker's junk")
    # and more from outside
    path = vigil.notify_sock
    for data in (b"WATCHDOG=1\0", b"\0" * 100, b"\xff\xfe\n\x00=", b"STATUS=" + b"x" * 4089,
                 b"STATUS=" + b"y" * 5000, b"X" * 100000, b"MAINPID=-1", b"WATCHDOG_USEC=1e6",
                 bytes(range(256)), b"READY=1\n" * 600, b""):
        send(path, data)
    for _ in range(2000):
        send(path, b"WATCHDOG=1")
    # vigild answers and still supervises: the worker's own pings count...
    p = stays_running(vigil, "junk", pid, 2.5)
    status = p["status"]
    # ...its last STATUS= was the 4096-byte datagram: kept, truncated, valid JSON
    assert status is not None and len(status) == 255 and status.startswith("A" * 93), status
    assert not [e for e in vigil.events("ev") if e["event"] == "junk-send-failed" and e["len"] in ("4096",)]
    health = vigil.get("/healthz")
    assert health.status == 200, health
    # ...and silence still restarts it
    vigil.touch("quiet")
    p = vigil.wait_running("junk", not_pid=pid, timeout=10)
    assert p["last_exit"]["cause"] == "heartbeat", p


def vigild_fds(vigil):
    return len(os.listdir(f"/proc/{vigil.proc.pid}/fd"))


def test_passed_fds_are_closed(vigil):
    vigil.start(f"""
[program:w]
command = {command("notify-worker", "-i", "100")}
start_secs = 0
heartbeat_timeout = 2s
""")
    pid = vigil.wait_running("w")["pid"]
    baseline = vigild_fds(vigil)
    # like `systemd-notify --barrier`: pass the write end of a pipe, wait for EOF
    for message in (b"BARRIER=1", b"WATCHDOG=1", b"READY=1\nSTATUS=with fds"):
        r, w = os.pipe()
        try:
            assert send(vigil.notify_sock, message, [w]) == len(message)
            os.close(w)
            w = None
            t0 = time.monotonic()
            readable, _, _ = select.select([r], [], [], 10)
            assert readable, f"{message!r}: vigild kept the passed fd open for 10s"
            assert os.read(r, 1) == b"", "EOF expected"
            print(f"{message!r}: passed fd closed after {time.monotonic() - t0:.4f}s")
        finally:
            os.close(r)
            if w is not None:
                os.close(w)
    # many fds in many datagrams: none stays in vigild
    pipes = [os.pipe() for _ in range(50)]
    try:
        for i in range(20):
            send(vigil.notify_sock, b"WATCHDOG=1", [w for _, w in pipes])
    finally:
        for r, w in pipes:
            os.close(w)
    try:
        for r, _ in pipes:
            readable, _, _ = select.select([r], [], [], 10)
            assert readable and os.read(r, 1) == b"", "a passed fd stayed open in vigild"
    finally:
        for r, _ in pipes:
            os.close(r)
    wait_for(lambda: vigild_fds(vigil) <= baseline, what=f"vigild's fd count back to {baseline}")
    assert vigil.program("w")["pid"] == pid


@pytest.mark.skipif(not shutil.which("systemd-notify"), reason="systemd-notify not installed")
def test_systemd_notify_does_not_wait(vigil):
    """systemd-notify (without --no-block) sends BARRIER=1 with a pipe and
    waits for vigild to close it: it must return at once."""
    vigil.start(f"""
[program:w]
command = {command("notify-worker", "-i", "100")}
start_secs = 0
heartbeat_timeout = 2s
""")
    vigil.wait_running("w")
    env = dict(os.environ, NOTIFY_SOCKET=vigil.notify_sock)
    t0 = time.monotonic()
    r = subprocess.run(["systemd-notify", "WATCHDOG=1"], env=env, capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t0
    print(f"systemd-notify returned {r.returncode} after {took:.3f}s")
    assert r.returncode == 0, r.stderr
    assert took < 3, f"systemd-notify waited {took:.1f}s for its barrier"


def test_status_text_ends_with_its_process(vigil):
    """Issue 10: a stopped process drops its STATUS= text (it was the ended
    process's word), and a start that failed says why in its place."""
    vigil.start(f"""
[program:web]
command = {command("notify-worker", "-i", "100", "--status", "serving 12 clients")}
start_secs = 0
[program:broken]
command = {exec_fails_at_run_time(vigil.path("no-such-program"))}
restart = never
""")
    vigil.wait_program("web", lambda p: p["status"] == "serving 12 clients", "its STATUS= text")
    r = vigil.ctl("stop", "web")
    assert r.returncode == 0, r.stderr
    p = vigil.program("web")
    assert p["state"] == "STOPPED" and p["status"] is None, p
    b = vigil.wait_state("broken", "FATAL")
    assert b["status"] == f"cannot start: exec {vigil.path('no-such-program')}: No such file or directory", b
    r = vigil.ctl("status")
    assert "cannot start: exec" in r.stdout and "serving 12 clients" not in r.stdout, r.stdout
