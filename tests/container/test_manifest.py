"""conf/examples/container's files agree with each other: the Deployment
parses as YAML and probes /healthz and scrapes /metrics on the port of
vigil.conf's http_listen; the Dockerfile builds on Debian 12 with meson,
installs in its runtime stage the libraries vigild and vigilctl link, and
runs vigild with that vigil.conf as PID 1 (its ENTRYPOINT)."""

import json
import re
import shlex
import subprocess

import pytest

from containerconf import DEPLOYMENT, DOCKERFILE, app_port, listen_port, parsed, text, CONF
from vigiltest import VIGILCTL, VIGILD

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (scripts/install-deps)")


def deployment():
    docs = [d for d in yaml.safe_load_all(text(DEPLOYMENT)) if d]
    kinds = [d.get("kind") for d in docs]
    assert "Deployment" in kinds, kinds
    return docs[kinds.index("Deployment")]


def container(dep):
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def test_config_passes_check(vigil):
    r = subprocess.run([VIGILD, "--check", "-c", CONF], capture_output=True, text=True, timeout=60,
                       env=vigil.env())
    assert r.returncode == 0, r.stderr
    conf = parsed()
    assert conf["program:app"]["critical"] == "yes"
    assert conf["vigil"]["http_listen"].startswith("0.0.0.0:"), "the kubelet probes the pod's address"


def test_probes_and_scrape_point_at_http_listen():
    dep, port = deployment(), listen_port()
    assert dep["apiVersion"] == "apps/v1"
    c = container(dep)
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["port"] == port, (probe, get)
    notes = dep["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert notes["prometheus.io/path"] == "/metrics"
    assert int(notes["prometheus.io/port"]) == port
    ports = {p["containerPort"] for p in c["ports"]}
    assert {port, app_port()} <= ports, ports
    labels = dep["spec"]["selector"]["matchLabels"]
    assert labels.items() <= dep["spec"]["template"]["metadata"]["labels"].items()


def test_grace_period_covers_the_stop_timeouts():
    """Kubernetes SIGKILLs after terminationGracePeriodSeconds: vigild must
    have stopped every program by then (each within stop_timeout, 10 s by
    default, one after another in the worst case)."""
    conf = parsed()
    total = 0
    for section in conf.sections():
        if section.startswith("program:"):
            value = conf[section].get("stop_timeout", "10s")
            assert value.endswith("s") and value[:-1].isdigit(), value
            total += int(value[:-1])
    assert deployment()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > total


def instructions():
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text(DOCKERFILE))
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages():
    """[(FROM argument, [(INSTRUCTION, arguments), ...]), ...]"""
    out = []
    for word, rest in instructions():
        if word == "FROM":
            out.append((rest, []))
        else:
            out[-1][1].append((word, rest))
    return out


def apt_packages(stage):
    pkgs = set()
    for word, rest in stage[1]:
        if word == "RUN" and "apt-get install" in rest:
            after = rest.split("apt-get install", 1)[1].split("&&")[0]
            pkgs |= {w for w in shlex.split(after) if not w.startswith("-")}
    return pkgs


def needed_packages(binary):
    """The Debian packages of the libraries binary links directly
    (ELF NEEDED), but sanitizer runtimes and libc6."""
    dyn = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"^\s*NEEDED\s+(\S+)", dyn, re.M)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    where = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    out = set()
    for lib in needed:
        if re.match(r"lib(a|ub|l|t)san", lib) or lib.startswith(("libc.so", "libm.so")):
            continue
        owner = subprocess.run(["dpkg", "-S", where[lib]], capture_output=True, text=True)
        if owner.returncode != 0:  # /lib vs /usr/lib (merged /usr)
            owner = subprocess.run(["dpkg", "-S", where[lib].replace("/lib/", "/usr/lib/", 1)],
                                   capture_output=True, text=True)
        assert owner.returncode == 0, f"no package owns {where[lib]}: {owner.stderr}"
        out.add(owner.stdout.split(":")[0])
    return out


def test_dockerfile_builds_with_meson_and_runs_vigild_as_pid1():
    st = stages()
    assert len(st) == 2, [s[0] for s in st]
    build, runtime = st
    assert re.match(r"debian:12\S* AS build", build[0], re.I), build[0]
    assert runtime[0].startswith("debian:12"), runtime[0]
    assert "meson" in apt_packages(build)
    assert any(w == "RUN" and "meson setup" in r and "meson install" in r for w, r in build[1])
    entry = [json.loads(r) for w, r in runtime[1] if w == "ENTRYPOINT"]
    assert entry == [["/usr/sbin/vigild", "-c", "/etc/vigil/vigil.conf"]], entry
    copies = [r for w, r in runtime[1] if w == "COPY"]
    assert any(r.endswith("conf/examples/container/vigil.conf /etc/vigil/vigil.conf") for r in copies), copies
    assert any("/usr/sbin/vigild" in r for r in copies) and any("/usr/bin/vigilctl" in r for r in copies)
    exposed = {int(p) for w, r in runtime[1] if w == "EXPOSE" for p in r.split()}
    assert listen_port() in exposed and app_port() in exposed, exposed
    assert "python3" in apt_packages(runtime), "the app of vigil.conf runs /usr/bin/python3"


@pytest.mark.skipif(subprocess.run(["which", "objdump"], capture_output=True).returncode != 0,
                    reason="objdump (binutils) is not installed")
def test_runtime_stage_installs_what_the_binaries_link():
    runtime = apt_packages(stages()[1])
    for binary in (VIGILD, VIGILCTL):
        missing = needed_packages(binary) - runtime
        assert not missing, f"{binary} links libraries of {sorted(missing)}, not installed in the runtime stage"
