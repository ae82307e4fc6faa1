"""conf/examples/container: its files, and its vigil.conf adapted to run in
a test's folder (the ctl socket, /srv/www and the ports moved; nothing
else changed)."""

import configparser
import os
import re

EXAMPLE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "conf", "examples", "container"))
CONF = os.path.join(EXAMPLE, "vigil.conf")
DOCKERFILE = os.path.join(EXAMPLE, "Dockerfile")
DEPLOYMENT = os.path.join(EXAMPLE, "deployment.yaml")


def text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def parsed(conf_text=None):
    """The config as an INI (section -> {option: value})."""
    p = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";", "#"),
                                  interpolation=None)
    p.read_string(conf_text if conf_text is not None else text(CONF))
    return p


def listen_port(conf_text=None):
    return int(parsed(conf_text)["vigil"]["http_listen"].rsplit(":", 1)[1])


def app_port(conf_text=None):
    """The port the app serves on (its health_check's)."""
    return int(re.search(r":(\d+)/", parsed(conf_text)["program:app"]["health_check"]).group(1))


def adapted(vigil, listen, app, app_command=None, extra=""):
    """The example's text for a test: socket in vigil's folder, /srv/www
    there too, the listener on port listen, the app on port app; as root
    the app still runs as nobody (otherwise as the test's user).
    app_command replaces the app's command; extra is appended."""
    www = vigil.path("www")
    os.makedirs(www, exist_ok=True)
    os.chmod(www, 0o755)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("hello from the container example\n")
    conf = text(CONF)
    old_listen, old_app = listen_port(conf), app_port(conf)
    conf = conf.replace("/run/vigil/vigil.sock", vigil.sock).replace("/srv/www", www)
    conf = conf.replace(f":{old_listen}", f":{listen}").replace(f" {old_app} ", f" {app} ")
    conf = conf.replace(f":{old_app}/", f":{app}/")
    if os.geteuid() != 0:
        conf = re.sub(r"^user = .*\n", "", conf, flags=re.M)
    if app_command:
        conf = re.sub(r"(\[program:app\]\ncommand = ).*", lambda m: m.group(1) + app_command, conf)
    conf += extra
    with open(vigil.conf, "w") as f:
        f.write(conf)
    return conf
