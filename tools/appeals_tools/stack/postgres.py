"""PostgreSQL for the local stack: Debian's server run as the unprivileged `postgres` user."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from appeals_tools.stack.layout import Layout, apt_install, port_open, say, wait_until


def pg_port() -> int:
    return int(os.environ.get("APPEALS_PG_PORT", "5432"))


def database_url(database: str = "appeals") -> str:
    return f"postgresql://appeals@127.0.0.1:{pg_port()}/{database}"


def pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        apt_install("postgresql")
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent


def pg_data_dir(layout: Layout) -> Path:
    """The project's data folder, unless the `postgres` user cannot reach it (e.g. under /root)."""
    preferred = layout.local / "pg" / "data"
    if os.geteuid() != 0:
        return preferred
    reachable = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(layout.local)],
        check=False,
        capture_output=True,
    )
    if reachable.returncode == 0:
        return preferred
    folder = f"appeals-pg-{uuid.uuid5(uuid.NAMESPACE_URL, str(layout.root)).hex[:8]}"
    return Path("/var/tmp") / folder / "data"


def pg_log_file(layout: Layout) -> Path:
    # Beside the data folder: the server's user must be able to write it.
    return pg_data_dir(layout).parent / "postgres.log"


def as_server_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package brings the unprivileged `postgres` user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres(layout: Layout) -> None:
    data = pg_data_dir(layout)
    if port_open(pg_port()):
        owned = (data / "postmaster.pid").exists()
        say(
            f"postgres already running on 127.0.0.1:{pg_port()}"
            + (f" ({data})" if owned else " (not ours: using it)")
        )
        ensure_database()
        return
    binaries = pg_bin()
    if not (data / "PG_VERSION").exists():
        say(f"initialising a PostgreSQL cluster in {data} (once) ...")
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            shutil.chown(data.parent, "postgres", "postgres")  # .local/pg, for socket and log
        subprocess.run(
            as_server_user(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "appeals",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    socket_dir = data.parent / "socket"
    socket_dir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(socket_dir, "postgres", "postgres")
    log = pg_log_file(layout)
    log.touch()
    if os.geteuid() == 0:
        shutil.chown(log, "postgres", "postgres")
    options = (
        f"-p {pg_port()} -k {socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
        "-c shared_buffers=512MB -c fsync=on -c synchronous_commit=on -c max_wal_size=2GB "
        "-c checkpoint_timeout=15min "
        # Appeals and events are JSON of a few KB, over the TOAST threshold: lz4 compresses
        # them at a fraction of pglz's CPU (bench-routing, where PostgreSQL shares 2 cores).
        "-c default_toast_compression=lz4"
    )
    say(f"starting PostgreSQL on 127.0.0.1:{pg_port()} ...")
    subprocess.run(
        as_server_user(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wait_until("postgres port", lambda: port_open(pg_port()), 30)
    ensure_database()
    say("postgres ready")


def ensure_database() -> None:
    asyncio.run(_ensure_database())


async def _ensure_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url("postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'appeals'"):
            await conn.execute("CREATE DATABASE appeals")
    finally:
        await conn.close()


def stop_postgres(layout: Layout) -> None:
    data = pg_data_dir(layout)
    if not (data / "postmaster.pid").exists():
        return
    say("stopping postgres ...")
    subprocess.run(
        as_server_user([str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------- services
