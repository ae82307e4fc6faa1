"""What a child starts with: environment, directory, umask, user, signal
mask, file descriptors; and what happens when it cannot start."""

import os
import shutil
import signal

from vigiltest import W, pid_alive, read_file, wait_for


def parse_report(text):
    rep = {"env": {}}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "env":
            name, _, val = value.partition("=")
            rep["env"][name] = val
        else:
            rep[key] = value
    return rep


def report(vigil, path):
    return parse_report(wait_for(lambda: read_file(path), what=f"report-env to write {path}"))


def dirty_parent():
    """preexec_fn for vigild: a parent that leaves signals blocked and
    ignored. vigild's children must not inherit any of it."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGQUIT})


def test_environment_directory_umask_user(vigil):
    out_dir = vigil.path("out")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    wd = vigil.path("wd")
    os.mkdir(wd)
    out = os.path.join(out_dir, "env")
    vigil.start(f"""
[program:envy]
command = {W('report-env')} {out}
directory = {wd}
umask = 027
user = nobody
environment = A=1, B="x y", C=with=equals
start_secs = 0
""")
    rep = report(vigil, out)
    assert rep["cwd"] == wd
    assert rep["umask"] == "0027"
    assert rep["uid"] == "65534 65534"
    assert rep["gid"] == "65534 65534"
    assert rep["groups"].split() == ["65534"], "supplementary groups of root leaked to the child"
    env = rep["env"]
    assert env.get("A") == "1"
    assert env.get("B") == "x y"
    assert env.get("C") == "with=equals"
    # vigild's own environment is passed on
    assert env.get("VIGIL_TEST_TAG") == vigil.dir
    assert int(rep["pid"]) == vigil.program("envy")["pid"]


def test_default_umask_directory_and_user_are_vigilds(vigil):
    out = vigil.path("env")
    vigil.start(f"""
[program:plain]
command = {W('report-env')} {out}
start_secs = 0
""", preexec_fn=lambda: os.umask(0o013))
    rep = report(vigil, out)
    assert rep["uid"] == "0 0"
    assert rep["umask"] == "0013"
    assert rep["cwd"] == os.getcwd()


def test_clean_signal_mask_and_fds(vigil):
    out = vigil.path("env")
    leak_r, leak_w = os.pipe()  # inheritable fds vigild's parent leaves open
    os.set_inheritable(leak_r, True)
    os.set_inheritable(leak_w, True)
    try:
        vigil.start(f"""
[program:clean]
command = {W('report-env')} {out}
start_secs = 0
stdout = file:{vigil.path('clean.out')}
stderr = stdout
""", preexec_fn=dirty_parent, pass_fds=(leak_r, leak_w),
                    env={"LISTEN_FDNAMES": "outer", "WATCHDOG_USEC": "1", "KEEP_ME": "yes"})
    finally:
        os.close(leak_r)
        os.close(leak_w)
    rep = report(vigil, out)
    assert int(rep["sigblk"], 16) == 0, f"child starts with blocked signals: SigBlk {rep['sigblk']}"
    assert int(rep["sigign"], 16) == 0, f"child starts with ignored signals: SigIgn {rep['sigign']}"
    assert rep["fds"].split() == ["0", "1", "2"], f"child has extra fds open: {rep['fds']}"
    # variables describing vigild's own supervisor do not leak to children
    assert "LISTEN_FDNAMES" not in rep["env"]
    assert "WATCHDOG_USEC" not in rep["env"], "heartbeat_timeout is 0 but the child got WATCHDOG_USEC"
    assert rep["env"].get("KEEP_ME") == "yes"


def test_numprocs_expansion_in_command_and_environment(vigil):
    vigil.start(f"""
[program:pool]
command = {W('report-env')} {vigil.path('out_%(process_num)d')}
numprocs = 3
environment = SLOT=s%(process_num)d
start_secs = 0
""")
    for i in range(3):
        rep = report(vigil, vigil.path(f"out_{i}"))
        assert rep["env"].get("SLOT") == f"s{i}"
        assert int(rep["pid"]) == vigil.program(f"pool:{i}")["pid"]


def test_exec_failure_missing_binary(vigil):
    # a missing command is a config error: this one goes away after the load
    binary = vigil.path('no-such-binary')
    shutil.copy(W('run-forever'), binary)
    vigil.start(f"""
[program:ghost]
command = {binary} --flag
autostart = no
start_secs = 0
restart_delay = 50ms
start_limit_burst = 2
[program:fine]
command = {W('run-forever')}
start_secs = 0
""")
    os.remove(binary)
    vigil.ctl("start", "ghost")
    p = vigil.wait_state("ghost", "FATAL")
    assert p["pid"] is None
    log = vigil.log()
    lines = [l for l in log.splitlines() if "ghost" in l and "No such file or directory" in l]
    assert lines, f"no log line names the program and the errno:\n{log}"
    assert vigil.proc.poll() is None, "vigild died"
    assert vigil.wait_running("fine")["restarts"] == 0
    assert vigil.get("/healthz").status in (200, 503)


def test_exec_failure_bad_directory(vigil):
    missing = vigil.path("missing-dir")
    vigil.start(f"""
[program:lost]
command = {W('run-forever')}
directory = {missing}
start_secs = 0
restart = never
[program:fine]
command = {W('run-forever')}
start_secs = 0
""")
    p = vigil.wait_state("lost", ("FATAL", "EXITED"))
    assert p["pid"] is None
    log = vigil.log()
    lines = [l for l in log.splitlines() if "lost" in l and "No such file or directory" in l]
    assert lines, f"no log line names the program and the errno:\n{log}"
    assert missing in "\n".join(lines)
    assert vigil.proc.poll() is None
    vigil.wait_running("fine")
    # fixing the directory and starting again works
    os.mkdir(missing)
    r = vigil.ctl("start", "lost")
    assert r.returncode == 0, r.stderr
    assert vigil.wait_running("lost")["pid"] is not None


def test_exec_failure_not_executable(vigil):
    # a binary that is not executable: EACCES
    notexec = vigil.path("notexec")
    with open(notexec, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(notexec, 0o755)
    vigil.start(f"""
[program:noexec]
command = {notexec}
autostart = no
start_secs = 0
restart = never
""")
    # a command that is not executable is a config error: it loses its
    # execute bits after the load
    os.chmod(notexec, 0o644)
    vigil.ctl("start", "noexec")
    vigil.wait_state("noexec", ("FATAL", "EXITED"))
    lines = [l for l in vigil.log().splitlines() if "noexec" in l and "Permission denied" in l]
    assert lines, vigil.log()
    assert vigil.proc.poll() is None


def test_children_do_not_outlive_a_killed_vigild(vigil):
    pidfile = vigil.path("pid")
    vigil.start(f"""
[program:svc]
command = {W('run-forever')} {pidfile}
start_secs = 0
[program:stubborn]
command = {W('ignore-term')} {vigil.path('pid2')}
start_secs = 0
stop_signal = KILL
""")
    a = vigil.wait_running("svc")["pid"]
    b = vigil.wait_running("stubborn")["pid"]
    wait_for(lambda: os.path.exists(pidfile) and os.path.exists(vigil.path("pid2")), what="workers ready")
    vigil.proc.kill()
    vigil.proc.wait()
    wait_for(lambda: not pid_alive(a), what="svc to die with vigild (PR_SET_PDEATHSIG)")
    wait_for(lambda: not pid_alive(b), what="stubborn to die with vigild (PR_SET_PDEATHSIG = its stop_signal KILL)")


def test_notify_variables_cannot_be_overridden(vigil):
    """Regression: `environment` cannot replace the notify contract:
    WATCHDOG_PID is the child's own pid, NOTIFY_SOCKET is vigild's."""
    out = vigil.path("env")
    vigil.start(f"""
[program:envy]
command = {W('report-env')} {out}
environment = WATCHDOG_PID=1, NOTIFY_SOCKET=/nope, WATCHDOG_USEC=7, OTHER=kept
heartbeat_timeout = 5s
start_secs = 0
""")
    rep = report(vigil, out)
    env = rep["env"]
    assert env.get("WATCHDOG_PID") == rep["pid"], (env.get("WATCHDOG_PID"), rep["pid"])
    assert env.get("NOTIFY_SOCKET") == vigil.sock + ".notify", env.get("NOTIFY_SOCKET")
    assert env.get("WATCHDOG_USEC") == "5000000", env.get("WATCHDOG_USEC")
    assert env.get("OTHER") == "kept"
