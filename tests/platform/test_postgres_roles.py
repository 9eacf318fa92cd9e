"""PostgreSQL least privilege: a password for every connection, one role per service that owns
its schema and cannot read the others', and an older trust cluster upgraded in place."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from appeals_tools.stack.layout import Layout
from appeals_tools.stack.postgres import (
    ADMIN,
    SERVICE_ROLES,
    accepts_without_password,
    as_role,
    as_server_user,
    database_url,
    password_file,
    pg_bin,
    pg_data_dir,
    pg_port,
    start_postgres,
    stop_postgres,
)
from intake.app import create_app
from intake.config import Settings as IntakeSettings
from tests.conftest import Stack
from tests.services import running, settings_for

pytestmark = pytest.mark.infra

# A table of each service's schema.
TABLES = {
    "intake": "intake.appeals",
    "routing": "routing.assignments",
    "deadlines": "deadlines.clocks",
}


async def test_no_service_role_can_read_another_services_tables(database: str) -> None:
    for role in SERVICE_ROLES:
        conn = await asyncpg.connect(as_role(database, role))
        try:
            assert await conn.fetchval("SELECT current_user") == role
            await conn.fetchval(f"SELECT count(*) FROM {TABLES[role]}")  # its own: fine
            for other, table in TABLES.items():
                if other == role:
                    continue
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetchval(f"SELECT count(*) FROM {table}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE SCHEMA sneaky")
        finally:
            await conn.close()


async def test_each_schema_and_everything_in_it_belong_to_its_service(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        owners = await conn.fetch(
            """
            SELECT n.nspname AS schema, pg_get_userbyid(n.nspowner) AS schema_owner,
                   array_agg(DISTINCT pg_get_userbyid(c.relowner)) AS object_owners
            FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
            WHERE n.nspname = ANY($1::text[])
            GROUP BY n.nspname, n.nspowner
            """,
            list(SERVICE_ROLES),
        )
    finally:
        await conn.close()
    assert {r["schema"]: (r["schema_owner"], r["object_owners"]) for r in owners} == {
        role: (role, [role]) for role in SERVICE_ROLES
    }


async def test_a_connection_without_the_right_password_is_refused(
    stack: Stack, database: str
) -> None:
    server = database.split("@", 1)[1]
    for role in (ADMIN, *SERVICE_ROLES):
        for dsn in (f"postgresql://{role}@{server}", f"postgresql://{role}:wrong@{server}"):
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(dsn)
        conn = await asyncpg.connect(as_role(database, role))  # with its password: in
        await conn.close()


def test_passwords_are_per_checkout_private_files_that_git_ignores(stack: Stack) -> None:
    root = Path(__file__).resolve().parents[2]
    for role in (ADMIN, *SERVICE_ROLES):
        path = password_file(role)
        assert path.is_relative_to(root / ".local")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(password_file(ADMIN))], cwd=root, check=False
    )
    assert ignored.returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_older_trust_cluster_is_upgraded_in_place_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APPEALS_PG_PORT", str(free_port()))
    layout = Layout(tmp_path)
    data = pg_data_dir(layout)
    # The cluster an older checkout made: every connection trusted.
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(data.parent, "postgres", "postgres")
    initdb = [str(pg_bin() / "initdb"), "-D", str(data), "-U", ADMIN, "--auth=trust"]
    await asyncio.to_thread(
        subprocess.run, as_server_user(initdb), check=True, stdout=subprocess.DEVNULL
    )
    assert accepts_without_password(data)
    try:
        await asyncio.to_thread(start_postgres, layout)
        said = capsys.readouterr().out
        assert "accepts connections without a password" in said and "upgrading it in place" in said
        assert not accepts_without_password(data)
        server = f"127.0.0.1:{pg_port()}"
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(f"postgresql://{ADMIN}@{server}/appeals")
        conn = await asyncpg.connect(database_url())
        try:
            roles = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1")
            assert {r["rolname"] for r in roles} == {ADMIN, *SERVICE_ROLES}
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(stop_postgres, layout)
        shutil.rmtree(data.parent, ignore_errors=True)


async def test_a_service_reads_its_password_from_its_file_as_the_local_stack_runs_it(
    stack: Stack, database: str, key_dir: Path
) -> None:
    settings = settings_for(IntakeSettings, database, stack, key_dir)
    url = settings.database_url
    without_password = "postgresql://intake@" + url.split("@", 1)[1]
    settings = settings.model_copy(
        update={"database_url": without_password, "database_password_file": password_file("intake")}
    )
    async with running(create_app(settings), wait_for_consumers=False) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text


def test_the_compose_job_writes_one_private_folder_per_role(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "appeals_tools.stack", "secrets", "--dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for role in (ADMIN, *SERVICE_ROLES):
        folder = tmp_path / role
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / f"pg-{role}").stat().st_mode) == 0o600
        assert len((folder / f"pg-{role}").read_text().strip()) >= 32
