"""vigild --check and config errors: every error names file:line, the
section and the option; a bad config starts nothing (exit 2)."""

import os
import re
import subprocess

import pytest

from vigiltest import VIGILD, W


def check(vigil, text, name="vigil.conf"):
    path = vigil.path(name)
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([VIGILD, "--check", "-c", path], capture_output=True, text=True, timeout=60,
                       env=vigil.env())
    return path, r


def good_config(vigil):
    return f"""[vigil]
socket = {vigil.sock}
log_level = info

[program:web]
command = {W('run-forever')} "quoted arg" 'single' back\\ slash
directory = {vigil.dir}
environment = A=1, B="x y"
umask = 022
numprocs = 2
priority = 100
autostart = yes
restart = on-failure
success_exit_codes = 0, 3
start_secs = 1.5s
restart_delay = 250ms
restart_delay_max = 2m
start_limit_burst = 5
start_limit_interval = 1h
stop_signal = SIGTERM
stop_timeout = 10
kill_group = on
stdout = file:{vigil.path('web-%(process_num)d.log')}
stderr = stdout
log_max_size = 10M
log_backups = 5
type = simple
ready_timeout = 30s
heartbeat_timeout = 0
heartbeat_signal = 6
notify_access = main
daemon = no
user = nobody
group = nogroup

[program:helper]
command = {W('run-forever')}
daemon = true
bind_to = web
numprocs = 2
"""


def test_check_good_config(vigil):
    path, r = check(vigil, good_config(vigil))
    assert r.returncode == 0, r.stderr
    # --check starts nothing and creates no socket
    assert not os.path.exists(vigil.sock)
    assert not vigil.tagged_pids()


@pytest.mark.parametrize("section,line,expect", [
    ("program:web", "stop_timeout = ten", ["stop_timeout", '"ten"']),
    ("program:web", "restart = sometimes", ["restart", "sometimes"]),
    ("program:web", "numprocs = -1", ["numprocs"]),
    ("program:web", "autostart = maybe", ["autostart", "maybe"]),
    ("program:web", "stop_signal = SIGNOPE", ["stop_signal", "SIGNOPE"]),
    ("program:web", "umask = 999", ["umask"]),
    ("program:web", "log_max_size = lots", ["log_max_size"]),
    ("program:web", "stdout = syslog", ["stdout", "syslog"]),
    ("program:web", "success_exit_codes = zero", ["success_exit_codes"]),
    ("program:web", "user = no-such-user-xyz", ["user", "no-such-user-xyz"]),
    ("program:web", "frobnicate = 1", ["frobnicate"]),
    ("vigil", "log_level = chatty", ["log_level", "chatty"]),
    ("vigil", "frobnicate = 1", ["frobnicate"]),
])
def test_check_bad_value_names_file_line_section_option(vigil, section, line, expect):
    text = f"[vigil]\nsocket = {vigil.sock}\n\n[program:web]\ncommand = {W('run-forever')}\n"
    if section == "vigil":
        lines = text.split("\n")
        lines.insert(2, line)
        text = "\n".join(lines)
        lineno = 3
    else:
        text += line + "\n"
        lineno = 6
    path, r = check(vigil, text)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr
    prefix = f"{path}:{lineno}:" if "user" not in line else f"{path}:"
    assert prefix in err, f"error does not name {prefix!r}:\n{err}"
    assert f"[{section}]" in err, err
    for e in expect:
        assert e in err, f"{e!r} not in error:\n{err}"


def test_design_example_error_text(vigil):
    text = f"[vigil]\nsocket = {vigil.sock}\n[program:web]\ncommand = {W('run-forever')}\nstop_timeout = ten\n"
    path, r = check(vigil, text)
    assert r.returncode == 2
    assert f'{path}:5: [program:web] stop_timeout: "ten" is not a duration' in r.stderr, r.stderr


def test_check_reports_errors_in_included_files(vigil):
    os.mkdir(vigil.path("conf.d"))
    with open(vigil.path("conf.d", "a.conf"), "w") as f:
        f.write(f"[program:inc]\ncommand = {W('run-forever')}\n\nstart_secs = forever\n")
    text = f"[vigil]\nsocket = {vigil.sock}\ninclude = conf.d/*.conf\n"
    path, r = check(vigil, text)
    assert r.returncode == 2
    assert f"{vigil.path('conf.d', 'a.conf')}:4:" in r.stderr, r.stderr
    assert "[program:inc]" in r.stderr and "start_secs" in r.stderr


def test_include_adds_programs(vigil):
    os.mkdir(vigil.path("conf.d"))
    with open(vigil.path("conf.d", "a.conf"), "w") as f:
        f.write(f"[program:inc]\ncommand = {W('run-forever')}\nstart_secs = 0\n")
    vigil.start("", vigil_extra="include = conf.d/*.conf")
    vigil.wait_running("inc")


def test_missing_command_and_duplicate_section(vigil):
    text = f"[vigil]\nsocket = {vigil.sock}\n[program:a]\nnumprocs = 2\n"
    path, r = check(vigil, text)
    assert r.returncode == 2 and "[program:a]" in r.stderr and "command" in r.stderr, r.stderr
    text = (f"[vigil]\nsocket = {vigil.sock}\n[program:a]\ncommand = {W('run-forever')}\n"
            f"[program:b]\ncommand = true\n[program:a]\ncommand = true\n")
    path, r = check(vigil, text)
    assert r.returncode == 2 and "program:a" in r.stderr, r.stderr


def test_unknown_section_is_an_error(vigil):
    path, r = check(vigil, f"[vigil]\nsocket = {vigil.sock}\n[prgram:web]\ncommand = true\n")
    assert r.returncode == 2
    assert "prgram:web" in r.stderr and f"{path}:" in r.stderr


def test_missing_config_file(vigil):
    r = subprocess.run([VIGILD, "--check", "-c", vigil.path("nope.conf")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert "nope.conf" in r.stderr


def test_bad_config_at_start_exits_2_and_starts_nothing(vigil):
    marker = vigil.path("started")
    vigil.write_config(f"""
[program:good]
command = {W('run-forever')} {marker}
start_secs = 0
priority = 1
[program:bad]
command = {W('run-forever')}
stop_timeout = ten
""")
    p = vigil.spawn()
    assert vigil.wait_exit(p) == 2
    log = vigil.log()
    lineno = open(vigil.conf).read().split("\n").index("stop_timeout = ten") + 1
    assert f"{vigil.conf}:{lineno}: [program:bad] stop_timeout" in log, log
    assert not os.path.exists(marker), "a program was started from a bad config"
    assert not vigil.tagged_pids()
    assert not os.path.exists(vigil.sock)


def test_vigild_flags(vigil):
    r = subprocess.run([VIGILD, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and re.search(r"\d+\.\d+", r.stdout)
    r = subprocess.run([VIGILD, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--check" in r.stdout
    r = subprocess.run([VIGILD, "--bogus"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    r = subprocess.run([VIGILD, "-c", vigil.conf, "extra"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2


def test_long_socket_path_is_a_config_error(vigil):
    long_sock = "/tmp/" + "s" * 120 + ".sock"
    path, r = check(vigil, f"[vigil]\nsocket = {long_sock}\n")
    assert r.returncode == 2
    assert "socket" in r.stderr
