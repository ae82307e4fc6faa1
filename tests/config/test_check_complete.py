"""Issue 10, items 6-9: vigild --check finds everything in one pass, in
file order and without follow-on errors; a command that cannot be
executed is an error at its line; supervisord's and systemd's names get
vigil's equivalent; a config without programs says where they go, and
meson installs the empty conf.d/ the default config includes."""

import os
import shutil
import subprocess
import tempfile

import pytest

from vigiltest import VIGILD, W, wait_for


def check(vigil, text, name="vigil.conf", env=None):
    path = vigil.path(name)
    with open(path, "w") as f:
        f.write(f"[vigil]\nsocket = {vigil.sock}\n" + text)
    r = subprocess.run([VIGILD, "--check", "-c", path], capture_output=True, text=True, timeout=60,
                       env=vigil.env(**(env or {})))
    return path, r


def errors_of(path, r):
    """Every line of a rejected config's errors, its path shortened to FILE."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert lines[-1] == "vigild: configuration has errors", r.stderr  # --check starts nothing anyway
    return [line.replace(path, "FILE") for line in lines[:-1]]


def executable(path, mode=0o755):
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, mode)
    return path


# -- item 6: every error in one pass ---------------------------------------

def test_parse_and_cross_reference_errors_in_one_pass_in_line_order(vigil):
    run = W("run-forever")
    path, r = check(vigil, f"""
[program:web]
command = {run}
stop_timeout = ten
[program:helper]
command = {run}
daemon = yes
bind_to = webb
[program:nocmd]
numprocs = 2
[program:api]
command = {run}
requires = web, ghost
start_secs = forever
""")
    assert errors_of(path, r) == [
        'FILE:6: [program:web] stop_timeout: "ten" is not a duration (use e.g. 250ms, 5s, 1.5s, 2m, 1h)',
        'FILE:7: [program:helper] bind_to: no program named "webb"',
        "FILE:11: [program:nocmd] command: missing (every program needs one)",
        'FILE:15: [program:api] requires: no program named "ghost"',
        'FILE:16: [program:api] start_secs: "forever" is not a duration (use e.g. 250ms, 5s, 1.5s, 2m, 1h)',
    ]


def test_included_files_errors_come_after_the_main_files(vigil):
    os.mkdir(vigil.path("conf.d"))
    with open(vigil.path("conf.d", "a.conf"), "w") as f:
        f.write("[program:inc]\nrequires = nosuch\n")
    path, r = check(vigil, "include = conf.d/*.conf\n[program:main]\nnumprocs = zero\n")
    inc = vigil.path("conf.d", "a.conf")
    assert [line.replace(inc, "INC") for line in errors_of(path, r)] == [
        "FILE:4: [program:main] command: missing (every program needs one)",
        'FILE:5: [program:main] numprocs: "zero" is not a whole number from 1 to 10000',
        "INC:1: [program:inc] command: missing (every program needs one)",
        'INC:2: [program:inc] requires: no program named "nosuch"',
    ]


@pytest.mark.parametrize("lines,expect", [
    # a refused command is not also missing, nor judged as an executable
    ("command = sh -c 'unclosed\n", "command: unterminated"),
    # a refused daemon = says nothing about bind_to
    (f"command = {W('run-forever')}\ndaemon = maybe\nbind_to = web\n", 'daemon: "maybe" is not a boolean'),
    # a habit's name stands for the option: command is not missing
    ("ExecStart = /usr/bin/true\n", 'unknown option "ExecStart" (systemd\'s)'),
    # a refused restart_delay is not compared with restart_delay_max
    (f"command = {W('run-forever')}\nrestart_delay = soon\nrestart_delay_max = 1s\n", "restart_delay:"),
])
def test_a_refused_value_is_reported_once(vigil, lines, expect):
    path, r = check(vigil, f"[program:web]\ncommand = {W('run-forever')}\nnumprocs = 2\n[program:x]\n{lines}")
    errors = errors_of(path, r)
    assert len(errors) == 1 and expect in errors[0], errors


def test_a_section_lost_to_a_bad_header_is_not_a_missing_program(vigil):
    run = W("run-forever")
    path, r = check(vigil, f"""
[program:db
command = {run}
[program:all]
command = {run}
[program:web]
command = {run}
requires = db, all
[program:kid]
command = {run}
daemon = yes
bind_to = db
""")
    assert errors_of(path, r) == [
        "FILE:4: syntax error: a section header is [vigil] or [program:NAME]",
        'FILE:6: [program:all] bad program name (use letters, digits, _ . -; at most 64; not "all")',
    ]


# -- item 7: the command's executable --------------------------------------

def test_missing_or_unexecutable_command_is_an_error_at_its_line(vigil):
    notexec = executable(vigil.path("notexec"), 0o644)
    os.mkdir(vigil.path("folder"))
    path, r = check(vigil, f"""
[program:a]
start_secs = 0
command = {vigil.path('nosuch')} --flag
[program:b]
command = {notexec}
[program:c]
command = {vigil.path('folder')}
[program:d]
command = no-such-command-vigil
environment = PATH=/nonexistent:{vigil.path('folder')}
""")
    assert errors_of(path, r) == [
        f'FILE:6: [program:a] command: "{vigil.path("nosuch")}": No such file or directory',
        f'FILE:8: [program:b] command: "{notexec}" is not executable (mode 0644)',
        f'FILE:10: [program:c] command: "{vigil.path("folder")}" is a folder, not an executable',
        f'FILE:12: [program:d] command: "no-such-command-vigil" is not in PATH '
        f'(/nonexistent:{vigil.path("folder")})',
    ]


def test_command_is_found_as_the_spawn_finds_it(vigil):
    """PATH from `environment` (else vigild's), a relative path from the
    program's directory, each instance's own %(process_num)d, and for
    sh -c only sh: all accepted, and they start."""
    bindir = vigil.path("bin")
    os.makedirs(vigil.path("srv", "bin"))
    os.mkdir(bindir)
    shutil.copy(W("run-forever"), os.path.join(bindir, "only-here"))
    shutil.copy(W("run-forever"), vigil.path("srv", "bin", "app"))
    for i in range(2):
        shutil.copy(W("run-forever"), vigil.path(f"pool{i}"))
    programs = f"""
[program:inpath]
command = only-here
environment = PATH=/nonexistent:{bindir}
start_secs = 0
[program:relative]
command = ./bin/app
directory = {vigil.path('srv')}
start_secs = 0
[program:pool]
command = {vigil.path('pool%(process_num)d')}
numprocs = 2
start_secs = 0
[program:shell]
command = sh -c 'exec no-such-command-at-all'
autostart = no
"""
    path, r = check(vigil, programs)
    assert r.returncode == 0, r.stderr
    vigil.start(programs)
    for name in ("inpath", "relative", "pool:0", "pool:1"):
        vigil.wait_running(name)
    # an instance's own executable is checked too
    os.remove(vigil.path("pool1"))
    path, r = check(vigil, programs)
    assert errors_of(path, r) == [
        f'FILE:13: [program:pool] command (instance 1): "{vigil.path("pool1")}": No such file or directory']


@pytest.mark.skipif(os.geteuid() != 0, reason="user = needs root")
def test_another_users_command_needs_an_execute_bit(vigil):
    """For `user =`, vigild cannot ask the kernel for that user: an execute
    bit for anyone is enough at load (the spawn tells the rest)."""
    owner_only = executable(vigil.path("owner-only"), 0o700)
    none = executable(vigil.path("none"), 0o600)
    path, r = check(vigil, f"""
[program:a]
command = {owner_only}
user = nobody
[program:b]
command = {none}
user = nobody
""")
    assert errors_of(path, r) == [f'FILE:8: [program:b] command: "{none}" is not executable (mode 0600)']


# -- item 8: habits ---------------------------------------------------------

@pytest.mark.parametrize("line,hint", [
    ("autorestart = true", "(supervisord's); vigil's equivalent is \"restart = always\""),
    ("autorestart = unexpected", "vigil's equivalent is \"restart = on-failure\""),
    ("autorestart = false", "vigil's equivalent is \"restart = never\""),
    ("startsecs = 10", "vigil's equivalent is \"start_secs = 10\""),
    ("startretries = 3", "vigil's equivalent is \"start_limit_burst = 3\""),
    ("stopsignal = QUIT", "vigil's equivalent is \"stop_signal = QUIT\""),
    ("stopwaitsecs = 30", "vigil's equivalent is \"stop_timeout = 30\""),
    ("stdout_logfile = /var/log/web.log", "vigil's equivalent is \"stdout = file:/var/log/web.log\""),
    ("stdout_logfile = NONE", "vigil's equivalent is \"stdout = null\""),
    ("stderr_logfile = /var/log/web.err", "vigil's equivalent is \"stderr = file:/var/log/web.err\""),
    ("redirect_stderr = true", "vigil's equivalent is \"stderr = stdout\""),
    ("process_name = %(program_name)s_%(process_num)02d", "vigil has no equivalent: with numprocs = N"),
    ("numprocs_start = 1", "vigil has no equivalent: instances are numbered from 0"),
    ("stdout_logfile_maxbytes = 50MB", "vigil's equivalent is \"log_max_size = SIZE"),
    ("stdout_logfile_backups = 10", "vigil's equivalent is \"log_backups = 10\""),
    ("stopasgroup = true", "vigil's equivalent is \"kill_group = true\""),
    ("killasgroup = true", "vigil's equivalent is \"kill_group = true\""),
    ("exitcodes = 0,2", "vigil's equivalent is \"success_exit_codes = 0,2\""),
    ("ExecStart = /usr/bin/web", "(systemd's); vigil's equivalent is \"command = /usr/bin/web\""),
    ("Restart = on-failure", "vigil's equivalent is \"restart = on-failure\""),
    ("Restart = no", "vigil's equivalent is \"restart = never\""),
    ("WorkingDirectory = /srv", "vigil's equivalent is \"directory = /srv\""),
    ("User = www-data", "vigil's equivalent is \"user = www-data\""),
    ("Environment = A=1", "vigil's equivalent is \"environment = KEY=value, ...\" (separated by commas)"),
    ("Stop_Timeout = 1s", "option names are lower case: \"stop_timeout\""),
])
def test_habits_get_vigils_equivalent(vigil, line, hint):
    path, r = check(vigil, f"[program:web]\ncommand = {W('run-forever')}\n{line}\n")
    name = line.split(" =")[0]
    errors = errors_of(path, r)
    assert len(errors) == 1 and errors[0].startswith(f'FILE:5: [program:web] unknown option "{name}"'), errors
    assert hint in errors[0], errors


@pytest.mark.parametrize("section,hint", [
    ("[supervisord]", "vigil's equivalent is \"[vigil]\""),
    ("[include]\nfiles = conf.d/*.conf", "vigil's equivalent is \"[vigil] include = GLOB"),
    ("[group:web]\nprograms = a,b", "vigil has no equivalent: order programs with requires and priority"),
    ("[Service]\nExecStart = /bin/true", "vigil's equivalent is \"[program:NAME], one section per program\""),
])
def test_habit_sections_get_vigils_equivalent(vigil, section, hint):
    path, r = check(vigil, section + "\n")
    errors = errors_of(path, r)
    assert len(errors) == 1 and errors[0].startswith("FILE:3: unknown section [") and hint in errors[0], errors


def test_vigil_section_habits(vigil):
    path, r = check(vigil, "loglevel = warn\n")
    assert errors_of(path, r) == ['FILE:3: [vigil] unknown option "loglevel" (supervisord\'s); '
                                  'vigil\'s equivalent is "log_level = warn"']


def test_supervisord_style_booleans_are_booleans(vigil):
    path, r = check(vigil, f"""
[program:web]
command = {W('run-forever')}
autostart = true
kill_group = false
[program:idle]
command = {W('run-forever')}
autostart = false
""")
    assert r.returncode == 0, r.stderr
    vigil.start(f"[program:web]\ncommand = {W('run-forever')}\nautostart = true\nstart_secs = 0\n"
                f"[program:idle]\ncommand = {W('run-forever')}\nautostart = false\n")
    vigil.wait_running("web")
    assert vigil.state("idle") == "STOPPED"


# -- item 9: no programs, and the installed conf.d --------------------------

def test_no_programs_is_ok_and_says_where_they_go(vigil):
    os.mkdir(vigil.path("conf.d"))
    path, r = check(vigil, "include = conf.d/*.conf\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{path}: configuration OK (0 programs)\n"
    hint = (f"no programs configured in {path} (and its includes): add [program:NAME] sections, "
            f"e.g. in {vigil.path('conf.d')}/")
    assert r.stderr == f"vigild: {hint}\n"
    vigil.start("", vigil_extra="include = conf.d/*.conf")
    wait_for(lambda: f"notice: {hint.replace(path, vigil.conf)}" in vigil.log(), what="the notice in the log")


def test_meson_install_puts_an_empty_conf_d_beside_vigil_conf(vigil):
    build = os.path.dirname(VIGILD)
    dest = tempfile.mkdtemp(prefix="vigil-destdir-", dir="/tmp")
    try:
        r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        found = [root for root, dirs, files in os.walk(dest) if "vigil.conf" in files and "conf.d" in dirs]
        assert len(found) == 1, list(os.walk(dest))
        etc = found[0]
        assert os.listdir(os.path.join(etc, "conf.d")) == []
        conf = os.path.join(etc, "vigil.conf")
        r = subprocess.run([VIGILD, "--check", "-c", conf], capture_output=True, text=True, timeout=60,
                           env=vigil.env())
        assert r.returncode == 0, r.stderr
        assert "configuration OK (0 programs)" in r.stdout
        assert f"e.g. in {etc}/conf.d/" in r.stderr, r.stderr
    finally:
        shutil.rmtree(dest)
