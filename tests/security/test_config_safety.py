"""Config files vigild refuses, through the real binary: when it runs as
root, files and folders a user other than root could write (unless
--insecure-config), at start, in --check and at reload; and files that
are not regular or hold NUL bytes, which must fail at once, not hang."""

import os
import signal
import subprocess

import pytest

from vigiltest import VIGILD, W, wait_for

NOBODY = 65534
INSECURE_HINT = "or run vigild with --insecure-config"

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the checks apply when vigild runs as root")


def check(vigil, path, *flags):
    return subprocess.run([VIGILD, "--check", *flags, "-c", path], capture_output=True, text=True,
                          timeout=30, env=vigil.env())


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def with_include(vigil):
    """vigil.conf (include on line 4) and conf.d/a.conf defining [program:a]."""
    inc = write(vigil.path("conf.d", "a.conf"), f"[program:a]\ncommand = {W('run-forever')}\nstart_secs = 0\n")
    vigil.write_config(vigil_extra="include = conf.d/*.conf")
    return inc


@as_root
def test_check_refuses_group_writable_config(vigil):
    vigil.write_config("[program:a]\ncommand = /bin/true\n")
    os.chmod(vigil.conf, 0o664)
    r = check(vigil, vigil.conf)
    assert r.returncode == 2, r
    assert r.stderr.startswith(f"{vigil.conf}: writable by group/other (mode 0664): chmod go-w {vigil.conf}, "
                               f"{INSECURE_HINT}\n"), r.stderr
    r = check(vigil, vigil.conf, "--insecure-config")
    assert r.returncode == 0, r
    assert "configuration OK (1 programs)" in r.stdout


@as_root
def test_check_refuses_include_owned_by_nobody(vigil):
    inc = with_include(vigil)
    os.chown(inc, NOBODY, NOBODY)
    r = check(vigil, vigil.conf)
    assert r.returncode == 2, r
    assert r.stderr.startswith(f"{vigil.conf}:4: [vigil] include: {inc}: owned by uid 65534 (nobody), "
                               f"not root: chown root {inc}, {INSECURE_HINT}\n"), r.stderr
    assert check(vigil, vigil.conf, "--insecure-config").returncode == 0


@as_root
def test_check_refuses_folder_writable_by_others(vigil):
    inc = with_include(vigil)
    folder = os.path.dirname(inc)
    os.chmod(folder, 0o777)
    r = check(vigil, vigil.conf)
    assert r.returncode == 2, r
    assert (f"{vigil.conf}:4: [vigil] include: {inc}: folder {folder} is writable by group/other without the "
            f"sticky bit (mode 0777): chmod go-w {folder}") in r.stderr
    os.chmod(folder, 0o1777)  # sticky, like /tmp: fine
    assert check(vigil, vigil.conf).returncode == 0


@as_root
def test_vigild_refuses_to_start_on_an_insecure_config(vigil):
    inc = with_include(vigil)
    os.chmod(inc, 0o666)
    p = vigil.spawn()
    assert vigil.wait_exit(p) == 2
    log = vigil.log()
    assert f"{vigil.conf}:4: [vigil] include: {inc}: writable by group/other (mode 0666)" in log
    assert "nothing started" in log
    assert not os.path.exists(vigil.sock)
    # the same config with --insecure-config runs
    vigil.start(args=["--insecure-config"])
    vigil.wait_running("a")


@as_root
def test_reload_refuses_a_newly_insecure_include(vigil):
    inc = with_include(vigil)
    vigil.start()
    pid = vigil.wait_running("a")["pid"]
    # the include gains a program and becomes writable by others
    write(inc, f"[program:a]\ncommand = {W('run-forever')}\nstart_secs = 0\n[program:b]\ncommand = /bin/true\n",
          0o646)
    r = vigil.post("/v1/reload")
    assert r.status == 400, r
    assert f"{inc}: writable by group/other (mode 0646)" in r.json()["error"], r.json()
    programs = vigil.programs()
    assert list(programs) == ["a"], programs
    assert programs["a"]["pid"] == pid and programs["a"]["state"] == "RUNNING", programs
    # SIGHUP is refused the same way
    os.kill(vigil.pid, signal.SIGHUP)
    wait_for(lambda: vigil.log().count("reload: configuration has errors") >= 2, what="the SIGHUP reload refused")
    assert list(vigil.programs()) == ["a"]
    os.chmod(inc, 0o644)
    r = vigil.post("/v1/reload")
    assert r.status == 200, r
    assert r.json()["added"] == ["b"], r.json()


@as_root
def test_insecure_config_flag_holds_for_reloads(vigil):
    inc = with_include(vigil)
    vigil.start(args=["--insecure-config"])
    vigil.wait_running("a")
    write(inc, f"[program:a]\ncommand = {W('run-forever')}\nstart_secs = 0\n[program:b]\ncommand = /bin/true\n",
          0o666)
    r = vigil.post("/v1/reload")
    assert r.status == 200, r
    assert r.json()["added"] == ["b"], r.json()


def test_includes_that_are_not_regular_files_fail_at_once(vigil):
    fifo = vigil.path("fifo.conf")
    os.mkfifo(fifo)
    for target, kind in (("/dev/zero", "a character device"), ("/dev/urandom", "a character device"),
                         (fifo, "a FIFO")):
        vigil.write_config(vigil_extra=f"include = {target}")
        r = check(vigil, vigil.conf)  # a hang fails through subprocess's timeout
        assert r.returncode == 2, r
        assert r.stderr.startswith(f"{vigil.conf}:4: [vigil] include: {target}: not a regular file ({kind})\n"), \
            r.stderr


def test_nul_byte_is_an_error_at_its_line(vigil):
    with open(vigil.conf, "wb") as f:
        f.write(b"[program:first]\ncommand = a\0b\n[program:second]\ncommand = /bin/true\n")
    r = check(vigil, vigil.conf)
    assert r.returncode == 2, r
    assert r.stderr.startswith(f"{vigil.conf}:2: NUL byte in line\n"), r.stderr
    assert "set twice" not in r.stderr, r.stderr
