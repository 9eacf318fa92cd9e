"""What the services logged as errors while a case ran: the first lead when it loses appeals.

A failed row in CI's output is often all there is (the instance's logs go with its machine).
The services log JSON lines (`appeals_platform.logs`); this reads each service's log from
where it ended when the case began and counts the error lines by logger and message, so the
row itself says which part complained and how often.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

ERRORS = {"error", "critical"}
# The platform's own loggers; a library's (aiokafka logs every refused connection as an
# error, thousands while a broker is away) come after them.
OWN = ("appeals_", "intake", "routing", "deadlines")
PER_SERVICE = 5
MESSAGE_CHARS = 200


def ends(logs: dict[str, Path]) -> dict[str, int]:
    """Each log's size now: where the next case's lines begin."""
    return {name: path.stat().st_size if path.exists() else 0 for name, path in logs.items()}


def troubles(logs: dict[str, Path], since: dict[str, int]) -> list[str]:
    """One line per distinct error each service logged after `since`: the platform's own
    first, then the libraries', each the most frequent first."""
    lines: list[str] = []
    for name, path in logs.items():
        if not path.exists():
            continue
        with path.open("rb") as log:  # appended to, also by a service started again
            log.seek(since.get(name, 0))
            found = Counter(error for line in log if (error := _error(line)) is not None)
        ranked = sorted(found.items(), key=lambda e: (not e[0][0].startswith(OWN), -e[1]))
        for (logger, message), count in ranked[:PER_SERVICE]:
            lines.append(f"{name} logged x{count}: {logger}: {message}")
        if len(found) > PER_SERVICE:
            lines.append(f"{name} logged {len(found) - PER_SERVICE} other errors")
    return lines


def _error(line: bytes) -> tuple[str, str] | None:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:  # a line a library printed itself, or a cut last line
        return None
    if not isinstance(entry, dict) or entry.get("level") not in ERRORS:
        return None
    message = str(entry.get("message", ""))
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + "..."
    return str(entry.get("logger", "?")), message
