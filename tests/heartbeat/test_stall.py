"""vigild never blames a program for its own absence (DESIGN.md, "Heartbeat"):
deadlines that passed while vigild's loop did not run start again from the
moment it resumed, and the stall is logged once."""

import os
import signal
import time

import pytest

from vigiltest import command, wait_for

PINGERS = 4
TIMEOUT_S = 1.0
STALL_S = 3 * TIMEOUT_S  # every deadline passes during the stall


def start_pingers(vigil):
    programs = "".join(f"""
[program:p{i}]
command = {command("notify-worker", "-o", vigil.path(f"ev{i}"), "-i", "200")}
start_secs = 0
heartbeat_timeout = {TIMEOUT_S}s
""" for i in range(PINGERS))
    vigil.start(programs)
    return {f"p{i}": vigil.wait_running(f"p{i}")["pid"] for i in range(PINGERS)}


def assert_nobody_blamed(vigil, pids):
    # Each program must ping again after the stall, with the same pid and
    # no restart: alive and untouched.
    def pinged_again():
        progs = vigil.programs()
        for name, pid in pids.items():
            p = progs[name]
            assert p["pid"] == pid and p["restarts"] == 0 and p["last_exit"] is None, p
            age = p["heartbeat"]["last_ping_age_s"]
            if age is None or age > TIMEOUT_S / 2:
                return False
        return True

    wait_for(pinged_again, what="every pinger to ping again, unrestarted")
    # one more full timeout: nothing judged late afterwards either
    end = time.monotonic() + 2 * TIMEOUT_S
    while time.monotonic() < end:
        for name, pid in pids.items():
            p = vigil.program(name)
            assert p["pid"] == pid and p["restarts"] == 0, p
        time.sleep(0.1)
    log = vigil.log()
    assert "no heartbeat" not in log, log[-3000:]
    assert log.count("did not run for") == 1, log[-3000:]


@pytest.mark.parametrize("programs_frozen", [True, False], ids=["frozen-together", "vigild-alone"])
def test_stall_of_vigild_blames_nobody(vigil, programs_frozen):
    pids = start_pingers(vigil)
    if programs_frozen:  # a frozen cgroup or a paused VM: vigild resumes first
        for pid in pids.values():
            os.kill(pid, signal.SIGSTOP)
    os.kill(vigil.proc.pid, signal.SIGSTOP)
    # The stall itself is the condition under test: it must outlast every
    # heartbeat deadline.
    time.sleep(STALL_S)
    os.kill(vigil.proc.pid, signal.SIGCONT)
    if programs_frozen:
        wait_for(lambda: "did not run for" in vigil.log(), what="vigild to log its stall")
        for pid in pids.values():
            os.kill(pid, signal.SIGCONT)
    assert_nobody_blamed(vigil, pids)


def test_a_real_hang_after_a_stall_is_still_caught(vigil):
    pids = start_pingers(vigil)
    os.kill(vigil.proc.pid, signal.SIGSTOP)
    time.sleep(STALL_S)
    os.kill(pids["p0"], signal.SIGSTOP)  # p0 hangs for real, from now on
    os.kill(vigil.proc.pid, signal.SIGCONT)
    p = vigil.wait_program("p0", lambda p: p["restarts"] >= 1, "p0 to be restarted for its silence")
    assert p["last_exit"]["cause"] == "heartbeat", p
    for name in ("p1", "p2", "p3"):
        assert vigil.program(name)["restarts"] == 0
