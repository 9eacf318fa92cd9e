"""A NUL character (which PostgreSQL cannot store in text) is a 422 wherever it is sent, never
a 500: the two that schemathesis found, in the alerts filter and in an acknowledgement."""

from __future__ import annotations

import pytest

from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra


async def test_a_nul_in_the_alert_filters_is_a_422(deadlines: Deadlines) -> None:
    for query in ({"kind": "warn\x00ing"}, {"agency": "KRG-\x00"}, {"kind": "\x00"}):
        response = await deadlines.client.get("/v1/alerts", params=query, headers=deadlines.auth())
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_nul_in_an_acknowledgement_comment_is_a_422_and_acknowledges_nothing(
    deadlines: Deadlines,
) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 10))
    await deadlines.wait_for(appeal)
    await deadlines.tick(local(2022, 6, 16, 0, 0, 1))  # past the due date: a breach alert
    alert = (await deadlines.rows("SELECT id FROM alerts WHERE appeal_id = $1::uuid", appeal))[0][
        "id"
    ]
    refused = await deadlines.client.post(
        f"/v1/alerts/{alert}/acknowledge", json={"comment": "ok\x00"}, headers=deadlines.auth()
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["problems"][0]["field"] == "comment"
    [row] = await deadlines.rows("SELECT acknowledged_at FROM alerts WHERE id = $1", alert)
    assert row["acknowledged_at"] is None
    accepted = await deadlines.client.post(
        f"/v1/alerts/{alert}/acknowledge", json={"comment": "ok"}, headers=deadlines.auth()
    )
    assert accepted.status_code == 200, accepted.text
