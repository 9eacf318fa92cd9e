"""The three services as local processes, each `python -m <service>` with its log."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Sequence

from appeals_tools.stack.kafka import access, environment_of
from appeals_tools.stack.layout import Layout, read_pid, say, wait_until
from appeals_tools.stack.postgres import database_url, password_file

# Each service's default HTTP port; APPEALS_<SERVICE>_PORT moves it (a second stack instance).
SERVICES = {"intake": 8000, "routing": 8001, "deadlines": 8002}


def service_port(name: str) -> int:
    return int(os.environ.get(f"APPEALS_{name.upper()}_PORT", str(SERVICES[name])))


def service_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_follower(layout: Layout) -> None:
    """The provisioner that follows routing.reference-changed (appeals_tools.provisioning)."""
    from appeals_tools.principals import PROVISIONER
    from appeals_tools.stack.secrets import secrets_dir

    if read_pid(layout.pid_file(PROVISIONER)):
        say(f"{PROVISIONER} already running")
        return
    kafka = access(layout, PROVISIONER)
    env = {
        **os.environ,
        "APPEALS_KAFKA_BOOTSTRAP_SERVERS": kafka.kafka_bootstrap_servers,
        "APPEALS_KAFKA_SECRETS_DIR": str(secrets_dir(layout)),
        **({"APPEALS_KAFKA_CA_FILE": str(kafka.kafka_ca_file)} if kafka.kafka_ca_file else {}),
    }
    say(f"starting the {PROVISIONER} (new agencies get their topic, user and ACLs) ...")
    with layout.log_file(PROVISIONER).open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "appeals_tools.provisioning", "follow"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=layout.root,
        )
    layout.pid_file(PROVISIONER).write_text(str(process.pid))


def start_service(layout: Layout, name: str, port: int) -> None:
    pid = read_pid(layout.pid_file(name))
    if pid and service_ready(port):
        say(f"{name} already running (pid {pid}, http://127.0.0.1:{port})")
        return
    say(f"starting {name} on http://127.0.0.1:{port} ...")
    env = {
        **os.environ,
        f"{name.upper()}_PORT": str(port),
        **environment_of(f"{name.upper()}_", access(layout, f"svc-{name}")),
        # Its own role; the password from its file, so it is in neither the URL nor the env.
        f"{name.upper()}_DATABASE_URL": database_url(role=name, secret=False),
        f"{name.upper()}_DATABASE_PASSWORD_FILE": str(password_file(name)),
        f"{name.upper()}_JWT_JWKS_FILE": str(layout.local / "keys" / "jwks.json"),
    }
    with layout.log_file(name).open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", name],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=layout.root,
        )
    layout.pid_file(name).write_text(str(process.pid))


def wait_for_services(layout: Layout, names: Sequence[str]) -> None:
    for name in names:
        port = service_port(name)
        wait_until(
            f"{name} /ready",
            lambda port=port, name=name: (
                service_ready(port) or read_pid(layout.pid_file(name)) is None
            ),
            120,
        )
        if not service_ready(port):
            raise SystemExit(f"appeals-stack: {name} exited; see {layout.log_file(name)}")
        say(f"{name} ready: http://127.0.0.1:{port}/docs")


# ---------------------------------------------------------------- commands
