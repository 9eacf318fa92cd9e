"""The ticker: claims clocks whose next action is due and raises their alerts, in batches.

One transaction per batch: `SELECT … FOR UPDATE SKIP LOCKED` on the partial index of open
clocks, the alerts and next actions computed in Python, alert rows and outbox rows inserted
and the timers updated set-based. Any number of tickers may run: a row is claimed by one of
them, and the alert ids are deterministic (an `alerts` primary key conflict drops a repeat),
so a breach is announced exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from prometheus_client import Counter

from deadlines import alerts, db
from deadlines.clocks import Clock
from deadlines.context import Context, refresh_calendar
from deadlines.handlers import timer_of
from deadlines.schedule import fire, next_action

log = logging.getLogger(__name__)

RAISED = Counter("deadlines_alerts_raised_total", "Alerts raised by the ticker", ["kind"])


@dataclass(frozen=True)
class TickResult:
    clocks: int
    alerts: int


class Ticker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ctx: Context,
        clock: Clock,
        *,
        batch_size: int = 1000,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._ctx = ctx
        self._clock = clock
        self._batch_size = batch_size
        self._wake = wake
        self._stopping = asyncio.Event()

    async def tick(self) -> TickResult:
        """One batch: the clocks due now, at most `batch_size` of them."""
        now = self._clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            # One cheap query: a calendar change made elsewhere applies from this batch on.
            await refresh_calendar(conn, self._ctx.law)
            rules, calendar = self._ctx.law.rules, self._ctx.law.calendar
            rows = await db.claim_due(conn, now, self._batch_size)
            if not rows:
                return TickResult(0, 0)
            raised: list[alerts.Alert] = []
            updates: list[db.TimerUpdate] = []
            for row in rows:
                firings, timer = fire(timer_of(row), now, rules, calendar)
                for firing in firings:
                    raised.append(
                        alerts.build(
                            row,
                            firing.kind,
                            now,
                            working_days_late=firing.working_days_late,
                            working_days_left=firing.working_days_left,
                            reminder=firing.reminder,
                        )
                    )
                action, at = next_action(timer, rules, calendar)
                updates.append(
                    db.TimerUpdate(
                        row=row["ctid"],
                        warned_offset=timer.warned_offset,
                        breached_at=timer.breached_at,
                        reminders_sent=timer.reminders_sent,
                        escalated_at=timer.escalated_at,
                        next_action=action,
                        next_action_at=at,
                    )
                )
            fresh = await alerts.store(conn, raised, self._ctx.alerts_topic)
            await db.update_timers(conn, updates)
        for alert in fresh:
            RAISED.labels(alert.kind).inc()
        if fresh and self._wake is not None:
            self._wake()
        return TickResult(len(rows), len(fresh))

    async def drain(self) -> TickResult:
        """Tick until fewer than a full batch is due: everything due now is handled."""
        clocks = raised = 0
        while True:
            result = await self.tick()
            clocks += result.clocks
            raised += result.alerts
            if result.clocks < self._batch_size:
                return TickResult(clocks, raised)

    async def run(self, interval: float) -> None:
        """Until stopped: drain, then sleep `interval` seconds."""
        while not self._stopping.is_set():
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ticker failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)

    def stop(self) -> None:
        self._stopping.set()
