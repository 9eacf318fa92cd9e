"""The one way a past moment enters the platform: the demo history's `Demo-Occurred-At`.

Every service stamps "now" on what it records (a registration, an answer, a redirect, an
extension). The history simulator (`appeals_tools.history`, docs/demo-history.md) needs
those moments in the past, so one request header may carry the moment the step happened
instead. It is accepted only when all of these hold, and refused with a 403 or 422 otherwise,
never ignored:

- the service runs with `<PREFIX>_DEMO_HISTORY=true` (`ServiceSettings.demo_history`): off by
  default, off in production; `make run DEMO=1` turns it on for the local stack only;
- the caller is the demo principal: a token whose subject is `demo-history` (and, for an
  integration, whose source is `demo-history` too, so every appeal it registers carries
  that source and is marked demo data wherever it is shown);
- the moment is a time zone-aware ISO-8601 instant not later than now (plus the clock skew
  intake allows integrations).

The moment then travels inside the events the step produces (registered_at, answered_at,
redirected_at, extended_at and the CloudEvent time), so the consumers downstream count it
like any other: no consumer has a rule of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request

from appeals_platform.auth import Principal, Role
from appeals_platform.problems import Refused

HEADER = "Demo-Occurred-At"
DEMO_SUBJECT = "demo-history"
SKEW = timedelta(minutes=10)


def is_demo(principal: Principal) -> bool:
    if principal.subject != DEMO_SUBJECT:
        return False
    return principal.role is not Role.INTEGRATION or principal.source == DEMO_SUBJECT


def occurred_at(
    request: Request, principal: Principal, *, enabled: bool, now: datetime
) -> datetime:
    """`now`, or the past moment the demo principal's request says the step happened at."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return now
    if not enabled:
        raise Refused(
            403,
            "backdating is off",
            f"{HEADER} is accepted only by a service running with demo history "
            "(<PREFIX>_DEMO_HISTORY=true, the local demo stack); never in production",
        )
    if not is_demo(principal):
        raise Refused(
            403,
            "only the demo principal may backdate",
            f"{HEADER} is accepted only from the '{DEMO_SUBJECT}' token of the history simulator",
        )
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise Refused(422, f"{HEADER} is not an ISO-8601 instant with a UTC offset", raw[:60])
    if moment > now + SKEW:
        raise Refused(422, f"{HEADER} is in the future", raw[:60])
    return moment
