"""vigil.service under a real systemd: a Debian 12 root (debootstrap
minbase with systemd and vigil's runtime libraries, cached as a tarball
under /var/cache/vigil-tests/) gets this build by `meson install
--destdir`, is booted with `systemd-nspawn -b`, and is checked from
inside (nsenter into the container's namespaces) as an operator would:
the service active with its STATUS= summary, a `type = notify` program's
READY, `systemctl reload` with a good and a bad config, the watchdog
restart of a SIGSTOPped vigild, `systemctl stop` leaving the cgroup empty,
and vigil.socket starting the service on a vigilctl call.

The host's PID 1 is not systemd and its /run is no tmpfs: a tmpfs goes on
/run/systemd/nspawn (nspawn keeps its locks and propagation mounts there)
and the container is not registered with machined (--register=no
--keep-unit). systemd and systemd-tmpfiles only ever run inside the
container's root, never against the host's (the boot-time cleanup would
empty the host's /tmp).

Skipped when not root, without debootstrap or systemd-nspawn
(scripts/install-deps installs them), when the mirror cannot be reached to
build the root the first time, or when the container does not boot here.
The tests share one container (module fixture) and run in file order."""

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

from vigiltest import SANITIZER_VARS, VIGILD, W, wait_for
from vigiltest.procs import SANITIZER_MARKERS

CACHE_DIR = "/var/cache/vigil-tests"
# procps: /bin/kill, which vigil.service's ExecReload= runs (and pgrep)
PACKAGES = "systemd,systemd-sysv,dbus,procps,libevent-2.1-7,libinih1,libjansson4,libsystemd0,libcurl4"
SUITE = "bookworm"
NSPAWN_RUN = "/run/systemd/nspawn"
DEBOOTSTRAP_TIMEOUT = 900
BOOT_TIMEOUT = 120
# Inside the container, what waits on systemd (a start, a watchdog restart).
UNIT_TIMEOUT = 60


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout, **kw)


def apt_mirror():
    """The Debian mirror apt already uses for SUITE: the first deb source
    (one-line or deb822) whose suites include it, or None."""
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for path in files:
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
            if m.group(2) == SUITE:
                return m.group(1)
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", "").split():
                return fields.get("URIs", "").split()[0]
    return None


def mirror_reachable(mirror):
    try:
        with urllib.request.urlopen(f"{mirror.rstrip('/')}/dists/{SUITE}/Release", timeout=15) as r:
            return r.status == 200
    except OSError:
        return False


def rootfs_tarball():
    """The cached root's tarball, built once (under a lock: the plain and
    the sanitizer build may run this file at the same time)."""
    key = hashlib.sha256(f"{SUITE} minbase {PACKAGES}".encode()).hexdigest()[:12]
    tarball = os.path.join(CACHE_DIR, f"debian-{SUITE}-minbase-{key}.tar")
    os.makedirs(CACHE_DIR, exist_ok=True)
    with open(tarball + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(tarball):
            return tarball
        mirror = apt_mirror()
        if not mirror:
            pytest.skip(f"no deb source for {SUITE} in /etc/apt/sources.list*")
        if not mirror_reachable(mirror):
            pytest.skip(f"the mirror {mirror} cannot be reached to debootstrap a root")
        work = tempfile.mkdtemp(prefix="bootstrap.", dir=CACHE_DIR)
        try:
            root = os.path.join(work, "root")
            r = run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, root, mirror],
                    timeout=DEBOOTSTRAP_TIMEOUT)
            if r.returncode != 0:
                pytest.fail(f"debootstrap failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
            r = run(["tar", "-C", root, "--numeric-owner", "-cf", tarball + ".part", "."], timeout=300)
            assert r.returncode == 0, r.stderr
            os.rename(tarball + ".part", tarball)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tarball


def build_dir():
    """The build directory of the running suite: where $VIGILD lives, or
    the nearest folder above with meson-private/."""
    d = os.path.dirname(os.path.abspath(VIGILD))
    while d != "/" and not os.path.isdir(os.path.join(d, "meson-private")):
        d = os.path.dirname(d)
    assert d != "/", f"no meson build directory above {VIGILD}"
    return d


def copy_missing_libraries(root, binaries):
    """Libraries of the build the root lacks (the sanitizer runtimes of an
    ASan build) come from the host, the same Debian release."""
    for binary in binaries:
        for line in run(["ldd", binary]).stdout.splitlines():
            m = re.search(r"=>\s+(/\S+)", line)
            if not m:
                continue
            # under the name the loader looks for (the soname), whatever
            # symlinks lead there on the host
            dest = root + os.path.join(os.path.realpath(os.path.dirname(m.group(1))), os.path.basename(m.group(1)))
            if not os.path.exists(dest):
                shutil.copy2(m.group(1), dest)


def unit_config_path(root):
    """The config vigil.service runs vigild with (its ExecStart's -c)."""
    for unit_dir in ("lib/systemd/system", "usr/lib/systemd/system", "usr/local/lib/systemd/system"):
        path = os.path.join(root, unit_dir, "vigil.service")
        if os.path.exists(path):
            text = open(path, encoding="utf-8").read()
            m = re.search(r"^ExecStart=(\S+) -c (\S+)", text, re.M)
            assert m, text
            assert os.path.exists(root + m.group(1)), f"ExecStart= {m.group(1)} is not installed in the root"
            return os.path.join(unit_dir, "vigil.service"), m.group(2), os.path.dirname(m.group(1))
    pytest.fail("meson install put no vigil.service in the root")


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


class Container:
    """A booted systemd-nspawn container and how to run commands in it."""

    def __init__(self, root, conf, bindir):
        self.root, self.conf, self.bindir = root, conf, bindir
        self.log_path = root + ".console"
        self.nspawn = None
        self.pid1 = None

    def boot(self):
        self.log = open(self.log_path, "w")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", self.root, "-b", "--register=no", "--keep-unit",
             f"--machine=vigiltest{os.getpid()}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid1 = wait_for(self.find_pid1, timeout=BOOT_TIMEOUT, what="the container's PID 1")
        state = wait_for(self.system_state, timeout=BOOT_TIMEOUT, what=lambda: "the container's systemd to be up: "
                         + self.console())
        return state

    def console(self):
        return open(self.log_path, errors="replace").read()[-4000:]

    def find_pid1(self):
        if self.nspawn.poll() is not None:
            pytest.skip(f"systemd-nspawn cannot boot here (exit {self.nspawn.returncode}): {self.console()}")
        for task in os.listdir(f"/proc/{self.nspawn.pid}/task"):
            for child in open(f"/proc/{self.nspawn.pid}/task/{task}/children").read().split():
                if open(f"/proc/{child}/comm").read().strip() == "systemd":
                    return int(child)
        return None

    def system_state(self):
        if self.nspawn.poll() is not None:
            pytest.skip(f"systemd-nspawn cannot boot here (exit {self.nspawn.returncode}): {self.console()}")
        state = self.sh("systemctl is-system-running").stdout.strip()
        return state if state in ("running", "degraded") else None

    def sh(self, script, timeout=UNIT_TIMEOUT):
        """script run by /bin/sh inside the container (all its namespaces
        and its root)."""
        return run(["nsenter", "-t", str(self.pid1), "-a", "/usr/bin/env", "-i",
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "/bin/sh", "-c", script], timeout=timeout)

    def ok(self, script, timeout=UNIT_TIMEOUT):
        r = self.sh(script, timeout)
        assert r.returncode == 0, (f"{script}: exit {r.returncode}\n{r.stdout}\n{r.stderr}\n"
                                   + self.sh("journalctl -u vigil -n 40 --no-pager").stdout)
        return r.stdout

    def show(self, unit, prop):
        return self.ok(f"systemctl show -P {prop} {unit}").strip()

    def poweroff(self):
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        if self.pid1:
            self.sh("systemctl poweroff --no-block")
        try:
            self.nspawn.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.nspawn.send_signal(signal.SIGKILL)
            self.nspawn.wait(timeout=30)


def mount_nspawn_tmpfs():
    """nspawn wants a tmpfs at /run/systemd/nspawn. It stays mounted (empty
    once the containers are gone): the other build's run of this file may
    be using it at the same time."""
    os.makedirs(NSPAWN_RUN, exist_ok=True)
    if os.path.ismount(NSPAWN_RUN):
        return
    r = run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", NSPAWN_RUN])
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on {NSPAWN_RUN}: {r.stderr}")


# The notify program: notify-worker of tests/workers, copied into the root,
# sends READY=1 and STATUS= from its main pid with libsystemd's sd_notify.
# (A shell script calling `vigilctl ping --ready` needs notify_access = all,
# and vigild drops the datagram when vigilctl has exited before vigild
# looks up its process group: a race seen here on the first boot.)
NOTIFY_WORKER = "/opt/vigil-test/notify-worker"


def vigil_config(extra=""):
    return ("[vigil]\nsocket = /run/vigil/vigil.sock\nsocket_mode = 0660\nlog_level = info\n\n"
            "[program:plain]\ncommand = /bin/sleep 100001\n\n"
            f"[program:ready]\ncommand = {NOTIFY_WORKER} -o /var/tmp/ready.events --ready-after 300 --status serving\n"
            "type = notify\nready_timeout = 20s\n" + extra)


@pytest.fixture(scope="module")
def box():
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, mount, systemd-nspawn)")
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "tar"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing (scripts/install-deps installs debootstrap and systemd-container)")
    started = time.monotonic()
    tarball = rootfs_tarball()
    work = tempfile.mkdtemp(prefix="container.", dir=CACHE_DIR)
    root = os.path.join(work, "root")
    os.mkdir(root)
    c = lock = None
    try:
        r = run(["tar", "-C", root, "--numeric-owner", "-xf", tarball], timeout=300)
        assert r.returncode == 0, r.stderr
        r = run(["meson", "install", "--no-rebuild", "--quiet", "--destdir", root, "-C", build_dir()], timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        unit, conf, bindir = unit_config_path(root)
        c = Container(root, conf, bindir.replace("sbin", "bin"))
        os.makedirs(os.path.dirname(root + NOTIFY_WORKER))
        shutil.copy2(W("notify-worker"), root + NOTIFY_WORKER)
        write(root + conf, vigil_config())
        # enabled as a package would enable it: started at boot
        wants = root + "/etc/systemd/system/multi-user.target.wants"
        os.makedirs(wants, exist_ok=True)
        os.symlink("/" + unit, wants + "/vigil.service")
        copy_missing_libraries(root, [VIGILD, os.path.join(build_dir(), "vigilctl"), W("notify-worker")])
        sanitizer_env = " ".join(f'"{v}={os.environ[v]}"' for v in SANITIZER_VARS if v in os.environ)
        if sanitizer_env:
            write(root + "/etc/systemd/system/vigil.service.d/sanitizer.conf",
                  f"[Service]\nEnvironment={sanitizer_env}\n")
        mount_nspawn_tmpfs()
        # One container at a time: with --keep-unit and no systemd on the
        # host, every container's systemd takes the host's cgroup root as
        # its own, so two would share /system.slice/vigil.service.
        lock = open(os.path.join(CACHE_DIR, "container.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        c.prepared_s = time.monotonic() - started
        c.boot()
        c.booted_s = time.monotonic() - started
        print(f"root ready in {c.prepared_s:.1f}s, booted in {c.booted_s:.1f}s")
        yield c
    finally:
        if c is not None:
            c.poweroff()
        if lock is not None:
            lock.close()
        shutil.rmtree(work, ignore_errors=True)


def wait_active(box, unit="vigil.service"):
    return wait_for(lambda: box.show(unit, "ActiveState") == "active", timeout=UNIT_TIMEOUT,
                    what=lambda: f"{unit} active: " + box.sh(f"systemctl status --no-pager {unit}").stdout)


def programs(box):
    """name -> (state, pid) from vigilctl status --json in the container."""
    doc = json.loads(box.ok(f"{box.bindir}/vigilctl status --json"))
    return {p["name"]: (p["state"], p["pid"]) for p in doc["programs"]}


def wait_running(box, *names):
    return wait_for(lambda: (lambda p: p if all(p.get(n, ("",))[0] == "RUNNING" for n in names) else None)(
        programs(box)), timeout=UNIT_TIMEOUT, what=f"{names} RUNNING")


def test_service_active_with_status_summary(box):
    wait_active(box)
    status = wait_for(lambda: (lambda s: s if s.startswith("2 running") else None)(
        box.show("vigil.service", "StatusText")), timeout=UNIT_TIMEOUT, what="STATUS= summary")
    assert status == "2 running, 0 backoff, 0 fatal"


def test_notify_program_reaches_ready(box):
    procs = wait_running(box, "plain", "ready")
    out = box.ok(f"{box.bindir}/vigilctl status ready")
    assert "RUNNING" in out and "serving" in out, out
    assert procs["ready"][1] > 0


def test_reload_good_then_bad_config(box):
    before = wait_running(box, "plain", "ready")
    write(box.root + box.conf, vigil_config("\n[program:added]\ncommand = /bin/sleep 100002\n"))
    box.ok("systemctl reload vigil")
    after = wait_running(box, "plain", "ready", "added")
    assert after["plain"][1] == before["plain"][1] and after["ready"][1] == before["ready"][1]

    write(box.root + box.conf, vigil_config("bogus_option = 1\n"))
    r = box.sh("systemctl reload vigil")
    assert r.returncode != 0, "reload with a bad config succeeded"
    assert programs(box) == after, "a failed reload changed the programs"
    assert box.show("vigil.service", "ActiveState") == "active"
    journal = box.ok("journalctl -u vigil -p err --no-pager -o cat")
    assert re.search(re.escape(box.conf) + r":\d+", journal), journal

    write(box.root + box.conf, vigil_config())
    box.ok("systemctl reload vigil")
    wait_for(lambda: "added" not in programs(box), timeout=UNIT_TIMEOUT, what="added gone after reload")


def test_watchdog_restarts_a_stopped_vigild(box):
    assert box.show("vigil.service", "WatchdogUSec") == "30s"
    write(box.root + "/etc/systemd/system/vigil.service.d/watchdog.conf",
          "[Service]\nWatchdogSec=3s\n# no core file of the SIGABRT in the test root\nLimitCORE=0\n")
    box.ok("systemctl daemon-reload && systemctl restart vigil")
    wait_active(box)
    assert box.show("vigil.service", "WatchdogUSec") == "3s"
    wait_running(box, "plain", "ready")
    pid = int(box.show("vigil.service", "MainPID"))
    restarts = int(box.show("vigil.service", "NRestarts"))
    box.ok(f"kill -STOP {pid}")
    wait_for(lambda: int(box.show("vigil.service", "NRestarts")) > restarts
             and box.show("vigil.service", "ActiveState") == "active"
             and int(box.show("vigil.service", "MainPID")) not in (0, pid),
             timeout=UNIT_TIMEOUT, what="the watchdog restart of vigil.service")
    journal = box.ok("journalctl -u vigil --no-pager -o cat")
    assert "Watchdog timeout" in journal, journal[-3000:]
    wait_running(box, "plain", "ready")
    box.ok("rm /etc/systemd/system/vigil.service.d/watchdog.conf && systemctl daemon-reload")


def cgroup_pids(box, cgroup):
    """The pids in cgroup and below it, in every hierarchy mounted in the
    container (here a hybrid one: name=systemd and the unified one)."""
    return box.ok(f"find /sys/fs/cgroup -path '*{cgroup}*' -name cgroup.procs -exec cat {{}} +").split()


def test_stop_leaves_nothing_in_the_cgroup(box):
    procs = wait_running(box, "plain", "ready")
    cgroup = box.show("vigil.service", "ControlGroup")
    pids = cgroup_pids(box, cgroup)
    # pids here are the container's: vigild and both programs are in it
    assert {str(procs["plain"][1]), str(procs["ready"][1]), box.show("vigil.service", "MainPID")} <= set(pids)
    box.ok("systemctl stop vigil")
    assert box.show("vigil.service", "ActiveState") == "inactive"
    assert cgroup_pids(box, cgroup) == []
    r = box.sh("pgrep -l -x 'vigild|sleep|notify-worker'")
    assert r.returncode == 1, "pgrep found (exit 1 is none): " + r.stdout + r.stderr


def test_stop_leaves_nothing_for_systemd_to_kill(box):
    """The stop of the test before: everything ended before vigild did,
    systemd had nothing left to SIGKILL."""
    journal = box.ok("journalctl -u vigil --no-pager -o cat -n 20")
    assert "with signal SIGKILL" not in journal, journal


def test_socket_activation_by_vigilctl(box):
    box.ok("systemctl stop vigil.service && systemctl start vigil.socket")
    assert box.show("vigil.service", "ActiveState") == "inactive"
    assert box.show("vigil.socket", "ActiveState") == "active"
    r = box.sh(f"{box.bindir}/vigilctl status")
    assert r.returncode in (0, 3), r.stdout + r.stderr
    wait_active(box)
    wait_running(box, "plain", "ready")


def test_no_sanitizer_report_in_the_journal(box):
    """Under the sanitizer build, vigild ran in the container with the
    suite's ASAN_OPTIONS/UBSAN_OPTIONS (the drop-in sanitizer.conf)."""
    journal = box.ok("journalctl --no-pager -o cat")
    assert not [m for m in SANITIZER_MARKERS if m in journal], journal[-6000:]
