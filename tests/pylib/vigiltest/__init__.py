"""The harness of every pytest suite under tests/: they drive the real
vigild and vigilctl (paths from VIGILD and VIGILCTL, set by meson) and the
programs of tests/workers (VIGIL_WORKERS).

tests/conftest.py puts tests/pylib on sys.path and offers the fixtures;
a test file imports what it needs from here:

    from vigiltest import W, wait_for

    def test_crash_is_restarted(vigil):
        vigil.start(f"[program:svc]\\ncommand = {W('run-forever')}\\n")
        first = vigil.wait_running("svc")["pid"]
        ...

- fixtures: `vigil` (a Vigil, see vigil.py) and `vigil_factory` for
  several; teardown kills whatever is left and fails a passed test on a
  vigild that did not exit 0 on SIGTERM or a sanitizer report.
- waiting: wait_for(cond, timeout, what) polls with a deadline; Timeout.
- workers: W(name) a worker's path, command(worker, *args) a config
  `command` line, read_events/read_kv what notify-worker writes.
- files and processes: read_*, pid_alive, pid_gone, cmdline, ...
- ctl: http/raw_http on a socket, run_ctl, Reply.
- listeners: NotifyListener (a fake systemd notify socket), LineReader.
"""

from .ctl import VIGILCTL, VIGILD, Reply, http, raw_http, run_ctl, wait_answers  # noqa: F401
from .files import (exec_fails_at_run_time, file_ends_with_bytes, make_tmpdir, read_bytes,  # noqa: F401
                    read_file, read_lines, read_pid, read_text)
from .listeners import LineReader, NotifyListener  # noqa: F401
from .procs import (SANITIZER_VARS, all_pids, children_of, clean_env, cmdline,  # noqa: F401
                    descendants_of, kill_pids, open_fds, pid_alive, pid_gone, pids_with_arg, proc_stat,
                    sanitizer_reports, stop_gracefully, tagged_pids, zombie_children)
from .vigil import Vigil  # noqa: F401
from .waiting import TIMEOUT, Timeout, wait_for  # noqa: F401
from .workers import DEMO_CONF, PY, W, command, read_events, read_kv, shell_word  # noqa: F401

# The states of DESIGN.md, in its order.
STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "WAITING")
