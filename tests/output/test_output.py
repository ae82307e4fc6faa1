"""Child stdout/stderr: file:PATH with size rotation, journal (or its
fallback on vigild's stderr), inherit, null; the ring behind
`vigilctl log` and GET /v1/programs/NAME/log, follow mode, SIGUSR1."""

import json
import os
import shutil
import signal
import subprocess
import uuid

import pytest

from vigiltest import TIMEOUT, VIGILCTL, LineReader, command, file_ends_with_bytes, read_bytes, wait_for

FLOOD = 200000


def expected_flood(first=0, last=FLOOD):
    return b"".join(b"line %08d\n" % i for i in range(first, last))


def flood_config(vigil, extra):
    return f"""
[program:fl]
command = {command('output-worker.py', 'flood', FLOOD)}
start_secs = 0
restart = never
stdout = file:{vigil.dir}/fl.log
{extra}
"""


LAST = b"line %08d\n" % (FLOOD - 1)


def test_flood_all_lines_in_order(vigil):
    vigil.start(flood_config(vigil, "log_max_size = 1G"))
    path = vigil.path("fl.log")
    wait_for(lambda: file_ends_with_bytes(path, LAST), timeout=TIMEOUT * 2, what="the last line in the file")
    vigil.wait_state("fl", "EXITED")
    data = read_bytes(path)
    if data != expected_flood():
        lines = data.split(b"\n")
        bad = [(i, l) for i, l in enumerate(lines[:-1]) if l != b"line %08d" % i][:5]
        pytest.fail(f"{len(lines) - 1} lines, first mismatches: {bad}")
    # the ring keeps the newest lines
    r = vigil.ctl("log", "fl", "-n", "3")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "".join("line %08d\n" % i for i in range(FLOOD - 3, FLOOD))


def check_whole_lines_in_sequence(chunks):
    """chunks: file contents oldest first. Returns the line numbers; fails
    unless every file is whole lines and together they are one run."""
    numbers = []
    for name, data in chunks:
        assert data == b"" or data.endswith(b"\n"), f"{name} ends in a partial line: {data[-30:]!r}"
        for line in data.split(b"\n")[:-1]:
            assert line.startswith(b"line ") and len(line) == 13, f"{name}: bad line {line!r}"
            numbers.append(int(line[5:]))
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "lines missing or out of order"
    return numbers


def test_rotation_keeps_backups_under_the_size(vigil):
    maxsize = 64 * 1024
    vigil.start(flood_config(vigil, "log_max_size = 64K\nlog_backups = 3"))
    path = vigil.path("fl.log")
    wait_for(lambda: file_ends_with_bytes(path, LAST), timeout=TIMEOUT * 2, what="the last line in PATH")
    vigil.wait_state("fl", "EXITED")
    names = sorted(os.listdir(vigil.dir))
    for i in (1, 2, 3):
        assert os.path.exists(f"{path}.{i}"), names
    assert not os.path.exists(f"{path}.4"), names
    sizes = {p: os.path.getsize(p) for p in (path, f"{path}.1", f"{path}.2", f"{path}.3")}
    over = {p: s for p, s in sizes.items() if s > maxsize}
    assert not over, f"files over log_max_size ({maxsize}): {over}"
    chunks = [(p, read_bytes(p)) for p in (f"{path}.3", f"{path}.2", f"{path}.1", path)]
    numbers = check_whole_lines_in_sequence(chunks)
    assert numbers[-1] == FLOOD - 1
    # the backups are full-ish (rotation happens near the size, not early)
    for p in (f"{path}.1", f"{path}.2", f"{path}.3"):
        assert sizes[p] > maxsize // 2, sizes


def test_rotation_without_backups_truncates_in_place(vigil):
    maxsize = 64 * 1024
    vigil.start(flood_config(vigil, "log_max_size = 64K\nlog_backups = 0"))
    path = vigil.path("fl.log")
    wait_for(lambda: file_ends_with_bytes(path, LAST), timeout=TIMEOUT * 2, what="the last line in PATH")
    vigil.wait_state("fl", "EXITED")
    assert not os.path.exists(f"{path}.1"), os.listdir(vigil.dir)
    size = os.path.getsize(path)
    assert 0 < size <= maxsize, size
    data = read_bytes(path)
    assert not data.startswith(b"\0"), "truncated in place but written past the end (O_APPEND missing?)"
    numbers = check_whole_lines_in_sequence([(path, data)])
    assert numbers[-1] == FLOOD - 1


LINES = """
[program:w]
command = {cmd}
start_secs = 0
stdout = file:{d}/w.out
stderr = file:{d}/w.err
"""


def start_lines(vigil, nout=20, nerr=3):
    vigil.start(LINES.format(cmd=command('output-worker.py', "lines", nout, nerr), d=vigil.dir))
    out, err = vigil.path("w.out"), vigil.path("w.err")
    wait_for(lambda: file_ends_with_bytes(out, b"out %d\n" % (nout - 1)), what="stdout lines in the file")
    wait_for(lambda: file_ends_with_bytes(err, b"err %d\n" % (nerr - 1)), what="stderr lines in the file")
    return vigil.wait_running("w")["pid"]


def test_vigilctl_log_last_lines_and_stderr(vigil):
    start_lines(vigil)
    r = vigil.ctl("log", "w", "-n", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "".join(f"out {i}\n" for i in range(15, 20)), r.stdout
    r = vigil.ctl("log", "w", "--stderr", "-n", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "err 1\nerr 2\n", r.stdout
    r = vigil.ctl("log", "w", "--stderr")
    assert r.stdout == "err 0\nerr 1\nerr 2\n", r.stdout
    # the endpoint itself
    rep = vigil.http("GET", "/v1/programs/w/log?stream=stdout&lines=2")
    assert rep.status == 200 and rep.text == "out 18\nout 19\n", rep
    rep = vigil.http("GET", "/v1/programs/w/log?stream=stderr&lines=1")
    assert rep.status == 200 and rep.text == "err 2\n", rep
    assert vigil.http("GET", "/v1/programs/w/log?stream=bogus").status == 400
    assert vigil.http("GET", "/v1/programs/nope/log").status == 404
    r = vigil.ctl("log", "nope")
    assert r.returncode == 1 and "nope" in r.stderr, (r.returncode, r.stderr)


def test_vigilctl_log_follow_sees_new_lines(vigil):
    start_lines(vigil)
    f = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "log", "w", "-f", "-n", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        reader = LineReader(f.stdout)
        reader.wait_line("out 19")  # the tail first: the follower is registered now
        for i in (1, 2, 3):
            r = vigil.ctl("signal", "USR2", "w")
            assert r.returncode == 0, r.stderr
            reader.wait_line(f"tick {i}")
        assert reader.snapshot() == ["out 19", "tick 1", "tick 2", "tick 3"], reader.snapshot()
        assert f.poll() is None, "vigilctl log -f ended by itself"
        # a second follower on the same stream gets the same new lines
        g = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "log", "w", "-f", "-n", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            reader2 = LineReader(g.stdout)
            reader2.wait_line("tick 3")
            vigil.ctl("signal", "USR2", "w")
            reader.wait_line("tick 4")
            reader2.wait_line("tick 4")
            # followers end when vigild shuts down (disconnecting them first
            # is pending_follow_disconnect.py)
            vigil.signal(signal.SIGTERM)
            assert vigil.proc.wait(timeout=TIMEOUT) == 0, vigil.log()[-3000:]
            g.wait(timeout=TIMEOUT)
        finally:
            g.kill()
            g.wait()
        f.wait(timeout=TIMEOUT)
    finally:
        f.kill()
        f.wait()


def test_sigusr1_reopens_files(vigil):
    start_lines(vigil, nout=5, nerr=1)
    out = vigil.path("w.out")
    os.rename(out, out + ".old")
    vigil.ctl("signal", "USR2", "w")  # still goes to the renamed file
    wait_for(lambda: file_ends_with_bytes(out + ".old", b"tick 1\n"), what="tick 1 in the renamed file")
    assert not os.path.exists(out)
    vigil.signal(signal.SIGUSR1)
    wait_for(lambda: os.path.exists(out), what="a fresh PATH after SIGUSR1")
    vigil.ctl("signal", "USR2", "w")
    wait_for(lambda: file_ends_with_bytes(out, b"tick 2\n"), what="tick 2 in the fresh file")
    assert read_bytes(out) == b"tick 2\n"
    assert read_bytes(out + ".old") == b"".join(b"out %d\n" % i for i in range(5)) + b"tick 1\n"
    assert vigil.alive()


def one_shot(vigil, cmd, extra=""):
    vigil.start(f"""
[program:o]
command = {cmd}
start_secs = 0
restart = never
stdout = file:{vigil.dir}/o.log
{extra}
""")
    vigil.wait_state("o", "EXITED")
    return vigil.path("o.log")


def test_partial_last_line_arrives_at_exit(vigil):
    path = one_shot(vigil, command('output-worker.py', "partial", "no-newline-at-end"))
    wait_for(lambda: b"no-newline-at-end" in read_bytes(path), what="the partial line in the file")
    assert read_bytes(path).rstrip(b"\n") == b"no-newline-at-end", read_bytes(path)
    r = vigil.ctl("log", "o", "-n", "1")
    assert r.stdout == "no-newline-at-end\n", r.stdout


def test_long_line_arrives_whole(vigil):
    n = 40000
    path = one_shot(vigil, command('output-worker.py', "long", n))
    wait_for(lambda: file_ends_with_bytes(path, b"after\n"), what="the line after the long one")
    data = read_bytes(path)
    pieces = data.split(b"\n")[:-1]
    assert b"".join(pieces) == b"x" * (n - 1) + b"E" + b"after", [len(p) for p in pieces]
    assert pieces[-1] == b"after"
    r = vigil.ctl("log", "o", "-n", "10")
    assert r.stdout.replace("\n", "") == "x" * (n - 1) + "E" + "after"


def test_stderr_merged_into_stdout_in_order(vigil):
    n = 500
    path = one_shot(vigil, command('output-worker.py', "interleave", n), "stderr = stdout")
    want = b"".join(b"o %d\ne %d\n" % (i, i) for i in range(n))
    wait_for(lambda: file_ends_with_bytes(path, b"e %d\n" % (n - 1)), what="the last stderr line in the file")
    assert read_bytes(path) == want
    r = vigil.ctl("log", "o", "-n", "4")
    assert r.stdout == f"o {n - 2}\ne {n - 2}\no {n - 1}\ne {n - 1}\n", r.stdout


def test_inherit_and_null(vigil):
    vigil.start(f"""
[program:inh]
command = {command('output-worker.py', 'lines', 2, 1)}
start_secs = 0
stdout = inherit
stderr = inherit
[program:nul]
command = {command('output-worker.py', 'lines', 2, 1)}
start_secs = 0
stdout = null
stderr = null
""")
    wait_for(lambda: "out 1\n" in vigil.stdout_text(), what="inherited stdout on vigild's stdout")
    wait_for(lambda: "err 0\n" in vigil.log(), what="inherited stderr on vigild's stderr")
    assert "err 0" not in vigil.stdout_text()
    vigil.wait_running("nul")
    r = vigil.ctl("log", "nul", "-n", "5")
    assert r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr)
    r = vigil.ctl("log", "inh", "-n", "5")
    assert r.stdout == "out 0\nout 1\n"


def journald_usable():
    if not os.path.exists("/run/systemd/journal/socket") or not shutil.which("journalctl"):
        return False
    try:
        return subprocess.run(["journalctl", "-n", "0", "-q"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def journal_entries(ident):
    r = subprocess.run(["journalctl", "-o", "json", "--no-pager", f"SYSLOG_IDENTIFIER={ident}"],
                       capture_output=True, text=True, timeout=20)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def test_journal_output(vigil):
    name = "vj" + uuid.uuid4().hex[:10]
    vigil.start(f"""
[program:{name}]
command = {command('output-worker.py', 'lines', 2, 1)}
numprocs = 2
start_secs = 0
stdout = journal
stderr = journal
""")
    pids = vigil.wait_all_running(f"{name}:0", f"{name}:1")
    if journald_usable():
        def entries():
            es = journal_entries(name)
            want = {("out 1", "1"), ("err 0", "1"), ("out 1", "0"), ("err 0", "0")}
            got = {(e.get("MESSAGE"), e.get("VIGIL_INSTANCE")) for e in es}
            return es if want <= got else None
        es = wait_for(entries, what="the lines in the journal")
        for e in es:
            assert e["VIGIL_PROGRAM"] == name
            if e["MESSAGE"].startswith("out "):
                assert e["PRIORITY"] == "6", e
            elif e["MESSAGE"].startswith("err "):
                assert e["PRIORITY"] == "3", e
        # nothing went to the fallback
        assert f"{name}:0[" not in vigil.log()
    else:
        # no journald here: each line on vigild's stderr as name[pid]: line
        for inst in (0, 1):
            pname, pid = f"{name}:{inst}", pids[f"{name}:{inst}"]
            for line in ("out 0", "out 1", "err 0"):
                want = f"{pname}[{pid}]: {line}\n"
                wait_for(lambda: want in vigil.log(), what=f"{want!r} on vigild's stderr")
    # the ring gets journal lines too
    r = vigil.ctl("log", f"{name}:1", "-n", "2")
    assert r.stdout == "out 0\nout 1\n", r.stdout
    # a program with instances: both, each line after its process's name (issue 10, item 5)
    r = vigil.ctl("log", name)
    assert r.returncode == 0 and f"{name}:0 | out 0" in r.stdout and f"{name}:1 | out 1" in r.stdout, \
        (r.returncode, r.stdout, r.stderr)


def test_follower_of_a_reloaded_program_is_ended(vigil):
    """A follower on a program that a reload changes or removes is ended
    by vigild (the process and its ring are gone), without harm to vigild."""
    cfg = (LINES.format(cmd=command('output-worker.py', "lines", 3, 0), d=vigil.dir)
           + "[program:x]\ncommand = /bin/sleep 1001\nstart_secs = 0\n")
    vigil.start(cfg)
    wait_for(lambda: file_ends_with_bytes(vigil.path("w.out"), b"out 2\n"), what="lines in the file")
    followers = []
    try:
        for _ in range(2):
            f = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "log", "w", "-f", "-n", "1"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            followers.append((f, LineReader(f.stdout)))
            followers[-1][1].wait_line("out 2")
        # changed: the old process retires, its followers are ended
        vigil.write_config(cfg.replace("lines 3 0", "lines 4 0"))
        r = vigil.reload()
        assert r.status == 200 and r.json()["changed"] == ["w"], r
        for f, _ in followers:
            f.wait(timeout=TIMEOUT)
        wait_for(lambda: file_ends_with_bytes(vigil.path("w.out"), b"out 2\nout 0\nout 1\nout 2\nout 3\n"),
                 what="the new version's lines appended")
        # removed while followed
        f = subprocess.Popen([VIGILCTL, "-s", vigil.sock, "log", "w", "-f", "-n", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        followers.append((f, LineReader(f.stdout)))
        followers[-1][1].wait_line("out 3")
        vigil.write_config("[program:x]\ncommand = /bin/sleep 1001\nstart_secs = 0\n")
        r = vigil.reload()
        assert r.status == 200 and r.json()["removed"] == ["w"], r
        f.wait(timeout=TIMEOUT)
        wait_for(lambda: "w" not in vigil.programs(), what="w gone")
        assert vigil.http("GET", "/healthz").status == 200
    finally:
        for f, _ in followers:
            f.kill()
            f.wait()


@pytest.mark.parametrize("backups", [0, 2])
def test_size_limit_on_a_symlink_to_dev_null_keeps_vigild_responsive(vigil, backups):
    """Regression: stdout = file:PATH where PATH is a symlink to /dev/null,
    with a tiny log_max_size. A non-regular file is never rotated (no
    truncation retried forever at 100% CPU, no rename of the link away)."""
    import stat
    import time

    link = vigil.path("dn")
    os.symlink("/dev/null", link)
    vigil.start(f"""
[program:chat]
command = {command('output-worker.py', 'chatter', 0.001)}
start_secs = 0
stdout = file:{link}
log_max_size = 1K
log_backups = {backups}
""")
    vigil.wait_running("chat")
    # well past 1K written: the ring shows many lines
    def last_chat():
        words = vigil.ctl("log", "chat", "-n", "1").stdout.split()
        return int(words[1]) if len(words) == 2 else -1

    wait_for(lambda: last_chat() > 500, what="more than 1K of output from the program")
    answered = 0
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        t0 = time.monotonic()
        r = vigil.http("GET", "/healthz", timeout=1.0)
        took = time.monotonic() - t0
        assert r.status == 200, r
        assert took < 1.0, f"GET /healthz took {took:.2f}s"
        answered += 1
        time.sleep(0.2)
    assert answered >= 5, answered
    assert vigil.state("chat") == "RUNNING"
    # nothing renamed or replaced: the link still points at the device
    assert os.path.islink(link) and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null is no longer a char device"
    assert not os.path.lexists(link + ".1") and not os.path.lexists(link + ".2"), os.listdir(vigil.dir)
    assert vigil.alive()
