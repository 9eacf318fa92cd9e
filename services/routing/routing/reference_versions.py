"""Reference data as versioned documents in PostgreSQL: seed, read, and change with an event.

The version is the content hash `ReferenceData.version`, so every decision that records it
names exactly the data it used. A change is refused unless `check_invariants` passes: data
that breaks them would leave some category × locality pair without exactly one agency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.events import ReferenceChanged
from appeals_platform import outbox
from appeals_platform.problems import BODY_FIELD, FieldProblem, Refused, validation_problems
from appeals_reference import ReferenceData, check_invariants, load_reference
from routing import db

SOURCE = "/appeals/routing"
SEEDED_BY = "packaged"


class ReferenceRejected(Refused):
    """The document is not valid reference data; `problems` lists every reason found."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(422, "the reference data is not valid", problems=problems)


def validated(document: Any) -> ReferenceData:
    """Reference data from a document shaped like `to_document()`, or ReferenceRejected."""
    if not isinstance(document, dict):
        raise ReferenceRejected(
            [
                FieldProblem(
                    field=BODY_FIELD,
                    message="expected an object with localities, groups, categories, agencies",
                )
            ]
        )
    try:
        ref = ReferenceData.model_validate(document)
    except ValidationError as exc:
        raise ReferenceRejected(validation_problems(exc)) from exc
    # The invariants concern the document as a whole, not one field.
    problems = [FieldProblem(field=BODY_FIELD, message=p) for p in check_invariants(ref)]
    if problems:
        raise ReferenceRejected(problems)
    return ref


async def seed(conn: asyncpg.Connection) -> bool:
    """Store the packaged data as the first active version when the table is empty."""
    ref = load_reference()
    return await db.seed_reference(conn, ref.version, ref.to_document(), SEEDED_BY)


async def active(conn: asyncpg.Connection) -> ReferenceData:
    row = await db.active_reference(conn)
    if row is None:
        raise LookupError("no active reference version: the service seeds one at start")
    return ReferenceData.model_validate(row["document"])


@dataclass(frozen=True)
class Change:
    version: str
    previous_version: str | None
    changed: bool  # False when the document is the active version already


async def change(
    conn: asyncpg.Connection, ref: ReferenceData, changed_by: str, at: datetime
) -> Change:
    """Make `ref` the active version and announce it, in the caller's transaction.

    Re-sending the active document changes nothing and announces nothing; sending an
    earlier version makes it active again, and that is a change.
    """
    previous = await db.lock_active_reference(conn)
    if previous == ref.version:
        return Change(ref.version, previous, changed=False)
    document = ref.to_document()
    await db.activate_reference(conn, ref.version, document, changed_by, at)
    data = ReferenceChanged(
        version=ref.version,
        previous_version=previous,
        changed_by=changed_by,
        changed_at=at,
        localities=len(ref.localities),
        categories=len(ref.categories),
        agencies=len(ref.agencies),
        document=document,
    )
    # One partition, key "reference": every instance and consumer sees changes in order.
    event = outbox.event(
        topics.REFERENCE_CHANGED,
        "reference",
        type=event_types.REFERENCE_CHANGED,
        source=SOURCE,
        subject=f"reference/{ref.version}",
        data=data,
        time=at,
    )
    await outbox.add(conn, [event])
    return Change(ref.version, previous, changed=True)
