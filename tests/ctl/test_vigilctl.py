"""vigilctl commands and exit codes: 0 ok, 1 failed, 2 usage, 3 status
found a named program not RUNNING, 4 cannot reach vigild."""

import json
import os
import signal
import socket
import subprocess

from vigiltest import VIGILCTL, W, exec_fails_at_run_time, pid_gone, read_lines, wait_for

CONFIG = """
[program:web]
command = {run}
start_secs = 0
priority = 10
[program:pool]
command = {run}
numprocs = 2
start_secs = 0
priority = 20
[program:idle]
command = {run}
autostart = no
[program:ghost]
command = {missing}
autostart = no
restart_delay = 50ms
start_limit_burst = 2
[program:sigs]
command = {sigs}
start_secs = 0
"""


def start(vigil):
    vigil.start(CONFIG.format(run=W("run-forever"), missing=exec_fails_at_run_time(vigil.path("no-such-binary")),
                              sigs=f"{W('record-signals')} {vigil.path('sig')}"))
    for n in ("web", "pool:0", "pool:1", "sigs"):
        vigil.wait_running(n)


def test_status_json_equals_api(vigil):
    start(vigil)
    r = vigil.ctl("status", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    api = vigil.programs()
    assert [p["name"] for p in doc["programs"]] == list(api)
    assert [p["pid"] for p in doc["programs"]] == [p["pid"] for p in api.values()]


def test_status_table(vigil):
    start(vigil)
    r = vigil.ctl("status")
    assert r.returncode == 0, r.stderr
    for n in ("web", "pool:0", "pool:1", "idle", "ghost"):
        assert n in r.stdout
    assert "RUNNING" in r.stdout and "STOPPED" in r.stdout


def test_status_exit_codes(vigil):
    start(vigil)
    assert vigil.ctl("status", "web").returncode == 0
    assert vigil.ctl("status", "pool").returncode == 0
    assert vigil.ctl("status", "pool:1", "web").returncode == 0
    r = vigil.ctl("status", "idle")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    r = vigil.ctl("status", "web", "idle")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    r = vigil.ctl("status", "idle", "--json")
    assert r.returncode == 3
    assert json.loads(r.stdout)["programs"][0]["state"] == "STOPPED"
    r = vigil.ctl("status", "nosuch")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "nosuch" in r.stderr


def test_start_stop_restart(vigil):
    start(vigil)
    r = vigil.ctl("start", "idle")
    assert r.returncode == 0, r.stderr
    assert vigil.state("idle") == "RUNNING"

    old = vigil.program("web")["pid"]
    r = vigil.ctl("restart", "web")
    assert r.returncode == 0, r.stderr
    p = vigil.program("web")
    assert p["state"] == "RUNNING" and p["pid"] != old
    assert pid_gone(old)

    r = vigil.ctl("stop", "pool")
    assert r.returncode == 0, r.stderr
    assert vigil.state("pool:0") == "STOPPED" and vigil.state("pool:1") == "STOPPED"

    r = vigil.ctl("start", "pool:1")
    assert r.returncode == 0, r.stderr
    assert vigil.state("pool:1") == "RUNNING" and vigil.state("pool:0") == "STOPPED"

    r = vigil.ctl("stop", "web", "idle")
    assert r.returncode == 0, r.stderr
    assert vigil.state("web") == "STOPPED" and vigil.state("idle") == "STOPPED"

    r = vigil.ctl("start", "all", timeout=300)
    # ghost cannot start: the whole command fails, the rest runs
    assert r.returncode == 1, (r.stdout, r.stderr)
    for n in ("web", "pool:0", "pool:1", "idle", "sigs"):
        vigil.wait_running(n)

    r = vigil.ctl("stop", "all")
    assert r.returncode == 0, r.stderr
    for p in vigil.programs().values():
        assert p["state"] in ("STOPPED", "EXITED", "FATAL"), p
        assert p["pid"] is None


def test_no_block(vigil):
    start(vigil)
    r = vigil.ctl("stop", "--no-block", "web")
    assert r.returncode == 0, r.stderr
    vigil.wait_state("web", "STOPPED")
    r = vigil.ctl("start", "web", "--no-block")
    assert r.returncode == 0, r.stderr
    vigil.wait_running("web")


def test_start_of_missing_command_fails_with_1(vigil):
    start(vigil)
    r = vigil.ctl("start", "ghost")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "ghost" in r.stderr
    assert "No such file or directory" in r.stderr or "FATAL" in r.stderr
    assert vigil.state("ghost") == "FATAL"
    assert vigil.proc.poll() is None


def test_unknown_name_fails_with_1(vigil):
    start(vigil)
    for cmd in (["start", "nosuch"], ["stop", "nosuch"], ["restart", "nosuch"], ["signal", "HUP", "nosuch"]):
        r = vigil.ctl(*cmd)
        assert r.returncode == 1, (cmd, r.returncode, r.stderr)
        assert "nosuch" in r.stderr, (cmd, r.stderr)


def test_signal(vigil):
    start(vigil)
    out = vigil.path("sig")
    wait_for(lambda: read_lines(out), what="record-signals ready")
    r = vigil.ctl("signal", "HUP", "sigs")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: f"signal {signal.SIGHUP.value}" in read_lines(out), what="SIGHUP recorded")
    r = vigil.ctl("signal", "SIGUSR2", "sigs")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: f"signal {signal.SIGUSR2.value}" in read_lines(out), what="SIGUSR2 recorded")
    r = vigil.ctl("signal", "10", "sigs")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: "signal 10" in read_lines(out), what="signal 10 recorded")
    r = vigil.ctl("signal", "HUP", "idle")
    assert r.returncode == 1, (r.returncode, r.stderr)


def test_usage_errors_exit_2(vigil):
    start(vigil)
    for args in ([], ["frobnicate"], ["--bogus", "status"], ["status", "--bogus"], ["start"], ["stop"],
                 ["restart"], ["signal", "HUP"], ["signal", "NOSIG", "web"], ["log"]):
        r = vigil.ctl(*args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert r.stderr.strip(), f"no message on stderr for {args}"
    # nothing was touched
    assert vigil.program("web")["restarts"] == 0


def test_unreachable_exit_4(vigil):
    os.makedirs(vigil.dir, exist_ok=True)
    nothing = vigil.path("none.sock")
    for args in (["status"], ["status", "web"], ["start", "web"], ["stop", "web"], ["restart", "web"],
                 ["signal", "HUP", "web"], ["shutdown"], ["reload"], ["log", "web"]):
        r = vigil.ctl(*args, sock=nothing)
        assert r.returncode == 4, (args, r.returncode, r.stderr)
        assert nothing in r.stderr
    # a socket file nobody listens on
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(vigil.path("dead.sock"))
    s.close()
    r = vigil.ctl("status", sock=vigil.path("dead.sock"))
    assert r.returncode == 4, (r.returncode, r.stderr)


def test_vigil_socket_environment(vigil):
    start(vigil)
    env = vigil.env(VIGIL_SOCKET=vigil.sock)
    r = subprocess.run([VIGILCTL, "status", "web"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    env = vigil.env(VIGIL_SOCKET=vigil.path("none.sock"))
    r = subprocess.run([VIGILCTL, "status"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 4
    # -s wins over the environment
    r = subprocess.run([VIGILCTL, "-s", vigil.sock, "status", "web"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def test_shutdown(vigil):
    start(vigil)
    pids = [p["pid"] for p in vigil.programs().values() if p["pid"]]
    r = vigil.ctl("shutdown")
    assert r.returncode == 0, r.stderr
    assert vigil.wait_exit() == 0
    for pid in pids:
        assert pid_gone(pid), f"pid {pid} outlived vigild"
    r = vigil.ctl("status")
    assert r.returncode == 4


def test_reload(vigil):
    start(vigil)
    web = vigil.program("web")["pid"]
    with open(vigil.conf, "a") as f:
        f.write(f"\n[program:extra]\ncommand = {W('run-forever')}\nstart_secs = 0\n")
    r = vigil.ctl("reload", "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "extra" in json.loads(r.stdout)["added"]
    vigil.wait_running("extra")
    assert vigil.program("web")["pid"] == web
    with open(vigil.conf, "a") as f:
        f.write("bogus_option = 1\n")
    r = vigil.ctl("reload")
    assert r.returncode in (1, 2), (r.returncode, r.stdout, r.stderr)
    assert "bogus_option" in r.stderr
    assert vigil.program("web")["pid"] == web


def test_log(vigil):
    vigil.start(f"""
[program:talker]
command = {W('run-forever')}
start_secs = 0
stdout = file:{vigil.path('talker.out')}
stderr = file:{vigil.path('talker.err')}
""")
    vigil.wait_running("talker")
    wait_for(lambda: "hello on stdout" in open(vigil.path("talker.out")).read(), what="worker output")
    wait_for(lambda: "hello on stderr" in open(vigil.path("talker.err")).read(), what="worker output")
    r = vigil.ctl("log", "talker", "-n", "5")
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert "hello on stdout" in r.stdout
    r = vigil.ctl("log", "talker", "--stderr")
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert "hello on stderr" in r.stdout
    r = vigil.ctl("log", "nosuch")
    assert r.returncode == 1
