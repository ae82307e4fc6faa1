"""(c) of bench/heartbeat: N type = notify programs starting at once.

N programs (default 10,000), each its own [program:nK] section with
type = notify, heartbeat_timeout = 3s (--scale-timeout-ms), restart =
always, ready_timeout left at its default (30s), stdout = stderr = null.
Each runs bench/notify-pinger.c (compiled by bench/heartbeat): READY=1 at
once, then WATCHDOG=1 every second, each a plain blocking sendto(2) to
$NOTIFY_SOCKET, as sd_notify() does. vigild autostarts all N.

Measured from the moment vigild is started:
  all RUNNING   the log shows N "ready (READY=1)" lines (read as it grows,
                every 0.25 s), then GET /v1/programs confirms all N
                RUNNING (else it is asked again each second): the end of
                the request that confirmed it.
  ctl latency   a client thread sends GET /v1/programs/nLAST (the program
                started last) every 100 ms from the start until all are
                RUNNING, a new connection each time, timed from connect to
                the last byte (--ctl-timeout each, 10 s). Refused or absent
                socket before the first answer is "not listening yet", not
                a sample; a timeout or error after it is counted.
  steady state  after all RUNNING + --settle: vigild's CPU over --window as
                a share of one core (utime+stime in /proc/PID/stat).
  failures      failed starts ("no READY=1 within" and "failed start" log
                lines), heartbeat misses ("no heartbeat for" lines) and the
                sum of `restarts`, during the start and during the window.
If not all are RUNNING within --notify-timeout (180 s) the case stops
there and reports how far it got (spawned, READY=1 seen, states, misses)
and the ctl latency until then.
"""

import http.client
import os
import statistics
import threading
import time

from vigilbench import BenchError, UnixHTTPConnection, Vigild, log, percentile, proc_stat_ticks

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOG_NEEDLES = {
    "spawned": b": started pid ",
    "ready": b": ready (READY=1)",
    "ready_timeouts": b": no READY=1 within ",
    "failed_starts": b": failed start ",
    "misses": b": no heartbeat for ",
    "fatal": b"giving up (FATAL)",
}


class LogCounter:
    """Counts needles in vigild's log, reading only what was added since."""

    def __init__(self, path):
        self.path, self.offset, self.rest = path, 0, b""
        self.counts = dict.fromkeys(LOG_NEEDLES, 0)

    def update(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return self.counts
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            for key, needle in LOG_NEEDLES.items():
                if needle in line:
                    self.counts[key] += 1
        return self.counts


class CtlPoller(threading.Thread):
    """GET PATH every `every` seconds on a new connection; keeps latencies."""

    def __init__(self, sock, path, every, timeout):
        super().__init__(daemon=True)
        self.sock, self.path, self.every, self.timeout = sock, path, every, timeout
        self.samples, self.errors, self.not_yet = [], [], 0
        self.first_answer = None
        self.done = threading.Event()

    def run(self):
        next_at = time.monotonic()
        while not self.done.is_set():
            t0 = time.monotonic()
            try:
                conn = UnixHTTPConnection(self.sock, self.timeout)
                try:
                    conn.request("GET", self.path)
                    r = conn.getresponse()
                    r.read()
                finally:
                    conn.close()
                took = time.monotonic() - t0
                if r.status != 200:
                    self.errors.append(f"HTTP {r.status}")
                else:
                    self.samples.append(took)
                    if self.first_answer is None:
                        self.first_answer = t0
            except (FileNotFoundError, ConnectionRefusedError):
                if self.first_answer is None:
                    self.not_yet += 1
                else:
                    self.errors.append("refused")
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(type(e).__name__)
            next_at = max(next_at + self.every, time.monotonic())
            self.done.wait(max(0.0, next_at - time.monotonic()))

    def summary(self):
        s = sorted(self.samples)
        return {"count": len(s), "errors": len(self.errors), "not_yet": self.not_yet,
                "error_kinds": sorted(set(self.errors)),
                "p50": statistics.median(s) * 1000 if s else None,
                "p99": percentile(s, 99) * 1000 if s else None, "max": s[-1] * 1000 if s else None}


def notify_sections(n, pinger, args):
    return [f"""[program:n{k}]
command = {pinger} {args.interval_ms}
type = notify
heartbeat_timeout = {args.scale_timeout_ms}ms
restart = always
stop_timeout = 5s
stdout = null
stderr = null
""" for k in range(n)]


def states_of(v, timeout):
    """State histogram and restarts sum from GET /v1/programs, or None if it did not answer."""
    try:
        progs = v.programs(timeout)
    except (OSError, BenchError, http.client.HTTPException, ValueError):
        return None
    states = {}
    for p in progs:
        states[p["state"]] = states.get(p["state"], 0) + 1
    return {"states": states, "restarts": sum(p["restarts"] for p in progs)}


def wait_all_running(v, logc, n, t_start, timeout):
    """Seconds from t_start until GET /v1/programs shows all N RUNNING, or None on timeout."""
    last_log, last_check = time.monotonic(), 0.0
    while True:
        v.check_alive()
        now = time.monotonic()
        counts = logc.update()
        if counts["ready"] >= n and now - last_check >= 1.0:
            last_check = now
            st = states_of(v, max(1.0, t_start + timeout - now))
            if st and st["states"].get("RUNNING", 0) == n:
                return time.monotonic() - t_start
        if now - t_start > timeout:
            return None
        if now - last_log >= 10:
            log(f"    {now - t_start:.0f}s: {counts['spawned']} spawned, {counts['ready']} READY=1, "
                f"{counts['misses']} heartbeat misses, {counts['ready_timeouts']} ready timeouts")
            last_log = now
        time.sleep(0.25)


def run_notify(args, top, vigild_path, pinger, live, limits):
    n = args.notify
    limits.raise_rlimits(n)
    limits.ensure_pids(n)
    log(f"(c) notify start N={n}: type = notify, heartbeat_timeout {args.scale_timeout_ms}ms, "
        f"WATCHDOG=1 every {args.interval_ms}ms, at most {args.notify_timeout:g}s")
    t_start = time.monotonic()
    v = Vigild(vigild_path, top, f"notify-{n}", "\n".join(notify_sections(n, pinger, args)))
    live.append(v)
    poller = CtlPoller(v.sock, f"/v1/programs/n{n - 1}", 0.1, args.ctl_timeout)
    poller.start()
    logc = LogCounter(v.logfile)
    try:
        t_running = wait_all_running(v, logc, n, t_start, args.notify_timeout)
    finally:
        poller.done.set()
        poller.join(args.ctl_timeout + 5)
    res = {"n": n, "t_running": t_running, "ctl": poller.summary(),
           "t_socket": poller.first_answer - t_start if poller.first_answer else None,
           "start_counts": dict(logc.update())}
    if t_running is None:
        log(f"    not all RUNNING within {args.notify_timeout:g}s: asking vigild where it is")
        res["at_timeout"] = states_of(v, 60)
    else:
        log(f"    all {n} RUNNING after {t_running:.1f}s; settling {args.settle:g}s, window {args.window:g}s")
        time.sleep(args.settle)
        before = states_of(v, 60)
        c0 = dict(logc.update())
        ticks0, w0 = proc_stat_ticks(v.pid), time.monotonic()
        time.sleep(args.window)
        ticks1, w1 = proc_stat_ticks(v.pid), time.monotonic()
        c1 = dict(logc.update())
        after = states_of(v, 60)
        res["cpu"] = (ticks1 - ticks0) / CLK_TCK / (w1 - w0)
        res["window"] = w1 - w0
        res["window_counts"] = {k: c1[k] - c0[k] for k in c1}
        res["window_restarts"] = (after["restarts"] - before["restarts"]) if before and after else None
        res["at_end"] = after
    res["stop_s"] = v.stop(args.stop_timeout)
    return res


def print_notify(r, args):
    print(f"\n(c) notify start N={r['n']:,}: type = notify, READY=1 then WATCHDOG=1 every "
          f"{args.interval_ms}ms (plain sendto), heartbeat_timeout {args.scale_timeout_ms}ms, autostart")
    if "error" in r:
        print(f"    FAILED: {r['error']}")
        return
    c = r["start_counts"]
    sock = "never answered" if r["t_socket"] is None else f"first answered {r['t_socket']:.1f}s"
    if r["t_running"] is None:
        print(f"    all RUNNING     NOT within {args.notify_timeout:g}s (timeout): {c['spawned']:,} spawned, "
              f"{c['ready']:,} READY=1 seen by then")
        st = r.get("at_timeout")
        print("    at the timeout  " + ("GET /v1/programs did not answer within 60s" if st is None else
                                        f"states {st['states']}, {st['restarts']} restarts"))
    else:
        print(f"    all RUNNING     after {r['t_running']:.1f}s ({c['spawned']:,} spawns, "
              f"{c['ready']:,} READY=1)")
    k = r["ctl"]
    lat = ("no answers" if not k["count"] else
           f"p50 {k['p50']:.1f} ms   p99 {k['p99']:.1f} ms   max {k['max']:.1f} ms")
    print(f"    ctl latency     GET /v1/programs/n{r['n'] - 1} every 100 ms during the start: {lat} "
          f"({k['count']} answers, {k['errors']} failed"
          + (f" {', '.join(k['error_kinds'])}" if k["error_kinds"] else "") + f"; socket {sock} after the start)")
    print(f"    during start    {c['ready_timeouts']} ready timeouts, {c['failed_starts']} failed starts, "
          f"{c['misses']} heartbeat misses, {c['fatal']} FATAL")
    if "cpu" in r:
        w = r["window_counts"]
        print(f"    steady state    vigild CPU {r['cpu'] * 100:.2f} % of one core over {r['window']:.1f}s; "
              f"in the window {r['window_restarts']} restarts, {w['misses']} heartbeat misses, "
              f"{w['failed_starts']} failed starts")
        if r["at_end"]:
            print(f"    state at end    {r['at_end']['states']}")
    stop = "killed (timeout)" if r["stop_s"] is None else f"{r['stop_s']:.1f}s"
    print(f"    shutdown        vigild exited after SIGTERM in {stop}")
