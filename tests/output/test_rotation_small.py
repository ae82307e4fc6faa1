"""Regression test for a fixed bug: with a small log_max_size, rotated files exceed it.
output.c output_to_file() rotates only before a batch and then writes the
whole batch (every complete line of one pipe read, ~4 KiB or more), so a
file ends up as large as one batch: with log_max_size = 4K the files are
4102 bytes. Lines that fit should be split across the rotation so no file
exceeds log_max_size (only a single line longer than the limit could)."""

import os

from vigiltest import TIMEOUT, command, file_ends_with_bytes, read_bytes, wait_for

FLOOD = 200000
LAST = b"line %08d\n" % (FLOOD - 1)


def test_small_log_max_size_is_never_exceeded(vigil):
    maxsize = 4096
    vigil.start(f"""
[program:fl]
command = {command('output-worker.py', 'flood', FLOOD)}
start_secs = 0
restart = never
stdout = file:{vigil.dir}/fl.log
log_max_size = 4K
log_backups = 20
""")
    path = vigil.path("fl.log")
    wait_for(lambda: file_ends_with_bytes(path, LAST), timeout=TIMEOUT * 2, what="the last line in PATH")
    files = [path] + [f"{path}.{i}" for i in range(1, 21)]
    sizes = {os.path.basename(p): os.path.getsize(p) for p in files}
    over = {p: s for p, s in sizes.items() if s > maxsize}
    assert not over, f"files over log_max_size ({maxsize}): {over}"
    assert not os.path.exists(f"{path}.21")
    assert read_bytes(path).endswith(LAST)
