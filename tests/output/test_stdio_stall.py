"""vigild's own stdout/stderr read by something that stalls (a paused
pager, a blocking container log driver): `inherit` output and vigild's
log are queued up to a bound and then dropped, so vigild keeps
supervising, answering and exiting instead of blocking in write()."""

import os
import signal
import time

from vigiltest import TIMEOUT, wait_for

CHATTY = """
[program:chatty]
command = /bin/sh -c 'while :; do echo "a line of output to fill every pipe on the way"; done'
start_secs = 0
stderr = stdout
"""


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def under_asan(pid):
    """ASan keeps freed memory in quarantine: RSS says nothing there."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def test_stalled_stdout_reader_does_not_stall_vigild(vigil):
    read_end, write_end = os.pipe()  # nobody ever reads read_end
    try:
        vigil.start(CHATTY, stdout=write_end, wait=False)
        os.close(write_end)
        vigil.wait_up()
        vigil.wait_running("chatty")
        # the pipe to the stalled reader is full long before this ends
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            assert vigil.http("GET", "/healthz", timeout=5).status == 200
            assert time.monotonic() - t0 < 2, "vigild answered slowly: blocked on its stdout?"
        if not under_asan(vigil.pid):
            assert vm_rss_kb(vigil.pid) < 64 * 1024, "the queue for the stalled reader is not bounded"
        # restarting works too: supervision goes on
        old = vigil.programs()["chatty"]["pid"]
        assert vigil.ctl("restart", "chatty").returncode == 0
        wait_for(lambda: vigil.programs()["chatty"]["pid"] not in (None, old), what="chatty restarted")
        vigil.signal(signal.SIGTERM)
        assert vigil.proc.wait(timeout=TIMEOUT) == 0
    finally:
        os.close(read_end)
