"""migrate: the web stack's schema migration, a task that runs to completion.

Usage: migrate.py DB_FILE. Creates the SQLite file (and its folder) with
the table db.py serves, then exits 0; run again, it changes nothing.
"""

import os
import sqlite3
import sys
import time

path = sys.argv[1]
os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
db = sqlite3.connect(path)
with db:
    db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("INSERT OR IGNORE INTO counters VALUES ('visits', 0)")
db.close()
# A real migration takes a while; this one long enough to see web WAITING
# for it in `vigilctl status`.
time.sleep(2)
print(f"schema of {path} is up to date")
