"""`vigilctl import-supervisord FILE` (issue 11, item 6): the realistic
supervisord configs of configs/ (a Django/Celery stack with [include] and
[group:x], a queue-worker pool with numprocs and %(process_num)02d, nginx
and php-fpm in a container) and the supervisord.conf of Debian's
supervisor package are converted option by option, what has no equivalent
is a comment and a warning naming its file:line, and `vigild --check`
accepts each result (the commands are fakes first in PATH). One converted
config runs, to show vigil reads the environment and the instance
numbers as supervisord meant them."""

import configparser
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

from vigiltest import VIGILCTL, VIGILD, read_text, wait_for

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
DEBIAN_CACHE = "/var/cache/vigil-tests/supervisor"
FAKE_PROGRAM = "#!/bin/sh\nexec sleep 1000\n"
GROUP_NOTE = "; group shop: programs gunicorn, celeryworker, celerybeat — vigil has no groups; use requires/priority"


def convert(path, env=None):
    return subprocess.run([VIGILCTL, "import-supervisord", path], capture_output=True, text=True, timeout=60,
                          env=env, stdin=subprocess.DEVNULL)


def parse(text):
    """The converted config as {section: {option: value}} (inline comments off)."""
    p = configparser.ConfigParser(interpolation=None, comment_prefixes=(";",), inline_comment_prefixes=(";",),
                                  strict=True)
    p.optionxform = str
    p.read_string(text)
    return {name: dict(p[name]) for name in p.sections()}


def line_of(path, text):
    """The number of the line of path that starts with text."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith(text):
                return n
    raise AssertionError(f"{text!r} not in {path}")


def fake_programs(folder, *names):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(FAKE_PROGRAM)
        os.chmod(path, 0o755)
    return folder


def check(conf_text, folder, path_first=None):
    """vigild --check on conf_text (written to folder/vigil.conf), PATH
    starting with path_first. Without root, `user =` cannot be switched to:
    those lines go."""
    if os.geteuid() != 0:
        conf_text = re.sub(r"(?m)^user = .*\n", "", conf_text)
    conf = os.path.join(folder, "vigil.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    os.chmod(conf, 0o644)
    env = dict(os.environ)
    if path_first:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    r = subprocess.run([VIGILD, "--check", "-c", conf], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, f"vigild --check refused the converted config:\n{r.stderr}\n---\n{conf_text}"


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="vgimp", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def copy_config(name, workdir):
    dst = os.path.join(workdir, name)
    shutil.copytree(os.path.join(CONFIGS, name), dst)
    return dst


def test_django_celery_stack(workdir):
    site = copy_config("django", workdir)
    venv = fake_programs(os.path.join(site, "venv", "bin"), "gunicorn", "celery")
    os.makedirs(os.path.join(site, "app"))
    main, confd = os.path.join(site, "supervisord.conf"), os.path.join(site, "conf.d")
    r = convert(main)
    assert r.returncode == 0, r.stderr
    conf = parse(r.stdout)
    here = os.path.realpath(confd)
    path = f"PATH={here}/../venv/bin:/usr/bin:/bin"
    settings = "DJANGO_SETTINGS_MODULE=shop.settings.production"

    assert conf["vigil"] == {"log_level": "warning"}
    assert conf["program:gunicorn"] == {
        "command": "gunicorn shop.wsgi:application --bind 127.0.0.1:8000 --workers 3 --timeout 60 "
                   "--access-logfile -",
        "directory": f"{here}/../app", "user": "www-data",
        # [supervisord] environment first: every program inherits supervisord's
        "environment": f"LANG=C.UTF-8, PYTHONUNBUFFERED=1, {settings}, {path}, "
                       'DATABASE_URL="postgres://shop:s3cret@db.internal:5432/shop?sslmode=require"',
        "priority": "100", "autostart": "yes", "restart": "always", "start_secs": "5s", "stop_signal": "TERM",
        "stop_timeout": "30s", "kill_group": "yes", "stdout": f"file:{here}/../log/gunicorn.log",
        "stderr": "stdout", "log_max_size": "50M", "log_backups": "10",
    }
    worker = conf["program:celeryworker"]
    assert worker["command"] == f"celery -A shop worker --loglevel=INFO --concurrency=4 -n worker@{socket.gethostname()}"
    assert "; command: expanded where the import ran" in r.stdout
    assert (worker["priority"], worker["stop_timeout"], worker["kill_group"]) == ("1000", "600s", "yes")
    assert (worker["stdout"], worker["stderr"]) == (f"file:{here}/../log/celery-worker.log",
                                                    f"file:{here}/../log/celery-worker.err")
    beat = conf["program:celerybeat"]
    assert beat["priority"] == "999", "no priority: supervisord's 999, as others set theirs"
    assert beat["stderr"] == "stdout", "both streams into one file: one stream"
    assert GROUP_NOTE + " (group priority 999)" in r.stdout.splitlines()
    celery_conf = os.path.join(confd, "celery.conf")
    events_line = line_of(celery_conf, "stdout_events_enabled")
    assert "; not converted: stdout_events_enabled = true (" in r.stdout
    assert (f"{celery_conf}:{events_line}: warning: [program:celerybeat] stdout_events_enabled: not converted"
            in r.stderr), r.stderr
    for section in ("unix_http_server", "rpcinterface:supervisor", "supervisorctl", "group:shop"):
        assert f"{main}:{line_of(main, '[' + section + ']')}: warning: [{section}] not converted" in r.stderr
    assert f"{main}:{line_of(main, 'pidfile')}: warning: [supervisord] pidfile: not converted" in r.stderr
    assert "; not converted: chown = root:www-data" in r.stdout
    check(r.stdout, workdir, venv)


def test_queue_worker_pool(workdir):
    main = os.path.join(copy_config("queue", workdir), "supervisord.conf")
    r = convert(main)
    assert r.returncode == 0, r.stderr
    pool = parse(r.stdout)["program:queue-worker"]
    # vigil expands %(program_name)s and %(process_num)02d itself, per instance
    assert pool["command"] == ("php /srv/app/artisan queue:work redis --sleep=3 --tries=3 --max-time=3600 "
                               "--name=%(program_name)s_%(process_num)02d")
    assert pool["stdout"] == "file:/var/log/queue/worker_%(process_num)02d.log"
    assert {k: pool[k] for k in ("numprocs", "stderr", "log_max_size", "log_backups", "stop_timeout",
                                 "success_exit_codes", "kill_group", "restart")} == {
        "numprocs": "4", "stderr": "stdout", "log_max_size": "10M", "log_backups": "3", "stop_timeout": "3600s",
        "success_exit_codes": "0,2", "kill_group": "yes", "restart": "always"}
    assert ("; not converted: process_name = %(program_name)s_%(process_num)02d "
            "(vigil names the instances queue-worker:0 .. queue-worker:3)") in r.stdout
    assert f"{main}:{line_of(main, 'process_name')}: warning: [program:queue-worker] process_name" in r.stderr
    assert f"{main}:{line_of(main, 'serverurl')}: warning: [program:queue-worker] serverurl" in r.stderr
    check(r.stdout, workdir, fake_programs(os.path.join(workdir, "bin"), "php"))


def test_nginx_and_php_fpm(workdir):
    main = os.path.join(copy_config("web", workdir), "supervisord.conf")
    r = convert(main)
    assert r.returncode == 0, r.stderr
    conf = parse(r.stdout)
    nginx, fpm = conf["program:nginx"], conf["program:php-fpm"]
    assert nginx["command"] == "nginx -g 'daemon off;'", "the ';' in quotes is no comment, the one after is"
    for prog in (nginx, fpm):
        # /dev/stdout: vigild's own output, lines as the programs wrote them
        assert (prog["stdout"], prog["stderr"], prog["output_prefix"]) == ("inherit", "inherit", "no")
        assert (prog["restart"], prog["start_limit_burst"]) == ("never", "1")
        assert "log_max_size" not in prog
    assert (fpm["priority"], nginx["priority"], nginx["stop_signal"]) == ("5", "10", "QUIT")
    assert "; stdout_logfile_maxbytes = 0: no log file in vigil, nothing to rotate" in r.stdout
    assert f"{main}:{line_of(main, '[eventlistener:')}: warning: [eventlistener:exit_on_fatal] not converted" \
        in r.stderr
    assert "; not converted: events = PROCESS_STATE_FATAL" in r.stdout
    assert "warning: [program:nginx] startretries = 0" in r.stderr
    check(r.stdout, workdir, fake_programs(os.path.join(workdir, "bin"), "nginx", "php-fpm8.2"))


def debian_supervisord_conf(workdir):
    """/etc/supervisor/supervisord.conf of Debian's supervisor package,
    downloaded (not installed) once and cached in DEBIAN_CACHE."""
    cached = os.path.join(DEBIAN_CACHE, "supervisord.conf")
    if os.path.exists(cached):
        return cached
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        pytest.skip("apt-get or dpkg-deb missing: cannot fetch Debian's supervisor package")
    dl = os.path.join(workdir, "deb")
    os.mkdir(dl)
    r = subprocess.run(["apt-get", "download", "supervisor"], cwd=dl, capture_output=True, text=True, timeout=300)
    debs = [f for f in os.listdir(dl) if f.endswith(".deb")]
    if r.returncode != 0 or not debs:
        pytest.skip(f"apt-get download supervisor failed (no network or no apt lists?): {r.stderr.strip()[-300:]}")
    subprocess.run(["dpkg-deb", "-x", os.path.join(dl, debs[0]), os.path.join(dl, "root")], check=True, timeout=120)
    conf = os.path.join(dl, "root", "etc", "supervisor", "supervisord.conf")
    try:
        os.makedirs(DEBIAN_CACHE, exist_ok=True)
        shutil.copy(conf, cached + f".{os.getpid()}")
        os.replace(cached + f".{os.getpid()}", cached)  # two builds may fetch at once
        return cached
    except OSError:
        return conf  # no cache (not root): fetched again next time


def test_debian_supervisord_conf(workdir):
    conf = debian_supervisord_conf(workdir)
    r = convert(conf)
    assert r.returncode == 0, r.stderr
    assert parse(r.stdout) == {"vigil": {}}, "Debian's file has no program; its sections are comments"
    for section in ("unix_http_server", "rpcinterface:supervisor", "supervisorctl"):
        assert f"{conf}:{line_of(conf, '[' + section + ']')}: warning: [{section}] not converted" in r.stderr
    assert f"{conf}:{line_of(conf, 'logfile')}: warning: [supervisord] logfile: not converted" in r.stderr
    assert "; not converted: file = /var/run/supervisor.sock" in r.stdout
    if not os.path.isdir("/etc/supervisor/conf.d"):
        assert 'no file matches "/etc/supervisor/conf.d/*.conf"' in r.stderr
    assert "syntax error" not in r.stderr
    check(r.stdout, workdir)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_include_is_relative_to_the_including_file(workdir):
    main = write(os.path.join(workdir, "etc", "supervisord.conf"),
                 "[include]\nfiles = programs/*.ini missing/*.ini\n")
    write(os.path.join(workdir, "etc", "programs", "b.ini"), "[program:b]\ncommand = /bin/true\n")
    nested = write(os.path.join(workdir, "etc", "programs", "a.ini"),
                   "[program:a]\ncommand = /bin/true\n\n[include]\nfiles = ../other.conf\n")
    write(os.path.join(workdir, "etc", "other.conf"), "[program:other]\ncommand = /bin/true\n")
    r = subprocess.run([VIGILCTL, "import-supervisord", "supervisord.conf"], cwd=os.path.dirname(main),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert list(parse(r.stdout)) == ["vigil", "program:a", "program:b"], "the glob's files in order"
    assert f"{nested}:4: warning: [include] in an included file: supervisord ignores it" in r.stderr
    assert "supervisord.conf:2: warning: [include] files: no file matches" in r.stderr
    check(r.stdout, workdir)


def test_expansions(workdir, monkeypatch):
    monkeypatch.setenv("APP_PORT", "8042")
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    main = write(os.path.join(workdir, "supervisord.conf"), (
        "[program:api]\n"
        "command = /bin/echo %(ENV_APP_PORT)s %(numprocs)d %(group_name)s 100%%\n"
        "numprocs = 2\n"
        "process_name = api-%(process_num)d\n"
        "stdout_logfile = %(here)s/api-%(process_num)3d.log\n"
        "[program:gone]\n"
        "command = /bin/echo %(ENV_NOT_SET_HERE)s\n"
        "[program:hex]\n"
        "command = /bin/echo %(process_num)x\n"
        "numprocs = 3\n"
        "[program:odd name]\n"
        "command = /bin/echo %(program_name)s\n"))
    r = convert(main)
    assert r.returncode == 0, r.stderr
    conf = parse(r.stdout)
    assert conf["program:api"]["command"] == "/bin/echo 8042 2 api 100%"
    assert conf["program:api"]["stdout"] == f"file:{os.path.realpath(workdir)}/api-%(process_num)3d.log"
    assert "program:gone" not in conf and "program:hex" not in conf
    assert f"{main}:6: warning: [program:gone] not converted: command: $NOT_SET_HERE is not set" in r.stderr
    assert f"{main}:8: warning: [program:hex] not converted: command: vigil expands %(process_num)d" in r.stderr
    # vigil's names are letters, digits, _ . -: %(program_name)s keeps supervisord's
    assert conf["program:odd_name"]["command"] == "/bin/echo odd name"
    check(r.stdout, workdir)


def test_converted_environment_and_instances_run(vigil):
    """vigild runs what the import wrote: each variable arrives as
    supervisord would have set it, each instance with its own number."""
    out = vigil.path("out")
    main = write(vigil.path("sv", "supervisord.conf"), (
        "[program:env]\n"
        f"command = /bin/sh -c 'printf \"%%s|%%s|%%s|%%s\" \"$A\" \"$B\" \"$C\" \"$D\" > {out}-%(process_num)02d'\n"
        "numprocs = 2\n"
        "process_name = %(program_name)s_%(process_num)02d\n"
        "environment = A=\"a, b\",B=x/y:z+1,C='single quoted',\n"
        "    D=\"say \\ hi\"\n"
        "autorestart = false\n"
        "startsecs = 0\n"))
    r = convert(main)
    assert r.returncode == 0, r.stderr
    assert parse(r.stdout)["program:env"]["environment"] == 'A="a, b", B=x/y:z+1, C="single quoted", D="say \\\\ hi"'
    vigil.start(r.stdout.split("[vigil]\n", 1)[1])
    for n in ("00", "01"):
        wait_for(lambda: os.path.exists(f"{out}-{n}") and read_text(f"{out}-{n}"), what=f"instance {n}'s output")
        assert read_text(f"{out}-{n}") == "a, b|x/y:z+1|single quoted|say \\ hi"


def test_options_without_equivalent(workdir):
    main = write(os.path.join(workdir, "supervisord.conf"), (
        "[program:w]\ncommand = /bin/true\nfrobnicate = 3\nstartsecs = soon\n"
        "[fcgi-program:php]\ncommand = /usr/sbin/php-cgi\nsocket = unix:///run/php.sock\n"
        "[inet_http_server]\nport = 127.0.0.1:9001\n"))
    r = convert(main)
    assert r.returncode == 0, r.stderr
    assert parse(r.stdout)["program:w"] == {"command": "/bin/true"}
    assert f"{main}:3: warning: [program:w] frobnicate: not converted" in r.stderr
    assert "; not converted: frobnicate = 3 (" in r.stdout
    assert f'{main}:4: warning: [program:w] startsecs: not converted ("soon"' in r.stderr
    assert f"{main}:5: warning: [fcgi-program:php] not converted" in r.stderr
    assert f"{main}:8: warning: [inet_http_server] not converted" in r.stderr
    assert r.stderr.rstrip().endswith("1 program converted, 4 warnings")
    check(r.stdout, workdir)


@pytest.mark.parametrize("args, code, message", [
    ([], 2, "import-supervisord needs the supervisord.conf to read"),
    (["a.conf", "b.conf"], 2, 'takes one argument; "b.conf" is one too many'),
    (["/nonexistent/supervisord.conf"], 1, "cannot read /nonexistent/supervisord.conf: No such file"),
])
def test_exit_status(args, code, message):
    r = subprocess.run([VIGILCTL, "import-supervisord", *args], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (code, ""), r
    assert message in r.stderr


def test_help():
    a = subprocess.run([VIGILCTL, "help", "import-supervisord"], capture_output=True, text=True, timeout=60)
    assert a.returncode == 0 and a.stdout.startswith("usage: vigilctl [-s SOCKET] import-supervisord FILE"), a
