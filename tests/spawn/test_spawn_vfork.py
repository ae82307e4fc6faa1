"""What the child's exec sees since vigild spawns with clone(CLONE_VM |
CLONE_VFORK) and resolves the command itself: the program's own PATH is
searched, a script without #! runs with /bin/sh, and the pid slot the
child writes into is only the one vigild reserved."""

import os
import shutil

from vigiltest import W, read_file, wait_for
from test_spawn import parse_report


def report(path):
    return parse_report(wait_for(lambda: read_file(path), what=f"report-env to write {path}"))


def test_command_is_searched_in_the_programs_path(vigil):
    """`environment = PATH=...` decides where a bare command name is
    found, as it would for the program's own execvp."""
    bindir = vigil.path("bin")
    os.mkdir(bindir)
    shutil.copy(W("report-env"), os.path.join(bindir, "only-here"))
    out = vigil.path("env")
    vigil.start(f"""
[program:found]
command = only-here {out}
environment = PATH=/nonexistent:{bindir}
start_secs = 0
restart = never
""")
    rep = report(out)
    assert int(rep["pid"]) == vigil.wait_running("found")["pid"]
    assert rep["env"].get("PATH") == f"/nonexistent:{bindir}"


def test_script_without_shebang_runs_with_sh(vigil):
    out = vigil.path("env")
    script = vigil.path("noshebang")
    with open(script, "w") as f:
        f.write(f"exec {W('report-env')} {out}\n")
    os.chmod(script, 0o755)
    vigil.start(f"""
[program:script]
command = {script}
start_secs = 0
restart = never
""")
    rep = report(out)
    assert int(rep["pid"]) == vigil.wait_running("script")["pid"]


def test_users_watchdog_pid_without_heartbeat_is_kept(vigil):
    """Regression: without heartbeat_timeout there is no reserved
    WATCHDOG_PID= slot; the child wrote its pid into the user's one
    anyway, past its end when the value was shorter than the pid."""
    out = vigil.path("env")
    vigil.start(f"""
[program:envy]
command = {W('report-env')} {out}
environment = WATCHDOG_PID=1
start_secs = 0
""")
    rep = report(out)
    assert rep["env"].get("WATCHDOG_PID") == "1", rep["env"].get("WATCHDOG_PID")
