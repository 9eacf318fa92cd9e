"""The dashboard in Debian's Chromium against the real service, Kafka and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from appeals_platform.auth import Role
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = [pytest.mark.infra, pytest.mark.browser]


NBSP = "\u00a0"


async def new_page(browser: Any, contexts: list[Any]) -> Any:
    context = await browser.new_context(
        accept_downloads=True, locale="ru-RU", viewport={"width": 1400, "height": 900}
    )
    contexts.append(context)
    return await context.new_page()


async def sign_in(browser: Any, contexts: list[Any], site: Deadlines, token: str) -> Any:
    """A fresh browser context signed in with `token`; its page, on the alerts page."""
    page = await new_page(browser, contexts)
    await page.goto(f"{site.url}/dashboard/alerts")
    assert "/dashboard/sign-in" in page.url
    await page.fill("#token", token)
    await page.click("form[action='/dashboard/sign-in'] button")
    await page.wait_for_url(f"{site.url}/dashboard/alerts")
    return page


async def test_monitoring_sees_a_breach_live_acknowledges_it_and_exports_the_tables(
    browser: Any, contexts: list[Any], site: Deadlines, artifacts: Path
) -> None:
    # An appeal due on 15 June 2022 (the eOtinish example), one answered on time, and last
    # year's late answer for the comparison column.
    late = await site.assign(local(2022, 5, 26, 17, 17))
    on_time = await site.assign(local(2022, 4, 4, 10), agency="KRG-HEALTH", category="HEALTH-CARE")
    last_year = await site.assign(local(2021, 4, 5, 11))
    for appeal in (late, on_time, last_year):
        await site.wait_for_clock(appeal)
    await site.answer(on_time, local(2022, 4, 8, 15), agency="KRG-HEALTH")
    await site.answer(last_year, local(2021, 5, 20, 12), agency="KRG-ENERGY-HOUSING")
    await site.wait_for_clock(on_time, "answered")
    await site.wait_for_clock(last_year, "answered")

    page = await sign_in(browser, contexts, site, site.token(Role.MONITORING))
    watcher = await sign_in(browser, contexts, site, site.token(Role.MONITORING))
    await page.wait_for_selector("#live:not(.offline)")
    await watcher.wait_for_selector("#live:not(.offline)")
    row = f"tr[data-appeal='{late}'].kind-breached"
    assert await page.locator(row).count() == 0

    # The clock falls due: the ticker raises the breach, the outbox publishes it, the
    # dashboard's consumer pushes it to the open pages.
    site.clock.set(local(2022, 6, 16, 10))
    await page.wait_for_selector(row, timeout=30_000)
    await watcher.wait_for_selector(row, timeout=30_000)
    assert "Нарушение срока" in await page.locator(row).inner_text()
    await page.screenshot(path=str(artifacts / "alerts-live-breach.png"), full_page=True)

    await page.fill(f"{row} input[name=comment]", "Запрошены объяснения у руководителя")
    await page.click(f"{row} .ack-form button")
    await page.wait_for_selector(f"{row} .acknowledged")
    assert "Запрошены объяснения" in await page.locator(f"{row} td.ack").inner_text()
    # The other monitoring page learns of it through the alerts topic, without a reload.
    await watcher.wait_for_selector(f"{row} .acknowledged", timeout=30_000)
    stored = await site.rows(
        "SELECT acknowledge_comment FROM alerts WHERE appeal_id = $1 AND kind = 'breached'",
        uuid.UUID(late),
    )
    assert stored[0]["acknowledge_comment"] == "Запрошены объяснения у руководителя"

    await page.click(f"{row} a.appeal-link")
    await page.wait_for_url(f"{site.url}/dashboard/appeals/{late}")
    timeline = await page.locator("ol.timeline").inner_text()
    for step in ("Поступило", "Направлено", "Нарушен срок", "Оповещение подтверждено"):
        assert step in timeline
    assert f"15{NBSP}июн. 2022" in await page.locator("table.clocks").inner_text()
    await page.screenshot(path=str(artifacts / "appeal.png"), full_page=True)

    await page.click("nav.languages a[data-lang=kk]")
    await page.wait_for_selector("html[lang=kk]")
    assert "Мерзім бұзылды" in await page.locator("ol.timeline").inner_text()
    assert f"2022{NBSP}ж. 15{NBSP}мау." in await page.locator("table.clocks").inner_text()
    await page.screenshot(path=str(artifacts / "appeal-kk.png"), full_page=True)

    await page.click("nav.sections a[href='/dashboard/compliance']")
    await page.wait_for_selector("#table-agency")
    await page.screenshot(path=str(artifacts / "compliance-kk.png"), full_page=True)
    async with page.expect_download() as download_info:
        await page.click("a.csv[data-table=agency]")
    download = await download_info.value
    saved = artifacts / "compliance-agency.csv"
    await download.save_as(str(saved))
    rows = list(csv.DictReader(io.StringIO(saved.read_text("utf-8-sig"))))
    by_key = {r["key"]: r for r in rows}
    assert by_key["KRG-ENERGY-HOUSING"]["period"] == "2022Q2"
    assert by_key["KRG-ENERGY-HOUSING"]["open_overdue"] == "1"
    assert by_key["KRG-ENERGY-HOUSING"]["previous_period"] == "2021Q2"
    assert by_key["KRG-ENERGY-HOUSING"]["previous_answered_late"] == "1"
    assert by_key["KRG-HEALTH"]["answered_on_time"] == "1"
    assert by_key["KRG-HEALTH"]["name"].startswith("Қарағанды облысының денсаулық")


async def test_an_agency_sees_only_its_own_alerts_tables_and_appeals(
    browser: Any, contexts: list[Any], site: Deadlines, artifacts: Path
) -> None:
    own = await site.assign(local(2022, 5, 26, 10), agency="KRG-HEALTH", category="HEALTH-CARE")
    other = await site.assign(local(2022, 5, 26, 11))
    for appeal in (own, other):
        await site.wait_for_clock(appeal)
    page = await sign_in(browser, contexts, site, site.token(Role.AGENCY, agency="KRG-HEALTH"))
    await page.wait_for_selector("#live:not(.offline)")
    assert await page.locator("select[name=agency]").count() == 0

    site.clock.set(local(2022, 6, 16, 10))
    await page.wait_for_selector(f"tr[data-appeal='{own}'].kind-breached", timeout=30_000)
    await site.wait_until(
        "SELECT 1 FROM alerts WHERE appeal_id = $1 AND kind = 'breached'", uuid.UUID(other)
    )
    await page.reload()
    await page.wait_for_selector(f"tr[data-appeal='{own}']")
    agencies = await page.locator("#alerts tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.agency)"
    )
    assert agencies and set(agencies) == {"KRG-HEALTH"}
    # An agency may look but not acknowledge: that is the monitoring staff's call.
    assert await page.locator(".ack-form").count() == 0
    await page.screenshot(path=str(artifacts / "alerts-agency.png"), full_page=True)

    await page.goto(f"{site.url}/dashboard/compliance")
    assert await page.locator("section.compliance-table").count() == 1
    keys = await page.locator("#table-agency tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.key)"
    )
    assert keys == ["KRG-HEALTH"]
    await page.screenshot(path=str(artifacts / "compliance-agency.png"), full_page=True)
    refused = await page.request.get(f"{site.url}/dashboard/compliance/district.csv")
    assert refused.status == 403

    assert (await page.goto(f"{site.url}/dashboard/appeals/{other}")).status == 404
    assert (await page.goto(f"{site.url}/dashboard/appeals/{own}")).status == 200

    await page.goto(f"{site.url}/dashboard/backlog")
    backlog = await page.locator("#backlog tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.agency)"
    )
    assert backlog == ["KRG-HEALTH"]


async def test_a_wrong_token_is_refused_and_sets_no_session(
    browser: Any,
    contexts: list[Any],
    site: Deadlines,
    key_dir: Path,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    from appeals_tools.tokens import ensure_keys, issue_token, signing_key

    ensure_keys(tmp_path)
    foreign = issue_token(signing_key(tmp_path), Role.MONITORING)
    integration = site.token(Role.INTEGRATION, source="egov-portal")
    page = await new_page(browser, contexts)
    for token, message in (
        ("not-a-token", "Токен отклонён"),
        (foreign, "Токен отклонён"),
        (integration, "Эта роль не имеет доступа"),
    ):
        await page.goto(f"{site.url}/dashboard/sign-in")
        await page.fill("#token", token)
        async with page.expect_navigation() as navigation:
            await page.click("form[action='/dashboard/sign-in'] button")
        response = await navigation.value
        assert response.status in (401, 403)
        assert message in await page.locator(".problem").inner_text()
        assert not [c for c in await page.context.cookies() if c["name"] == "dashboard_session"]
    await page.screenshot(path=str(artifacts / "sign-in-refused.png"), full_page=True)
    await page.goto(f"{site.url}/dashboard/compliance")
    assert "/dashboard/sign-in" in page.url
