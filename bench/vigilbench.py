"""Helpers shared by the bench scripts that drive one vigild: limits, the
ctl socket over HTTP, /proc figures, percentiles, perf. Imported by
bench/heartbeat and bench/scale (from this folder; nothing is installed)."""

import http.client
import json
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
CLK_TCK = os.sysconf("SC_CLK_TCK")

class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup

def ensure_built(path, target):
    """Absolute path of a vigild/vigilctl, built with meson/ninja if missing."""
    path = os.path.abspath(path)
    if os.access(path, os.X_OK):
        return path
    build_dir = os.path.dirname(path)
    log(f"{path} is missing: building {target} in {build_dir}")
    try:
        if not os.path.exists(os.path.join(build_dir, "build.ninja")):
            subprocess.run(["meson", "setup", build_dir, "-Dtests=disabled"], cwd=REPO_DIR,
                           check=True, stdout=sys.stderr, timeout=300)
        subprocess.run(["ninja", "-C", build_dir, target], cwd=REPO_DIR, check=True,
                       stdout=sys.stderr, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        raise BenchError(f"cannot build {target}: {e}") from e
    if not os.access(path, os.X_OK):
        raise BenchError(f"build finished but {path} is not there")
    return path


def ensure_vigild(path):
    return ensure_built(path, "vigild")


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


def write_sysctl(path, value):
    try:
        with open(path, "w") as f:
            f.write(f"{value}\n")
        return True
    except OSError as e:
        log(f"cannot write {path}: {e}")
        return False


class Limits:
    """Raises process limits for this process (vigild and its children
    inherit them) and, if needed, the kernel's pid and thread limits."""

    def __init__(self):
        self.restore = {}

    def raise_rlimits(self, nprocs):
        want_files = max(65536, nprocs * 2 + 1024)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < want_files:
            new_hard = hard if hard == resource.RLIM_INFINITY or hard >= want_files else want_files
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want_files, new_hard))
            except (ValueError, OSError):
                try:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                except (ValueError, OSError):
                    pass
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            try:
                resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
            except (ValueError, OSError):
                pass
        soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
        if soft != resource.RLIM_INFINITY and soft < nprocs + 200 and os.geteuid() != 0:
            raise BenchError(f"RLIMIT_NPROC is {soft} and cannot be raised: {nprocs} pingers "
                             "would not fit (run as root or raise `ulimit -u`)")

    def ensure_pids(self, nprocs):
        running = sum(1 for e in os.listdir("/proc") if e.isdigit())
        need = running + nprocs + 2000
        for path, floor in (("/proc/sys/kernel/pid_max", 4194304),
                            ("/proc/sys/kernel/threads-max", 4 * need)):
            cur = read_int(path)
            if cur >= need:
                continue
            new = max(need, min(floor, 4194304)) if path.endswith("pid_max") else max(need, floor)
            log(f"{path} is {cur}, {need} needed: raising it to {new}")
            if not write_sysctl(path, new):
                raise BenchError(f"{path} is {cur} ({running} processes already run): "
                                 f"{nprocs} pingers do not fit and it cannot be raised")
            self.restore.setdefault(path, cur)

    def set_dgram_qlen(self, value):
        path = "/proc/sys/net/unix/max_dgram_qlen"
        cur = read_int(path)
        if value is None or value == cur:
            return cur
        log(f"{path}: {cur} -> {value} (restored at the end)")
        if not write_sysctl(path, value):
            raise BenchError(f"cannot set {path} to {value}")
        self.restore.setdefault(path, cur)
        return value

    def undo(self):
        for path, value in self.restore.items():
            write_sysctl(path, value)
        self.restore.clear()


# ---------------------------------------------------------------- vigild

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def proc_stat_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def proc_status_kb(pid, *keys):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


def machine_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, sum(v[:8])


class Vigild:
    """One vigild in its own directory, logging to vigild.log there."""

    def __init__(self, vigild, top, name, sections):
        self.dir = os.path.join(top, name)
        os.mkdir(self.dir)
        self.sock = os.path.join(self.dir, "vigil.sock")
        self.conf = os.path.join(self.dir, "vigil.conf")
        self.logfile = os.path.join(self.dir, "vigild.log")
        with open(self.conf, "w") as f:
            f.write(f"[vigil]\nsocket = {self.sock}\nlog_level = info\n\n")
            f.write(sections)
        self.log_fd = open(self.logfile, "ab")
        self.proc = subprocess.Popen([vigild, "-c", self.conf], cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self.log_fd, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"vigild exited with status {self.proc.returncode}:\n{self.log_tail()}")

    def wait_socket(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.check_alive()
            if os.path.exists(self.sock):
                try:
                    self.get("/healthz", timeout=5)
                    return
                except (OSError, BenchError, http.client.HTTPException):
                    pass
            time.sleep(0.05)
        raise BenchError(f"vigild's ctl socket {self.sock} did not answer within {timeout}s")

    def get(self, path, timeout=60):
        conn = UnixHTTPConnection(self.sock, timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        if path != "/healthz" and r.status != 200:
            raise BenchError(f"GET {path}: HTTP {r.status}: {body[:200]!r}")
        return body

    def post(self, path, timeout=120):
        conn = UnixHTTPConnection(self.sock, timeout)
        try:
            conn.request("POST", path, body=b"", headers={"Content-Length": "0"})
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        if r.status != 200:
            raise BenchError(f"POST {path}: HTTP {r.status}: {body[:200]!r}")
        return body

    def programs(self, timeout=60):
        return json.loads(self.get("/v1/programs", timeout))["programs"]

    def log_count(self, needle):
        try:
            with open(self.logfile, "rb") as f:
                return sum(1 for line in f if needle in line)
        except OSError:
            return 0

    def log_tail(self, lines=15):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout):
        """SIGTERM, then SIGKILL after timeout s. Returns seconds taken, or None if killed."""
        if self.proc.poll() is not None:
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return time.monotonic() - t0
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.log_fd:
            self.log_fd.close()
            self.log_fd = None


def pinger_pids(exe):
    """Pids of live processes running our pinger (matched by /proc/PID/exe)."""
    pids = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{e}/exe") == exe:
                pids.append(int(e))
        except OSError:
            continue
    return pids


def kill_pingers(exe, wait=10.0):
    """SIGKILLs every process running exe; returns how many there were."""
    total = 0
    end = time.monotonic() + wait
    while True:
        pids = pinger_pids(exe)
        if not pids:
            return total
        total = max(total, len(pids))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > end:
            log(f"{len(pids)} pinger processes would not die")
            return total
        time.sleep(0.1)


def percentile(sorted_vals, q):
    """Nearest-rank percentile (q in 0..100) of a sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q / 100 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def meminfo_available_kb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def perf_samples(data, pids=None):
    """(comm, pid, period ns, frames innermost first as (sym, dso)) per
    sample of `perf script`, only for `pids` if given."""
    cmd = ["perf", "script", "-i", data, "-F", "comm,pid,period,ip,sym,dso"]
    if pids:
        cmd += ["--pid", ",".join(map(str, pids))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    samples, head, frames = [], None, []
    for line in r.stdout.splitlines() + [""]:
        if not line.strip():
            if head:
                samples.append(head + (frames,))
            head, frames = None, []
        elif not line[0].isspace():
            parts = line.split()
            head = (" ".join(parts[:-2]), int(parts[-2]), int(parts[-1]))
        else:
            _, _, rest = line.strip().partition(" ")
            sym, _, dso = rest.rpartition(" (")
            frames.append((sym.split("+0x")[0], os.path.basename(dso.rstrip(")"))))
    return samples


def syscall_of(frames):
    """The system call a sample is in: the frame do_syscall_64 called."""
    names = [f[0] for f in frames]
    if "do_syscall_64" in names and names.index("do_syscall_64") > 0:
        handler = names[:names.index("do_syscall_64")]
        if handler[-1] == "x64_sys_call" and len(handler) > 1:  # the table's dispatcher
            handler.pop()
        return handler[-1]
    if frames and frames[0][1] == "[kernel.kallsyms]":
        return "(kernel, no system call: a fault, an interrupt, a switch)"
    return "(user space)"


def perf_summary(data, pids=None, top=20):
    """Text: CPU time by command, then the top self symbols, system calls
    (inclusive: a sample counts for the syscall its kernel stack is in)
    and innermost 3-frame call chains, in ms and % of the samples kept."""
    samples = perf_samples(data, pids)
    total = sum(s[2] for s in samples) or 1
    by = {"comm": {}, "self": {}, "syscall": {}, "chain": {}}

    def add(kind, key, ns):
        by[kind][key] = by[kind].get(key, 0) + ns

    for comm, _pid, ns, frames in samples:
        add("comm", comm, ns)
        if frames:
            sym, dso = frames[0]
            add("self", f"{dso}  {sym}", ns)
            add("chain", " < ".join(f[0] for f in frames[:3]), ns)
        add("syscall", syscall_of(frames), ns)
    out = [f"{len(samples)} samples, {total / 1e6:.1f} ms of CPU"]
    titles = {"comm": "by command", "self": "self time by symbol", "syscall": "by system call, inclusive",
              "chain": "innermost call chains"}
    for kind, title in titles.items():
        out.append(f"  {title}:")
        for key, ns in sorted(by[kind].items(), key=lambda kv: -kv[1])[:top]:
            out.append(f"    {ns / total:6.1%} {ns / 1e6:9.1f} ms  {key}")
    return "\n".join(out)


def profile(pid, secs, out):
    """perf record -g of vigild for secs; returns a perf_summary (or why not)."""
    perf = shutil.which("perf")
    if not perf:
        return "perf not installed"
    log(f"    perf record -g of vigild for {secs:.0f}s")
    try:
        subprocess.run([perf, "record", "-q", "-g", "-o", out, "-p", str(pid), "--", "sleep", str(secs)],
                       check=True, timeout=secs + 60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return f"{secs:g} s of vigild: " + perf_summary(out, top=12)
    except (OSError, subprocess.SubprocessError) as e:
        return f"perf failed: {e}"


# ---------------------------------------------------------------- /proc, perf

def proc_table():
    """pid -> (ppid, state) for every process."""
    table = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(e)] = (int(fields[1]), fields[0])
    return table


def descendants(root):
    table = proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def exe_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class StackSampler(threading.Thread):
    """Where vigild is, every 2 ms: its state and the top of its kernel
    stack (/proc/PID/stack, root only). perf samples only time on a CPU;
    this shows the time off it too (a sleep in a read, a lock)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.counts, self.done = pid, {}, threading.Event()

    def run(self):
        while not self.done.wait(0.002):
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{self.pid}/stack") as f:
                    frames = [l.split(" ", 1)[1].split("+")[0] for l in f if " " in l]
            except OSError:
                return
            frames = [x for x in frames if not x.startswith(("entry_SYSCALL", "do_syscall_64"))]
            key = f"{state} {' < '.join(frames[:5]) or '(user space)'}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def text(self):
        total = sum(self.counts.values()) or 1
        top = sorted(self.counts.items(), key=lambda kv: -kv[1])[:15]
        return (f"==== where vigild was, {total} samples of /proc/PID/stat state + /proc/PID/stack "
                "every 2 ms (R = running or runnable, S/D = asleep)\n"
                + "\n".join(f"  {n / total:6.1%}  {k}" for k, n in top) + "\n")


class Perf:
    """perf record -a -g around one phase of vigild (--perf-dir). The
    report keeps vigild's own pid, then the workers' pids (the child side
    of each fork before its exec runs as "vigild", after it as the worker),
    so other processes on the machine, other vigilds too, are left out."""

    def __init__(self, out_dir, phase):
        self.data = os.path.join(out_dir, f"perf-{phase}.data")
        self.report = os.path.join(out_dir, f"perf-{phase}.txt")
        self.proc = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o", self.data],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.sampler = None
        time.sleep(1.0)  # perf needs a moment before it records

    def sample(self, pid):
        self.sampler = StackSampler(pid)
        self.sampler.start()

    def finish(self, vigild_pid, worker_pids):
        """Stops perf and the sampler and writes the report."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        if self.sampler:
            self.sampler.done.set()
            self.sampler.join()
        texts = [f"==== vigild itself (pid {vigild_pid}), from perf record -a -g\n"
                 + perf_summary(self.data, [vigild_pid]) + "\n",
                 "==== its children: as \"vigild\" between fork and exec, as the worker after\n"
                 + perf_summary(self.data, worker_pids, top=12) + "\n"]
        if self.sampler:
            texts.insert(0, self.sampler.text())
        with open(self.report, "w") as out:
            out.write("\n".join(texts))
        log(f"    perf report in {self.report}")
