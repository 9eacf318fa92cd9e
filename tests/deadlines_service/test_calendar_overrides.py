"""Government decree overrides: the table, the API, the `deadlines calendar` command, and the
open clocks that move with them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime

import pytest

from appeals_platform.auth import Role
from deadlines import cli
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra


async def due_of(deadlines: Deadlines, appeal: str) -> datetime:
    return datetime.fromisoformat((await deadlines.clock_of(appeal))["current"]["due_at"])


async def test_a_decree_day_off_added_by_api_moves_open_clocks_and_removing_it_moves_them_back(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 17, 17))
    before = (await deadlines.wait_for(appeal))["current"]
    assert datetime.fromisoformat(before["due_at"]) == local(2022, 6, 15, 23, 59, 59)
    response = await deadlines.client.post(
        "/v1/calendar/overrides",
        json={"day": "2022-06-03", "kind": "day_off", "decree": "ПП РК от 01.06.2022 № 999"},
        headers=deadlines.auth(Role.OPERATOR),
    )
    assert response.status_code == 201, response.text
    assert (response.json()["created"], response.json()["clocks_moved"]) == (True, 1)
    after = (await deadlines.clock_of(appeal))["current"]
    assert datetime.fromisoformat(after["due_at"]) == local(2022, 6, 16, 23, 59, 59)
    assert after["calendar_version"] != before["calendar_version"]
    assert after["calendar_version"] == response.json()["calendar_version"]
    year = await deadlines.client.get(
        "/v1/calendar", params={"year": 2022}, headers=deadlines.auth()
    )
    assert "2022-06-03" in year.json()["days_off"]
    assert [o["decree"] for o in year.json()["overrides"]] == ["ПП РК от 01.06.2022 № 999"]
    removed = await deadlines.client.delete(
        "/v1/calendar/overrides/2022-06-03", headers=deadlines.auth()
    )
    assert removed.status_code == 200 and removed.json()["clocks_moved"] == 1
    assert await due_of(deadlines, appeal) == local(2022, 6, 15, 23, 59, 59)
    again = await deadlines.client.delete(
        "/v1/calendar/overrides/2022-06-03", headers=deadlines.auth()
    )
    assert again.status_code == 404


async def test_a_decree_working_saturday_brings_the_due_date_forward(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 17, 17))
    await deadlines.wait_for(appeal)
    response = await deadlines.client.post(
        "/v1/calendar/overrides",
        json={"day": "2022-06-11", "kind": "working_day", "decree": "ПП РК № 1000"},
        headers=deadlines.auth(),
    )
    assert response.status_code == 201
    assert await due_of(deadlines, appeal) == local(2022, 6, 14, 23, 59, 59)
    year = await deadlines.client.get(
        "/v1/calendar", params={"year": 2022}, headers=deadlines.auth()
    )
    assert "2022-06-11" in year.json()["working_weekend_days"]


async def test_the_calendar_shows_the_working_sunday_of_january_2025(
    deadlines: Deadlines,
) -> None:
    year = await deadlines.client.get(
        "/v1/calendar", params={"year": 2025}, headers=deadlines.auth()
    )
    body = year.json()
    assert "2025-01-05" in body["working_weekend_days"]
    assert {"2025-01-03", "2025-03-21", "2025-03-24"} <= set(body["days_off"])
    assert body["time_zone"] == "Asia/Almaty"


async def test_only_staff_change_the_calendar_and_bad_overrides_are_refused(
    deadlines: Deadlines,
) -> None:
    body = {"day": "2022-06-03", "kind": "day_off", "decree": "ПП РК № 1"}
    agency = deadlines.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (
        await deadlines.client.post("/v1/calendar/overrides", json=body, headers=agency)
    ).status_code == 403
    for bad in (
        {**body, "kind": "holiday"},
        {**body, "decree": ""},
        {**body, "day": "2022-02-30"},
        {"day": "2022-06-03", "kind": "day_off"},
    ):
        response = await deadlines.client.post(
            "/v1/calendar/overrides", json=bad, headers=deadlines.auth()
        )
        assert response.status_code == 422, bad
    assert await deadlines.rows("SELECT * FROM calendar_overrides") == []


async def test_the_cli_adds_lists_and_removes_overrides_and_the_service_follows(
    deadlines: Deadlines, capsys: pytest.CaptureFixture[str]
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 17, 17))
    await deadlines.wait_for(appeal)
    settings = deadlines.service.settings
    code = await cli.run(
        ["calendar", "add", "2022-06-03", "day_off", "--decree", "ПП РК № 999"], settings
    )
    assert code == 0
    assert "added 2022-06-03" in capsys.readouterr().out
    assert await due_of(deadlines, appeal) == local(2022, 6, 16, 23, 59, 59)
    # The running service reloads the table when its revision moves (here: on the next tick).
    await deadlines.tick()
    assert not deadlines.service.ctx.law.calendar.is_working_day(datetime(2022, 6, 3).date())
    assert await cli.run(["calendar", "list", "--year", "2022"], settings) == 0
    listing = capsys.readouterr().out
    assert "2022-06-03 Fri  day_off      ПП РК № 999" in listing
    assert await cli.run(["calendar", "remove", "2022-06-03"], settings) == 0
    assert await cli.run(["calendar", "remove", "2022-06-03"], settings) == 1
    assert await due_of(deadlines, appeal) == local(2022, 6, 15, 23, 59, 59)


async def test_the_deadlines_console_script_lists_overrides(deadlines: Deadlines) -> None:
    settings = deadlines.service.settings
    env = {
        **os.environ,
        "DEADLINES_DATABASE_URL": settings.database_url,
        "DEADLINES_DB_SCHEMA": settings.db_schema,
    }
    script = os.path.join(os.path.dirname(sys.executable), "deadlines")
    done = await asyncio.to_thread(
        subprocess.run,
        [script, "calendar", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no overrides"
