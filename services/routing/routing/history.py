"""The routing history of an appeal: every hop, how it came, triage, assignment, and why."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from routing import db


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def routing_history(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> dict[str, Any] | None:
    """Every hop of the appeal: how it came (redirect), triage, assignment, explanations."""
    appeal = await db.get_appeal(conn, appeal_id)
    if appeal is None:
        return None
    assignments = {r["hop"]: r for r in await db.assignments_of(conn, appeal_id)}
    triage = {r["hop"]: r for r in await db.triage_of(conn, appeal_id)}
    redirects = {r["to_hop"]: r for r in await db.redirects_of(conn, appeal_id)}
    hops = []
    for hop in sorted(assignments.keys() | triage.keys()):
        a, t, r = assignments.get(hop), triage.get(hop), redirects.get(hop)
        hops.append(
            {
                "hop": hop,
                "redirect": None
                if r is None
                else {
                    "from_hop": r["from_hop"],
                    "from_agency": r["from_agency"],
                    "target": r["target"],
                    "reason": r["reason"],
                    "partial": r["partial"],
                    "comment": r["comment"],
                    "outcome": r["outcome"],
                    "redirected_at": _iso(r["redirected_at"]),
                },
                "triage": None
                if t is None
                else {
                    "reason": t["reason"],
                    "best_guess": t["best_guess"],
                    "category": t["category"],
                    "locality": t["locality"],
                    "confidence": t["confidence"],
                    "explanation": t["explanation"],
                    "reference_version": t["reference_version"],
                    "triaged_at": _iso(t["triaged_at"]),
                    "resolved_at": _iso(t["resolved_at"]),
                    "resolved_by": t["resolved_by"],
                },
                "assignment": None
                if a is None
                else {
                    "agency": a["agency"],
                    "category": a["category"],
                    "locality": a["locality"],
                    "method": a["method"],
                    "confidence": a["confidence"],
                    "explanation": a["explanation"],
                    "reference_version": a["reference_version"],
                    "classifier_version": a["classifier_version"],
                    "received_at": _iso(a["received_at"]),
                    "assigned_at": _iso(a["assigned_at"]),
                    "assigned_by": a["assigned_by"],
                    "partial": a["partial"],
                    "active": a["active"],
                    "ended_at": _iso(a["ended_at"]),
                },
            }
        )
    waiting = any(t["resolved_at"] is None for t in triage.values())
    return {
        "appeal_id": str(appeal_id),
        "registration_number": appeal["registration_number"],
        "registered_at": _iso(appeal["registered_at"]),
        "appeal_type": appeal["appeal_type"],
        "status": "answered"
        if appeal["answered_at"] is not None
        else "triage"
        if waiting
        else "assigned",
        "answered_at": _iso(appeal["answered_at"]),
        "answered_by": appeal["answered_by"],
        "agencies": [a["agency"] for a in assignments.values() if a["active"]],
        "redirects": appeal["redirects"],
        "hops": hops,
    }


def involved_agencies(history: dict[str, Any]) -> set[str]:
    """Agencies that hold or held a hop of the appeal: they may read its routing history."""
    found: set[str] = set()
    for hop in history["hops"]:
        if hop["assignment"] is not None:
            found.add(hop["assignment"]["agency"])
        if hop["redirect"] is not None:
            found.add(hop["redirect"]["from_agency"])
    return found
