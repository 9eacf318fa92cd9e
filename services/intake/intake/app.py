"""Intake: the HTTP API for integrations and agencies, and the Kafka subscribers."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import (
    ActionResult,
    AnswerGiven,
    AppealReceived,
    AppealStatusChanged,
)
from appeals_contracts.identity import mask_iin
from appeals_contracts.submission import AnswerSubmission, AppealSubmission, Iin
from appeals_law.calendar import WorkingCalendar
from appeals_law.rules import load_rules
from appeals_platform import actions, backdating
from appeals_platform.api import OrjsonResponse, json_body
from appeals_platform.auth import Principal, Role, require
from appeals_platform.consumer import Subscription
from appeals_platform.openapi import json_request, refusals
from appeals_platform.problems import FieldProblem, Refused, validation_problems
from appeals_platform.runtime import Runtime, service_app
from appeals_reference import load_integrations
from intake import channel, db, handlers, open311
from intake.access import can_see
from intake.channel import Rejection
from intake.config import Settings
from intake.reference import Codes
from intake.registrar import Registrar

log = logging.getLogger(__name__)

FOREIGN_TOPICS = (
    topics.APPEAL_ASSIGNED,
    topics.APPEAL_REDIRECTED,
    topics.APPEAL_TRIAGE,
    topics.DEADLINE_EVENTS,
    topics.ALERTS,
)


CONTRACT_REFUSED = "the submission does not meet contract v1"


class ApplicantSearch(BaseModel):
    """The body of `POST /v1/applicants/search`: whose appeals, and how many at most."""

    # hide_input_in_errors: a rejected IIN must not come back in a message or a log line.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    iin: Iin
    limit: int = Field(100, ge=1, le=1000, strict=True)


def appeal_view(appeal: Any, timeline: list[Any]) -> dict[str, Any]:
    submission = appeal["submission"]
    return {
        "appeal_id": str(appeal["id"]),
        "registration_number": appeal["registration_number"],
        "registered_at": handlers.local(appeal["registered_at"]),
        "type": appeal["type"],
        "status": appeal["status"],
        "agency": appeal["agency"],
        "hop": appeal["hop"],
        "due_at": handlers.local(appeal["due_at"]),
        "overdue": appeal["overdue"],
        "answered_at": handlers.local(appeal["answered_at"]),
        "answer": appeal["answer"],
        "subject": submission.get("subject"),
        "category": appeal["category"],
        "locality": appeal["locality"],
        "channel": appeal["channel"],
        "timeline": [
            {
                "kind": t["kind"],
                "type": t["type"],
                "at": handlers.local(t["at"]),
                "event_id": t["event_id"],
                "data": t["data"],
            }
            for t in timeline
        ],
    }


def appeals_router(runtime: Runtime, registrar: Registrar, codes: Codes) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["appeals"])

    @router.post(
        "/appeals",
        status_code=201,
        responses={
            200: {"description": "Registered before: the same content again"},
            **refusals(409),
        },
        openapi_extra=json_request(AppealSubmission),
    )
    async def submit_appeal(
        request: Request, principal: Principal = Depends(require(Role.INTEGRATION))
    ) -> OrjsonResponse:
        """Register an appeal (contract v1). A retry with the same content returns it with 200."""
        body = await json_body(request)
        try:
            submission = AppealSubmission.model_validate(body)
        except ValidationError as exc:
            raise Refused(422, CONTRACT_REFUSED, problems=validation_problems(exc)) from None
        received_at = backdating.occurred_at(
            request, principal, enabled=runtime.settings.demo_history, now=datetime.now(UTC)
        )
        if future := handlers.future_problems(submission, received_at):
            raise Refused(422, CONTRACT_REFUSED, problems=future)
        if unknown := codes.problems(submission):
            raise Refused(422, "the submission uses unknown reference codes", problems=unknown)
        assert principal.source is not None
        registration = await registrar.register(
            handlers.Application(submission, principal.source, "http", received_at)
        )
        if registration.outcome == "created":
            log.info("appeal registered", extra={"appeal_id": str(registration.appeal_id)})
            return OrjsonResponse(
                registration.body(),
                status_code=201,
                headers={"Location": f"/v1/appeals/{registration.appeal_id}"},
            )
        if registration.outcome == "existing":
            return OrjsonResponse(registration.body(), status_code=200)
        raise Refused(
            409,
            "this external_id was already used for a different appeal",
            f"({principal.source}, external_id) is registered as "
            f"{registration.registration_number}; a retry must send the same content",
            problems=[
                FieldProblem(field=path, message="differs from the registered appeal")
                for path in registration.differences[:50]
            ],
        )

    @router.get("/appeals/{appeal_id}", responses=refusals(404))
    async def get_appeal(
        appeal_id: uuid.UUID,
        principal: Principal = Depends(
            require(Role.INTEGRATION, Role.AGENCY, Role.OPERATOR, Role.MONITORING)
        ),
    ) -> dict[str, Any]:
        """Status, current agency, due date and the timeline of every event about the appeal."""
        async with runtime.pool.acquire() as conn:
            appeal = await db.get_appeal(conn, appeal_id)
            if appeal is None or not can_see(principal, appeal):
                # The same answer for "absent" and "not yours": ids are not an oracle.
                raise Refused(404, "no such appeal")
            timeline = await db.timeline(conn, appeal_id)
        return appeal_view(appeal, timeline)

    @router.post(
        "/applicants/search",
        responses={200: {"description": "The applicant's appeals, newest first (the IIN masked)."}},
    )
    async def applicant_search(
        search: ApplicantSearch = Body(...),
        principal: Principal = Depends(require(Role.MONITORING, Role.INTEGRATION)),
    ) -> dict[str, Any]:
        """The applicant's appeals; an integration sees only those it submitted.

        The IIN travels in the body, never in the URL: proxies and access logs keep URLs.
        """
        source = principal.source if principal.role is Role.INTEGRATION else None
        async with runtime.pool.acquire() as conn:
            rows = await db.applicant_appeals(conn, search.iin, source, search.limit)
        return {
            "applicant": mask_iin(search.iin),
            "appeals": [
                {
                    "appeal_id": str(r["id"]),
                    "registration_number": r["registration_number"],
                    "registered_at": handlers.local(r["registered_at"]),
                    "type": r["type"],
                    "status": r["status"],
                    "agency": r["agency"],
                    "subject": r["subject"],
                    "due_at": handlers.local(r["due_at"]),
                    "answered_at": handlers.local(r["answered_at"]),
                }
                for r in rows
            ],
        }

    @router.get(
        "/applicants/{identifier}/appeals",
        deprecated=True,
        status_code=410,
        responses={
            410: {
                "description": "Gone: the history is `POST /v1/applicants/search`, the IIN in "
                "the body. The identifier in the path is neither read nor echoed.",
            }
        },
    )
    async def applicant_history_gone(identifier: str) -> OrjsonResponse:
        """Gone: an IIN must not travel in a URL (proxies and access logs keep URLs)."""
        # `identifier` is deliberately unused: not validated, logged or echoed.
        raise Refused(
            410,
            "applicant history moved to POST /v1/applicants/search",
            "send the IIN in the JSON body of POST /v1/applicants/search: "
            '{"iin": "...", "limit": 100}; an IIN never goes in a URL',
            headers={"Link": '</v1/applicants/search>; rel="successor-version"'},
        )

    @router.post(
        "/appeals/{appeal_id}/answer",
        status_code=201,
        responses=refusals(404, 409),
        openapi_extra=json_request(AnswerSubmission),
    )
    async def answer_appeal(
        appeal_id: uuid.UUID,
        request: Request,
        principal: Principal = Depends(require(Role.AGENCY)),
    ) -> OrjsonResponse:
        """The assigned agency's answer; publishes AnswerGiven. A second answer is 409."""
        body = handlers.answer_submission(await json_body(request))
        assert principal.agency is not None
        at = backdating.occurred_at(
            request, principal, enabled=runtime.settings.demo_history, now=datetime.now(UTC)
        )
        async with runtime.pool.acquire() as conn, conn.transaction():
            given = await handlers.answer(conn, appeal_id, principal.agency, body, at)
        runtime.relay.wake()
        return OrjsonResponse(given.model_dump(mode="json"), status_code=201)

    return router


async def answer_action(
    conn: asyncpg.Connection, action: actions.Action, at: datetime
) -> tuple[int, dict[str, Any]]:
    """`kz.appeals.agency.answer.v1`: what `POST /v1/appeals/{appeal_id}/answer` does."""
    assert action.appeal_id is not None
    body = handlers.answer_submission(action.data)
    given = await handlers.answer(conn, action.appeal_id, action.agency, body, at)
    return 201, given.model_dump(mode="json")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime.create("intake", settings, "intake.migrations")
    law = handlers.Law(load_rules(), WorkingCalendar())
    numbers = handlers.RegistrationNumbers(settings.registration_prefix)
    codes = Codes()
    registrar = Registrar(runtime, numbers, law, topic=settings.received_topic)
    runtime.documents_publication(
        settings.received_topic,
        CloudEvent[AppealReceived],
        "Every registered appeal, with what an agency needs to answer it (key: appeal id).",
    )
    runtime.documents_publication(
        topics.ANSWER_GIVEN,
        CloudEvent[AnswerGiven],
        "The assigned agency's answer (key: appeal id).",
    )
    runtime.documents_publication(
        topics.APPEAL_REJECTIONS,
        CloudEvent[Rejection],
        "Submissions from intake.appeal-submissions.<source> that were not registered, with the "
        "reasons (key: the original key).",
    )

    runtime.subscribe(
        Subscription(
            name="intake-timeline",
            topics=FOREIGN_TOPICS,
            group=f"{settings.consumer_group}-timeline",
            parse=channel.parse_foreign_event,
            handle=handlers.apply_foreign_events,
            event_id=lambda event: event.id,
            offset_reset=settings.consumer_offset_reset,
            # Off the appeal's way to its agency: gathers (an agency answering before the
            # assignment is followed here is asked to retry: handlers.answer, NotYet).
            gather_ms=settings.consumer_gather_ms,
        ),
        CloudEvent[dict[str, Any]],
        "Routing's and deadlines' events about an appeal: its timeline, status, agency and due "
        "date.",
    )
    runtime.documents_publication(
        topics.INTEGRATION_UPDATES_CHANNEL,
        CloudEvent[AppealStatusChanged],
        "Each integration's own topic (only it may read it): the status changes of the appeals "
        "it submitted, for telling the applicant (registered, assigned, redirected, triage, "
        "extended, answered; key: appeal id). Never routing explanations, internal comments or "
        "another party's data; kept forever, so a portal that reconnects misses nothing.",
    )
    runtime.documents_publication(
        topics.AGENCY_RESULTS_CHANNEL,
        CloudEvent[ActionResult],
        "The outcome of each command an agency wrote to agency.<code>.actions, on that "
        "agency's own results topic (key: appeal id): answers from intake, redirects from "
        "routing, confirmations and extensions from deadlines, and intake's refusal of records "
        "that are no command at all.",
    )
    runtime.subscribe(
        actions.subscription(
            "intake-actions",
            f"{settings.consumer_group}-actions",
            {event_types.AGENCY_ANSWER: answer_action},
            source=runtime.source,
            answers_the_rest=True,
            offset_reset=settings.consumer_offset_reset,
        ),
        CloudEvent[AnswerSubmission],
        "Answers an agency writes to its own actions topic (kz.appeals.agency.answer.v1, "
        "key: appeal id), applied as POST /v1/appeals/{appeal_id}/answer; the acting agency is "
        "the topic's. Intake also refuses records of the topic that are no action at all.",
    )
    runtime.subscribe(
        Subscription(
            name="intake-submissions",
            # One submission topic per integration; the topic a record came from is its source.
            topics=tuple(topics.submission_topic(i.source) for i in load_integrations()),
            group=f"{settings.consumer_group}-submissions",
            parse=channel.submission_parser(codes),
            handle=channel.submissions_handler(numbers, law, settings.received_topic),
            offset_reset=settings.consumer_offset_reset,
        ),
        AppealSubmission,
        "Submissions (contract v1) produced by integrations: registered like HTTP ones, or "
        "answered on intake.appeal-rejections.",
    )

    async def warm_calendar(runtime: Runtime) -> None:
        # The working-day calendar imports the holidays package's country tables on first use:
        # seconds on a cold start, on the event loop, with every request waiting behind it.
        # Built at start-up instead (this year's days off and the next, as due dates reach).
        law.due_at("complaint", datetime.now(UTC))

    return service_app(
        runtime,
        [
            appeals_router(runtime, registrar, codes),
            open311.router(runtime, registrar, codes),
        ],
        title="Appeals intake",
        description="The appeal registry of Karaganda region: e-gov integrations file appeals "
        "(contract v1), agencies answer them. Open311 GeoReport v2 under /open311/v2.",
        on_start=[warm_calendar],
        body_limit=settings.max_body_bytes,
        links={
            "appeals": "/v1/appeals",
            "appeal": "/v1/appeals/{appeal_id}",
            "applicants": "/v1/applicants/search",
            "open311": "/open311/v2/services.json",
        },
    )
