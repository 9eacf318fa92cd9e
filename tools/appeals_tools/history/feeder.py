"""Push a history plan through the real services, the ways integrations and agencies do.

Every appeal is registered at intake's HTTP API by the `demo-history` integration, and its
agencies then act on it at routing's (redirect), deadlines' (extend) and intake's (answer)
HTTP APIs with `demo-history` agency tokens, each request carrying the simulated moment in
`Demo-Occurred-At` (appeals_platform.backdating). Routing decides every assignment itself,
as it does live: the feeder waits for intake to show it, and the agency that acts is the one
the appeal is actually with.

An appeal's life is fed in one go (register, wait for its assignment, then its steps in
order), several appeals at a time. A history already fed is recognised by its first appeal:
intake answers 200 (already registered) for it, and nothing is sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from appeals_law.calendar import ALMATY
from appeals_platform.backdating import HEADER
from appeals_tools.history.plan import Plan, PlannedAppeal, Step

# How long the feeder waits for one step of the pipeline (an assignment, a clock).
WAIT_SECONDS = 120.0
_ANSWER_TEXT = (
    "Ваше обращение рассмотрено. По существу поставленных вопросов сообщаем, что приняты "
    "меры в пределах компетенции. Демонстрационные данные: ответ сформирован симулятором."
)


@dataclass(frozen=True)
class Urls:
    intake: str
    routing: str
    deadlines: str


class FeedError(RuntimeError):
    """A service refused a step the plan holds to be lawful: the history would be wrong."""


@dataclass
class Tally:
    registered: int = 0
    existing: int = 0
    triaged: int = 0
    steps: Counter[str] | None = None
    ids: dict[str, str] | None = None  # external id -> appeal id, of the appeals fed now

    def __post_init__(self) -> None:
        self.steps = Counter()
        self.ids = {}


def _local(moment: datetime) -> str:
    return moment.astimezone(ALMATY).isoformat()


class Feeder:
    def __init__(
        self,
        client: httpx.AsyncClient,
        urls: Urls,
        integration_token: str,
        agency_token: Callable[[str], str],
    ) -> None:
        self._client = client
        self._urls = urls
        self._integration = {"Authorization": f"Bearer {integration_token}"}
        self._agency_token = agency_token

    def _agency(self, code: str, at: datetime) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._agency_token(code)}", HEADER: at.isoformat()}

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        response = await self._client.post(url, json=body, headers=headers)
        if response.status_code >= 400:
            raise FeedError(f"POST {url}: {response.status_code} {response.text[:300]}")
        return response

    async def register(self, appeal: PlannedAppeal) -> tuple[str, bool]:
        """The appeal's id and whether intake created it now (False: it was there already)."""
        headers = {**self._integration, HEADER: appeal.registered_at.isoformat()}
        url = f"{self._urls.intake}/v1/appeals"
        response = await self._client.post(
            url, json=appeal.submission.model_dump(mode="json"), headers=headers
        )
        if response.status_code == 409:
            # The same seed fed before over another period: that history stays as it is.
            return "", False
        if response.status_code >= 400:
            raise FeedError(f"POST {url}: {response.status_code} {response.text[:300]}")
        return str(response.json()["appeal_id"]), response.status_code == 201

    async def _appeal(self, appeal_id: str) -> dict[str, Any]:
        response = await self._client.get(
            f"{self._urls.intake}/v1/appeals/{appeal_id}", headers=self._integration
        )
        if response.status_code != 200:
            raise FeedError(f"GET appeal {appeal_id}: {response.status_code} {response.text[:200]}")
        body: dict[str, Any] = response.json()
        return body

    async def _until(self, what: str, check: Callable[[], Any]) -> Any:
        """Ask `check` (a read, safe to repeat) until it finds something; a read whose
        connection broke (the service closed it, or restarts) is only asked again."""
        deadline = time.monotonic() + WAIT_SECONDS
        pause = 0.1
        broken: httpx.TransportError | None = None
        while True:
            try:
                found = await check()
            except httpx.TransportError as exc:
                found, broken = None, exc
            if found:
                return found
            if time.monotonic() > deadline:
                last = f" (last: {type(broken).__name__})" if broken else ""
                raise FeedError(f"gave up waiting for {what} after {WAIT_SECONDS:.0f} s{last}")
            await asyncio.sleep(pause)
            pause = min(1.0, pause * 1.5)

    async def assignment(self, appeal_id: str, hop_after: int = 0) -> dict[str, Any]:
        """Intake's view once routing has assigned (or triaged) hop > `hop_after`."""

        async def check() -> dict[str, Any] | None:
            view = await self._appeal(appeal_id)
            ready = view["status"] in ("assigned", "triage") and view["hop"] > hop_after
            return view if ready else None

        found: dict[str, Any] = await self._until(f"the assignment of {appeal_id}", check)
        return found

    async def _clock(self, appeal_id: str, agency: str, hop: int) -> None:
        async def check() -> bool:
            response = await self._client.get(
                f"{self._urls.deadlines}/v1/appeals/{appeal_id}/clock",
                headers={"Authorization": f"Bearer {self._agency_token(agency)}"},
            )
            return response.status_code == 200 and response.json()["current"]["hop"] >= hop

        await self._until(f"the clock of {appeal_id}", check)

    async def step(self, appeal_id: str, view: dict[str, Any], step: Step) -> dict[str, Any]:
        """Apply one step as the agency the appeal is with; intake's view afterwards."""
        agency, hop = view["agency"], view["hop"]
        if step.kind == "redirect":
            await self._post(
                f"{self._urls.routing}/v1/appeals/{appeal_id}/redirect",
                {"target": step.target, "reason": "not_competent"},
                self._agency(agency, step.at),
            )
            return await self.assignment(appeal_id, hop_after=hop)
        if step.kind == "extend":
            assert step.new_due_day is not None
            await self._clock(appeal_id, agency, hop)
            decided = step.at.astimezone(ALMATY).date()
            await self._post(
                f"{self._urls.deadlines}/v1/appeals/{appeal_id}/extend",
                {
                    "new_due_date": step.new_due_day.isoformat(),
                    "reason": "Требуется дополнительная проверка на месте (демо-данные).",
                    "notified_on": decided.isoformat(),
                },
                self._agency(agency, step.at),
            )
            return view
        assert step.outcome is not None
        await self._post(
            f"{self._urls.intake}/v1/appeals/{appeal_id}/answer",
            {"outcome": step.outcome.value, "text": _ANSWER_TEXT, "signed_at": _local(step.at)},
            self._agency(agency, step.at),
        )
        return view

    async def live(self, appeal: PlannedAppeal, tally: Tally) -> None:
        """One appeal's whole past: registration, assignment, then its steps in order."""
        appeal_id, created = await self.register(appeal)
        if not created:
            tally.existing += 1
            return
        await self.life(appeal_id, appeal, tally)

    async def life(self, appeal_id: str, appeal: PlannedAppeal, tally: Tally) -> None:
        """What the agencies do with a registered appeal."""
        tally.registered += 1
        assert tally.ids is not None
        tally.ids[appeal.submission.external_id] = appeal_id
        view = await self.assignment(appeal_id)
        for step in appeal.steps:
            if view["status"] != "assigned":
                tally.triaged += 1  # routing put it in triage: nobody acts on it
                return
            view = await self.step(appeal_id, view, step)
            assert tally.steps is not None
            tally.steps[step.kind] += 1


async def feed(
    plan: Plan,
    urls: Urls,
    integration_token: str,
    agency_token: Callable[[str], str],
    *,
    concurrency: int = 12,
    progress: Callable[[str], None] = print,
) -> Tally:
    """Feed the whole plan; a plan whose first appeal is registered already is not fed again."""
    tally = Tally()
    if not plan.appeals:
        return tally
    # An idle connection is dropped well before the services' servers close it (uvicorn:
    # 5 s, httpx's own default too), so a request never goes out on one closing under it.
    limits = httpx.Limits(max_connections=concurrency * 2, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        feeder = Feeder(client, urls, integration_token, agency_token)
        first, rest = plan.appeals[0], plan.appeals[1:]
        first_id, created = await feeder.register(first)
        if not created:
            tally.existing = len(plan.appeals)
            progress("history: already fed (its first appeal is registered); nothing sent")
            return tally
        queue: asyncio.Queue[PlannedAppeal] = asyncio.Queue()
        for appeal in rest:
            queue.put_nowait(appeal)
        started = time.monotonic()
        done = 0

        def count() -> None:
            nonlocal done
            done += 1
            if done % 100 == 0 or done == len(plan.appeals):
                rate = done / max(0.001, time.monotonic() - started)
                progress(
                    f"history: {done}/{len(plan.appeals)} appeals fed "
                    f"({rate:.1f}/s, steps {dict(tally.steps or {})})"
                )

        async def worker() -> None:
            while not queue.empty():
                await feeder.live(queue.get_nowait(), tally)
                count()

        async def first_life() -> None:
            await feeder.life(first_id, first, tally)
            count()

        await asyncio.gather(first_life(), *(worker() for _ in range(concurrency)))
    return tally
