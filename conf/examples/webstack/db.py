"""db: a database-like server for the web stack.

Usage: db.py PORT DB_FILE. Listens on 127.0.0.1:PORT and answers one line
per request line: `PING` -> `PONG`, `INCR NAME` -> the counter's new value,
`GET NAME` -> its value (`ERR ...` when there is no such counter: the
schema is migrate.py's). A fixed set of commands, no SQL from clients.
"""

import socketserver
import sqlite3
import sys
import threading

port, path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


def answer(db, line):
    cmd, _, name = line.partition(" ")
    if cmd == "PING":
        return "PONG"
    if cmd not in ("INCR", "GET") or not name:
        return "ERR unknown command"
    with lock, db:
        if cmd == "INCR":
            db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return str(row[0]) if row else f"ERR no counter {name}"


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        db = sqlite3.connect(path)
        try:
            for raw in self.rfile:
                reply = answer(db, raw.decode("utf-8", "replace").strip())
                self.wfile.write(reply.encode() + b"\n")
        except sqlite3.Error as e:
            self.wfile.write(f"ERR {e}\n".encode())
        finally:
            db.close()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a restart binds again at once
    daemon_threads = True


with Server(("127.0.0.1", port), Handler) as server:
    print(f"db serving {path} on 127.0.0.1:{port}")
    server.serve_forever()
