"""Time at each hop (issue 13 item 4): the hop table of a real multi-hop appeal, assigned,
redirected, assigned again, confirmed and answered through the deadlines service on Kafka and
PostgreSQL, adds up to the appeal's total working days."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from appeals_platform.auth import Role
from appeals_platform.problems import Refused
from deadlines import receipts
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

FIRST, SECOND = "KRG-ENERGY-HOUSING", "KRG-KARAGANDA-AKIMAT"


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def test_the_hop_table_adds_up_to_the_appeals_working_days(deadlines: Deadlines) -> None:
    # Thu 26 May 2022 to FIRST; redirected Mon 30 May (its working days: Fri 27, Mon 30);
    # SECOND receives it at once, confirms receipt on Tue 31 May and answers on Fri 3 June
    # (Tue 31 May, Wed 1, Thu 2, Fri 3 June: 4). The appeal: 6 working days.
    appeal = await deadlines.assign(local(2022, 5, 26, 10), agency=FIRST)
    await deadlines.wait_for_clock(appeal)
    await deadlines.hand_over(
        appeal, local(2022, 5, 26, 10), local(2022, 5, 30, 16), from_agency=FIRST, to_agency=SECOND
    )
    deadlines.clock.set(local(2022, 5, 31, 9, 30))
    confirmed = await deadlines.client.post(
        f"/v1/appeals/{appeal}/receipt", headers=deadlines.auth(Role.AGENCY, agency=SECOND)
    )
    assert confirmed.status_code == 201, confirmed.text
    await deadlines.answer(appeal, local(2022, 6, 3, 11), agency=SECOND)
    await deadlines.wait_for_clock(appeal, "answered")
    deadlines.clock.set(local(2022, 6, 20, 12))  # long after: an answered appeal stops counting

    response = await deadlines.client.get(f"/v1/appeals/{appeal}/hops", headers=deadlines.auth())
    assert response.status_code == 200, response.text
    table = response.json()
    first, second = table["hops"]
    assert (first["hop"], first["agency"], first["state"]) == (1, FIRST, "redirected")
    assert moment(first["received_at"]) == local(2022, 5, 26, 10)
    assert first["confirmed_at"] is None
    assert moment(first["redirected_at"]) == local(2022, 5, 30, 16)
    assert (first["redirected_to"], first["reason"], first["answered_at"]) == (
        SECOND,
        "not_competent",
        None,
    )
    assert first["working_days"] == 2
    assert (second["hop"], second["agency"], second["state"]) == (2, SECOND, "answered")
    assert moment(second["received_at"]) == local(2022, 5, 30, 16)
    assert moment(second["confirmed_at"]) == local(2022, 5, 31, 9, 30)
    assert moment(second["answered_at"]) == local(2022, 6, 3, 11)
    assert (second["redirected_at"], second["reason"]) == (None, None)
    assert second["working_days"] == 4
    assert moment(table["received_at"]) == local(2022, 5, 26, 10)
    assert moment(table["until"]) == local(2022, 6, 3, 11)
    assert table["working_days"] == 6
    assert first["working_days"] + second["working_days"] == table["working_days"]

    # Compliance: the 2 working days at the first hop are lost to its redirect, counted for
    # the agency that redirected and for the agency that received, in May (the redirect's).
    report = await deadlines.client.get(
        "/v1/compliance", params={"period": "2022-05", "by": "agency"}, headers=deadlines.auth()
    )
    assert report.status_code == 200, report.text
    rows = {r["key"]: r["current"] for r in report.json()["rows"]}
    assert (rows[FIRST]["redirect_days_lost"], rows[FIRST]["redirect_days_received"]) == (2, 0)
    assert (rows[SECOND]["redirect_days_lost"], rows[SECOND]["redirect_days_received"]) == (0, 2)
    total = report.json()["total"]["current"]
    assert (total["redirect_days_lost"], total["redirect_days_received"]) == (2, 2)

    # The one error mapping of the appeal's clock: whoever may not see it gets 404.
    other = deadlines.auth(Role.AGENCY, agency="KRG-POLICE")
    assert (
        await deadlines.client.get(f"/v1/appeals/{appeal}/hops", headers=other)
    ).status_code == 404
    own = deadlines.auth(Role.AGENCY, agency=SECOND)
    assert (
        await deadlines.client.get(f"/v1/appeals/{appeal}/hops", headers=own)
    ).status_code == 200


async def test_an_open_hop_counts_until_now(deadlines: Deadlines) -> None:
    appeal = await deadlines.assign(local(2022, 5, 26, 10))
    await deadlines.wait_for_clock(appeal)
    deadlines.clock.set(local(2022, 6, 1, 12))  # Fri 27, Mon 30, Tue 31 May, Wed 1 June
    table = (
        await deadlines.client.get(f"/v1/appeals/{appeal}/hops", headers=deadlines.auth())
    ).json()
    (hop,) = table["hops"]
    assert (hop["state"], hop["working_days"], table["working_days"]) == ("open", 4, 4)
    assert moment(hop["until"]) == local(2022, 6, 1, 12)


async def test_a_receipt_before_its_clock_is_open_is_asked_to_retry(deadlines: Deadlines) -> None:
    """Deadlines follows assignments with a gathering fetch: an agency confirming the moment
    it reads its topic can be first. It gets 404 with Retry-After, then 201 once the clock is
    open."""
    appeal = str(uuid.uuid4())
    url = f"/v1/appeals/{appeal}/receipt"
    headers = deadlines.auth(Role.AGENCY, agency=FIRST)
    early = await deadlines.client.post(url, headers=headers)
    assert early.status_code == 404, early.text
    assert early.headers["retry-after"] == "1"
    assert early.json()["title"] == "no clock for this appeal"
    await deadlines.assign(local(2022, 5, 26, 10), appeal_id=appeal, agency=FIRST)
    await deadlines.wait_for_clock(appeal)
    assert (await deadlines.client.post(url, headers=headers)).status_code == 201


async def test_an_agency_naming_a_hop_not_followed_here_is_asked_to_retry(
    deadlines: Deadlines,
) -> None:
    """Redirected to SECOND a moment ago, only FIRST's clock is open here. SECOND's receipt
    or extension naming the hop it read (2) is "not yet" (404 with Retry-After); naming no
    hop, it is refused as not its own (403). Once the hop is followed, the same receipt
    is taken."""
    appeal = await deadlines.assign(local(2022, 5, 26, 10), agency=FIRST)
    await deadlines.wait_for_clock(appeal)
    deadlines.clock.set(local(2022, 5, 30, 16, 30))
    headers = deadlines.auth(Role.AGENCY, agency=SECOND)
    receipt, extend = f"/v1/appeals/{appeal}/receipt", f"/v1/appeals/{appeal}/extend"
    extension = {"new_due_date": "2022-07-20", "reason": "Нужна экспертиза."}
    for ahead in (
        await deadlines.client.post(receipt, params={"hop": 2}, headers=headers),
        await deadlines.client.post(extend, json={**extension, "hop": 2}, headers=headers),
    ):
        assert ahead.status_code == 404, ahead.text
        assert ahead.headers["retry-after"] == "1"
        assert ahead.json()["title"] == "no clock for this hop yet"
    not_named = await deadlines.client.post(receipt, headers=headers)
    assert not_named.status_code == 403, not_named.text
    invalid = await deadlines.client.post(receipt, params={"hop": 0}, headers=headers)
    assert invalid.status_code == 422, invalid.text

    await deadlines.hand_over(
        appeal, local(2022, 5, 26, 10), local(2022, 5, 30, 16), from_agency=FIRST, to_agency=SECOND
    )
    taken = await deadlines.client.post(receipt, params={"hop": 2}, headers=headers)
    assert taken.status_code == 201, taken.text
    assert taken.json()["hop"] == 2


def test_a_receipt_command_names_its_hop_or_nothing() -> None:
    """The data of a receipt command: nothing, `{}` or a hop; a hop that cannot be is
    refused as the HTTP query parameter is (422)."""
    assert receipts.receipt_request(None).hop is None
    assert receipts.receipt_request({"note": "taken"}).hop is None
    assert receipts.receipt_request({"hop": 3}).hop == 3
    with pytest.raises(Refused) as refused:
        receipts.receipt_request({"hop": 0})
    assert refused.value.status == 422
