"""Nothing outlives vigild (DESIGN.md, "vigild"): a vigild killed with
SIGKILL leaves no process behind, by cgroup where there are cgroups
(background children, setsid, double forks, TERM-ignoring shells), else
by process group; a vigild started again on the same socket runs each
program exactly once; a stop kills the whole cgroup; cgroups are removed.

Processes are found by a marker unique to each test (a sleep length) in
their argv. Every test also runs without cgroups (VIGIL_CGROUP=off) where
that makes sense; cgroup asserts are skipped, with the reason vigild
logged, on a machine without a writable cgroup2 hierarchy.
"""

import os
import random
import signal
import time

import pytest

from vigiltest import TIMEOUT, cmdline, kill_pids, pid_alive, pids_with_arg, wait_for

DEADLINE = 2.0  # the design's target is 100 ms; the measured time is printed


@pytest.fixture
def marker():
    m = str(random.randrange(10**7, 10**8))
    yield m
    kill_pids(pids_with_arg(m))  # whatever a failing test left


def sleeps(m):
    """{suffix: [pids]} of the marker's sleep processes."""
    out = {}
    for pid in pids_with_arg(m):
        argv = cmdline(pid) or []
        if len(argv) == 2 and argv[0] == "/bin/sleep" and argv[1].startswith(m + "."):
            out.setdefault(argv[1][len(m) + 1:], []).append(pid)
    return out


# Every way a program's processes got away from PDEATHSIG in the report.
ESCAPERS = """
[program:bg]
command = /bin/sh -c '/bin/sleep {m}.1 & /bin/sleep {m}.2 & wait'
start_secs = 0
[program:noterm]
command = /bin/sh -c 'trap "" TERM; /bin/sleep {m}.3 & wait'
start_secs = 0
[program:kid]
command = /bin/sh -c '/bin/sleep {m}.4 & wait'
daemon = yes
heartbeat_timeout = 0
[program:dfork]
command = /bin/sh -c '(/bin/sleep {m}.5 &); exec /bin/sleep {m}.6'
start_secs = 0
"""
GROUP_ONLY = {"1", "2", "3", "4", "5", "6"}
# Out of their process group: only a cgroup holds these.
SETSID = """
[program:setsid]
command = /bin/sh -c '/usr/bin/setsid /bin/sleep {m}.7 & wait'
start_secs = 0
[program:dsetsid]
command = /bin/sh -c '(/usr/bin/setsid /bin/sleep {m}.8 &); exec /bin/sleep {m}.9'
start_secs = 0
"""
ALL = GROUP_ONLY | {"7", "8", "9"}


def start(vigil, config, mode):
    env = {"VIGIL_CGROUP": "off"} if mode == "pgroup" else {}
    vigil.start(config, env=env)
    log = vigil.log()
    if mode == "cgroup" and "no cgroups (" in log:
        reason = log[log.index("no cgroups ("):].split("\n")[0]
        pytest.skip(f"vigild found no usable cgroup v2 here: {reason}")
    return vigil


def check_mode(vigil, mode, pids):
    """With cgroups every process was in one of vigild's; without, vigild
    said why. Checked after the behaviour, which matters more."""
    if mode == "cgroup":
        for pid, cg in pids.items():
            assert cg and "/vigil-" in cg, (pid, cg)
    else:
        assert "no cgroups (VIGIL_CGROUP=off)" in vigil.log(), vigil.log()


def wait_all(m, suffixes):
    return wait_for(lambda: (lambda s: s if set(s) >= suffixes else None)(sleeps(m)),
                    what=lambda: f"sleeps {sorted(suffixes)} (have {sorted(sleeps(m))})")


def time_until_none(pids, limit):
    t0 = time.monotonic()
    while any(pid_alive(p) for p in pids):
        if time.monotonic() - t0 > limit:
            return None
        time.sleep(0.001)
    return time.monotonic() - t0


def cgroup_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.startswith("cgroup2 "):
                return pre.split()[4]
    return None


def cgroup_dir(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return cgroup_mount() + line[3:].strip().rstrip("/")
    return None


@pytest.mark.parametrize("mode", ["cgroup", "pgroup"])
def test_sigkilled_vigild_leaves_nothing(vigil, marker, mode):
    expected = ALL if mode == "cgroup" else GROUP_ONLY
    start(vigil, (ESCAPERS + (SETSID if mode == "cgroup" else "")).format(m=marker), mode)
    wait_all(marker, expected)
    pids = pids_with_arg(marker)
    shells = 4 if mode == "cgroup" else 3  # bg, noterm, kid (and setsid) wait for theirs
    assert len(pids) == len(expected) + shells, [(p, cmdline(p)) for p in pids]
    cgroups = {pid: cgroup_dir(pid) for pid in pids}
    vigil.signal(signal.SIGKILL)
    took = time_until_none(pids, DEADLINE)
    survivors = [(p, cmdline(p)) for p in pids if pid_alive(p)]
    assert took is not None, f"{len(survivors)} of {len(pids)} alive {DEADLINE}s after kill -9 vigild: {survivors}"
    print(f"\n{mode}: {len(pids)} processes gone {took * 1000:.1f} ms after kill -9 vigild")
    check_mode(vigil, mode, cgroups)
    vigil.proc.wait(timeout=TIMEOUT)
    wait_for(lambda: "vigild-guard: vigild (pid" in vigil.log(), what="the guard's line")


@pytest.mark.parametrize("mode", ["cgroup", "pgroup"])
def test_started_again_nothing_doubled(vigil, marker, mode):
    expected = ALL if mode == "cgroup" else GROUP_ONLY
    config = (ESCAPERS + (SETSID if mode == "cgroup" else "")).format(m=marker)
    start(vigil, config, mode)
    first = wait_all(marker, expected)
    vigil.signal(signal.SIGKILL)
    vigil.proc.wait(timeout=TIMEOUT)
    start(vigil, None, mode)  # at once, on the same socket
    old = {p for ps in first.values() for p in ps}

    def settled():
        s = sleeps(marker)
        if set(s) == expected and all(len(v) == 1 for v in s.values()) and not old & set(sum(s.values(), [])):
            return s
        return None
    wait_for(settled, what=lambda: f"one new instance of each sleep (now {sleeps(marker)}, old {sorted(old)})")
    check_mode(vigil, mode, {p: cgroup_dir(p) for p in pids_with_arg(marker)})


def test_leftovers_of_a_dead_vigild_and_guard_are_killed_at_start(vigil, marker):
    start(vigil, (ESCAPERS + SETSID).format(m=marker), "cgroup")
    first = wait_all(marker, ALL)
    guard = wait_for(lambda: vigil.guard_pid(), what="the guard")
    os.kill(guard, signal.SIGKILL)
    vigil.signal(signal.SIGKILL)
    vigil.proc.wait(timeout=TIMEOUT)
    wait_for(lambda: not pid_alive(guard), what="the guard to die")
    # setsid'd ones outlive both: PDEATHSIG reached only main processes
    left = [p for p in (first["7"] + first["8"]) if pid_alive(p)]
    assert left, "nothing left to clean up: the test proves nothing"
    start(vigil, None, "cgroup")
    wait_for(lambda: not any(pid_alive(p) for p in left), what="the leftovers to be killed")
    assert "processes a previous vigild left in" in vigil.log(), vigil.log()


def test_guard_is_lean_and_leaves_with_vigild(vigil, marker):
    start(vigil, ESCAPERS.format(m=marker), "pgroup")
    guard = wait_for(lambda: vigil.guard_pid(), what="the guard")
    with open(f"/proc/{guard}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid != vigil.pid, "the guard must not be vigild's child (vigild reaps and kills its children)"
    fds = os.listdir(f"/proc/{guard}/fd")
    assert len(fds) <= 4, f"the guard holds vigild's descriptors: {fds}"
    assert os.getsid(guard) == guard, "the guard must be out of vigild's session"
    vigil.signal(signal.SIGTERM)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0
    wait_for(lambda: not pid_alive(guard), what="the guard to exit with vigild")
    assert "vigild-guard: vigild" not in vigil.log(), "a normal exit must not trigger the guard"


@pytest.mark.parametrize("mode", ["cgroup", "pgroup"])
def test_a_killed_guard_is_replaced(vigil, marker, mode):
    start(vigil, (ESCAPERS + (SETSID if mode == "cgroup" else "")).format(m=marker), mode)
    wait_all(marker, ALL if mode == "cgroup" else GROUP_ONLY)
    guard = wait_for(lambda: vigil.guard_pid(), what="the guard")
    os.kill(guard, signal.SIGKILL)
    new = wait_for(lambda: (lambda g: g if g and g != guard else None)(vigil.guard_pid()), what="a new guard")
    assert "the guard (pid" in vigil.log()
    pids = pids_with_arg(marker)
    vigil.signal(signal.SIGKILL)
    took = time_until_none(pids, DEADLINE)
    assert took is not None, [(p, cmdline(p)) for p in pids if pid_alive(p)]
    wait_for(lambda: not pid_alive(new), what="the new guard to exit")


def test_stop_kills_the_setsid_grandchild(vigil, marker):
    start(vigil, SETSID.format(m=marker), "cgroup")
    s = wait_all(marker, {"7", "8", "9"})
    cg = cgroup_dir(s["7"][0])
    r = vigil.ctl("stop", "setsid")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not any(pid_alive(p) for p in s["7"]), what="the setsid'd grandchild to die")
    assert cg.endswith("/prog-setsid"), cg
    wait_for(lambda: not os.path.exists(cg), what=f"{cg} to be removed")
    subtree = os.path.dirname(cg)
    assert os.path.isdir(subtree)
    # a restart reuses (makes again) the cgroup
    r = vigil.ctl("start", "setsid")
    assert r.returncode == 0, r.stderr
    s2 = wait_all(marker, {"7"})
    assert cgroup_dir(s2["7"][0]) == cg
    vigil.signal(signal.SIGTERM)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0
    assert not any(pid_alive(p) for p in s2["7"] + s["8"])
    assert not os.path.exists(subtree), f"{subtree} left after a normal exit"


def test_restart_while_killed_leftovers_still_die(vigil, tmp_path):
    # The leftover holds 1 GB: after cgroup.kill it takes a while to die,
    # so the cgroup still exists when the program restarts at once. The
    # kernel (seen on 6.18) kills at birth a child cloned into a cgroup
    # that was killed since it was made: the restart must still run.
    runs = tmp_path / "runs"
    runs.mkdir()
    script = tmp_path / "w.sh"
    script.write_text(f"""touch {runs}/run.$$
/usr/bin/python3 -c "import time; b = b'x' * (1 << 30); open('{runs}/big', 'w').close(); time.sleep(60)" &
while [ ! -e {runs}/big ]; do sleep 0.05; done
sleep 1.1
exit 3
""")
    start(vigil, f"""
[program:w]
command = /bin/sh {script}
start_secs = 0
""", "cgroup")
    wait_for(lambda: len([f for f in os.listdir(runs) if f.startswith("run.")]) >= 2,
             what="the program to run a second time")
    assert "killed by signal KILL" not in vigil.log(), vigil.log()[-3000:]


@pytest.mark.parametrize("leftover", [False, True])
def test_a_restart_at_once_runs_in_the_programs_cgroup(vigil, marker, leftover):
    """A process that ended after living over a second is restarted at
    once in its program's cgroup: reused as it was when the process ended
    alone, and joined (the kernel kills a child cloned into a cgroup
    killed since it was made) when its leftovers had to be killed."""
    bg = f"/bin/sleep 1300{marker} & " if leftover else ""
    start(vigil, f"""
[program:again]
command = /bin/sh -c '{bg}sleep 1.2; exit 1'
start_secs = 0
restart = always
""", "cgroup")
    first = vigil.wait_running("again")["pid"]
    cg = cgroup_dir(first)
    assert cg.endswith("/prog-again"), cg
    p = vigil.wait_program("again", lambda p: p["restarts"] >= 1 and p["pid"] not in (None, first),
                           "a restart at once")
    assert p["state"] in ("STARTING", "RUNNING"), p
    assert cgroup_dir(p["pid"]) == cg
    # it runs (a child cloned into a killed cgroup dies at birth) and
    # lives on until it ends by itself again
    second = vigil.wait_program("again", lambda q: q["pid"] == p["pid"] and q["state"] == "RUNNING",
                                "the restarted process to run")
    assert pid_alive(second["pid"])
    if leftover:
        wait_for(lambda: len(pids_with_arg(f"1300{marker}")) <= 1, what="the first leftover to be killed")
    assert "failed start" not in vigil.log()
