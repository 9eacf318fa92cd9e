"""JSON-lines logging without personal data: every 12-digit run (IIN/BIN) is masked."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

TWELVE_DIGITS = re.compile(r"(?<!\d)(\d{4})\d{6}(\d{2})(?!\d)")


def mask_identifiers(text: str) -> str:
    """8705******12: enough to tell records apart in a log, not enough to identify anyone."""
    return TWELVE_DIGITS.sub(r"\1******\2", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": mask_identifiers(record.getMessage()),
        }
        for key in ("appeal_id", "event_id", "topic", "count", "status", "path", "ms"):
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["error"] = mask_identifiers(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream logs two INFO lines per message and aiokafka chats at INFO: keep them quiet.
    for noisy in ("faststream", "aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
