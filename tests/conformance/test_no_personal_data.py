"""No personal data of the appeals submitted (IINs, phone numbers, names, e-mails) in any URL
the services generate, in their JSON log lines or in their /metrics, through a run of the
real pipeline: appeals by HTTP and by Open311, a rejected one, an applicant search, the old
IIN-in-the-path route, routing, an answer, and the dashboard's pages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from appeals_platform.auth import Role
from appeals_platform.logs import JsonFormatter
from tests.conformance.conftest import AGENCY, INTEGRATION, Platform, eventually
from tests.intake.conftest import dev_submissions, fresh

pytestmark = pytest.mark.infra

IIN, WRONG_IIN = "790322499544", "790322499545"  # the second fails the checksum
NAME, PHONE, EMAIL = "Жаксыбекова Гульнара Маратовна", "+7 701 555 12 34", "gulnara.zh@mail.kz"
# What may not appear, in every spelling a URL, a log or a label would take.
FORBIDDEN = [
    IIN,
    WRONG_IIN,
    "Жаксыбекова",
    "Гульнара",
    "%D0%96%D0%B0%D0%BA%D1%81",  # the surname's start, percent-encoded in a URL
    "7015551234",
    "701 555 12 34",
    "555-12-34",
    EMAIL,
    "gulnara.zh%40mail.kz",
]
URL_ATTRIBUTE = re.compile(r"""(?:href|src|action)\s*=\s*["']([^"']*)["']""")


class Lines(logging.Handler):
    """Every record as the services write it: a JSON line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.formatter_ = JsonFormatter("any")

    def emit(self, record: logging.LogRecord) -> None:
        # httpx's records are the test client's own lines about the URLs it was given.
        if not record.name.startswith("httpx"):
            self.lines.append(self.formatter_.format(record))


def urls_in(value: Any) -> Iterator[str]:
    """Strings of a JSON body that are links (absolute or a path)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from urls_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from urls_in(item)
    elif isinstance(value, str) and (value.startswith(("/", "http://", "https://"))):
        yield value


def generated_urls(response: httpx.Response) -> list[str]:
    """The URLs a response hands out: headers, links in JSON, attributes in HTML."""
    found = [response.headers.get(h, "") for h in ("location", "link", "content-location")]
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        found += list(urls_in(response.json()))
    elif "html" in kind or "xml" in kind:
        found += URL_ATTRIBUTE.findall(response.text)
    return [url for url in found if url]


def leaks(text: str) -> list[str]:
    return [item for item in FORBIDDEN if item.lower() in text.lower()]


async def test_no_personal_data_in_urls_logs_or_metrics(platform: Platform) -> None:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    # Debug lines too: what an operator turning up the level would write to disk.
    root.setLevel(logging.DEBUG)
    responses: list[httpx.Response] = []
    integration = platform.auth(Role.INTEGRATION, source=INTEGRATION)
    monitoring = platform.auth(Role.MONITORING)
    try:
        body = fresh(dev_submissions()[0])
        body["applicant"] = {"kind": "individual", "iin": IIN, "full_name": NAME, "phone": PHONE}
        body["text"] += f" Звоните: {PHONE}, {EMAIL}. {NAME}, ИИН {IIN}."
        created = await platform.intake.post("/v1/appeals", json=body, headers=integration)
        assert created.status_code == 201, created.text
        appeal_id = created.json()["appeal_id"]
        refused = {**fresh(body), "applicant": {**body["applicant"], "iin": WRONG_IIN}}
        rejected = await platform.intake.post("/v1/appeals", json=refused, headers=integration)
        assert rejected.status_code == 422
        open311 = await platform.intake.post(
            "/open311/v2/requests.json",
            data={
                "service_code": "HOUSING-HEATING",
                "address_string": "Караганда, ул. Ерубаева, 12, кв. 5",
                "description": f"Холодно. {NAME}, {PHONE}",
                "first_name": "Гульнара",
                "last_name": "Жаксыбекова",
                "phone": PHONE,
                "email": EMAIL,
                "public": "true",
            },
            headers=integration,
        )
        assert open311.status_code in (200, 201), open311.text
        search = await platform.intake.post(
            "/v1/applicants/search", json={"iin": IIN}, headers=monitoring
        )
        assert search.status_code == 200 and search.json()["appeals"]
        gone = await platform.intake.get(f"/v1/applicants/{IIN}/appeals", headers=monitoring)
        assert gone.status_code == 410
        responses += [created, rejected, open311, search, gone]

        async def assigned() -> Any:
            view = await platform.intake.get(f"/v1/appeals/{appeal_id}", headers=monitoring)
            return view.json()["agency"]

        await eventually(assigned, lambda agency: agency == AGENCY, what="the assignment")

        async def clock() -> int:
            response = await platform.deadlines.get(
                f"/v1/appeals/{appeal_id}/clock", headers=monitoring
            )
            return response.status_code

        await eventually(clock, lambda status: status == 200, what="the clock")
        answered = await platform.intake.post(
            f"/v1/appeals/{appeal_id}/answer",
            json={
                "outcome": "explained",
                "text": "Разъяснено.",
                "signed_at": "2026-03-10T12:00:00+05:00",
            },
            headers=platform.agency(AGENCY),
        )
        assert answered.status_code == 201, answered.text
        responses.append(answered)
        reads = [
            ("intake", f"/v1/appeals/{appeal_id}", monitoring),
            ("intake", "/open311/v2/requests.json", {}),
            ("intake", "/open311/v2/requests.xml", {}),
            ("intake", f"/open311/v2/requests/{appeal_id}.json", integration),
            ("routing", f"/v1/appeals/{appeal_id}/routing", monitoring),
            ("deadlines", f"/v1/appeals/{appeal_id}/clock", monitoring),
            *[(name, "/", {}) for name in ("intake", "routing", "deadlines")],
        ]
        for service, url, headers in reads:
            response = await platform.client(service).get(url, headers=headers)
            assert response.status_code == 200, (url, response.text)
            responses.append(response)
        signed = await platform.deadlines.post(
            "/dashboard/sign-in",
            data={"token": monitoring["Authorization"].removeprefix("Bearer ")},
            headers={"Origin": "http://test"},
        )
        assert signed.status_code == 303
        for page in (f"/dashboard/appeals/{appeal_id}", "/dashboard/alerts", "/dashboard/backlog"):
            response = await platform.deadlines.get(page)
            assert response.status_code == 200, page
            responses.append(response)
        metrics = {
            name: (await platform.client(name).get("/metrics")).text
            for name in ("intake", "routing", "deadlines")
        }
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        platform.deadlines.cookies.clear()

    urls = [url for response in responses for url in generated_urls(response)]
    assert any(appeal_id in url for url in urls), "the check would see a generated URL"
    assert [(url, leaks(url)) for url in urls if leaks(url)] == []
    assert any('"appeal registered"' in line for line in handler.lines), "logs were captured"
    assert [line for line in handler.lines if leaks(line)] == []
    for name, text in metrics.items():
        assert "http_requests" in text or "consumer" in text, name
        assert leaks(text) == [], name
