"""`make edge`: gunicorn as `make run` serves it, with nginx and deploy/nginx.conf in front.

Both run as children of this process and stop together: Ctrl-C or SIGTERM stops both, and when
either exits the other is stopped, so no half of the pair is left holding a port. nginx runs as
the current user with a prefix of its own (pid, cache, temporary files, access log), by default
a temporary directory removed on exit; the shipped configuration is used as it is except for
the two lines it marks, the port nginx listens on and gunicorn's address.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
_LISTEN = re.compile(r"^(\s*)listen\s+[^;]+;(\s*# edge:listen)$", re.M)
_UPSTREAM = re.compile(r"^(\s*)server\s+[^;]+;(\s*# edge:upstream)$", re.M)


class EdgeError(Exception):
    """The edge cannot start: no nginx, or a configuration without its marked lines."""


def render_config(text: str, listen: str, upstream: str) -> str:
    """The shipped configuration with its marked listen and upstream lines set to these addresses."""
    for pattern, name in ((_LISTEN, "edge:listen"), (_UPSTREAM, "edge:upstream")):
        if len(pattern.findall(text)) != 1:
            raise EdgeError(f"{CONFIG} must have exactly one line marked '# {name}'")
    text = _LISTEN.sub(lambda m: f"{m[1]}listen {listen};{m[2]}", text)
    return _UPSTREAM.sub(lambda m: f"{m[1]}server {upstream};{m[2]}", text)


def find_nginx() -> str:
    """nginx's path: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise EdgeError("nginx is not installed: `make edge` installs it (apt-get install nginx)")
    return found


def prepare_prefix(prefix: Path, listen: str, upstream: str) -> Path:
    """Write the rendered configuration into `prefix`; its path, for `nginx -p prefix -c path`."""
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(render_config(CONFIG.read_text(encoding="utf-8"), listen, upstream), encoding="utf-8")
    return config


def nginx_command(prefix: Path, config: Path) -> list[str]:
    """In the foreground (`daemon off`), so that this process is its parent and sees it end.

    Started by root, nginx would run its workers as `nobody`, who cannot enter a private
    temporary prefix: they run as the current user, as they do for anyone else.
    """
    directives = "daemon off;"
    if os.geteuid() == 0:
        directives += f" user {pwd.getpwuid(os.geteuid()).pw_name};"
    return [find_nginx(), "-p", f"{prefix}/", "-c", str(config), "-g", directives]


def gunicorn_command() -> list[str]:
    """What `make run` runs, from the same virtualenv as this Python."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        "python:server.gunicorn_conf",
        "server:create_app()",
    ]


def run_pair(commands: dict[str, list[str]], env: dict[str, str]) -> int:
    """Start every command; when one exits or we are told to stop, stop the rest. Exit status."""
    children: dict[str, subprocess.Popen] = {}
    status = 0
    try:
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, env=env)
        while True:
            ended = {name: child.returncode for name, child in children.items() if child.poll() is not None}
            if ended:
                name, code = next(iter(ended.items()))
                print(f"edge: {name} exited with status {code}; stopping the rest", file=sys.stderr)
                status = code or 1
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return status


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, a test, `kill`) stops the pair the way Ctrl-C does."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main() -> int:
    env = dict(os.environ)
    env.setdefault("EVENTDESK_TRUSTED_PROXIES", "1")  # nginx sets X-Forwarded-*: believe that one hop
    host = env.get("HOST", "127.0.0.1")
    listen = f"{host}:{env.get('EDGE_PORT', '8080')}"
    wildcard = host in ("0.0.0.0", "::", "")  # noqa: S104 - recognised here, not bound to
    app_host = "127.0.0.1" if wildcard else host  # where nginx connects to gunicorn
    upstream = f"{app_host}:{env.get('PORT', '5000')}"
    kept = env.get("EDGE_PREFIX")
    prefix = Path(kept).resolve() if kept else Path(tempfile.mkdtemp(prefix="eventdesk-edge-"))
    _stop_on_sigterm()
    try:
        config = prepare_prefix(prefix, listen, upstream)
        commands = {"gunicorn": gunicorn_command(), "nginx": nginx_command(prefix, config)}
    except EdgeError as error:
        print(f"edge: {error}", file=sys.stderr)
        return 1
    print(f"Serving on http://{listen}/ (nginx, cache and log in {prefix}) in front of http://{upstream}/", flush=True)
    try:
        return run_pair(commands, env)
    finally:
        if not kept:
            shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
