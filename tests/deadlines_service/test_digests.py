"""Daily digests by email, received by a real SMTP server (aiosmtpd) in the test process:
one per recipient per working day even with two senders, the right appeals in the right
sections, Russian or Kazakh by the recipient's setting, multipart text and HTML."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from appeals_law.calendar import WorkingCalendar
from appeals_platform.auth import Role
from deadlines import cli
from deadlines.clocks import SettableClock
from deadlines.digests import letters
from deadlines.digests import sender as digest_sender
from deadlines.queries import InboxRecord
from tests.conftest import Stack, TokenFactory
from tests.deadlines_service.conftest import Deadlines, Topics, local, start_deadlines

HEAD = "head@energy.example.kz"
AKIM = "akim@karaganda.example.kz"
MONITORING = "monitoring@akimat.example.kz"
REFUSED = "refused@example.kz"


@dataclass
class Mailbox:
    """An SMTP server's handler: keeps every message, refuses the addresses in `refuse`."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


async def settled(box: Mailbox, count: int) -> None:
    """Wait until `count` messages arrived (the service's own loop may be sending too)."""
    for _ in range(200):
        if len(box.messages) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert len(box.messages) == count


def printed(out: str) -> list[str]:
    """What a command printed, without the service's JSON log lines."""
    return [line for line in out.splitlines() if line and not line.startswith('{"time"')]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def recipients_file(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "recipients.yaml"
    path.write_text(
        "recipients:\n"
        f"  - {{email: {HEAD}, agency: KRG-ENERGY-HOUSING, language: kk}}\n"
        f"  - {{email: {AKIM}, agency: KRG-KARAGANDA-AKIMAT, language: ru}}\n"
        f"  - {{email: {MONITORING}, scope: region, language: ru}}\n" + "".join(extra),
        encoding="utf-8",
    )
    return path


def parts(message: EmailMessage) -> dict[str, str]:
    """content type -> decoded text of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    found = {}
    for part in message.iter_parts():
        assert part.get_content_charset() == "utf-8"
        found[part.get_content_type()] = part.get_content()
    return found


def section(text: str, start: str, end: str | None) -> str:
    """The text between the line starting with `start` and the next starting with `end`."""
    tail = text[text.index(start) :]
    return tail[: tail.index(end)] if end else tail


async def seed(service: Deadlines) -> dict[str, dict[str, Any]]:
    """Appeals received over five weeks, mostly the energy department's; their clock views."""
    views = {}
    start = local(2022, 4, 18, 10)
    for n in range(12):
        agency = "KRG-KARAGANDA-AKIMAT" if n % 4 == 3 else "KRG-ENERGY-HOUSING"
        appeal_id = await service.assign(start + timedelta(days=3 * n), agency=agency)
        views[appeal_id] = await service.wait_for(appeal_id)
    return views


def expected(
    views: dict[str, dict[str, Any]], agency: str, day: date, now: datetime
) -> tuple[set[str], set[str]]:
    """The registration numbers of `agency` due within 3 working days of `day`, and overdue."""
    horizon = WorkingCalendar().add_working_days(day, 3)
    soon, overdue = set(), set()
    for appeal_id, view in views.items():
        clock = view["current"]
        if clock["agency"] != agency:
            continue
        due_at = datetime.fromisoformat(clock["due_at"])
        number = f"KRG-TEST-{appeal_id[:8]}"
        if due_at < now:
            overdue.add(number)
        elif due_at.date() <= horizon:
            soon.add(number)
    return soon, overdue


async def test_one_digest_per_recipient_per_working_day(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    clock = SettableClock(local(2022, 5, 26, 7, 30))  # a Thursday, before the digest hour
    async with start_deadlines(
        stack,
        database,
        key_dir,
        token,
        topics,
        clock,
        digest_recipients_file=recipients_file(tmp_path),
        smtp_host="127.0.0.1",
        smtp_port=port,
        digest_hour=8,
        digest_interval=0.1,
    ) as service:
        views = await seed(service)
        await asyncio.sleep(0.5)  # the sender's loop has looked several times: too early
        assert box.messages == []

        now = local(2022, 5, 26, 9)
        clock.set(now)
        # The service's own loop and a second instance's sender race for the same digests.
        second = digest_sender.create(
            service.service.runtime.pool,
            service.service.ctx,
            clock,
            service.service.settings,
            service.service.digests[0]._recipients,
        )
        await asyncio.gather(*(second.send_due() for _ in range(3)))
        for _ in range(100):
            if len(box.messages) >= 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        await second.send_due()
        assert sorted(m["To"].addresses[0].addr_spec for m in box.messages) == sorted(
            [HEAD, AKIM, MONITORING]
        )

        # The energy department's head reads Kazakh: its overdue and due-soon appeals only.
        head = box.to(HEAD)[0]
        assert head["Content-Language"] == "kk"
        assert head["Subject"].startswith("26.05.2022 күнгі өтініштер бойынша жиынтық")
        assert "энергетика" in head["Subject"]
        assert head["Auto-Submitted"] == "auto-generated"
        assert head["Message-ID"].startswith("<digest.2022-05-26.")
        assert head["X-Appeals-Digest"] == "KRG-ENERGY-HOUSING; 2022-05-26"
        body = parts(head)
        assert set(body) == {"text/plain", "text/html"}
        soon, overdue = expected(views, "KRG-ENERGY-HOUSING", date(2022, 5, 26), now)
        assert soon and overdue, "the seed must fill both sections"
        text = body["text/plain"]
        soon_part = section(text, "Жауап беру мерзімі алдағы", "Жауап беру мерзімі өтіп")
        late_part = section(text, "Жауап беру мерзімі өтіп", "Алынғаны расталмаған")
        waiting_part = section(text, "Алынғаны расталмаған", "Органның кіріс тағайындаулары")
        numbers = {n for v in views for n in [f"KRG-TEST-{v[:8]}"]}
        assert {n for n in numbers if n in soon_part} == soon
        assert {n for n in numbers if n in late_part} == overdue
        # None of the seeded assignments is confirmed: every open one waits for it.
        energy = {
            f"KRG-TEST-{a[:8]}"
            for a, v in views.items()
            if v["current"]["agency"] == "KRG-ENERGY-HOUSING"
        }
        assert {n for n in numbers if n in waiting_part} == energy
        assert f"{len(soon)}" in soon_part.splitlines()[0]
        for number in soon | overdue:
            assert number in body["text/html"]
        assert "<script" not in body["text/html"]

        # The akimat's head reads Russian.
        akim = box.to(AKIM)[0]
        assert akim["Content-Language"] == "ru"
        assert akim["Subject"].startswith("Сводка по обращениям на 26.05.2022")
        akim_soon, akim_overdue = expected(views, "KRG-KARAGANDA-AKIMAT", date(2022, 5, 26), now)
        akim_text = parts(akim)["text/plain"]
        for number in akim_soon | akim_overdue:
            assert number in akim_text
        for number in soon | overdue:
            assert number not in akim_text

        # Monitoring's regional digest counts every open clock, per agency.
        region = parts(box.to(MONITORING)[0])["text/plain"]
        energy_open = sum(
            1 for v in views.values() if v["current"]["agency"] == "KRG-ENERGY-HOUSING"
        )
        energy_line = next(line for line in region.splitlines() if "энергетики" in line)
        # None of the seeded assignments is confirmed: all open ones are unconfirmed.
        assert energy_line.split(" | ")[1:] == [
            str(energy_open),
            str(len(soon)),
            str(len(overdue)),
            str(energy_open),
        ]
        total_line = next(line for line in region.splitlines() if line.startswith("Итого"))
        assert total_line.startswith(f"Итого | {len(views)} |")
        assert total_line.endswith(f" | {len(views)}")

        rows = await service.rows("SELECT scope, state, attempts FROM digests ORDER BY scope")
        assert [(r["scope"], r["state"]) for r in rows] == [
            ("KRG-ENERGY-HOUSING", "sent"),
            ("KRG-KARAGANDA-AKIMAT", "sent"),
            ("region", "sent"),
        ]

        # Saturday: no digests; Monday, the next working day: one each again.
        clock.set(local(2022, 5, 28, 10))
        assert await second.send_due() == 0
        clock.set(local(2022, 5, 30, 8, 5))
        for _ in range(100):
            if len(box.messages) >= 6:
                break
            await asyncio.sleep(0.05)
        await second.send_due()
        assert len(box.messages) == 6
        assert {m["Message-ID"] for m in box.messages[3:]}.isdisjoint(
            {m["Message-ID"] for m in box.messages[:3]}
        )


async def test_a_refused_digest_is_retried_and_the_others_go_out(
    capsys: pytest.CaptureFixture[str],
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    box.refuse.add(REFUSED)
    # Before the digest hour: the service's loop looks once at start and finds nothing due,
    # so only the test's own calls send.
    clock = SettableClock(local(2022, 5, 26, 7))
    recipients = recipients_file(
        tmp_path, f"  - {{email: {REFUSED}, agency: KRG-ENERGY-HOUSING, language: ru}}\n"
    )
    async with start_deadlines(
        stack,
        database,
        key_dir,
        token,
        topics,
        clock,
        digest_recipients_file=recipients,
        smtp_host="127.0.0.1",
        smtp_port=port,
        digest_interval=3600,  # the test drives the sender itself
    ) as service:
        sender = service.service.digests[0]
        clock.set(local(2022, 5, 26, 9))
        await sender.send_due()
        await settled(box, 3)
        [row] = await service.rows(
            "SELECT state, attempts, last_error FROM digests WHERE recipient = $1", REFUSED
        )
        assert (row["state"], row["attempts"]) == ("sending", 1)
        assert "550" in row["last_error"]

        # Not before its retry time; then once, with the same Message-ID.
        assert await sender.send_due() == 0
        box.refuse.clear()
        await service.rows(
            "UPDATE digests SET claimed_until = now() - interval '1 second' WHERE recipient = $1",
            REFUSED,
        )
        assert await sender.send_due() == 1
        assert await sender.send_due() == 0
        [late] = box.to(REFUSED)
        assert late["Message-ID"].startswith("<digest.2022-05-26.")
        [row] = await service.rows(
            "SELECT state, attempts, last_error FROM digests WHERE recipient = $1", REFUSED
        )
        assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 2, None)

        # The operator's view: what a recipient would get, and what went out (no addresses).
        settings = service.service.settings
        assert await cli.run(["digests", "preview", HEAD], settings) == 0
        preview = printed(capsys.readouterr().out)
        assert preview[0].startswith("Subject: ") and "жиынтық" in preview[0]
        assert await cli.run(["digests", "list", "--day", "2022-05-26"], settings) == 0
        listing = printed(capsys.readouterr().out)
        assert len(listing) == 4 and all(" sent " in line for line in listing)
        assert not any("@" in line for line in listing)


def test_a_recipients_file_with_an_unknown_agency_is_refused(tmp_path: Path) -> None:
    from appeals_reference.loader import load_reference
    from deadlines.digests import recipients

    path = tmp_path / "recipients.yaml"
    path.write_text("recipients:\n  - {email: a@b.kz, agency: KRG-NOWHERE}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="KRG-NOWHERE"):
        recipients.load(path, load_reference())
    path.write_text("recipients:\n  - {email: a@b.kz}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="agency"):
        recipients.load(path, load_reference())


CULTURE = "KRG-CULTURE"  # this test's agency: only its own appeals and inbox are looked at
CULTURE_HEAD = "head@culture.example.kz"


async def test_a_digest_lists_the_unconfirmed_assignments_and_a_stalled_inbox(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
) -> None:
    """Item 6's "unconfirmed" and "inbox state": the head's digest lists exactly the
    assignments the agency has not confirmed, oldest first, and says its inbox is stalled;
    monitoring's counts them per agency and names the stalled inbox."""
    box, port = mailbox
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(
        "recipients:\n"
        f"  - {{email: {CULTURE_HEAD}, agency: {CULTURE}, language: ru}}\n"
        f"  - {{email: {MONITORING}, scope: region, language: kk}}\n",
        encoding="utf-8",
    )
    clock = SettableClock(local(2022, 5, 26, 7))  # a Thursday, before the digest hour
    async with start_deadlines(
        stack,
        database,
        key_dir,
        token,
        topics,
        clock,
        digest_recipients_file=recipients,
        smtp_host="127.0.0.1",
        smtp_port=port,
        digest_interval=3600,  # the test drives the sender itself
        inbox_watch_enabled=False,  # and the inbox watcher
    ) as service:
        # Received Monday, Tuesday and Wednesday; the agency confirms Tuesday's only.
        oldest, confirmed, newest = [
            await service.assign(local(2022, 5, day, 10), agency=CULTURE) for day in (23, 24, 25)
        ]
        for appeal in (oldest, confirmed, newest):
            await service.wait_for(appeal)
        response = await service.client.post(
            f"/v1/appeals/{confirmed}/receipt", headers=service.auth(Role.AGENCY, agency=CULTURE)
        )
        assert response.status_code in (200, 201), response.text

        # Monday's assignment has waited more than a working day: the watcher stalls the inbox.
        clock.set(local(2022, 5, 26, 9))
        watcher = service.service.watchers[0]
        [culture] = [row for row in await watcher.round() if row.agency == CULTURE]
        assert culture.state == "stalled" and "unconfirmed" in culture.reasons

        assert await service.service.digests[0].send_due() == 2
        await settled(box, 2)

        def number(appeal_id: str) -> str:
            return f"KRG-TEST-{appeal_id[:8]}"

        head = box.to(CULTURE_HEAD)[0]
        assert head["Content-Language"] == "ru"
        body = parts(head)
        text = body["text/plain"]
        waiting = section(text, "Получение не подтверждено", "Входящие назначения органа")
        assert waiting.splitlines()[0].endswith(": 2")
        listed = [line.split()[0] for line in waiting.splitlines()[1:] if line.strip()]
        assert listed == [number(oldest), number(newest)]  # the longest waiting first
        inbox = section(text, "Входящие назначения органа", "--")
        assert "Не разбираются с " in inbox
        assert "Не подтверждено назначений: 2" in inbox
        html = body["text/html"]
        unconfirmed_html = html[html.index("Получение не подтверждено") :]
        unconfirmed_html = unconfirmed_html[: unconfirmed_html.index("</table>")]
        assert number(oldest) in unconfirmed_html and number(newest) in unconfirmed_html
        assert number(confirmed) not in unconfirmed_html
        assert "Не разбираются с " in html

        # Monitoring reads Kazakh: the agency's unconfirmed count, and its inbox among the
        # stalled ones (other agencies' topics on the shared broker may be stalled too).
        region = parts(box.to(MONITORING)[0])["text/plain"]
        name = "Қарағанды облысының мәдениет"
        culture_line = next(line for line in region.splitlines() if line.startswith(name))
        assert culture_line.split(" | ")[1:] == ["3", "0", "0", "2"]
        stalled = section(region, "Кіріс тағайындауларын қарамайтын органдар", "--")
        [stalled_line] = [line for line in stalled.splitlines() if name in line]
        assert "бастап қаралмайды" in stalled_line
        assert "Расталмаған тағайындаулар: 2" in stalled_line


def test_every_inbox_state_is_worded_in_both_languages() -> None:
    """The agency digest's inbox paragraph for a watched agency that is fine, one that is
    stalled for both reasons, and one not checked yet, in Russian and Kazakh."""
    checked = local(2022, 5, 26, 9, 30)
    fine = InboxRecord("KRG-SPORT", "ok", [], 0, None, checked, None, 0, None, checked)
    stalled = InboxRecord(
        "KRG-SPORT",
        "stalled",
        ["lag", "unconfirmed"],
        4,
        local(2022, 5, 25, 10),
        None,
        local(2022, 5, 24, 11),
        2,
        local(2022, 5, 25, 10, 31),
        checked,
    )
    expected_words = {
        "ru": (
            ["Читаются и подтверждаются в обычном режиме.", "Проверено 26.05.2022 09:30."],
            [
                "Не разбираются с 25.05.2022 10:31.",
                "Не прочитано записей в топике назначений: 4 (с 25.05.2022 10:00).",
                "Не подтверждено назначений: 2, самое давнее получено 24.05.2022 11:00.",
                "Проверено 26.05.2022 09:30.",
            ],
            ["Ещё не проверялись."],
        ),
        "kk": (
            ["Қалыпты түрде оқылады және расталады.", "Тексерілген уақыты: 26.05.2022 09:30."],
            [
                "25.05.2022 10:31 бастап қаралмайды.",
                "Тағайындаулар топигінде оқылмаған жазбалар: 4 (25.05.2022 10:00 бастап).",
                "Расталмаған тағайындаулар: 2, ең ескісі 24.05.2022 11:00 алынған.",
                "Тексерілген уақыты: 26.05.2022 09:30.",
            ],
            ["Әлі тексерілмеген."],
        ),
    }
    for language, (ok_words, stalled_words, unknown_words) in expected_words.items():
        assert language in ("ru", "kk")
        assert letters.inbox_facts(language, fine) == ok_words
        assert letters.inbox_facts(language, stalled) == stalled_words
        assert letters.inbox_facts(language, None) == unknown_words
        letter = letters.agency_letter(
            language,
            day=date(2022, 5, 26),
            agency_name="KRG-SPORT",
            sections=[],
            inbox=stalled_words,
            dashboard_url="http://dashboard.example",
        )
        assert all(fact in letter.text and fact in letter.html for fact in stalled_words)
