"""vigilctl's command line (issue 10, item 10 and 13): --version, help,
COMMAND --help; every usage error names its problem and exits 2 before
anything reaches vigild; --json is refused where it means nothing."""

import pytest

from vigiltest import W, run_ctl

NO_VIGILD = "/nonexistent/vigil.sock"  # a usage error must not need vigild


def test_version():
    r = run_ctl("--version", sock=NO_VIGILD)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("vigilctl ") and r.stdout.split()[1][0].isdigit(), r.stdout


@pytest.mark.parametrize("args", [["help"], ["--help"], ["-h"]])
def test_help_lists_every_command(args):
    r = run_ctl(*args, sock=NO_VIGILD)
    assert r.returncode == 0, r.stderr
    for cmd in ("status", "start", "stop", "restart", "signal", "log", "reload", "shutdown", "ping", "help"):
        assert f"\n  {cmd} " in r.stdout, (cmd, r.stdout)
    assert "Exit status" in r.stdout


@pytest.mark.parametrize("cmd", ["status", "start", "stop", "restart", "signal", "log", "reload", "shutdown",
                                 "ping"])
def test_command_help(cmd):
    a = run_ctl("help", cmd, sock=NO_VIGILD)
    b = run_ctl(cmd, "--help", sock=NO_VIGILD)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout
    assert a.stdout.startswith(f"usage: vigilctl [-s SOCKET] {cmd}"), a.stdout


@pytest.mark.parametrize("args, message", [
    ([], "usage: vigilctl"),
    (["frobnicate"], 'unknown command "frobnicate"'),
    (["help", "frobnicate"], 'no command "frobnicate"'),
    (["--bogus", "status"], "unknown option --bogus"),
    (["-s"], "-s needs a socket path"),
    (["status", "--bogus"], "unknown option --bogus"),
    (["restart", "web", "--timeout"], "--timeout needs a value"),
    (["restart", "web", "--timeout", "soon"], '--timeout: "soon" is not a duration'),
    (["log", "web", "-n"], "-n needs a value"),
    (["log", "web", "-n", "many"], "-n:"),
    (["start"], "start needs a program name (or all)"),
    (["log"], "log needs a program name (or all)"),
    (["signal", "HUP"], "signal needs SIG and NAME"),
    (["signal", "HUP", "web", "db"], 'signal takes two arguments; "db" is one too many'),
    (["reload", "now"], 'reload takes no arguments; "now" is one too many'),
    (["shutdown", "all"], 'shutdown takes no arguments; "all" is one too many'),
    (["ping", "x"], 'ping takes no arguments; "x" is one too many'),
    (["status", "--follow"], "status does not take --follow"),
    (["restart", "web", "-f"], "restart does not take -f"),
    (["signal", "HUP", "web", "--json"], "signal does not take --json"),
    (["ping", "--json"], "ping does not take --json"),
    (["status", "--names", "--json"], "--names and --json do not go together"),
    (["status", "--watch", "--json"], "--watch and --json do not go together"),
    (["status", "--watch", "0.01"], "--watch: 0.01 is too short"),
    (["status", "--watch", "5x"], '--watch: "5x" has an unknown time unit'),
])
def test_usage_errors_name_the_problem(args, message):
    r = run_ctl(*args, sock=NO_VIGILD)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, (args, r.stderr)
    assert r.stdout == "", (args, r.stdout)


def test_usage_errors_change_nothing(vigil):
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\nstart_secs = 0\n")
    pid = vigil.wait_running("web")["pid"]
    for args in (["restart", "web", "--timeout"], ["restart", "web", "--follow"], ["stop", "web", "-n", "3"],
                 ["signal", "KILL", "web", "extra"]):
        r = vigil.ctl(*args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
    p = vigil.program("web")
    assert p["pid"] == pid and p["restarts"] == 0, p
    assert "requested by" not in vigil.log()


def test_options_after_double_dash_are_names(vigil):
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\nstart_secs = 0\n")
    vigil.wait_running("web")
    r = vigil.ctl("status", "--", "--json")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "no such program: --json" in r.stderr
