"""No personal data reaches the public: appeals full of it go through the real pipeline
(intake -> routing -> deadlines on the test stack's Kafka and PostgreSQL), are answered with
more of it, and neither the open-data feed (JSON, CSV, by agency and by district) nor the
anonymous Open311 list shows any of it."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appeals_platform.auth import Role
from deadlines.app import create_app as create_deadlines
from deadlines.config import Settings as DeadlinesSettings
from intake.app import create_app as create_intake
from intake.config import Settings as IntakeSettings
from routing.app import create_app as create_routing
from routing.config import Settings as RoutingSettings
from tests.conftest import Stack, TokenFactory
from tests.intake.conftest import dev_submissions
from tests.intake.test_open311 import (
    EMAILS,
    IINS,
    PHONES,
    assert_no_personal_data,
    revealing,
)
from tests.services import running, settings_for

pytestmark = pytest.mark.infra

# More of it in the agencies' answers: a public feed must not carry those either.
ANSWER = (
    f"Ответ заявителю Ларионовой С.В. (ИИН {IINS[0]}), ул. Степная 10/2, кв. 45: мастер "
    f"Петров Иван Сергеевич выезжал, тел. {PHONES[3]}, {EMAILS[2]}."
)
# Every word of the applicant's own data, for a check of its own beside the shared one.
APPLICANT_WORDS = ("Ларионова", "Светлана", "Викторовна", "Иван", "Сергеевич")


def words_of_the_seeded_appeals(bodies: list[dict[str, Any]]) -> set[str]:
    """Capitalised words and long numbers of the applicant and the text, but for the place
    and street names the policy keeps (the address is cut to the street) and plain words."""
    found: set[str] = set()
    for body in bodies:
        applicant = body["applicant"]
        for value in (applicant["full_name"], applicant["postal_address"], body["text"]):
            found |= set(re.findall(r"\b[А-ЯЁ][а-яё]{3,}\b|\d{5,}", value))
    return found - {"Караганда", "Восток", "Степная", "Живу", "Сосед", "Звоните", "Мастер"}


def assert_nothing_personal(text: str, bodies: list[dict[str, Any]]) -> None:
    assert_no_personal_data(text)
    # Ids and registration numbers are not personal, and may hold any digits.
    text = re.sub(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|KRG-\d{4}-\d{8}", "", text)
    for word in (*APPLICANT_WORDS, *words_of_the_seeded_appeals(bodies)):
        assert word not in text, word
    # Checks of their own, not the redaction module's patterns: no e-mail, no 12-digit
    # IIN/BIN anywhere, no street-and-house ("10/2", "кв. 45").
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", text)
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)
    assert not re.search(r"\d+/\d+|кв\.\s*\d", text)


async def wait_until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.2)


async def test_personal_data_reaches_neither_the_open_data_feed_nor_the_public_open311_list(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, tmp_path: Path
) -> None:
    intake_app = create_intake(settings_for(IntakeSettings, database, stack, key_dir))
    routing_app = create_routing(
        settings_for(
            RoutingSettings, database, stack, key_dir, model_path=tmp_path / "no-model.joblib"
        )
    )
    deadlines_app = create_deadlines(
        settings_for(DeadlinesSettings, database, stack, key_dir, ticker_enabled=False)
    )
    integration = {"Authorization": f"Bearer {token(Role.INTEGRATION, source='egov-portal')}"}
    monitoring = {"Authorization": f"Bearer {token(Role.MONITORING)}"}
    bodies = [revealing(dev, public=i % 3 != 2) for i, dev in enumerate(dev_submissions()[:9])]
    async with (
        running(deadlines_app) as deadlines,
        running(routing_app) as _,
        running(intake_app) as intake,
    ):
        ids = []
        for body in bodies:
            created = await intake.post("/v1/appeals", json=body, headers=integration)
            assert created.status_code == 201, created.text
            ids.append(created.json()["appeal_id"])

        async def clocks() -> list[dict[str, Any]]:
            views = []
            for appeal in ids:
                seen = await deadlines.get(f"/v1/appeals/{appeal}/clock", headers=monitoring)
                if seen.status_code != 200:
                    return []
                views.append(seen.json()["current"])
            return views

        async def all_clocked() -> bool:
            return bool(await clocks())

        await wait_until(all_clocked, "every appeal has a legal clock")
        # The assigned agencies answer two thirds of them, with personal data in the text.
        answered = []
        for appeal, clock in zip(ids, await clocks(), strict=True):
            if len(answered) == 6:
                break
            agency = {"Authorization": f"Bearer {token(Role.AGENCY, agency=clock['agency'])}"}

            async def answer(appeal: str = appeal, agency: dict[str, str] = agency) -> bool:
                given = await intake.post(
                    f"/v1/appeals/{appeal}/answer",
                    json={
                        "outcome": "explained",
                        "text": ANSWER,
                        "signed_at": datetime.now(UTC).isoformat(),
                    },
                    headers=agency,
                )
                # 409 with Retry-After until intake has followed routing's assignment.
                assert given.status_code in (201, 409), given.text
                return given.status_code == 201

            await wait_until(answer, "the assigned agency answers through intake")
            answered.append(appeal)

        async def answers_clocked() -> bool:
            return sum(c["state"] == "answered" for c in await clocks()) == len(answered)

        await wait_until(answers_clocked, "deadlines stopped the answered appeals' clocks")

        month = datetime.now(UTC).strftime("%Y-%m")
        published: list[str] = []
        for by in ("agency", "district"):
            feed = await deadlines.get("/open-data/v1/monthly.json", params={"by": by})
            assert feed.status_code == 200, feed.text
            rows = [r for r in feed.json()["rows"] if r["month"] == month]
            # The figures are there (this is not an empty feed passing by default).
            total = next(r for r in rows if r["key"] == "all")
            assert (total["received"], total["answered"]) == (len(ids), len(answered))
            published.append(feed.text)
            csv = await deadlines.get("/open-data/v1/monthly.csv", params={"by": by})
            assert csv.status_code == 200 and f"{month},false,all,Всего" in csv.text
            published.append(csv.text)
        published.append((await deadlines.get("/open-data/v1")).text)
        for fmt in ("json", "xml"):
            listed = await intake.get(f"/open311/v2/requests.{fmt}")
            assert listed.status_code == 200
            published.append(listed.text)
        # The published appeals are listed (with their answers' status), the others not.
        listed_ids = {
            r["service_request_id"] for r in (await intake.get("/open311/v2/requests.json")).json()
        }
        assert listed_ids == {a for a, b in zip(ids, bodies, strict=True) if b["public"]}

    for text in published:
        assert_nothing_personal(text, bodies)
