"""`routing-explain FILE.jsonl`: route submissions offline and print why, one JSON line each.

Reads intake's public submission format, one object per line ("-" reads stdin). Uses only the
packaged reference data and the default classifier: no Kafka, no PostgreSQL. A line that is
not a valid submission prints {"line", "external_id", "error"} and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from appeals_reference import load_reference
from routing.decision import (
    DEFAULT_THRESHOLD,
    CategoryRanker,
    Decision,
    SubmissionInput,
    as_json,
    as_submission,
    decide_many,
)

BATCH = 256
PROGRESS_EVERY = 1000


def _parse_line(raw: str) -> SubmissionInput:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a submission must be a JSON object")
    submission = as_submission(value)
    if not (submission.subject or submission.text):
        raise ValueError("the submission has neither subject nor text")
    return submission


def _error_line(number: int, raw: str, error: Exception) -> dict[str, Any]:
    external_id = None
    try:
        value = json.loads(raw)
        if isinstance(value, dict) and isinstance(value.get("external_id"), str):
            external_id = value["external_id"]
    except ValueError:
        pass
    if isinstance(error, ValidationError):
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
    else:
        message = str(error)
    return {"line": number, "external_id": external_id, "error": message}


def result_line(external_id: str | None, decision: Decision) -> dict[str, Any]:
    """The printed form of one decision."""
    return {
        "external_id": external_id,
        "agency": decision.agency,
        "category": decision.category,
        "locality": decision.locality,
        "method": decision.method,
        "confidence": decision.confidence,
        "triage": decision.triage,
        "explanation": as_json(decision.explanation),
    }


def explain_lines(
    lines: Iterator[str], classifier: CategoryRanker, threshold: float
) -> Iterator[dict[str, Any]]:
    """One output object per non-blank input line, in input order."""
    ref = load_reference()
    pending: list[tuple[int, str, SubmissionInput | Exception]] = []

    def flush() -> Iterator[dict[str, Any]]:
        good = [(n, s) for n, _, s in pending if isinstance(s, SubmissionInput)]
        decisions = iter(
            decide_many([s for _, s in good], ref, classifier, threshold=threshold) if good else []
        )
        for number, raw, item in pending:
            if isinstance(item, SubmissionInput):
                yield result_line(item.external_id, next(decisions))
            else:
                yield _error_line(number, raw, item)
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            pending.append((number, raw, _parse_line(raw)))
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            pending.append((number, raw, exc))
        if len(pending) >= BATCH:
            yield from flush()
    yield from flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="routing-explain",
        description="Route appeal submissions (JSON lines) and explain each decision.",
    )
    parser.add_argument("file", help="JSON-lines file of submissions, or - for stdin")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"confidence below which an appeal goes to triage (default {DEFAULT_THRESHOLD})",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.threshold <= 1.0:
        parser.error("--threshold must be between 0 and 1")

    from routing.classifier import default_classifier  # heavy: only when really routing

    classifier = default_classifier()
    with contextlib.ExitStack() as stack:
        source: IO[str] = (
            sys.stdin
            if args.file == "-"
            else stack.enter_context(Path(args.file).open(encoding="utf-8"))
        )
        count = 0
        try:
            for count, result in enumerate(
                explain_lines(iter(source), classifier, args.threshold), 1
            ):
                sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
                if count % PROGRESS_EVERY == 0:
                    print(f"routing-explain: {count} lines", file=sys.stderr, flush=True)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (`| head`): not an error. Silence the final flush.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        if count >= PROGRESS_EVERY:
            print(f"routing-explain: done, {count} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
