"""Live reload (POST /v1/reload, vigilctl reload, SIGHUP): unchanged
programs keep running untouched, changed ones restart, removed ones stop,
added ones start, numprocs changes add/remove instances only; a bad
config changes nothing and the error names file:line."""

import json
import os
import signal

import pytest

from vigiltest import TIMEOUT, cmdline, command, pid_alive, pid_gone, read_text, wait_for

BASE = """
[program:keep]
command = /bin/sleep 1001
start_secs = 0
[program:chg]
command = /bin/sleep 1002
start_secs = 0
[program:gone]
command = /bin/sleep 1003
start_secs = 0
[program:multi]
command = /bin/sleep 1004
numprocs = 2
start_secs = 0
"""

NEXT = """
[program:keep]
command = /bin/sleep 1001
start_secs = 0
[program:chg]
command = /bin/sleep 2002
start_secs = 0
[program:multi]
command = /bin/sleep 1004
numprocs = 3
start_secs = 0
[program:new]
command = /bin/sleep 1005
start_secs = 0
"""

ALL_BASE = ("keep", "chg", "gone", "multi:0", "multi:1")


def do_reload(vigil, how):
    """Reloads via POST, vigilctl or SIGHUP; returns the reply (or None for SIGHUP)."""
    if how == "post":
        r = vigil.reload()
        assert r.status == 200, r
        return r.json()
    if how == "vigilctl":
        r = vigil.ctl("reload", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    vigil.signal(signal.SIGHUP)
    return None


def sorted_reply(reply):
    return {k: sorted(v) for k, v in reply.items()}


@pytest.mark.parametrize("how", ["post", "vigilctl", "sighup"])
def test_reload_applies_the_difference(vigil, how):
    vigil.start(BASE)
    before = vigil.wait_all_running(*ALL_BASE)
    vigil.write_config(NEXT)
    reply = do_reload(vigil, how)
    if reply is not None:
        assert sorted_reply(reply) == {"added": ["new"], "removed": ["gone"], "changed": ["chg", "multi"],
                                       "unchanged": ["keep"], "restart_needed": []}, reply

    names = ("keep", "chg", "multi:0", "multi:1", "multi:2", "new")

    def applied():
        a = vigil.wait_all_running(*names)
        return a if a["chg"] != before["chg"] else None
    after = wait_for(applied, what="the reload to be applied")
    # unchanged: same process, untouched
    assert after["keep"] == before["keep"] and pid_alive(before["keep"])
    # changed: the old process is gone, the new one runs the new command
    wait_for(lambda: pid_gone(before["chg"]), what="old chg process gone")
    assert after["chg"] != before["chg"]
    assert cmdline(after["chg"]) == ["/bin/sleep", "2002"], cmdline(after["chg"])
    # numprocs 2 -> 3: the first two instances untouched, a third one added
    assert after["multi:0"] == before["multi:0"] and after["multi:1"] == before["multi:1"]
    assert cmdline(after["multi:2"]) == ["/bin/sleep", "1004"]
    # removed: stopped and no longer listed
    wait_for(lambda: pid_gone(before["gone"]), what="removed program's process gone")
    wait_for(lambda: "gone" not in vigil.programs(), what="gone to leave the status list")
    r = vigil.http("GET", "/v1/programs/gone")
    assert r.status == 404, r
    # added: running its command
    assert cmdline(after["new"]) == ["/bin/sleep", "1005"]
    assert vigil.alive()


def test_numprocs_down_removes_the_last_instances_only(vigil):
    cfg = "[program:m]\ncommand = /bin/sleep 1004\nnumprocs = {n}\nstart_secs = 0\n"
    vigil.start(cfg.replace("{n}", "3"))
    before = vigil.wait_all_running("m:0", "m:1", "m:2")
    vigil.write_config(cfg.replace("{n}", "2"))
    r = vigil.reload()
    assert r.status == 200, r
    assert r.json()["changed"] == ["m"], r
    wait_for(lambda: pid_gone(before["m:2"]), what="m:2 process gone")
    wait_for(lambda: "m:2" not in vigil.programs(), what="m:2 to leave the status list")
    ps = vigil.programs()
    assert sorted(ps) == ["m:0", "m:1"], ps
    assert ps["m:0"]["pid"] == before["m:0"] and ps["m:1"]["pid"] == before["m:1"], ps
    assert ps["m:0"]["state"] == ps["m:1"]["state"] == "RUNNING"
    assert pid_alive(before["m:0"]) and pid_alive(before["m:1"])


def write_broken(vigil):
    """NEXT with a bad value; returns the expected "file:line" prefix."""
    text = NEXT.replace("command = /bin/sleep 1005\n", "command = /bin/sleep 1005\nstop_timeout = ten\n")
    vigil.write_config(text)
    with open(vigil.conf) as f:
        lines = f.read().split("\n")
    lineno = next(i + 1 for i, l in enumerate(lines) if l.startswith("stop_timeout = ten"))
    return f"{vigil.conf}:{lineno}"


def test_broken_config_changes_nothing(vigil):
    vigil.start(BASE)
    before = vigil.wait_all_running(*ALL_BASE)
    where = write_broken(vigil)

    r = vigil.reload()
    assert r.status == 400, r
    err = r.json()["error"]
    assert where in err and "stop_timeout" in err, err

    r = vigil.ctl("reload")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert where in r.stderr, r.stderr

    vigil.signal(signal.SIGHUP)
    # SIGHUP has no reply: vigild logs the error instead
    wait_for(lambda: vigil.log().count(where) >= 3, what=lambda: f"the error in vigild's log: {vigil.log()[-2000:]}")

    ps = vigil.programs()
    assert sorted(ps) == sorted(ALL_BASE), ps
    for name, pid in before.items():
        assert ps[name]["pid"] == pid and ps[name]["state"] == "RUNNING", (name, ps[name])
        assert pid_alive(pid)
    assert vigil.alive()

    # fixed: the same reload now goes through
    vigil.write_config(NEXT)
    r = vigil.reload()
    assert r.status == 200, r
    vigil.wait_all_running("new", "multi:2")


def test_socket_change_needs_restart_and_is_not_applied(vigil):
    vigil.start("[program:s]\ncommand = /bin/sleep 1001\nstart_secs = 0\n")
    pid = vigil.wait_running("s")["pid"]
    other = vigil.path("o.sock")
    vigil.write_config("[program:s]\ncommand = /bin/sleep 1001\nstart_secs = 0\n",
                       vigil_extra="socket_mode = 0600", socket=other)
    r = vigil.reload()
    assert r.status == 200, r
    assert sorted(r.json()["restart_needed"]) == ["socket", "socket_mode"], r
    assert r.json()["unchanged"] == ["s"], r
    # still served on the old socket; the new one was not made
    assert vigil.http("GET", "/healthz").status == 200
    assert not os.path.exists(other)
    assert vigil.programs()["s"]["pid"] == pid


def test_reload_during_backoff(vigil):
    vigil.start("""
[program:flaky]
command = /bin/sh -c 'exit 3'
start_secs = 1s
restart_delay = 3s
restart_delay_max = 3s
start_limit_burst = 100
[program:other]
command = /bin/sleep 1001
start_secs = 0
""")
    vigil.wait_state("flaky", "BACKOFF")
    other = vigil.wait_running("other")["pid"]
    # unchanged while in BACKOFF: nothing happens to it
    r = vigil.reload()
    assert r.status == 200 and "flaky" in r.json()["unchanged"], r
    assert vigil.alive()
    vigil.wait_state("flaky", "BACKOFF")
    # changed while in BACKOFF: the new version starts and runs
    vigil.write_config("""
[program:flaky]
command = /bin/sleep 1006
start_secs = 0
[program:other]
command = /bin/sleep 1001
start_secs = 0
""")
    r = vigil.reload()
    assert r.status == 200 and r.json()["changed"] == ["flaky"], r
    pid = vigil.wait_running("flaky")["pid"]
    assert cmdline(pid) == ["/bin/sleep", "1006"]
    assert vigil.programs()["other"]["pid"] == other
    # removed while in BACKOFF (get it there first)
    vigil.write_config("""
[program:flaky]
command = /bin/sh -c 'exit 3'
start_secs = 1s
restart_delay = 3s
[program:other]
command = /bin/sleep 1001
start_secs = 0
""")
    assert vigil.reload().status == 200
    vigil.wait_state("flaky", "BACKOFF")
    vigil.write_config("[program:other]\ncommand = /bin/sleep 1001\nstart_secs = 0\n")
    r = vigil.reload()
    assert r.status == 200 and r.json()["removed"] == ["flaky"], r
    wait_for(lambda: "flaky" not in vigil.programs(), what="flaky gone from status")
    assert vigil.alive() and vigil.programs()["other"]["pid"] == other


STUBBORN = """
[program:slow]
command = /bin/sh -c 'trap "" TERM; exec /bin/sleep {n}'
start_secs = 0
stop_timeout = {t}
[program:other]
command = /bin/sleep 1001
start_secs = 0
"""


def wait_stubborn(vigil):
    """Waits until "slow" ignores SIGTERM: its shell has set the trap and
    exec'd sleep (a SIGTERM before the trap would end it at once)."""
    pids = vigil.wait_all_running("slow", "other")
    wait_for(lambda: (cmdline(pids["slow"]) or [""])[0] == "/bin/sleep", what="slow to exec sleep after its trap")
    return pids


@pytest.mark.parametrize("change", ["unchanged", "changed", "removed"])
def test_reload_during_stopping(vigil, change):
    vigil.write_config(STUBBORN.replace("{n}", "1007").replace("{t}", "4s"))
    vigil.start()
    pids = wait_stubborn(vigil)
    r = vigil.ctl("stop", "--no-block", "slow")
    assert r.returncode == 0, r.stderr
    vigil.wait_state("slow", "STOPPING")
    if change == "changed":
        vigil.write_config(STUBBORN.replace("{n}", "1008").replace("{t}", "4s"))
    elif change == "removed":
        vigil.write_config("[program:other]\ncommand = /bin/sleep 1001\nstart_secs = 0\n")
    r = vigil.reload()
    assert r.status == 200, r
    assert "slow" in r.json()[change], r
    assert vigil.alive()
    # the stubborn process is killed after stop_timeout whatever happened
    wait_for(lambda: pid_gone(pids["slow"]), timeout=TIMEOUT + 4, what="the old slow process to be killed")
    assert vigil.alive()
    if change == "changed":
        # whether the new version starts after a requested stop is open;
        # if it runs, it is the new command
        p = vigil.wait_state("slow", ("RUNNING", "STOPPED"))
        if p["state"] == "RUNNING":
            # /proc/PID/cmdline reads empty while the shell execs sleep
            wait_for(lambda: (cmdline(p["pid"]) or [""])[-1].endswith("1008"),
                     what=f"the new command, not {cmdline(p['pid'])}")
    elif change == "removed":
        wait_for(lambda: "slow" not in vigil.programs(), what="slow gone from status")
    else:
        vigil.wait_state("slow", "STOPPED")
    assert vigil.programs()["other"]["pid"] == pids["other"]
    # and vigild still shuts down cleanly
    vigil.signal(signal.SIGTERM)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()[-3000:]


def test_reload_during_shutdown_is_refused(vigil):
    vigil.write_config(STUBBORN.replace("{n}", "1007").replace("{t}", "3s"))
    vigil.start()
    wait_stubborn(vigil)
    vigil.signal(signal.SIGTERM)
    vigil.wait_state("slow", "STOPPING")
    r = vigil.reload()
    assert r.status != 200 and "shutting down" in r.json()["error"], r
    vigil.signal(signal.SIGHUP)  # ignored the same way, no crash
    assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()[-3000:]


def test_changed_output_path_takes_effect(vigil):
    cfg = (f"[program:w]\ncommand = {command('output-worker.py', 'lines', 2, 0)}\nstart_secs = 0\n"
           f"stdout = file:{vigil.dir}/A.log\n")
    vigil.start(cfg)
    wait_for(lambda: read_text(vigil.path("A.log")) == "out 0\nout 1\n", what="lines in A.log")
    vigil.write_config(cfg.replace("A.log", "B.log"))
    r = vigil.reload()
    assert r.status == 200 and r.json()["changed"] == ["w"], r
    wait_for(lambda: read_text(vigil.path("B.log")) == "out 0\nout 1\n", what="lines in B.log")
    assert read_text(vigil.path("A.log")) == "out 0\nout 1\n"


def test_reload_adding_a_daemon_child_of_a_running_program_starts_it(vigil):
    """Regression: a reload that adds a daemon child bound to a program
    that is already RUNNING starts the child (nothing else would)."""
    web = "[program:web]\ncommand = /bin/sleep 1001\nstart_secs = 0\n"
    vigil.start(web)
    before = vigil.wait_running("web")["pid"]
    vigil.write_config(web + "[program:dog]\ncommand = /bin/sleep 1006\ndaemon = yes\nbind_to = web\n"
                             "heartbeat_timeout = 0\nstart_secs = 0\n")
    r = vigil.reload()
    assert r.status == 200, r
    assert r.json()["added"] == ["dog"] and r.json()["unchanged"] == ["web"], r
    after = vigil.wait_all_running("web", "dog")
    assert after["web"] == before and pid_alive(before)
    assert cmdline(after["dog"]) == ["/bin/sleep", "1006"], cmdline(after["dog"])
    dog = vigil.programs()["dog"]
    assert dog["daemon"] is True and dog["bind_to"] == "web", dog
