"""Routing: consumes AppealReceived, decides the addressee, publishes assignments.

HTTP: the triage queue, manual assignment and the what-if of a proposed reference version
(operators), redirects (the assigned agency), each appeal's routing history, and the
reference data (read by anyone with a token, replaced by operators).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import ActionResult, AnswerGiven
from appeals_contracts.submission import Day
from appeals_platform import actions, backdating
from appeals_platform.api import json_body
from appeals_platform.auth import Principal, Role, require
from appeals_platform.consumer import Subscription
from appeals_platform.openapi import json_request, refusals
from appeals_platform.problems import Refused, validation_problems
from appeals_platform.runtime import Runtime, service_app
from appeals_reference import ReferenceData
from routing import db, handlers, history, reference_versions, whatif
from routing.config import Settings
from routing.knowledge import Knowledge

log = logging.getLogger(__name__)

ANY_ROLE = (Role.INTEGRATION, Role.AGENCY, Role.OPERATOR, Role.MONITORING)


class Service:
    """The pieces the subscriber and the routes share; `knowledge` exists once started."""

    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings
        self._knowledge: Knowledge | None = None

    @property
    def knowledge(self) -> Knowledge:
        if self._knowledge is None:
            raise Refused(503, "routing is starting", headers={"Retry-After": "5"})
        return self._knowledge

    async def start(self, runtime: Runtime) -> None:
        """Seed and load the reference data and the model, then start consuming."""
        async with runtime.pool.acquire() as conn:
            self._knowledge = await Knowledge.start(
                conn,
                model_path=self.settings.model_path,
                threshold=self.settings.decision_threshold,
            )
        runtime.tasks.append(
            asyncio.create_task(
                self._knowledge.watch(runtime.pool, self.settings.refresh_interval),
                name="routing-knowledge",
            )
        )
        # Consumers start only now: a batch must never arrive before the data to route it.
        runtime.start_consumers()

    async def redirect(
        self,
        conn: asyncpg.Connection,
        appeal_id: uuid.UUID,
        body: handlers.RedirectRequest,
        agency: str,
        by: str,
        at: datetime,
    ) -> handlers.RedirectOutcome:
        """An agency's redirect, from `POST /v1/appeals/{appeal_id}/redirect` or Kafka."""
        return await handlers.redirect(
            conn,
            appeal_id,
            body,
            agency=agency,
            by=by,
            knowledge=self.knowledge,
            redirect_limit=self.settings.redirect_limit,
            at=at,
        )

    async def redirect_action(
        self, conn: asyncpg.Connection, action: actions.Action, at: datetime
    ) -> tuple[int, dict[str, Any]]:
        """`kz.appeals.agency.redirect-requested.v1`: what the HTTP redirect does; the agency
        is the actions topic's, `by` its Kafka principal."""
        assert action.appeal_id is not None
        body = redirect_request(action.data)
        outcome = await self.redirect(
            conn, action.appeal_id, body, action.agency, action.principal, at
        )
        return 201, outcome.model_dump(mode="json")

    async def route(self, conn: asyncpg.Connection, incoming: list[handlers.Incoming]) -> None:
        """Decide and record a batch of new appeals, a statement per chunk.

        Decisions run on the event loop, in chunks with the chunk's writes in between, so
        HTTP requests and the relay get their turn every chunk. A worker thread was measured
        slower: it fights the loop for the GIL. More cores are used by more processes
        (ROUTING_WORKERS), each consuming its share of the partitions.
        """
        knowledge = self.knowledge
        # One snapshot for the batch; each decision records the versions it used.
        ref, classifier = knowledge.reference, knowledge.classifier
        size = self.settings.decision_chunk_size
        for start in range(0, len(incoming), size):
            chunk = incoming[start : start + size]
            decisions = handlers.decide_all(chunk, ref, classifier, knowledge.threshold)
            await handlers.record_decisions(conn, chunk, decisions, ref, datetime.now(UTC))


def redirect_request(body: Any) -> handlers.RedirectRequest:
    """The redirect an agency asked for (HTTP body or the data of a Kafka command)."""
    try:
        return handlers.RedirectRequest.model_validate(body)
    except ValidationError as exc:
        raise Refused(422, "invalid redirect", problems=validation_problems(exc)) from None


class WhatIfRequest(BaseModel):
    """A proposed reference version to replay over the appeals of a period."""

    model_config = ConfigDict(extra="forbid")

    since: Day = Field(description="first day of the period (registration, Asia/Almaty)")
    until: Day | None = Field(default=None, description="last day (default today)")
    reference: dict[str, Any] | None = Field(
        default=None,
        description="the proposed document, shaped like GET /v1/reference; null: the active one",
    )
    examples: Annotated[int, Field(ge=0, le=20)] = 3


CSV = {"text/csv": {"schema": {"type": "string"}}}


def routing_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["routing"])
    runtime = service.runtime

    @router.get("/triage")
    async def triage_queue(
        limit: int = Query(100, ge=1, le=1000),
        principal: Principal = Depends(require(Role.OPERATOR, Role.MONITORING)),
    ) -> dict[str, Any]:
        """Appeals waiting for an operator, oldest first, with the best guess and why."""
        async with runtime.pool.acquire() as conn:
            rows = await db.triage_queue(conn, limit)
        return {
            "items": [
                {
                    "appeal_id": str(r["appeal_id"]),
                    "registration_number": r["registration_number"],
                    "registered_at": r["registered_at"].isoformat(),
                    "appeal_type": r["appeal_type"],
                    "subject": r["subject"],
                    "hop": r["hop"],
                    "reason": r["reason"],
                    "best_guess": r["best_guess"],
                    "category": r["category"],
                    "locality": r["locality"],
                    "confidence": r["confidence"],
                    "explanation": r["explanation"],
                    "reference_version": r["reference_version"],
                    "triaged_at": r["triaged_at"].isoformat(),
                }
                for r in rows
            ]
        }

    @router.post(
        "/appeals/{appeal_id}/assign",
        status_code=201,
        responses=refusals(404, 409),
        openapi_extra=json_request(handlers.AssignRequest),
    )
    async def assign(
        appeal_id: uuid.UUID,
        request: Request,
        principal: Principal = Depends(require(Role.OPERATOR)),
    ) -> JSONResponse:
        """An operator assigns a triaged appeal to an agency (method 'manual')."""
        try:
            body = handlers.AssignRequest.model_validate(await json_body(request))
        except ValidationError as exc:
            raise Refused(422, "invalid assignment", problems=validation_problems(exc)) from None
        async with runtime.pool.acquire() as conn, conn.transaction():
            assigned = await handlers.assign_manually(
                conn,
                appeal_id,
                body,
                by=principal.subject,
                knowledge=service.knowledge,
                at=datetime.now(UTC),
            )
        runtime.relay.wake()
        return JSONResponse(assigned.model_dump(mode="json"), status_code=201)

    @router.post(
        "/appeals/{appeal_id}/redirect",
        status_code=201,
        responses=refusals(404, 409),
        openapi_extra=json_request(handlers.RedirectRequest),
    )
    async def redirect(
        appeal_id: uuid.UUID,
        request: Request,
        principal: Principal = Depends(require(Role.AGENCY)),
    ) -> JSONResponse:
        """The assigned agency redirects the appeal (or a part) to a target, or asks routing
        to decide again without it (`target: null`)."""
        body = redirect_request(await json_body(request))
        assert principal.agency is not None
        at = backdating.occurred_at(
            request, principal, enabled=runtime.settings.demo_history, now=datetime.now(UTC)
        )
        async with runtime.pool.acquire() as conn, conn.transaction():
            outcome = await service.redirect(
                conn, appeal_id, body, principal.agency, principal.subject, at
            )
        runtime.relay.wake()
        return JSONResponse(outcome.model_dump(mode="json"), status_code=201)

    @router.get("/appeals/{appeal_id}/routing", responses=refusals(404))
    async def routing_history(
        appeal_id: uuid.UUID,
        principal: Principal = Depends(require(Role.AGENCY, Role.OPERATOR, Role.MONITORING)),
    ) -> dict[str, Any]:
        """Every hop of the appeal with its explanation; an agency sees only its appeals."""
        async with runtime.pool.acquire() as conn:
            hops = await history.routing_history(conn, appeal_id)
        visible = hops is not None and (
            principal.role is not Role.AGENCY or principal.agency in history.involved_agencies(hops)
        )
        if hops is None or not visible:
            # The same answer for "absent" and "not yours": ids are not an oracle.
            raise Refused(404, "no such appeal")
        return hops

    @router.get("/reference", responses=refusals(404))
    async def reference(
        version: str | None = Query(None, pattern="^[0-9a-f]{12}$", description="a version"),
        principal: Principal = Depends(require(*ANY_ROLE)),
    ) -> dict[str, Any]:
        """The active reference document (or an earlier `version`), with its version."""
        if version is None:
            return service.knowledge.reference.to_document()
        async with runtime.pool.acquire() as conn:
            row = await db.reference_version(conn, version)
        if row is None:
            raise Refused(404, "no such reference version")
        return {**row["document"], "version": row["version"]}

    @router.get("/reference/versions")
    async def reference_versions_list(
        limit: int = Query(50, ge=1, le=1000),
        principal: Principal = Depends(require(Role.OPERATOR, Role.MONITORING)),
    ) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            rows = await db.reference_history(conn, limit)
        return {
            "versions": [
                {
                    "version": r["version"],
                    "created_at": r["created_at"].isoformat(),
                    "created_by": r["created_by"],
                    "active": r["active"],
                    "activated_at": r["activated_at"].isoformat(),
                }
                for r in rows
            ]
        }

    @router.put("/reference", openapi_extra=json_request(ReferenceData))
    async def replace_reference(
        request: Request, principal: Principal = Depends(require(Role.OPERATOR))
    ) -> JSONResponse:
        """Replace the reference data with a full document; 422 lists every problem."""
        ref = reference_versions.validated(await json_body(request))
        async with runtime.pool.acquire() as conn, conn.transaction():
            change = await reference_versions.change(
                conn, ref, principal.subject, datetime.now(UTC)
            )
        service.knowledge.use_reference(ref)
        runtime.relay.wake()
        return JSONResponse(
            {
                "version": change.version,
                "previous_version": change.previous_version,
                "changed": change.changed,
            },
            status_code=200,
        )

    @router.post(
        "/what-if",
        response_model=whatif.Report,
        responses={200: {"content": {"application/json": {}, **CSV}}, **refusals(422)},
    )
    async def what_if(
        body: WhatIfRequest,
        format: Literal["json", "csv"] = Query("json", description="csv: the moved appeals"),
        _: Principal = Depends(require(Role.OPERATOR)),
    ) -> Response:
        """Which stored appeals of the period the proposed reference data would send to
        another agency (or triage), with examples and each agency's change in load, beside
        the version in force and this instance's model. Nothing is stored or published."""
        until = body.until or datetime.now(UTC).date()
        if until < body.since:
            raise Refused(422, "until is before since", f"{until} < {body.since}")
        knowledge = service.knowledge
        proposed = (
            reference_versions.validated(body.reference)
            if body.reference is not None
            else knowledge.reference
        )
        async with runtime.pool.acquire() as conn:
            current = await reference_versions.active(conn)
            report = await whatif.replay(
                conn,
                body.since,
                until,
                (current, knowledge.classifier),
                (proposed, knowledge.classifier),
                threshold=knowledge.threshold,
                examples=body.examples,
            )
        if format == "csv":
            return Response(
                whatif.appeals_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": f'attachment; filename="what-if-{body.since}.csv"'},
            )
        return JSONResponse(report.model_dump(mode="json"))

    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime.create("routing", settings, "routing.migrations")
    service = Service(runtime, settings)
    runtime.subscribe(
        Subscription(
            name=handlers.CONSUMER,
            topics=(settings.appeals_topic,),
            group=settings.consumer_group,
            parse=handlers.parse,
            handle=service.route,
            # No inbox rows: the appeal's primary key dedupes (record_decisions stores an
            # appeal once, whatever event brings it again), so an inbox row per appeal was a
            # second key for the same fact: 12 % of PostgreSQL's statement time in
            # bench-routing (docs/benchmarks.md).
            event_id=None,
            # record_decisions writes a chunk with one statement: no transaction around it.
            transaction=False,
            max_records=settings.consumer_batch_size,
            offset_reset=settings.consumer_offset_reset,
        ),
        CloudEvent[handlers.ReceivedAppeal],
        "Every registered appeal: decided, assigned to its agency or sent to triage.",
    )
    runtime.subscribe(
        actions.subscription(
            "routing-actions",
            f"{settings.consumer_group}-actions",
            {event_types.AGENCY_REDIRECT_REQUESTED: service.redirect_action},
            source=runtime.source,
            offset_reset=settings.consumer_offset_reset,
        ),
        CloudEvent[handlers.RedirectRequest],
        "Redirects an agency asks for on its own actions topic "
        "(kz.appeals.agency.redirect-requested.v1, key: appeal id), applied as POST "
        "/v1/appeals/{appeal_id}/redirect; the acting agency is the topic's. The outcome goes "
        "to agency.<code>.results.",
    )
    runtime.documents_publication(
        topics.AGENCY_RESULTS_CHANNEL,
        CloudEvent[ActionResult],
        "The outcome of each redirect an agency asked for on agency.<code>.actions.",
    )

    runtime.subscribe(
        Subscription(
            name=handlers.ANSWERS,
            topics=(settings.answers_topic,),
            group=f"{settings.consumer_group}-answers",
            parse=handlers.parse_answer,
            handle=handlers.record_answers,
            event_id=lambda answered: answered.event_id,
            offset_reset=settings.consumer_offset_reset,
        ),
        CloudEvent[AnswerGiven],
        "Intake's answers: an answered appeal takes no redirect and no assignment.",
    )

    app = service_app(
        runtime,
        [routing_router(service)],
        title="Appeals routing",
        description="Automatic determination of the addressee agency, triage and redirects.",
        on_start=[service.start],
        consume=False,
        links={
            "routing": "/v1/appeals/{appeal_id}/routing",
            "triage": "/v1/triage",
            "reference": "/v1/reference",
            "what_if": "/v1/what-if",
        },
    )
    app.state.service = service
    return app
