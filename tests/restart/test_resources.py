"""Exhausted descriptors or processes are not the program's fault (issue 12,
item 7): a spawn that fails with EMFILE/ENFILE/EAGAIN is retried later and
never counts towards FATAL; the program comes back once the resource does."""

import resource

from vigiltest import W, open_fds, wait_for


def set_soft_limit(pid, which, soft):
    """Sets vigild's soft limit (the hard one stays: raising it again would
    need CAP_SYS_RESOURCE); returns the old soft limit."""
    old, hard = resource.prlimit(pid, which)
    resource.prlimit(pid, which, (soft, hard))
    return old


def test_spawn_without_descriptors_retries_until_they_return(vigil):
    # It dies after 0.2 s, past start_secs: each restart is a new spawn.
    vigil.start("""
[program:crashy]
command = sh -c 'sleep 0.2; exit 1'
start_secs = 100ms
restart = always
restart_delay = 10ms
restart_delay_max = 50ms
start_limit_burst = 1
""")
    vigil.wait_running("crashy")
    # No descriptor left above the ones vigild holds: pipe() fails.
    nfds = len(open_fds(vigil.pid))
    old = set_soft_limit(vigil.pid, resource.RLIMIT_NOFILE, nfds)
    try:
        wait_for(lambda: vigil.log().count("Too many open files") >= 1 and
                 vigil.log().count("crashy: cannot start: ") >= 1 and
                 vigil.log().count("try 3,") >= 1, 20, "three spawns to fail for lack of descriptors")
    finally:
        set_soft_limit(vigil.pid, resource.RLIMIT_NOFILE, old)
    p = vigil.wait_running("crashy")
    log = vigil.log()
    assert "giving up (FATAL)" not in log, log[-3000:]
    assert "not a failed start" in log, log[-3000:]
    assert p["state"] == "RUNNING"


def test_process_limit_reached_and_lifted(vigil):
    # As root vigild itself is exempt from RLIMIT_NPROC; the program runs as
    # nobody, whose exec then fails with EAGAIN while the limit holds. The
    # kernel counts the user's other processes at setuid(): `other` keeps
    # nobody at one process or more, whatever else runs on the machine.
    vigil.start(f"""
[program:other]
command = {W('run-forever')}
user = nobody
start_secs = 0

[program:limited]
command = {W('run-forever')}
user = nobody
start_secs = 0
restart_delay = 10ms
restart_delay_max = 50ms
start_limit_burst = 1
""")
    vigil.wait_running("other")
    first = vigil.wait_running("limited")["pid"]
    old = set_soft_limit(vigil.pid, resource.RLIMIT_NPROC, 0)
    try:
        r = vigil.ctl("restart", "--no-block", "limited")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: "try 3," in vigil.log(), 20, "three spawns to fail with EAGAIN")
        p = vigil.program("limited")
        assert p["state"] == "BACKOFF" and p["pid"] is None, p
    finally:
        set_soft_limit(vigil.pid, resource.RLIMIT_NPROC, old)
    p = vigil.wait_running("limited")
    assert p["pid"] != first
    log = vigil.log()
    assert "Resource temporarily unavailable" in log, log[-3000:]
    assert "giving up (FATAL)" not in log, log[-3000:]
