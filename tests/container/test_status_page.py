"""GET / on the http_listen listener: the status page, rendered in headless
Chromium (chromium --headless --dump-dom). It shows every process of a
running vigild with its state, and a FATAL one stands out (its row's
class, which the page's style paints red); program-controlled text
(STATUS=, a health check's error) is shown as text, never as markup."""

import html.parser
import os
import shutil
import subprocess

import pytest

from httplisten import free_port, get, wait_listening
from vigiltest import command, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (Debian: chromium; "
                                                         "scripts/install-deps)")

HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>\"'&amp;"


class Page(html.parser.HTMLParser):
    """The elements of a page that matter here: table rows (class and cell
    texts), every tag seen, the title and the refresh."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.tags, self.title, self.refresh, self.health = [], [], "", None, None
        self._row, self._cell, self._in = None, None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self._in.append((tag, a))
        if tag == "tr" and "class" in a:
            self._row = {"class": a["class"], "cells": []}
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "meta" and a.get("http-equiv") == "refresh":
            self.refresh = a.get("content")
        elif tag == "span" and a.get("id") == "health":
            self.health = a.get("class")

    def handle_endtag(self, tag):
        while self._in and self._in.pop()[0] != tag:
            pass
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in and self._in[-1][0] == "title":
            self.title += data

    def row(self, name):
        found = [r for r in self.rows if r["cells"] and r["cells"][0] == name]
        assert len(found) == 1, f"no single row for {name!r}: {self.rows}"
        return found[0]


def rendered(vigil, url):
    """The DOM Chromium made of url, as a Page."""
    profile = vigil.path("chromium-profile")
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={profile}", "--dump-dom", url],
                       capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "<html" in r.stdout, f"chromium exited {r.returncode}: {r.stderr[-2000:]}"
    return Page(r.stdout)


PROGRAMS = f"""
[program:web]
command = {command('notify-worker', '-i', '100', '--status', 'serving 12 clients')}
start_secs = 0

[program:broken]
command = /bin/false
start_limit_burst = 1
restart_delay = 10ms
"""


@needs_chromium
def test_page_shows_every_process_and_a_fatal_one_stands_out(vigil):
    port = free_port()
    vigil.start(PROGRAMS, vigil_extra=f"http_listen = 127.0.0.1:{port}")
    wait_listening(vigil, port)
    vigil.wait_program("web", lambda p: p["state"] == "RUNNING" and p["status"], "RUNNING with a status")
    vigil.wait_state("broken", "FATAL")
    page = rendered(vigil, f"http://127.0.0.1:{port}/")
    assert [r["cells"][0] for r in page.rows] == list(vigil.programs()), page.rows
    web, broken = page.row("web"), page.row("broken")
    assert web["class"] == "state-running" and web["cells"][1] == "RUNNING", web
    assert web["cells"][2] == str(vigil.program("web")["pid"]) and web["cells"][-1] == "serving 12 clients"
    assert broken["class"] == "state-fatal" and broken["cells"][1] == "FATAL", broken
    assert broken["cells"][5] == "exit 1", broken  # last exit
    assert page.health == "health health-degraded", page.health
    assert int(page.refresh) > 0, "the page refreshes itself"
    assert "script" not in page.tags, "the page has no script"
    # the page's style is what makes the FATAL row red
    raw = get(port, "/")
    assert "tr.state-fatal{background:" in raw.text and ".state-fatal td.state{color:#fff;background:#c62828" in raw.text
    assert raw.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in raw.headers["Content-Security-Policy"]


@needs_chromium
def test_program_text_is_shown_escaped(vigil):
    port = free_port()
    check = vigil.path("check.sh")
    with open(check, "w") as f:
        f.write(f"#!/bin/sh\necho \"{HOSTILE.replace(chr(34), chr(92) + chr(34))}\"\nexit 1\n")
    os.chmod(check, 0o755)
    vigil.start(f"""
[program:evil]
command = {command('notify-worker', '-i', '100', '--status', HOSTILE)}
start_secs = 0
health_check = exec:{check}
health_interval = 100ms
health_retries = 1
health_action = none
""", vigil_extra=f"http_listen = 127.0.0.1:{port}")
    wait_listening(vigil, port)
    p = vigil.wait_program("evil", lambda p: p["status"] == HOSTILE and p["health"]["last_error"],
                           "its hostile STATUS= and a failed check")
    assert HOSTILE in p["health"]["last_error"], p["health"]
    raw = get(port, "/").text
    assert "<script>document" not in raw and "<img" not in raw, raw
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x" in raw
    page = rendered(vigil, f"http://127.0.0.1:{port}/")
    assert "script" not in page.tags and "img" not in page.tags, page.tags
    assert "pwned" not in page.title, page.title
    evil = page.row("evil")
    assert evil["cells"][-1] == HOSTILE, evil  # the text itself, as text
    assert HOSTILE in evil["cells"][6], evil  # the health error
