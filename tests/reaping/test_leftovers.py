"""Nothing outlives vigild: a process that escaped its program's process
group (setsid) is still a child of vigild, the subreaper, and is killed
when vigild exits after stopping every program. Without cgroups: with
them, the stop of its program already kills it."""

import os
import signal

from vigiltest import TIMEOUT, all_pids, cmdline, pid_gone, wait_for


def test_escaped_orphan_is_killed_at_exit(vigil):
    marker = str(4000 + os.getpid() % 1000)  # a sleep length only this test uses
    vigil.start(f"""
[program:escaper]
command = /bin/sh -c '/usr/bin/setsid /bin/sleep {marker}.5 & exec /bin/sleep 1000'
start_secs = 0
""", env={"VIGIL_CGROUP": "off"})  # with cgroups the stop itself kills it (test_outlive.py)
    vigil.wait_running("escaper")

    def escaped():
        return [pid for pid in all_pids() if cmdline(pid) == ["/bin/sleep", f"{marker}.5"]]

    wait_for(lambda: escaped(), what="the escaped sleep")
    pid = escaped()[0]
    assert os.getpgid(pid) != os.getpgid(vigil.programs()["escaper"]["pid"])
    vigil.signal(signal.SIGTERM)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0
    wait_for(lambda: pid_gone(pid), what="the escaped process to be gone")
    assert "killed 1 leftover" in vigil.log()
