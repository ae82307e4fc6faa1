"""Starts vigild the way systemd would, then becomes it (exec, same pid).

usage: /usr/bin/python3 sd-launch.py [--watchdog-self] [--listen PATH] -- VIGILD ARGS...

--watchdog-self  sets WATCHDOG_PID to this process's pid, which is the pid
                 vigild will have after exec (WATCHDOG_USEC comes from the
                 caller's environment).
--listen PATH    creates, binds and listens on a Unix stream socket at PATH,
                 puts it on fd 3 and sets LISTEN_FDS=1, LISTEN_PID=<own pid>,
                 as systemd's socket activation does.
"""

import os
import socket
import sys


def main(argv):
    watchdog_self = False
    listen = None
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--watchdog-self":
            watchdog_self = True
        elif argv[i] == "--listen":
            i += 1
            listen = argv[i]
        else:
            sys.exit(f"sd-launch.py: unknown option {argv[i]}")
        i += 1
    cmd = argv[i + 1:]
    if not cmd:
        sys.exit("sd-launch.py: no command")
    if watchdog_self:
        os.environ["WATCHDOG_PID"] = str(os.getpid())
    if listen:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(listen)
        s.listen(16)
        if s.fileno() != 3:
            os.dup2(s.fileno(), 3, inheritable=True)
            s.close()
        else:
            os.set_inheritable(3, True)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ.pop("LISTEN_FDNAMES", None)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
