"""vigilctl's errors (issue 10, items 11 and 12): a socket vigilctl may
not use says "permission denied" and what to do, apart from "vigild is
not running" (both exit 4); a command naming an unknown program changes
nothing, says so once and exits 1; an error prints no table."""

import os
import socket
import subprocess

from vigiltest import VIGILCTL, W

CONFIG = f"""
[program:web]
command = {W('run-forever')}
start_secs = 0
[program:db]
command = {W('run-forever')}
start_secs = 0
"""


def as_nobody(*args, sock):
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", VIGILCTL, "-s", sock] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_socket_without_access_is_permission_denied(vigil):
    # mode 0600: nobody's connect() fails with EACCES
    vigil.start(CONFIG, vigil_extra="socket_mode = 0600")
    vigil.wait_running("web")
    r = as_nobody("status", sock=vigil.sock)
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert f"permission denied on {vigil.sock}" in r.stderr, r.stderr
    assert "sudo" in r.stderr and "not running" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_refused_peer_is_permission_denied(vigil):
    # mode 0666: nobody connects, and vigild answers 403
    vigil.start(CONFIG, vigil_extra="socket_mode = 0666")
    vigil.wait_running("web")
    for args in (["status"], ["restart", "web"], ["log", "web"], ["log", "all", "-f", "--json"], ["reload"]):
        r = as_nobody(*args, sock=vigil.sock)
        assert r.returncode == 4, (args, r.returncode, r.stdout, r.stderr)
        assert f"permission denied on {vigil.sock}" in r.stderr, (args, r.stderr)
        assert "socket_group" in r.stderr or "group" in r.stderr, r.stderr
    assert vigil.program("web")["restarts"] == 0


def test_refused_peer_is_told_which_group(vigil):
    # the socket's group is one nobody is not in: vigilctl names it
    vigil.start(CONFIG, vigil_extra="socket_mode = 0666\nsocket_group = daemon")
    vigil.wait_running("web")
    r = as_nobody("status", sock=vigil.sock)
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert f"permission denied on {vigil.sock}: add your user to group daemon, or use sudo" in r.stderr, r.stderr


def test_not_running_is_not_permission(vigil):
    os.makedirs(vigil.dir, exist_ok=True)
    r = vigil.ctl("status", sock=vigil.path("none.sock"))
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert "vigild is not running" in r.stderr and "permission" not in r.stderr, r.stderr
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(vigil.path("dead.sock"))
    s.close()
    r = vigil.ctl("status", sock=vigil.path("dead.sock"))
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert "is it running?" in r.stderr and "permission" not in r.stderr, r.stderr


def test_unknown_name_among_several_changes_nothing(vigil):
    vigil.start(CONFIG)
    before = vigil.wait_all_running("web", "db")
    for action in ("restart", "stop", "start"):
        r = vigil.ctl(action, "nosuch", "web", "db")
        assert r.returncode == 1, (action, r.returncode, r.stdout, r.stderr)
        assert r.stderr.count("no such program") == 1, r.stderr
        assert "nosuch" in r.stderr and "nothing was done" in r.stderr, r.stderr
        assert r.stdout == "", r.stdout
    r = vigil.ctl("restart", "web", "bogus1", "bogus2")
    assert r.returncode == 1 and "no such program: bogus1, bogus2;" in r.stderr, r.stderr
    ps = vigil.programs()
    assert {n: ps[n]["pid"] for n in ("web", "db")} == before, ps
    assert ps["web"]["restarts"] == 0 and ps["db"]["restarts"] == 0, ps
    assert "requested by" not in vigil.log()


def test_unknown_single_name_says_so_once(vigil):
    vigil.start(CONFIG)
    vigil.wait_running("web")
    r = vigil.ctl("restart", "nosuch")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.count("no such program: nosuch") == 1, r.stderr


def test_errors_print_no_table(vigil):
    vigil.start(CONFIG)
    vigil.wait_running("web")
    for args in (["status", "nosuch"], ["status", "web", "nosuch"], ["status", "nosuch", "--json"],
                 ["status", "nosuch", "--names"], ["log", "nosuch"], ["log", "web", "nosuch"]):
        r = vigil.ctl(*args)
        assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
        assert r.stdout == "", (args, r.stdout)
        assert "no such program: nosuch" in r.stderr, (args, r.stderr)
    # several names that exist: one table, each process once, exit 0
    r = vigil.ctl("status", "web", "db", "web")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("NAME") and sorted(ln.split()[0] for ln in lines[1:]) == ["db", "web"], r.stdout

