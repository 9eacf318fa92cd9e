"""Breach risk in the service: training on the clocks' history, and the scoring pass that
stores each open clock's risk and raises the early warning.

The scorer runs on a schedule (`risk_interval` seconds; a new model every `risk_train_hours`)
and by command (`deadlines risk train`, `deadlines risk score`). Several processes may run
it: training takes a transaction-level advisory lock and retrains only when the newest model
is older than the interval; a scoring pass replaces the stored risks under the same kind of
lock, and the warning's id names only the appeal and the hop, so an `alerts` primary-key
conflict drops any repeat: `kz.appeals.deadline.at-risk.v1` is raised once per hop, however
often the risk is scored and whether it dips and rises again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg
from prometheus_client import Counter

from deadlines import alerts
from deadlines.clocks import Clock
from deadlines.context import Context, refresh_calendar
from deadlines.law import local_day
from deadlines.risk import store
from deadlines.risk.features import Days, row
from deadlines.risk.model import Model, NotEnoughHistory, train
from deadlines.risk.store import Risk, hop_of

log = logging.getLogger(__name__)

WARNED = Counter("deadlines_risk_warnings_total", "At-risk early warnings raised")

# pg_advisory_xact_lock keys: one trainer and one scoring pass at a time across processes.
TRAIN_LOCK = 0x5249534B01
SCORE_LOCK = 0x5249534B02
# Seconds between passes while no model exists yet.
NO_MODEL_RETRY = 60.0


@dataclass(frozen=True)
class Settings:
    threshold: float  # risk at or above which the early warning goes out
    history_days: int  # how far back training reads the clocks
    train_hours: float  # a new model when the newest is older than this


@dataclass(frozen=True)
class Trained:
    model_id: int
    rows: int
    positives: int


@dataclass(frozen=True)
class Scored:
    clocks: int  # open clocks scored (not past due)
    warnings: int  # early warnings raised by this pass
    model_id: int | None  # None: no model yet, nothing scored


def learn(rows: Sequence[asyncpg.Record], today: date, days: Days) -> Model:
    """A model from the clocks' rows (in the trainer's thread)."""
    return train(store.hops_of(rows), today, days)


def assess(
    clocks: Sequence[asyncpg.Record], model: Model, now: datetime, days: Days, threshold: float
) -> tuple[list[Risk], list[alerts.Alert]]:
    """Each open clock's risk, and the early warnings of those at or above `threshold`."""
    today = local_day(now)
    backlog = Tally(c["agency"] for c in clocks)
    risks: list[Risk] = []
    warnings: list[alerts.Alert] = []
    for clock in clocks:
        hop = hop_of(clock)
        due = hop.due_on(today)
        if due < today:
            continue  # breached already: the breach alerts speak for it
        features = row(hop, today, backlog[hop.agency], model.stats, days)
        risk = model.probability(features)
        left = days.between(today, due)
        risks.append(Risk(clock["appeal_id"], hop.hop, hop.agency, risk, left, due))
        if risk >= threshold:
            warnings.append(alerts.build(clock, "at_risk", now, working_days_left=left, risk=risk))
    return risks, warnings


class Scorer:
    def __init__(self, pool: asyncpg.Pool, ctx: Context, clock: Clock, settings: Settings) -> None:
        self._pool = pool
        self._ctx = ctx
        self._clock = clock
        self._settings = settings
        self._stopping = asyncio.Event()
        # The known outcomes when the history was last found too short, and why. The reason's
        # text, not the exception: its traceback holds the frame that read every clock row.
        self._short: tuple[tuple[int, int], str] | None = None

    async def train(self, *, force: bool = True) -> Trained | None:
        """A model from the history now, stored as the newest; None when another process
        trained recently (unless `force`). NotEnoughHistory when there is too little."""
        now = self._clock.now()
        today = local_day(now)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", TRAIN_LOCK)
            last = await store.last_trained(conn)
            fresh = timedelta(hours=self._settings.train_hours)
            if not force and last is not None and now - last < fresh:
                return None
            await refresh_calendar(conn, self._ctx.law)
            first_day = today - timedelta(days=self._settings.history_days)
            # While no model exists a pass comes every minute; reading and making the whole
            # history again when no outcome has come since it was found too short cost the
            # deadlines process a second or two of CPU each time at 100,000 open clocks. The
            # check reads the compliance aggregates, not the clocks (store.OUTCOMES).
            outcomes = await store.outcomes(conn, today)
            if outcomes == (0, 0):  # nothing to learn from: not worth reading every clock
                raise NotEnoughHistory("no hop's outcome is known yet (none closed or overdue)")
            if not force and self._short is not None and self._short[0] == outcomes:
                raise NotEnoughHistory(self._short[1])
            rows = await store.hops_since(conn, first_day)
            days = Days(self._ctx.law.calendar)
            # CPU work off the event loop, from the rows on: the consumers keep consuming
            # meanwhile (making the hops in the loop held it for seconds at 100,000 clocks).
            try:
                model = await asyncio.to_thread(learn, rows, today, days)
            except NotEnoughHistory as why:
                self._short = (outcomes, str(why))
                raise
            self._short = None
            model_id = await store.save_model(
                conn, now, model.rows, model.positives, model.to_json()
            )
        log.info(
            "breach-risk model %d trained: %d rows, %d late or breached",
            model_id,
            model.rows,
            model.positives,
            extra={"model_id": model_id, "rows": model.rows, "positives": model.positives},
        )
        return Trained(model_id, model.rows, model.positives)

    async def score(self) -> Scored:
        """Every open clock not past due: its risk stored; the warnings of those at or above
        the threshold raised (once per hop)."""
        now = self._clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCORE_LOCK)
            stored = await store.latest_model(conn)
            if stored is None:
                return Scored(0, 0, None)
            model = Model.from_json(stored["model"])
            await refresh_calendar(conn, self._ctx.law)
            days = Days(self._ctx.law.calendar)
            clocks = await store.open_clocks(conn)
            # Every open clock's features and risk: off the event loop, like training.
            risks, warnings = await asyncio.to_thread(
                assess, clocks, model, now, days, self._settings.threshold
            )
            await store.replace_risks(conn, risks, int(stored["id"]), now)
            fresh = await alerts.store(conn, warnings, self._ctx.alerts_topic)
        WARNED.inc(len(fresh))
        return Scored(len(risks), len(fresh), int(stored["id"]))

    async def run(self, interval: float) -> None:
        """Until stopped: retrain when the model is due, score, sleep `interval` seconds (at
        most NO_MODEL_RETRY while there is no model yet: a history seeded just after the start,
        as `make run DEMO=1` does, is learned from within a minute)."""
        while not self._stopping.is_set():
            pause = interval
            try:
                try:
                    await self.train(force=False)
                except NotEnoughHistory as why:
                    # The last model (if any) keeps scoring; say why there is no new one.
                    log.info("breach-risk model not trained: %s", why, extra={"reason": str(why)})
                if (await self.score()).model_id is None:
                    pause = min(interval, NO_MODEL_RETRY)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("breach-risk pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)

    def stop(self) -> None:
        self._stopping.set()
