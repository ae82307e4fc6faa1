"""type = notify: RUNNING only after READY=1; ready_timeout is a failed start."""

import subprocess
import time

from vigiltest import VIGILCTL, command, wait_for


def test_notify_program_is_starting_until_ready(vigil):
    vigil.start(f"""
[program:svc]
command = {command("notify-worker", "-o", vigil.path("ev"), "-i", "100", "--ready-when-file", vigil.path("ready"))}
type = notify
ready_timeout = 60s
autostart = no
""")
    assert vigil.program("svc")["state"] == "STOPPED"
    env = vigil.env(VIGIL_SOCKET=vigil.sock)
    start = subprocess.Popen([VIGILCTL, "start", "svc"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        p = vigil.wait_program("svc", lambda p: p["state"] == "STARTING" and p["pid"], "STARTING with a pid")
        pid = p["pid"]
        wait_for(lambda: any(e["event"] == "start" for e in vigil.events("ev")), what="the worker to run")
        # It stays STARTING, and vigilctl keeps waiting, as long as no READY=1 comes.
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            p = vigil.program("svc")
            assert p["state"] == "STARTING" and p["pid"] == pid, p
            assert start.poll() is None, f"vigilctl start returned before READY=1: {start.communicate()}"
            time.sleep(0.1)
        vigil.touch("ready")
        out, err = start.communicate(timeout=30)
        returned = time.monotonic()
    finally:
        if start.poll() is None:
            start.kill()
            start.wait()
    assert start.returncode == 0, err
    assert "started" in out, out
    ready = [e for e in vigil.events("ev") if e["event"] == "ready"]
    assert ready and ready[0]["t"] <= returned
    p = vigil.program("svc")
    assert p["state"] == "RUNNING" and p["pid"] == pid, p


def test_ready_timeout_is_a_failed_start(vigil):
    vigil.start(f"""
[program:never]
command = {command("notify-worker", "-o", vigil.path("ev"), "-i", "100")}
type = notify
ready_timeout = 1s
autostart = no
restart = never

[program:retries]
command = {command("notify-worker", "-o", vigil.path("ev2"), "-i", "100")}
type = notify
ready_timeout = 1s
restart = on-failure
restart_delay = 200ms
""")
    t0 = time.monotonic()
    r = vigil.ctl("start", "never")
    took = time.monotonic() - t0
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "ready_timeout" in r.stderr, r.stderr
    assert took >= 0.9, f"vigilctl start failed after {took:.2f}s, ready_timeout is 1s"
    p = vigil.program("never")
    assert p["state"] == "EXITED" and p["pid"] is None, p
    assert p["last_exit"]["cause"] == "ready_timeout", p
    # it was asked to stop with its stop_signal (TERM), which the worker records
    sigs = [e["sig"] for e in vigil.events("ev") if e["event"] == "signal"]
    assert sigs == [15], sigs

    # with a restart policy: a failed start, retried
    p = vigil.wait_program("retries", lambda p: p["last_exit"] and p["last_exit"]["cause"] == "ready_timeout",
                           "a ready_timeout exit")
    p = vigil.wait_program("retries", lambda p: p["restarts"] >= 1, "a retry after the ready_timeout")
    assert p["state"] in ("BACKOFF", "STARTING", "STOPPING"), p
