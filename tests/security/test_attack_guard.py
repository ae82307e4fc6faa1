"""The guard after lost records (attack on issue 12's guard).

vigild tells its guard "+pgid" at each spawn and "-pgid" at each exit over
a socket with a bounded queue. A guard that stops reading for a while (it
was stopped, starved or frozen) loses records once the queue is full; a
lost "-pgid" left a group the guard would SIGKILL when vigild dies,
although that group ended long ago and its number may be another
process group's by then (a user's shell, another service). Once the
guard reads again it must get the whole set anew, so that a SIGKILLed
vigild never kills a stranger's process group.
"""

import os
import random
import signal
import subprocess

from vigiltest import TIMEOUT, kill_pids, pid_alive, pids_with_arg, wait_for

N = 400  # more "-" records than the guard's queue holds (~280 here)


def spawn_at(pid, argv):
    """A new session leader (so a process group) with the given pid, if
    no other process on the machine takes that number first."""
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    return subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)



def start_sleeps(vigil, m):
    """N sleeps marked m, without cgroups: the guard kills by process group."""
    vigil.start(f"""
[program:p]
command = /bin/sleep {m}.1
numprocs = {N}
start_secs = 0
stop_signal = KILL
""", env={"VIGIL_CGROUP": "off"})

def test_lost_records_never_make_the_guard_kill_a_strangers_group(vigil):
    m = str(random.randrange(10**7, 10**8))
    strangers = []
    try:
        start_sleeps(vigil, m)
        old = wait_for(lambda: (lambda s: s if len(s) == N else None)(pids_with_arg(m)),
                       what=f"{N} sleeps", timeout=3 * TIMEOUT)
        guard = wait_for(lambda: vigil.guard_pid(), what="the guard")
        os.kill(guard, signal.SIGSTOP)
        try:
            r = vigil.ctl("stop", "all")
            assert r.returncode == 0, r.stderr
            wait_for(lambda: not any(pid_alive(p) for p in old), what="the programs to end")
            assert "process-group records lost" in vigil.log(), "the guard's queue never filled"
        finally:
            os.kill(guard, signal.SIGCONT)
        # Strangers' groups with the numbers of the ended ones.
        for pid in old:
            strangers.append(spawn_at(pid, ["/bin/sleep", f"{m}.9"]))
        hits = [s for s in strangers if s.pid in old]
        assert len(hits) >= N // 2, f"only {len(hits)} of {N} strangers got an old number"
        wait_for(lambda: "the guard reads again" in vigil.log(),
                 what="vigild to tell the guard every group anew")
        vigil.signal(signal.SIGKILL)
        vigil.proc.wait(timeout=TIMEOUT)
        wait_for(lambda: "vigild-guard: vigild (pid" in vigil.log(), what="the guard's line")
        wait_for(lambda: not pid_alive(guard), what="the guard to finish")
        killed = [s.pid for s in hits if s.poll() is not None]
        assert not killed, f"the guard killed {len(killed)} strangers' process groups: {killed[:10]}"
        assert "and 0 process groups" in vigil.log(), vigil.log()[-500:]
    finally:
        for s in strangers:
            if s.poll() is None:
                s.kill()
            s.wait()
        kill_pids(pids_with_arg(m))


def test_a_normal_exit_reaches_a_guard_that_stopped_reading(vigil):
    """The "x" of a normal exit came after the queue had filled (the stop
    of every program sends one record each): it was lost, and the guard,
    reading on later, took the end of the socket for vigild's death."""
    m = str(random.randrange(10**7, 10**8))
    guard = None
    try:
        start_sleeps(vigil, m)
        wait_for(lambda: len(pids_with_arg(m)) == N, what=f"{N} sleeps", timeout=3 * TIMEOUT)
        guard = wait_for(lambda: vigil.guard_pid(), what="the guard")
        os.kill(guard, signal.SIGSTOP)
        vigil.signal(signal.SIGTERM)
        assert vigil.proc.wait(timeout=3 * TIMEOUT) == 0
        assert "process-group records lost" in vigil.log(), "the guard's queue never filled"
        os.kill(guard, signal.SIGCONT)  # no-op if it is gone
        wait_for(lambda: not pid_alive(guard), what="the guard to end")
        assert "vigild-guard: vigild (pid" not in vigil.log(), \
            "the guard took a normal exit for vigild's death:\n" + vigil.log()[-400:]
    finally:
        if guard and pid_alive(guard):
            os.kill(guard, signal.SIGCONT)
        kill_pids(pids_with_arg(m))
