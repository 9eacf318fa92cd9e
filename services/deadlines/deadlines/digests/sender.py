"""When digests go out, what is in them, and the loop that sends them.

On a working day (the KZ calendar with the service's overrides), from `digest_hour` local time
on, every recipient without a digest for the day gets one. Each digest is claimed in
PostgreSQL before it is sent (db.claim), so two instances never both send it; a sender that
dies mid-send leaves a lease that runs out, and the digest is sent again under the same
Message-ID. Sending is outside any transaction. Figures are as of the moment of sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr

import asyncpg
from prometheus_client import Counter

from appeals_law.calendar import ALMATY
from appeals_platform.availability import database_unavailable
from deadlines import queries
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context
from deadlines.digests import db, letters
from deadlines.digests.mail import Mailer
from deadlines.digests.recipients import Recipient
from deadlines.law import local_day

log = logging.getLogger(__name__)

SENT = Counter("deadlines_digests_total", "Digest attempts", ["scope", "outcome"])

# The most appeals one list names; the rest are counted ("… and N more").
LIST_LIMIT = 50
# A failed attempt is retried after this many seconds times 2**(attempt - 1), at most an hour.
RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Schedule:
    hour: int
    interval: float
    lease_seconds: float
    dashboard_url: str
    sender: str  # the From header


class DigestSender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ctx: Context,
        clock: Clock,
        recipients: list[Recipient],
        mailer: Mailer,
        schedule: Schedule,
    ) -> None:
        self._pool = pool
        self._ctx = ctx
        self._clock = clock
        self._recipients = recipients
        self._mailer = mailer
        self._schedule = schedule
        self._name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._domain = parseaddr(schedule.sender)[1].rpartition("@")[2] or "localhost"
        self._stopping = asyncio.Event()

    def due_day(self) -> date | None:
        """Today, if today's digests are due by now; else None."""
        now = self._clock.now()
        today = local_day(now)
        calendar = self._ctx.law.calendar
        if not calendar.is_working_day(today):
            return None
        return today if now.astimezone(ALMATY).hour >= self._schedule.hour else None

    async def send_due(self) -> int:
        """Send what is due now and not sent yet; how many this call sent."""
        day = self.due_day()
        return 0 if day is None else await self.send_day(day)

    async def send_day(self, day: date) -> int:
        sent = 0
        for recipient in self._recipients:
            sent += await self._send_one(recipient, day)
        return sent

    async def _send_one(self, recipient: Recipient, day: date) -> int:
        scope = "region" if recipient.agency is None else "agency"
        key = hashlib.sha256(recipient.email.lower().encode()).hexdigest()[:16]
        message_id = letters.message_id(key, day, self._domain)
        async with self._pool.acquire() as conn:
            attempt = await db.claim(
                conn,
                recipient=recipient.email,
                day=day,
                scope=recipient.key,
                language=recipient.language,
                message_id=message_id,
                sender=self._name,
                lease_seconds=self._schedule.lease_seconds,
            )
            if attempt is None:
                return 0
            letter = await self.compose(conn, recipient, day)
        mail = letters.message(
            letter,
            sender=self._schedule.sender,
            recipient=recipient.email,
            language=recipient.language,
            message_id=message_id,
            day=day,
            scope=recipient.key,
            now=self._clock.now(),
        )
        try:
            await self._mailer.send(mail)
        except Exception as exc:  # any failure is retried later
            retry = min(3600.0, RETRY_SECONDS * 2 ** (attempt - 1))
            async with self._pool.acquire() as conn:
                await db.mark_failed(conn, recipient.email, day, self._name, repr(exc), retry)
            SENT.labels(scope, "failed").inc()
            log.warning(
                "digest for %s on %s not sent (attempt %d, %s); retry in %.0f s",
                recipient.key,
                day.isoformat(),
                attempt,
                type(exc).__name__,
                retry,
            )
            return 0
        async with self._pool.acquire() as conn:
            await db.mark_sent(conn, recipient.email, day, self._name)
        SENT.labels(scope, "sent").inc()
        log.info(
            "digest for %s on %s sent in %s (attempt %d)",
            recipient.key,
            day.isoformat(),
            recipient.language,
            attempt,
        )
        return 1

    async def compose(
        self, conn: asyncpg.Connection, recipient: Recipient, day: date
    ) -> letters.Letter:
        """The recipient's digest for `day`, with the figures of now."""
        now = self._clock.now()
        calendar = self._ctx.law.calendar
        horizon = calendar.add_working_days(day, 3)
        language = recipient.language
        if recipient.agency is None:
            rows = await db.region_rows(conn, now, horizon)
            inboxes = await queries.inbox_states(conn)
            return letters.region_letter(
                language,
                day=day,
                lines=[
                    letters.RegionLine(
                        self._agency_name(r.agency, language),
                        r.open,
                        r.due_soon,
                        r.overdue,
                        r.unconfirmed,
                    )
                    for r in rows
                ],
                stalled=[
                    letters.StalledInbox(
                        self._agency_name(inbox.agency, language),
                        letters.inbox_facts(language, inbox, checked=False),
                    )
                    for inbox in inboxes
                    if inbox.state == "stalled"
                ],
                dashboard_url=self._schedule.dashboard_url,
            )
        sections = []
        for overdue in (False, True):
            window = await db.agency_window(
                conn, recipient.agency, now, horizon, overdue=overdue, limit=LIST_LIMIT
            )
            lines = [
                letters.Line(
                    number=item.registration_number,
                    kind=item.appeal_type,
                    day=item.due_day,
                    days=(
                        calendar.working_days_between(item.due_day, day)
                        if overdue
                        else calendar.working_days_between(day, item.due_day)
                    ),
                    extended=item.extended,
                )
                for item in window.items
            ]
            title = (
                letters.text(language, "overdue")
                if overdue
                else letters.text(language, "due_soon", horizon=letters.day_text(horizon))
            )
            days_column = "late" if overdue else "left"
            sections.append(letters.Section(title, lines, window.total, "due", days_column))
        waiting, total = await db.unconfirmed(conn, recipient.agency, limit=LIST_LIMIT)
        sections.append(
            letters.Section(
                letters.text(language, "unconfirmed"),
                [
                    letters.Line(
                        number=item.registration_number,
                        kind=item.appeal_type,
                        day=item.received_day,
                        days=max(0, calendar.working_days_between(item.received_day, day)),
                    )
                    for item in waiting
                ],
                total,
                "received",
                "waiting",
            )
        )
        # The watcher's last look (deadlines.inboxes); the unconfirmed list above is live.
        states = await queries.inbox_states(conn, recipient.agency)
        inbox = states[0] if states else None
        return letters.agency_letter(
            language,
            day=day,
            agency_name=self._agency_name(recipient.agency, language),
            sections=sections,
            inbox=letters.inbox_facts(language, inbox),
            dashboard_url=self._schedule.dashboard_url,
        )

    def _agency_name(self, code: str, language: str) -> str:
        reference = self._ctx.reference
        if not reference.has_agency(code):
            return code
        agency = reference.agency(code)
        return agency.name_kk if language == "kk" else agency.name_ru

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.send_due()
            except Exception as exc:  # the loop outlives one bad pass
                if database_unavailable(exc):
                    log.warning("digests wait for PostgreSQL")
                else:
                    log.exception("digest pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._schedule.interval)

    def stop(self) -> None:
        self._stopping.set()


def create(
    pool: asyncpg.Pool, ctx: Context, clock: Clock, settings: Settings, recipients: list[Recipient]
) -> DigestSender:
    """A sender with the SMTP server and schedule of `settings`."""
    mailer = Mailer(
        settings.smtp_host,
        settings.smtp_port,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password_file=settings.smtp_password_file,
        timeout=settings.smtp_timeout,
    )
    schedule = Schedule(
        hour=settings.digest_hour,
        interval=settings.digest_interval,
        lease_seconds=settings.digest_lease_seconds,
        dashboard_url=settings.digest_dashboard_url,
        sender=settings.digest_from,
    )
    return DigestSender(pool, ctx, clock, recipients, mailer, schedule)
