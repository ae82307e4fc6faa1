"""The Debian package (debian/): `dpkg-buildpackage -us -uc -b` on a clean
copy of the tree builds vigil_*.deb, lintian finds no error in it, and it
installs with `dpkg -i` into this machine as an operator would use it
(vigild --check on the shipped config, vigilctl --version, man pages, the
units' ExecStart=), then `dpkg --purge` removes it again.

One build per run of this file (a module fixture). The machine is left as
it was, also when a test fails half-way: the fixture's finalizer purges the
package and puts back whatever the package's files had replaced (a vigil
installed by hand with `meson install` puts its units and snippets at the
very paths of the package), the systemd enablement symlinks, and removes
group vigil and /run/vigil if the install created them.

Skipped where dpkg-buildpackage or debhelper is missing (scripts/install-deps
installs them), when not root (dpkg -i), or when a vigil package is already
installed (its state could not be restored)."""

import glob
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where dh_installsystemd's enable puts symlinks (multi-user.target.wants/
# and sockets.target.wants/ by [Install] WantedBy=).
SYSTEMD_ETC = "/etc/systemd/system"
BUILD_TIMEOUT = 900


def run(argv, timeout=300, env=None, **kw):
    """argv's CompletedProcess (text, output captured, stdin closed), with
    env's variables added to ours."""
    full_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8", **(env or {}))
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout, env=full_env, **kw)


def project_version():
    with open(os.path.join(SOURCE_ROOT, "meson.build"), encoding="utf-8") as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def changelog_version():
    with open(os.path.join(SOURCE_ROOT, "debian", "changelog"), encoding="utf-8") as f:
        return re.match(r"vigil \(([^)]+)\)", f.readline()).group(1)


def source_files():
    """The tree's files as a fresh clone plus uncommitted work would have
    them: tracked and untracked-but-not-ignored, no build directories."""
    r = run(["git", "-C", SOURCE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if r.returncode != 0:
        pytest.fail(f"git ls-files in {SOURCE_ROOT}: {r.stderr}")
    # A file deleted in the work tree but not yet in the index is listed too.
    return [p for p in r.stdout.split("\0") if p and os.path.lexists(os.path.join(SOURCE_ROOT, p))]


def copy_tree(dest):
    for rel in source_files():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(SOURCE_ROOT, rel), target, follow_symlinks=False)


def build_package(workdir):
    """Copies the tree to workdir/src, builds there; the .deb's path."""
    src = os.path.join(workdir, "src")
    copy_tree(src)
    # No -dbgsym package: nothing here installs it. One job (no parallel=):
    # the other suites run beside this one on the same cores.
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, timeout=BUILD_TIMEOUT,
            env={"DEB_BUILD_OPTIONS": "nocheck noautodbgsym"})
    assert r.returncode == 0, (f"dpkg-buildpackage failed ({r.returncode}):\n"
                               f"{r.stdout[-6000:]}\n{r.stderr[-4000:]}")
    debs = glob.glob(os.path.join(workdir, "vigil_*.deb"))
    assert len(debs) == 1, f"expected one vigil_*.deb in {workdir}, got {os.listdir(workdir)}"
    return debs[0]


def deb_members(deb):
    """The .deb's file system entries: {absolute path: tarfile.TarInfo}."""
    r = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        return {m.name.removeprefix(".").rstrip("/"): m for m in tar.getmembers()
                if m.name not in (".", "./")}


def deb_paths(deb):
    """The absolute paths of the non-directory entries of the .deb."""
    return sorted(p for p, m in deb_members(deb).items() if not m.isdir())


def unit_links():
    """The symlinks enabling vigil's units, wherever [Install] put them."""
    return sorted(glob.glob(os.path.join(SYSTEMD_ETC, "*", "vigil.*")))


def describe(path):
    """What is at path: None, ('link', target), or ('file', mode, sha256)."""
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if not os.path.lexists(path):
        return None
    with open(path, "rb") as f:
        return ("file", os.stat(path).st_mode, hashlib.sha256(f.read()).hexdigest())


def group_exists(name):
    return run(["getent", "group", name]).returncode == 0


class MachineState:
    """What installing and purging the package may change on this machine,
    saved before the install so that restore() can put it back."""

    DIRS = ("/etc/vigil", "/run/vigil")

    def __init__(self, paths, backup_dir):
        self.paths = sorted(set(paths) | set(unit_links()))
        self.backup_dir = backup_dir
        self.before = self.now()
        self.had_group = group_exists("vigil")
        for p, what in self.before.items():
            if what is not None and what[0] != "dir":
                saved = os.path.join(backup_dir, p.lstrip("/"))
                os.makedirs(os.path.dirname(saved), exist_ok=True)
                shutil.copy2(p, saved, follow_symlinks=False)

    def now(self):
        """describe() of every path the package (or its enabling) touches;
        the directories only as there or not."""
        state = {p: describe(p) for p in sorted(set(self.paths) | set(unit_links()))}
        state.update({d: ("dir",) if os.path.isdir(d) else None for d in self.DIRS})
        return state

    def restore(self):
        for p, what in self.before.items():
            if what is None or what[0] == "dir" or describe(p) == what:
                continue
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if os.path.lexists(p):
                os.unlink(p)
            shutil.copy2(os.path.join(self.backup_dir, p.lstrip("/")), p, follow_symlinks=False)
        if not self.had_group and group_exists("vigil"):
            run(["groupdel", "vigil"])
        if self.before["/run/vigil"] is None and os.path.isdir("/run/vigil"):
            shutil.rmtree("/run/vigil", ignore_errors=True)

    def differences(self):
        """[(path, before, now)] where the machine is not as it was."""
        now = self.now()
        diff = [(p, self.before.get(p), now.get(p)) for p in sorted(set(now) | set(self.before))
                if self.before.get(p) != now.get(p)]
        if group_exists("vigil") != self.had_group:
            diff.append(("group vigil", self.had_group, not self.had_group))
        return diff


def purge_and_restore(state):
    """Idempotent: the purge test calls it, the finalizer again."""
    if run(["dpkg-query", "-W", "vigil"]).returncode == 0:
        r = run(["dpkg", "--purge", "vigil"])
        assert r.returncode == 0, f"dpkg --purge vigil: {r.stdout}\n{r.stderr}"
    state.restore()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(workdir, deb): the package built once for this file."""
    missing = [t for t in ("dpkg-buildpackage", "dh", "dpkg-checkbuilddeps") if not shutil.which(t)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: dpkg-dev, debhelper)")
    workdir = str(tmp_path_factory.mktemp("deb"))
    return workdir, build_package(workdir)


@pytest.fixture(scope="module")
def installed(built):
    """The package installed with dpkg -i; purged (and the machine
    restored) when this file's tests are done, passed or not."""
    workdir, deb = built
    if os.geteuid() != 0:
        pytest.skip("dpkg -i needs root")
    if run(["dpkg-query", "-W", "vigil"]).returncode == 0:
        pytest.skip("a vigil package is already installed here; not replacing it")
    state = MachineState(deb_paths(deb), tempfile.mkdtemp(dir=workdir, prefix="backup."))
    try:
        r = run(["dpkg", "-i", deb])
        assert r.returncode == 0, f"dpkg -i {deb}: {r.stdout}\n{r.stderr}"
        yield state
    finally:
        purge_and_restore(state)


def test_changelog_version_is_the_project_version():
    assert changelog_version() == project_version(), "debian/changelog's version must follow meson.build's"


def test_build_names_the_deb_after_the_version(built):
    _, deb = built
    assert os.path.basename(deb).startswith(f"vigil_{project_version()}_")


def test_lintian_reports_no_error(built):
    _, deb = built
    if not shutil.which("lintian"):
        pytest.skip("lintian not installed (Debian: lintian)")
    r = run(["lintian", "--info", "--display-info", deb], timeout=600)
    print(r.stdout)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)
    assert r.returncode in (0, 1), f"lintian failed to run: {r.stderr}"


def test_package_holds_what_meson_installs(built):
    members = deb_members(built[1])
    for p in ("/usr/sbin/vigild", "/usr/bin/vigilctl", "/etc/vigil/vigil.conf",
              "/lib/systemd/system/vigil.service", "/lib/systemd/system/vigil.socket",
              "/usr/lib/tmpfiles.d/vigil.conf", "/usr/lib/sysusers.d/vigil.conf",
              "/usr/share/bash-completion/completions/vigilctl", "/usr/share/zsh/site-functions/_vigilctl",
              "/usr/share/man/man8/vigild.8.gz", "/usr/share/man/man1/vigilctl.1.gz",
              "/usr/share/man/man5/vigil.conf.5.gz",
              # not compressed: the units' Documentation= points at it
              "/usr/share/doc/vigil/README.md"):
        assert p in members, f"{p} missing from the package"
    assert members["/etc/vigil/conf.d"].isdir(), "the empty /etc/vigil/conf.d/ is shipped"


def test_config_is_a_conffile(built):
    r = run(["dpkg-deb", "--info", built[1], "conffiles"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["/etc/vigil/vigil.conf"]


def test_installed_vigild_checks_the_shipped_config(installed):
    r = run(["/usr/sbin/vigild", "--check", "-c", "/etc/vigil/vigil.conf"])
    assert r.returncode == 0, f"vigild --check: {r.returncode}\n{r.stdout}{r.stderr}"
    assert "configuration OK" in r.stdout + r.stderr


def test_installed_vigilctl_reports_the_version(installed):
    r = run(["/usr/bin/vigilctl", "--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"vigilctl {project_version()}"


def test_installed_units_start_the_installed_vigild(installed):
    with open("/lib/systemd/system/vigil.service", encoding="utf-8") as f:
        execs = re.findall(r"^Exec\w+=(\S+)", f.read(), re.M)
    assert "/usr/sbin/vigild" in execs
    for path in execs:
        assert os.access(path, os.X_OK), f"vigil.service runs {path}, which is not there"
    assert os.path.isdir("/etc/vigil/conf.d") and not os.listdir("/etc/vigil/conf.d")
    assert group_exists("vigil"), "postinst creates group vigil (sysusers.d) for vigil.socket"
    assert os.path.isdir("/run/vigil"), "postinst creates /run/vigil (tmpfiles.d)"


def test_installed_man_pages(installed):
    for page in ("man8/vigild.8.gz", "man1/vigilctl.1.gz", "man5/vigil.conf.5.gz"):
        path = os.path.join("/usr/share/man", page)
        r = subprocess.run(["zcat", path], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{path}: {r.stderr}"
        assert re.search(r"^\.TH ", r.stdout, re.M), f"{path} is not a man page"
    if shutil.which("man"):
        r = run(["man", "-w", "vigil.conf"])
        assert r.returncode == 0 and r.stdout.strip(), "man finds vigil.conf(5)"


def test_purge_leaves_the_machine_as_it_was(installed):
    assert os.path.exists("/usr/sbin/vigild")
    purge_and_restore(installed)
    assert run(["dpkg-query", "-W", "vigil"]).returncode != 0, "dpkg forgets vigil on purge"
    assert not installed.differences(), "not as before the install: (path, before, now):\n" + "\n".join(
        map(repr, installed.differences()))
