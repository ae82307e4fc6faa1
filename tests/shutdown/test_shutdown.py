"""Graceful shutdown: SIGTERM/SIGINT to vigild, and vigilctl shutdown."""

import os
import signal
import time

import pytest

from vigiltest import W, pid_gone, read_lines, read_pid, wait_for


def config(vigil):
    return f"""
[program:svc]
command = {W('run-forever')}
numprocs = 2
start_secs = 0
[program:stubborn]
command = {W('ignore-term')} {vigil.path('stubborn.pid')}
start_secs = 0
stop_timeout = 1s
[program:fam]
command = {W('fork-grandchild')} {vigil.path('gc')}
start_secs = 0
[program:sigs]
command = {W('record-signals')} {vigil.path('sigs')}
start_secs = 0
[program:idle]
command = {W('run-forever')}
autostart = no
"""


def start(vigil):
    vigil.start(config(vigil))
    names = ["svc:0", "svc:1", "stubborn", "fam", "sigs"]
    pids = [vigil.wait_running(n)["pid"] for n in names]
    wait_for(lambda: read_pid(vigil.path("stubborn.pid")), what="stubborn ready")
    gc = wait_for(lambda: read_pid(vigil.path("gc")), what="grandchild ready")
    wait_for(lambda: read_lines(vigil.path("sigs")), what="record-signals ready")
    return pids + [gc]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shutdown(vigil, sig):
    pids = start(vigil)
    t0 = time.monotonic()
    vigil.proc.send_signal(sig)
    assert vigil.wait_exit() == 0, vigil.log()
    elapsed = time.monotonic() - t0
    for pid in pids:
        wait_for(lambda: pid_gone(pid), timeout=5, what=f"pid {pid} gone after shutdown")
    # stubborn needed its stop_timeout, the rest stopped by their signal
    assert elapsed >= 0.9
    assert f"signal {signal.SIGTERM.value}" in read_lines(vigil.path("sigs"))
    assert not os.path.exists(vigil.sock), "ctl socket left behind"
    assert not vigil.tagged_pids()


def test_vigilctl_shutdown(vigil):
    pids = start(vigil)
    r = vigil.ctl("shutdown")
    assert r.returncode == 0, r.stderr
    assert vigil.wait_exit() == 0
    for pid in pids:
        wait_for(lambda: pid_gone(pid), timeout=5, what=f"pid {pid} gone after shutdown")
    assert f"signal {signal.SIGTERM.value}" in read_lines(vigil.path("sigs"))
    assert not os.path.exists(vigil.sock)
    assert not vigil.tagged_pids()


def test_start_during_shutdown_is_refused(vigil):
    vigil.start(f"""
[program:stubborn]
command = {W('ignore-term')} {vigil.path('pid')}
start_secs = 0
stop_timeout = 3s
[program:idle]
command = {W('run-forever')}
autostart = no
""")
    vigil.wait_running("stubborn")
    wait_for(lambda: read_pid(vigil.path("pid")), what="stubborn ready")
    vigil.proc.send_signal(signal.SIGTERM)
    vigil.wait_state("stubborn", "STOPPING")
    r = vigil.post("/v1/programs/idle/start")
    assert r.status == 409, r
    assert vigil.wait_exit() == 0


def test_second_sigterm_kills_what_is_left(vigil):
    vigil.start(f"""
[program:stubborn]
command = {W('ignore-term')} {vigil.path('pid')}
start_secs = 0
stop_timeout = 60s
""")
    pid = vigil.wait_running("stubborn")["pid"]
    wait_for(lambda: read_pid(vigil.path("pid")), what="stubborn ready")
    vigil.proc.send_signal(signal.SIGTERM)
    vigil.wait_state("stubborn", "STOPPING")
    vigil.proc.send_signal(signal.SIGTERM)
    assert vigil.wait_exit(timeout=30) == 0
    wait_for(lambda: pid_gone(pid), timeout=5, what="stubborn gone")


@pytest.mark.parametrize("how", ["vigilctl", "sigterm"])
def test_no_restart_from_backoff_during_shutdown(vigil, how):
    """Regression: while a higher-priority program takes its stop_timeout,
    a lower-priority program waiting in BACKOFF is not started again."""
    vigil.start(f"""
[program:stubborn]
command = {W('ignore-term')} {vigil.path('pid')}
priority = 200
start_secs = 0
stop_timeout = 2s
[program:crash]
command = {W('crash-after')} 0 1 {vigil.path('crashes')}
priority = 10
start_secs = 1s
restart = always
restart_delay = 300ms
restart_delay_max = 300ms
start_limit_burst = 1000
""")
    vigil.wait_running("stubborn")
    wait_for(lambda: read_pid(vigil.path("pid")), what="stubborn ready")
    wait_for(lambda: len(read_lines(vigil.path("crashes"))) >= 2, what="crash restarted at least once")
    vigil.wait_state("crash", "BACKOFF")
    if how == "vigilctl":
        r = vigil.ctl("shutdown", "--no-block")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    else:
        vigil.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    assert vigil.wait_exit() == 0, vigil.log()[-3000:]
    assert time.monotonic() - t0 >= 1.5, "stubborn should have needed its stop_timeout"
    log = vigil.log()
    assert "shutting down" in log, log[-3000:]
    after = log[log.index("shutting down"):]
    assert "crash: started pid" not in after, f"crash started during shutdown:\n{after}"
    assert not vigil.tagged_pids()
