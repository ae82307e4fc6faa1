"""The ctl socket by socket activation (sd_listen_fds): fd 3 with
LISTEN_FDS=1 and LISTEN_PID=<vigild's pid>. vigild serves on it and
neither creates nor unlinks the socket file."""

import json
import os
import shutil
import stat

import pytest

from vigiltest import PY, SANITIZER_VARS, TIMEOUT, W, command, wait_for

SSA = shutil.which("systemd-socket-activate")

LAUNCHERS = ["sd-launch.py"] + (["systemd-socket-activate"] if SSA else [])


def activation_prefix(kind, path):
    if kind == "sd-launch.py":
        return [PY, W("sd-launch.py"), "--listen", path, "--"]
    # systemd-socket-activate passes only the variables named with -E;
    # it execs the command (same pid) once the first connection arrives.
    prefix = [SSA, "-l", path]
    for var in SANITIZER_VARS + ("PATH",):
        if var in os.environ:
            prefix += ["-E", var]
    return prefix


@pytest.mark.parametrize("kind", LAUNCHERS)
def test_vigilctl_through_activated_socket(vigil, kind):
    envfile = vigil.path("env.json")
    config = f"[program:e]\ncommand = {command('output-worker.py', 'env', envfile)}\nstart_secs = 0\n"
    vigil.start(config, prefix=activation_prefix(kind, vigil.sock))
    ino = os.stat(vigil.sock).st_ino

    r = vigil.ctl("status", "--json")
    assert r.returncode == 0, r.stderr
    names = [p["name"] for p in json.loads(r.stdout)["programs"]]
    assert names == ["e"]
    vigil.wait_running("e")

    # the listening socket vigild serves on is the inherited fd 3
    assert os.readlink(f"/proc/{vigil.pid}/fd/3").startswith("socket:"), os.listdir(f"/proc/{vigil.pid}/fd")
    # and it did not replace the socket file with one of its own
    assert os.stat(vigil.sock).st_ino == ino

    # children never see LISTEN_FDS/LISTEN_PID
    env = wait_for(lambda: json.load(open(envfile)), what="child environment")
    assert "LISTEN_FDS" not in env and "LISTEN_PID" not in env, env

    r = vigil.ctl("shutdown")
    assert r.returncode == 0, r.stderr
    assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()
    # the socket belongs to the activator: vigild did not unlink it
    st = os.stat(vigil.sock)
    assert stat.S_ISSOCK(st.st_mode) and st.st_ino == ino


def test_activated_socket_wins_over_config_path(vigil):
    """With an activated socket, the config's `socket` path is not created
    (and nothing is unlinked at exit)."""
    activated = vigil.path("a.sock")
    vigil.write_config("[program:s]\ncommand = /bin/sleep 1001\n")
    vigil.start(prefix=activation_prefix("sd-launch.py", activated), wait=False)
    real_sock = vigil.sock
    vigil.sock = activated  # talk to the activated one
    vigil.wait_up()
    assert not os.path.exists(real_sock), "vigild created the config socket despite socket activation"
    r = vigil.ctl("status", "s")
    assert r.returncode in (0, 3), r.stderr
    vigil.signal(15)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()
    assert stat.S_ISSOCK(os.stat(activated).st_mode)


def test_without_activation_vigild_creates_and_removes_its_socket(vigil):
    """The control case: no LISTEN_FDS, vigild makes the socket and unlinks
    it when it exits."""
    vigil.start("[program:s]\ncommand = /bin/sleep 1001\n")
    assert stat.S_ISSOCK(os.stat(vigil.sock).st_mode)
    vigil.signal(15)
    assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()
    assert not os.path.exists(vigil.sock)


def test_listen_pid_of_another_process_is_ignored(vigil):
    """LISTEN_PID names someone else: the fds are not for vigild, it makes
    its own socket."""
    vigil.start("[program:s]\ncommand = /bin/sleep 1001\n",
                env={"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid())})
    assert stat.S_ISSOCK(os.stat(vigil.sock).st_mode)
    r = vigil.ctl("status", "--json")
    assert r.returncode == 0, r.stderr
