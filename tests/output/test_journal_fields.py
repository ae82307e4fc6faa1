"""`stdout = journal` through sd_journal_send (DESIGN.md, `stdout =`): each
line an entry with the program's fields, VIGIL_PID= the pid of the
process that wrote it (_PID is vigild's, which sends it), PRIORITY 6 for
stdout and 3 for stderr.

libsystemd 252 sends to /run/systemd/journal/socket and reads no variable
to change that: vigild runs in a mount namespace of its own (root only)
where a folder of the test is bind-mounted on /run/systemd, and the
test's datagram socket there plays journald."""

import os
import shutil
import subprocess

import pytest

from vigiltest import NotifyListener, command

SETUP = ('set -e; [ -d /run/systemd ] || { mount -t tmpfs vigil-test /run; mkdir /run/systemd; }; '
         'mount --bind "$0" /run/systemd; exec "$@"')


def namespace_prefix(folder):
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", SETUP, folder]


def can_unshare(folder):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    r = subprocess.run(namespace_prefix(folder) + ["true"], capture_output=True, timeout=30)
    return r.returncode == 0


def test_journal_entries_carry_the_process_pid(vigil):
    fake = vigil.path("fake-systemd")
    os.makedirs(os.path.join(fake, "journal"))
    if not can_unshare(fake):
        pytest.skip("needs root and unshare --mount")
    journal = NotifyListener(os.path.join(fake, "journal", "socket"))
    try:
        vigil.start(f"""
[program:jw]
command = {command('output-worker.py', 'lines', 2, 1)}
numprocs = 2
start_secs = 0
stdout = journal
stderr = journal
""", prefix=namespace_prefix(fake))
        pids = {vigil.wait_running(f"jw:{k}")["pid"]: k for k in range(2)}
        for k in range(2):
            journal.wait(lambda f, k=k: f.get("VIGIL_INSTANCE") == str(k) and f.get("MESSAGE") == "err 0",
                         what=f"the stderr line of jw:{k}")
        entries = [m[1] for m in journal.snapshot() if m[1].get("VIGIL_PROGRAM") == "jw"]
        got = sorted((int(e["VIGIL_PID"]), e["VIGIL_INSTANCE"], e["MESSAGE"], e["PRIORITY"],
                      e["SYSLOG_IDENTIFIER"]) for e in entries)
        want = sorted((pid, str(k), msg, prio, "jw") for pid, k in pids.items()
                      for msg, prio in (("out 0", "6"), ("out 1", "6"), ("err 0", "3")))
        assert got == want, entries
        assert "jw:0[" not in vigil.log(), "the fallback was used although a journal listens"
    finally:
        journal.close()
