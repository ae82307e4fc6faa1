"""A program for vigild to supervise: writes output (or its environment) as told.

usage: /usr/bin/python3 output-worker.py MODE [ARGS...]

  flood N          N lines "line %08d" on stdout as fast as possible, then exit 0
  lines N [ERR]    N lines "out %d" on stdout and ERR lines "err %d" on
                   stderr, then wait; each SIGUSR2 prints "tick %d" on stdout
  env FILE         writes its environment as JSON to FILE, then waits
  partial TEXT     writes TEXT without a newline, then exits 0
  long N           one line of N bytes ("x" * (N-1) + "E"), then "after", exit 0
  interleave N     N pairs: "o %d" on stdout, "e %d" on stderr, each flushed
  chatter PERIOD   "chat %d" on stdout every PERIOD seconds, forever
"""

import json
import os
import signal
import sys
import time


def wait_forever():
    while True:
        signal.pause()


def main(argv):
    mode = argv[0]
    out = sys.stdout.buffer
    if mode == "flood":
        n = int(argv[1])
        for i in range(n):
            out.write(b"line %08d\n" % i)
        out.flush()
    elif mode == "lines":
        n = int(argv[1])
        nerr = int(argv[2]) if len(argv) > 2 else 0
        ticks = [0]

        def tick(sig, frame):
            ticks[0] += 1
            out.write(b"tick %d\n" % ticks[0])
            out.flush()

        signal.signal(signal.SIGUSR2, tick)
        for i in range(n):
            out.write(b"out %d\n" % i)
        out.flush()
        for i in range(nerr):
            sys.stderr.buffer.write(b"err %d\n" % i)
        sys.stderr.buffer.flush()
        wait_forever()
    elif mode == "env":
        tmp = argv[1] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dict(os.environ), f)
        os.rename(tmp, argv[1])
        wait_forever()
    elif mode == "partial":
        out.write(argv[1].encode())
        out.flush()
    elif mode == "long":
        n = int(argv[1])
        out.write(b"x" * (n - 1) + b"E\n")
        out.write(b"after\n")
        out.flush()
    elif mode == "interleave":
        n = int(argv[1])
        err = sys.stderr.buffer
        for i in range(n):
            out.write(b"o %d\n" % i)
            out.flush()
            err.write(b"e %d\n" % i)
            err.flush()
    elif mode == "chatter":
        period = float(argv[1])
        i = 0
        while True:
            out.write(b"chat %d\n" % i)
            out.flush()
            i += 1
            time.sleep(period)
    else:
        sys.exit(f"output-worker.py: unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
