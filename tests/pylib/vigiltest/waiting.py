"""Waiting for a condition with a deadline: a test never sleeps to decide
a result, it polls until what it expects holds or the deadline passes."""

import os
import time

# Deadlines are generous: the suites also run under ASan+UBSan on a loaded
# 2-core machine. They only bound how long a failure takes to show.
TIMEOUT = float(os.environ.get("VIGIL_TEST_TIMEOUT", "30"))

# What a condition raises while the thing it looks at is not there yet: a
# file not written (OSError), half a JSON document (ValueError), a program
# or a field not there yet (KeyError; TypeError from indexing a None).
NOT_YET = (OSError, ValueError, KeyError, TypeError)


class Timeout(AssertionError):
    pass


def wait_for(cond, timeout=TIMEOUT, what="condition", interval=0.02):
    """Polls cond() until it returns something truthy, and returns that.

    The NOT_YET exceptions raised by cond count as "not yet". Raises
    Timeout naming `what` (a string, or a callable giving one when the
    time is up) and the last such exception.
    """
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            value = cond()
        except NOT_YET as e:
            value, last_err = None, e
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.1f}s waiting for {what() if callable(what) else what}"
            if last_err is not None:
                msg += f" (last error: {last_err!r})"
            raise Timeout(msg)
        time.sleep(interval)
