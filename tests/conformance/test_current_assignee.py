"""Only the current assignee of an open hop answers, redirects or extends, in intake, routing
and deadlines alike, through the real pipeline (the three services wired through Kafka).

The sequence is the one issue 15 found: A redirects to B, B back to A, A again, so the
ping-pong guard sends the appeal to triage. Intake then still named A as the agency and let it
answer (201) while B got 403. In triage nobody holds the appeal; an answered appeal takes no
second answer, no redirect and no extension.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from appeals_platform.auth import Role
from tests.conformance.conftest import INTEGRATION, Platform, eventually
from tests.intake.conftest import dev_submissions, fresh

pytestmark = pytest.mark.infra

# The rule gives the first dev appeal (heating in Karaganda) to A.
A, B = "KRG-KARAGANDA-COMMUNAL-TRANSPORT", "KRG-ENERGY-HOUSING"
ANSWER = {"outcome": "explained", "text": "Разъяснено.", "signed_at": "2026-03-10T12:00:00+05:00"}
EXTENSION = {"new_due_date": "2099-01-01", "reason": "нужен выезд на место"}


async def acts(platform: Platform, appeal_id: str, agency: str) -> dict[str, int]:
    """What each service answers the agency's answer, redirect and extension (status codes)."""
    headers = platform.agency(agency)
    url = f"/v1/appeals/{appeal_id}"
    answer = await platform.intake.post(f"{url}/answer", json=ANSWER, headers=headers)
    redirect = await platform.routing.post(
        f"{url}/redirect", json={"reason": "not_competent", "target": "KRG-POLICE"}, headers=headers
    )
    extend = await platform.deadlines.post(f"{url}/extend", json=EXTENSION, headers=headers)
    return {
        "answer": answer.status_code,
        "redirect": redirect.status_code,
        "extend": extend.status_code,
    }


async def redirect(platform: Platform, appeal_id: str, agency: str, target: str) -> Any:
    response = await platform.routing.post(
        f"/v1/appeals/{appeal_id}/redirect",
        json={"reason": "not_competent", "target": target},
        headers=platform.agency(agency),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def settled(
    platform: Platform, appeal_id: str, status: str, agency: str | None, clocks: list[str]
) -> None:
    """Intake and deadlines have both seen every hop so far (events travel through Kafka);
    `clocks` is each hop's agency and clock state, as `AGENCY:state`."""
    monitoring = platform.auth(Role.MONITORING)

    async def intake_view() -> Any:
        response = await platform.intake.get(f"/v1/appeals/{appeal_id}", headers=monitoring)
        return (response.json()["status"], response.json()["agency"])

    async def clock() -> Any:
        response = await platform.deadlines.get(
            f"/v1/appeals/{appeal_id}/clock", headers=monitoring
        )
        hops = response.json().get("hops", []) if response.status_code == 200 else []
        return [f"{hop['agency']}:{hop['state']}" for hop in hops]

    await eventually(intake_view, lambda seen: seen == (status, agency), what="intake's view")
    await eventually(clock, lambda seen: seen == clocks, what="deadlines' clocks")


async def test_ping_pong_to_triage_leaves_nobody_to_answer_and_an_answer_closes_it(
    platform: Platform,
) -> None:
    created = await platform.intake.post(
        "/v1/appeals",
        json=fresh(dev_submissions()[0]),
        headers=platform.auth(Role.INTEGRATION, source=INTEGRATION),
    )
    assert created.status_code == 201, created.text
    appeal_id = created.json()["appeal_id"]
    await settled(platform, appeal_id, "assigned", A, [f"{A}:open"])

    await redirect(platform, appeal_id, A, B)
    await settled(platform, appeal_id, "assigned", B, [f"{A}:redirected", f"{B}:open"])
    # The agency that handed it on holds nothing; the new one may act (not tried: it would).
    assert await acts(platform, appeal_id, A) == {"answer": 403, "redirect": 403, "extend": 403}
    await redirect(platform, appeal_id, B, A)
    history = [f"{A}:redirected", f"{B}:redirected"]
    await settled(platform, appeal_id, "assigned", A, [*history, f"{A}:open"])
    outcome = await redirect(platform, appeal_id, A, B)
    assert (outcome["outcome"], outcome["triage_reason"]) == ("triage", "ping_pong")
    history.append(f"{A}:redirected")
    await settled(platform, appeal_id, "triage", None, history)

    # In triage nobody holds the appeal: neither the last holder nor the one before.
    for agency in (A, B):
        assert await acts(platform, appeal_id, agency) == {
            "answer": 403,
            "redirect": 403,
            "extend": 403,
        }, agency

    assigned = await platform.routing.post(
        f"/v1/appeals/{appeal_id}/assign",
        json={"agency": B},
        headers=platform.auth(Role.OPERATOR),
    )
    assert assigned.status_code == 201, assigned.text
    await settled(platform, appeal_id, "assigned", B, [*history, f"{B}:open"])
    answered = await platform.intake.post(
        f"/v1/appeals/{appeal_id}/answer", json=ANSWER, headers=platform.agency(B)
    )
    assert answered.status_code == 201, answered.text
    await settled(platform, appeal_id, "answered", B, [*history, f"{B}:answered"])

    async def routing_status() -> Any:
        response: httpx.Response = await platform.routing.get(
            f"/v1/appeals/{appeal_id}/routing", headers=platform.auth(Role.OPERATOR)
        )
        return response.json()["status"]

    await eventually(routing_status, lambda s: s == "answered", what="routing's status")
    # Answered: the agency that answered gets 409 everywhere, the others still 403.
    assert await acts(platform, appeal_id, B) == {"answer": 409, "redirect": 409, "extend": 409}
    assert await acts(platform, appeal_id, A) == {"answer": 403, "redirect": 403, "extend": 403}
