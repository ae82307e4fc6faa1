"""Reading the files workers and vigild write (a missing file is "not
there yet" to wait_for) and making a test's folder."""

import os
import tempfile


def read_file(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def read_text(path):
    """The text of a file, "" if it does not exist (yet)."""
    try:
        return read_file(path)
    except FileNotFoundError:
        return ""


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def file_ends_with_bytes(path, tail):
    try:
        return read_bytes(path).endswith(tail)
    except FileNotFoundError:
        return False


def read_lines(path):
    """Complete lines of a file, [] if it does not exist yet."""
    try:
        text = read_file(path)
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]


def read_pid(path):
    """The first integer of a file a worker wrote, or None if not there yet."""
    try:
        text = read_file(path).split()
    except FileNotFoundError:
        return None
    return int(text[0]) if text else None


def make_tmpdir(prefix):
    """A fresh folder under /tmp with a short name: Unix socket paths in
    it must stay under 108 bytes."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def exec_fails_at_run_time(path):
    """Writes path as a command that vigild's load check accepts (it
    exists and is executable) but whose exec fails with ENOENT, as a
    missing binary's would: its interpreter does not exist. For tests of
    a failed start, now that a missing command is a config error."""
    with open(path, "w") as f:
        f.write("#!/nonexistent/interpreter\n")
    os.chmod(path, 0o755)
    return path
