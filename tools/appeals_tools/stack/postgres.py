"""PostgreSQL for the local stack: Debian's server run as the unprivileged `postgres` user.

Least privilege: every connection needs a password (scram-sha-256, local socket and TCP
alike). The admin role `appeals` only sets things up; each service has a login role of its
own name that owns its schema and everything in it (its migrations run as that role) and
has no privilege on the other services' schemas, so it cannot read their tables. Passwords
are generated once per checkout into `.local/secrets/pg-<role>` (mode 0600; `.local/` is
never committed); services read theirs from `<P>_DATABASE_PASSWORD_FILE`.

A cluster made by an older checkout (`trust` for everyone) is upgraded in place at `up`: the
admin gets its password, pg_hba.conf is rewritten to scram-sha-256, the server reloads.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import asyncpg

from appeals_tools.stack.layout import (
    Layout,
    apt_install,
    port_open,
    project_root,
    say,
    wait_until,
)

ADMIN = "appeals"
DATABASE = "appeals"
# Each service's login role is named after its schema.
SERVICE_ROLES = ("intake", "routing", "deadlines")
HBA = """\
# Written by appeals-stack: every connection needs a password, on the socket and over TCP.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


def pg_port() -> int:
    return int(os.environ.get("APPEALS_PG_PORT", "5432"))


def secrets_dir() -> Path:
    return Layout(project_root()).local / "secrets"


def password_file(role: str, folder: Path | None = None) -> Path:
    return (folder or secrets_dir()) / f"pg-{role}"


def password(role: str, folder: Path | None = None, owner: int | None = None) -> str:
    """The role's password, generated the first time (URL-safe, mode 0600, in .local/secrets
    unless `folder` says otherwise; `owner`: the uid that alone may read it, in a container)."""
    path = password_file(role, folder)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
        if owner is not None:
            os.chown(path.parent, owner, owner)
            os.chown(path, owner, owner)
    return path.read_text().strip()


def database_url(database: str = DATABASE, role: str = ADMIN, *, secret: bool = True) -> str:
    """A DSN for `role` (the admin by default) with its password, or without (to print)."""
    user = f"{role}:{password(role)}" if secret else role
    return f"postgresql://{user}@127.0.0.1:{pg_port()}/{database}"


def as_role(dsn: str, role: str) -> str:
    """The same server and database as `dsn`, as `role` with its password."""
    rest = dsn.split("@", 1)[1]
    return f"postgresql://{role}:{password(role)}@{rest}"


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
    # Named after the checkout, or after the instance's own state folder (APPEALS_STATE_DIR).
    owner = layout.root if layout.local == layout.root / ".local" else layout.local
    folder = f"appeals-pg-{uuid.uuid5(uuid.NAMESPACE_URL, str(owner)).hex[:8]}"
    return Path("/var/tmp") / folder / "data"


def postmaster_pid(layout: Layout) -> int | None:
    """The running server's postmaster (the first line of its postmaster.pid), or None."""
    try:
        return int((pg_data_dir(layout) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pg_log_file(layout: Layout) -> Path:
    # Beside the data folder: the server's user must be able to write it.
    return pg_data_dir(layout).parent / "postgres.log"


def as_server_user(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package brings the unprivileged `postgres` user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _server_owned(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def initialise_cluster(layout: Layout, data: Path) -> None:
    """initdb with the admin's password and password authentication from the first start."""
    say(f"initialising a PostgreSQL cluster in {data} (once) ...")
    data.mkdir(parents=True, exist_ok=True)
    _server_owned(data)
    _server_owned(data.parent)  # .local/pg, for socket and log
    # initdb reads the password from a file the server's user can read; it goes at once.
    pwfile = data.parent / f".pw-{secrets.token_hex(4)}"
    pwfile.write_text(password(ADMIN) + "\n")
    pwfile.chmod(0o600)
    _server_owned(pwfile)
    try:
        subprocess.run(
            as_server_user(
                [
                    str(pg_bin() / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    ADMIN,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    write_hba(data)


def write_hba(data: Path) -> None:
    hba = data / "pg_hba.conf"
    hba.write_text(HBA)
    _server_owned(hba)
    hba.chmod(0o600)


def accepts_without_password(data: Path) -> bool:
    """True for a cluster whose pg_hba.conf still trusts someone (an older checkout's)."""
    hba = data / "pg_hba.conf"
    if not hba.exists():
        return False
    rules = [line.split() for line in hba.read_text().splitlines()]
    return any(rule and not rule[0].startswith("#") and rule[-1] == "trust" for rule in rules)


def start_postgres(layout: Layout) -> None:
    data = pg_data_dir(layout)
    if port_open(pg_port()):
        owned = (data / "postmaster.pid").exists()
        say(
            f"postgres already running on 127.0.0.1:{pg_port()}"
            + (f" ({data})" if owned else " (not ours: using it)")
        )
        if owned and accepts_without_password(data):
            upgrade_to_passwords(layout, data)
        ensure_database()
        return
    if not (data / "PG_VERSION").exists():
        initialise_cluster(layout, data)
    socket_dir = data.parent / "socket"
    socket_dir.mkdir(exist_ok=True)
    _server_owned(socket_dir)
    log = pg_log_file(layout)
    log.touch()
    _server_owned(log)
    options = (
        f"-p {pg_port()} -k {socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
        "-c shared_buffers=512MB -c fsync=on -c synchronous_commit=on -c max_wal_size=2GB "
        "-c checkpoint_timeout=15min -c password_encryption=scram-sha-256 "
        # Appeals and events are JSON of a few KB, over the TOAST threshold: lz4 compresses
        # them at a fraction of pglz's CPU (bench-routing, where PostgreSQL shares 2 cores).
        "-c default_toast_compression=lz4 "
        # bench-pipeline reads when each clock was committed afterwards, instead of polling
        # the clocks while the load runs (a few bytes per commit).
        "-c track_commit_timestamp=on"
    )
    say(f"starting PostgreSQL on 127.0.0.1:{pg_port()} ...")
    subprocess.run(
        as_server_user(
            [
                str(pg_bin() / "pg_ctl"),
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
    if accepts_without_password(data):
        upgrade_to_passwords(layout, data)
    ensure_database()
    say("postgres ready")


def upgrade_to_passwords(layout: Layout, data: Path) -> None:
    """An older checkout's cluster trusts everyone: give the admin its password, then demand
    passwords (scram-sha-256) from everyone, and reload. The data stays as it is."""
    say(
        f"the PostgreSQL cluster in {data} accepts connections without a password (made by an "
        "older checkout): upgrading it in place to scram-sha-256 with a password per role ..."
    )
    asyncio.run(_set_password(ADMIN, password(ADMIN), trusted=True))
    write_hba(data)
    subprocess.run(
        as_server_user([str(pg_bin() / "pg_ctl"), "-D", str(data), "reload"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    say("postgres now asks every connection for a password")


# DDL takes no parameters: PostgreSQL's format() quotes the names (%I) and literals (%L).
ALTER_PASSWORD = "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)"  # noqa: S105 (SQL, not a secret)
# Service roles log in, and nothing more: no superuser, no database or role creation.
CREATE_ROLE = (
    "SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
    "PASSWORD %L', $1::text, $2::text)"
)
ALTER_ROLE = (
    "SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
    "PASSWORD %L', $1::text, $2::text)"
)
CREATE_DATABASE = "SELECT format('CREATE DATABASE %I', $1::text)"
CREATE_SCHEMA = "SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', $1::text, $1::text)"
GIVE_SCHEMA = "SELECT format('ALTER SCHEMA %I OWNER TO %I', $1::text, $1::text)"


async def run_formatted(conn: asyncpg.Connection, formatter: str, *args: str) -> None:
    """Run the statement that `formatter` (a SELECT format(...)) builds from `args`."""
    await conn.execute(await conn.fetchval(formatter, *args))


async def _set_password(role: str, secret: str, *, trusted: bool = False) -> None:
    dsn = f"postgresql://{ADMIN}@127.0.0.1:{pg_port()}/postgres"
    conn = await asyncpg.connect(dsn, password=None if trusted else password(ADMIN))
    try:
        await run_formatted(conn, ALTER_PASSWORD, role, secret)
    finally:
        await conn.close()


def ensure_database() -> None:
    try:
        asyncio.run(prepare_database(database_url("postgres"), DATABASE))
    except asyncpg.InvalidPasswordError as exc:
        raise SystemExit(
            f"appeals-stack: the PostgreSQL on 127.0.0.1:{pg_port()} refuses the admin password "
            f"in {password_file(ADMIN)} ({exc}). If it is another checkout's server, give this "
            "checkout its own APPEALS_PG_PORT; if the password file was lost, re-initialise the "
            "local cluster (make down, then remove .local/pg; its data goes with it)."
        ) from exc


async def prepare_database(
    admin_dsn: str,
    database: str,
    passwords: Mapping[str, str] | None = None,
    roles: Iterable[str] = SERVICE_ROLES,
    admin_password: str | None = None,
) -> None:
    """The database (created if missing), a login role per service with its password (from
    `passwords`, else .local/secrets), and each service's schema owned by its role, with all
    it holds."""
    conn = await asyncpg.connect(admin_dsn, password=admin_password)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await run_formatted(conn, CREATE_DATABASE, database)
        for role in roles:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            secret = passwords[role] if passwords else password(role)
            await run_formatted(conn, ALTER_ROLE if exists else CREATE_ROLE, role, secret)
    finally:
        await conn.close()
    conn = await asyncpg.connect(
        admin_dsn.rsplit("/", 1)[0] + "/" + database, password=admin_password
    )
    try:
        for role in roles:
            await own_schema(conn, role)
    finally:
        await conn.close()


# Everything in a schema that is not its role's yet: made by an older checkout, whose
# services connected as the admin. Sequences owned by a column follow their table.
FOREIGN_OBJECTS = """
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                             WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              n.nspname, c.relname, $2::text)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND pg_get_userbyid(c.relowner) <> $2
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype IN ('a', 'i') AND c.relkind = 'S')
UNION ALL
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $2::text)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND pg_get_userbyid(p.proowner) <> $2
"""


SCHEMA_OWNER = "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1"


async def own_schema(conn: asyncpg.Connection, role: str) -> None:
    """The role's schema (named after it) exists and is its role's, with everything in it."""
    owner = await conn.fetchval(SCHEMA_OWNER, role)
    if owner is None:
        await run_formatted(conn, CREATE_SCHEMA, role)
        return
    if owner != role:
        await run_formatted(conn, GIVE_SCHEMA, role)
    for (statement,) in await conn.fetch(FOREIGN_OBJECTS, role, role):
        await conn.execute(statement)


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
