"""Regression test for a fixed bug: a `vigilctl log -f` follower that goes
away leaks its evhttp_request in vigild (output_ring.c follower_closed
frees the follower but never ends/frees the detached request), ~1 KB per
interrupted `vigilctl log -f`: unbounded growth. LeakSanitizer reports
it when vigild exits."""

import signal
import subprocess

from vigiltest import TIMEOUT, VIGILCTL, LineReader, command, file_ends_with_bytes, wait_for


def test_follower_going_away_leaks_nothing(vigil):
    vigil.start(f"""
[program:w]
command = {command('output-worker.py', 'lines', 3, 0)}
start_secs = 0
stdout = file:{vigil.dir}/w.out
""")
    wait_for(lambda: file_ends_with_bytes(vigil.path("w.out"), b"out 2\n"), what="lines in the file")
    for i in range(3):
        f = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "log", "w", "-f", "-n", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        reader = LineReader(f.stdout)
        reader.wait_line("out 2" if i == 0 else f"tick {i}")
        f.kill()
        f.wait()
        vigil.ctl("signal", "USR2", "w")  # vigild notices the closed follower
        wait_for(lambda: file_ends_with_bytes(vigil.path("w.out"), b"tick %d\n" % (i + 1)), what="tick")
    assert vigil.http("GET", "/healthz").status == 200
    vigil.signal(signal.SIGTERM)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0
    # the fixture's teardown fails the test on a LeakSanitizer report
