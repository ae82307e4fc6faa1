"""Log files are opened safely, and a full disk is visible (issue 12,
items 1 and 9).

vigild runs as root and opens every `file:PATH` itself. A program whose
log folder its own user can write must not get vigild to append to a
file of root's choosing: no symlink or hard link planted by that user is
followed, at the first open, at a rotation or at a SIGUSR1 reopen, and a
folder anybody else can write is refused outright. When the disk is
full, lost output is counted (status JSON and /metrics) and logged, no
empty file is rotated over a good backup, and writing resumes when
space returns.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from vigiltest import command, read_bytes, wait_for

NOBODY = 65534
SECRET = b"root's secret, mode 0600\n"


def make_victim(vigil):
    """A root-only file the attacker wants vigild to write into."""
    path = vigil.path("victim")
    with open(path, "wb") as f:
        f.write(SECRET)
    os.chmod(path, 0o600)
    return path


def users_log_dir(vigil, uid=NOBODY, gid=NOBODY, mode=0o755, name="logs"):
    """A log folder owned (and so writable) by another user than root."""
    os.chmod(vigil.dir, 0o755)  # nobody may reach it
    d = vigil.path(name)
    os.mkdir(d)
    os.chown(d, uid, gid)
    os.chmod(d, mode)
    return d


def as_nobody(script):
    """Runs a shell script as nobody (what a program with user = nobody
    could do), and fails the test if it fails."""
    r = subprocess.run(["sh", "-ec", script], user=NOBODY, group=NOBODY, extra_groups=[],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"the attacker's script failed: {r.stderr}"


def lost_bytes(vigil, name):
    return vigil.programs()[name].get("output_lost_bytes", 0)


def metric_lost_bytes(vigil, name):
    text = vigil.http("GET", "/metrics").text
    m = re.search(r'^vigil_output_lost_bytes_total\{name="%s",program="[^"]*"\} (\d+)$' % re.escape(name), text,
                  re.M)
    return int(m.group(1)) if m else None


def victim_written_or_output_lost(victim, vigil, name):
    return read_bytes(victim) != SECRET or lost_bytes(vigil, name) > 0



def start_w(vigil, log, cmd=None, user="nobody", extra=""):
    """vigild with one program, w, writing its stdout to file:LOG (as
    user, None for root; `extra` adds option lines)."""
    vigil.start(f"""
[program:w]
command = {cmd or command('output-worker.py', 'lines', 3)}
{f"user = {user}" if user else ""}
start_secs = 0
stdout = file:{log}
{extra}
""")


def assert_refused_at_start(vigil, pattern):
    """w never started: FATAL, with vigild saying why (a regex)."""
    p = vigil.wait_state("w", ("RUNNING", "FATAL", "EXITED"))
    assert p["state"] == "FATAL", p
    assert re.search(pattern, vigil.log()), vigil.log()

def test_symlink_swapped_in_before_sigusr1_is_not_followed(vigil):
    logs = users_log_dir(vigil)
    victim = make_victim(vigil)
    log = os.path.join(logs, "a.log")
    start_w(vigil, log)
    wait_for(lambda: read_bytes(log) == b"out 0\nout 1\nout 2\n", what="the first lines in a.log")
    as_nobody(f"rm {log}; ln -s {victim} {log}")
    vigil.signal(signal.SIGUSR1)
    wait_for(lambda: "reopened log files" in vigil.log(), what="the SIGUSR1 reopen")
    vigil.ctl("signal", "USR2", "w")  # one more line: "tick 1"
    wait_for(lambda: victim_written_or_output_lost(victim, vigil, "w"), what="the tick to go somewhere")
    assert read_bytes(victim) == SECRET, "vigild wrote the program's output through the symlink"
    log_text = vigil.log()
    assert re.search(r"refusing .*a\.log.*symlink", log_text), log_text[-2000:]
    assert os.path.islink(log) and os.readlink(log) == victim
    assert vigil.state("w") == "RUNNING"
    # the line that had nowhere to go is counted, and said
    assert lost_bytes(vigil, "w") == len(b"tick 1\n")
    assert metric_lost_bytes(vigil, "w") == len(b"tick 1\n")
    assert re.search(r"w: cannot write output to .*a\.log: refusing", vigil.log()), vigil.log()


def test_symlink_swapped_in_before_a_rotation_is_not_followed(vigil):
    """The attacker makes the rename of a.log to a.log.1 fail (a.log.1 is
    a folder), so a reopen by name would meet the symlink."""
    logs = users_log_dir(vigil)
    victim = make_victim(vigil)
    log = os.path.join(logs, "a.log")
    start_w(vigil, log, cmd=command('output-worker.py', 'chatter', 0.005), extra="log_max_size = 2K\nlog_backups = 1")
    wait_for(lambda: read_bytes(log).startswith(b"chat 0\n"), what="the first line in a.log")
    as_nobody(f"rm {log}; ln -s {victim} {log}; mkdir {log}.1")
    # vigild writes on to the unlinked file; at 2K it rotates
    wait_for(lambda: victim_written_or_output_lost(victim, vigil, "w"), what="a rotation")
    assert read_bytes(victim) == SECRET, "vigild wrote the program's output through the symlink"
    assert re.search(r"refusing .*a\.log.*symlink", vigil.log()), vigil.log()[-2000:]
    assert os.path.islink(log) and os.path.isdir(log + ".1")
    assert vigil.state("w") == "RUNNING"


def test_symlink_raced_in_at_every_rotation_is_not_followed(vigil):
    """The reproduction from the issue: the program's user keeps replacing
    a.log with a symlink while vigild rotates it several times a second."""
    logs = users_log_dir(vigil)
    victim = make_victim(vigil)
    log = os.path.join(logs, "a.log")
    start_w(vigil, log, cmd=command('output-worker.py', 'chatter', 0.0005), extra="log_max_size = 2K\nlog_backups = 2")
    wait_for(lambda: os.path.exists(log + ".1"), what="a first rotation")
    swap = ("import os\n"
            "while True:\n"
            "    try: os.unlink(%r)\n"
            "    except OSError: pass\n"
            "    try: os.symlink(%r, %r)\n"
            "    except OSError: pass\n") % (log, victim, log)
    attacker = subprocess.Popen([sys.executable, "-c", swap], user=NOBODY, group=NOBODY, extra_groups=[])
    try:
        wait_for(lambda: read_bytes(victim) != SECRET or vigil.log().count("refusing") >= 2,
                 what="vigild to meet the symlink twice")
    finally:
        attacker.kill()
        attacker.wait()
    assert read_bytes(victim) == SECRET, "vigild wrote the program's output through the symlink"
    assert vigil.state("w") == "RUNNING"


def test_hard_link_to_a_victim_is_refused(vigil):
    """Where fs.protected_hardlinks is 0 the program's user can link any
    file into its folder; root plays that part here."""
    logs = users_log_dir(vigil)
    victim = make_victim(vigil)
    log = os.path.join(logs, "a.log")
    os.link(victim, log)
    start_w(vigil, log, extra="restart = never")
    assert_refused_at_start(vigil, r"w: cannot start: refusing .*a\.log.*hard link")
    assert read_bytes(victim) == SECRET


def test_file_of_another_user_is_refused(vigil):
    logs = users_log_dir(vigil)
    log = os.path.join(logs, "a.log")
    with open(log, "wb"):
        pass
    os.chown(log, 1, 1)  # daemon: neither root nor the program's user
    start_w(vigil, log, extra="restart = never")
    assert_refused_at_start(vigil, r"refusing .*a\.log.*owned by uid 1")
    assert read_bytes(log) == b""


def test_symlinked_folder_in_a_users_folder_is_refused(vigil):
    logs = users_log_dir(vigil)
    root_dir = vigil.path("rootonly")
    os.mkdir(root_dir, 0o755)
    as_nobody(f"ln -s {root_dir} {logs}/sub")
    start_w(vigil, f"{logs}/sub/a.log", extra="restart = never")
    assert_refused_at_start(vigil, r"refusing .*sub.*symlink")
    assert os.listdir(root_dir) == []


def test_roots_symlink_into_a_users_folder_is_walked_by_the_same_rules(vigil):
    """root links a log into a user's folder; that user redirects a folder
    on the way to a root-only folder holding a file of the same name."""
    logs = users_log_dir(vigil)
    secret_dir = vigil.path("secret")
    os.mkdir(secret_dir, 0o700)
    victim = os.path.join(secret_dir, "a.log")
    with open(victim, "wb") as f:
        f.write(SECRET)
    os.chmod(victim, 0o600)
    link = vigil.path("w.log")
    os.symlink(f"{logs}/sub/a.log", link)  # made by root
    as_nobody(f"ln -s {secret_dir} {logs}/sub")
    start_w(vigil, link, extra="restart = never")
    wait_for(lambda: read_bytes(victim) != SECRET or vigil.state("w") == "FATAL", what="the output to go somewhere")
    assert read_bytes(victim) == SECRET, "vigild followed the user's symlink"
    assert re.search(r"refusing .*w\.log: sub is a symlink", vigil.log()), vigil.log()


def test_roots_symlink_is_followed_and_its_target_rotated(vigil):
    real_dir = vigil.path("real")
    os.mkdir(real_dir, 0o755)
    link = vigil.path("w.log")
    os.symlink("real/w.log", link)  # relative, made by root
    start_w(vigil, link, cmd=command('output-worker.py', 'chatter', 0.002), user=None,
            extra="log_max_size = 1K\nlog_backups = 1")
    real = os.path.join(real_dir, "w.log")
    wait_for(lambda: os.path.getsize(real + ".1") > 0, what="a rotation of real/w.log")
    assert os.path.islink(link) and os.readlink(link) == "real/w.log"
    assert not os.path.lexists(link + ".1")
    assert read_bytes(real + ".1").startswith(b"chat ")
    assert lost_bytes(vigil, "w") == 0


@pytest.mark.parametrize("uid,gid,mode,why", [
    (NOBODY, 0, 0o755, "owned by uid 65534"),
    (0, NOBODY, 0o775, "writable by its group"),
    (0, 0, 0o757, "writable by others"),
])
def test_folder_writable_by_another_user_is_refused_for_a_root_program(vigil, uid, gid, mode, why):
    logs = users_log_dir(vigil, uid, gid, mode)
    start_w(vigil, f"{logs}/a.log", user=None, extra="restart = never")
    assert_refused_at_start(vigil, r"w: cannot start: refusing .*a\.log: its folder is %s" % why)
    assert not os.path.exists(os.path.join(logs, "a.log"))


def test_sticky_folder_and_the_programs_own_folder_are_fine(vigil):
    tmp_like = users_log_dir(vigil, 0, 0, 0o1777, "sticky")
    own = users_log_dir(vigil, name="own")
    vigil.start(f"""
[program:t]
command = {command('output-worker.py', 'lines', 2)}
start_secs = 0
stdout = file:{tmp_like}/t.log
[program:o]
command = {command('output-worker.py', 'lines', 2)}
user = nobody
start_secs = 0
stdout = file:{own}/o.log
""")
    for path in (f"{tmp_like}/t.log", f"{own}/o.log"):
        wait_for(lambda: read_bytes(path) == b"out 0\nout 1\n", what=f"two lines in {path}")


def test_dev_stdout_and_dev_null_still_work(vigil):
    vigil.start(f"""
[program:o]
command = {command('output-worker.py', 'lines', 2, 1)}
user = nobody
start_secs = 0
stdout = file:/dev/stdout
stderr = file:/dev/null
""")
    wait_for(lambda: "out 0\nout 1\n" in vigil.stdout_text(), what="the lines on vigild's stdout")
    vigil.signal(signal.SIGUSR1)
    wait_for(lambda: "reopened log files" in vigil.log(), what="the SIGUSR1 reopen")
    vigil.ctl("signal", "USR2", "o")
    wait_for(lambda: "tick 1\n" in vigil.stdout_text(), what="a line after the reopen")
    assert "refusing" not in vigil.log()
    assert lost_bytes(vigil, "o") == 0


# -- a full disk ---------------------------------------------------------

@pytest.fixture
def small_disk(vigil):
    d = vigil.path("disk")
    os.mkdir(d)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", d], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield d
    finally:
        vigil.terminate()  # nothing may hold a file on it
        if subprocess.run(["umount", d]).returncode != 0:
            subprocess.run(["umount", "-l", d])


def fill(path):
    """Writes to path until the disk is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"f" * 512)
        except OSError as e:
            assert e.errno == 28, e


def test_full_disk_counts_lost_output_keeps_backups_and_resumes(vigil, small_disk):
    log = os.path.join(small_disk, "c.log")
    backups = {}
    for i in (1, 2):  # what two earlier rotations left
        backups[i] = b"".join(b"old %d line %04d\n" % (i, n) for n in range(400))
        with open(f"{log}.{i}", "wb") as f:
            f.write(backups[i])
    filler = os.path.join(small_disk, "filler")
    fill(filler)
    started = time.monotonic()
    vigil.start(f"""
[program:c]
command = {command('output-worker.py', 'chatter', 0.0005)}
start_secs = 0
stdout = file:{log}
log_max_size = 16K
log_backups = 2
""")
    # far more than log_max_size is lost: counting it as written would
    # have rotated twice, over both backups
    first = wait_for(lambda: (lambda n: n if n > 40000 else None)(lost_bytes(vigil, "c")),
                     what="40000 bytes counted as lost in the status")
    wait_for(lambda: (metric_lost_bytes(vigil, "c") or 0) > first, what="lost bytes growing in /metrics")
    assert re.search(r"c: cannot write output to .*c\.log: No space left on device; \d+ bytes lost",
                     vigil.log()), vigil.log()[-2000:]
    # rate-limited: one warning per 10 s, not one per lost write
    warnings = vigil.log().count("cannot write output to")
    assert 1 <= warnings <= 1 + (time.monotonic() - started) / 10, vigil.log()[-2000:]
    for i in (1, 2):
        assert read_bytes(f"{log}.{i}") == backups[i], f"c.log.{i} was rotated away"
    assert not os.path.exists(f"{log}.3")
    os.unlink(filler)
    wait_for(lambda: re.search(r"c: output to .*c\.log resumed; \d+ bytes were lost", vigil.log()),
             what="the 'resumed' line in vigild's log")
    data = wait_for(lambda: (lambda d: d if b"chat " in d else None)(read_bytes(log)), what="new lines in c.log")
    assert data.startswith(b"chat "), data[:100]  # whole lines: no piece of one cut at the full disk
    assert vigil.state("c") == "RUNNING"
