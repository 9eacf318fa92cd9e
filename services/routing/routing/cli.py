"""`routing`: operator commands against the routing database (settings from ROUTING_* env).

    routing reference show [--version V] [--document]
    routing reference import FILE|DIR [--by NAME]
    routing reference history
    routing retrain [--model PATH]
    routing migrate
    routing what-if --reference FILE [--model FILE] --since DATE [--until DATE] [--csv DIR]

`import` reads one YAML or JSON document shaped like GET /v1/reference, or a directory with
localities.yaml, categories.yaml and agencies.yaml. A change is validated with the same
invariants as PUT /v1/reference, stored as a new active version and announced on
routing.reference-changed by the running service's outbox relay; running instances switch
to it within a few seconds.

`what-if` replays the stored appeals registered from --since (to --until, default today)
through the proposed reference data (and model), beside the version in force, and prints and
exports as CSV which would move from which agency to which, with examples, and each agency's
change in load. It changes nothing: one read-only transaction, nothing published.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError

from appeals_platform.migrations import migrate, migrate_service, report
from appeals_platform.pool import connect
from appeals_platform.problems import BODY_FIELD, FieldProblem, validation_problems
from appeals_reference import ReferenceData, parse_reference_document, parse_reference_files
from routing import db, reference_versions, whatif
from routing.config import Settings
from routing.decision import CategoryRanker


def say(message: str) -> None:
    print(message, flush=True)


async def _connection(settings: Settings) -> asyncpg.Connection:
    conn = await connect(
        settings.database_url, settings.db_schema, password=settings.database_password()
    )
    await migrate(conn, settings.db_schema, ["routing.migrations"])
    await reference_versions.seed(conn)
    return conn


def read_reference(path: Path) -> ReferenceData:
    """Reference data from a directory of the three YAML files, or one YAML/JSON document."""
    try:
        if path.is_dir():
            texts = [
                (path / name).read_text(encoding="utf-8")
                for name in ("localities.yaml", "categories.yaml", "agencies.yaml")
            ]
            ref = parse_reference_files(*texts)
        else:
            ref = parse_reference_document(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise reference_versions.ReferenceRejected(validation_problems(exc)) from exc
    except ValueError as exc:
        raise reference_versions.ReferenceRejected(
            [FieldProblem(field=BODY_FIELD, message=str(exc))]
        ) from exc
    # The same checks as PUT /v1/reference, on the same document form.
    return reference_versions.validated(ref.to_document())


async def show(settings: Settings, version: str | None, document: bool) -> int:
    conn = await _connection(settings)
    try:
        if version is None:
            row = await db.active_reference(conn)
        else:
            row = await db.reference_version(conn, version)
    finally:
        await conn.close()
    if row is None:
        say(f"no reference version {version}")
        return 1
    if document:
        sys.stdout.write(json.dumps(row["document"], ensure_ascii=False, indent=2) + "\n")
        return 0
    doc: dict[str, Any] = row["document"]
    say(f"version      {row['version']}")
    say(f"created      {row['created_at'].isoformat()} by {row['created_by']}")
    say(f"activated    {row['activated_at'].isoformat()}")
    for part in ("localities", "groups", "categories", "agencies"):
        say(f"{part:<12} {len(doc.get(part, []))}")
    return 0


async def import_file(settings: Settings, path: Path, by: str) -> int:
    try:
        ref = read_reference(path)
    except OSError as exc:
        say(f"cannot read {path}: {exc}")
        return 2
    except reference_versions.ReferenceRejected as exc:
        say(f"rejected: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            say(f"  - {problem['field']}: {problem['message']}")
        return 1
    conn = await _connection(settings)
    try:
        async with conn.transaction():
            change = await reference_versions.change(conn, ref, by, datetime.now(UTC))
    finally:
        await conn.close()
    if change.changed:
        say(f"reference data {change.previous_version} -> {change.version} (active)")
    else:
        say(f"reference data {change.version} is already active; nothing changed")
    return 0


async def history(settings: Settings) -> int:
    conn = await _connection(settings)
    try:
        rows = await db.reference_history(conn, 100)
    finally:
        await conn.close()
    for r in rows:
        marker = "*" if r["active"] else " "
        say(
            f"{marker} {r['version']}  activated {r['activated_at'].isoformat()}  "
            f"created {r['created_at'].isoformat()} by {r['created_by']}"
        )
    return 0


async def retrain_model(settings: Settings, model: Path) -> int:
    from routing.classifier import LabelledText, load_training_examples
    from routing.retraining import retrain

    conn = await _connection(settings)
    try:
        rows = await db.labelled_examples(conn)
    finally:
        await conn.close()
    examples = [LabelledText(text=r["text"], category=r["category"]) for r in rows]
    corpus = load_training_examples()
    result = await asyncio.to_thread(retrain, corpus, examples, model, say)
    for line in result.lines():
        say(line)
    return 0


async def _replay(
    settings: Settings,
    proposed: ReferenceData,
    models: tuple[CategoryRanker, CategoryRanker],
    first: date,
    last: date,
    examples: int,
) -> whatif.Report:
    # No migrations and no seeding here (the CLI's other commands do both): a what-if writes
    # nothing, and its transaction is read-only.
    conn = await connect(
        settings.database_url, settings.db_schema, password=settings.database_password()
    )
    try:
        current = await reference_versions.active(conn)
        return await whatif.replay(
            conn,
            first,
            last,
            (current, models[0]),
            (proposed, models[1]),
            threshold=settings.decision_threshold,
            examples=examples,
            progress=lambda n: print(f"replayed {n} appeals", file=sys.stderr, flush=True),
        )
    finally:
        await conn.close()


def what_if(
    settings: Settings,
    reference: Path,
    model: Path | None,
    since: str,
    until: str | None,
    out: Path,
    examples: int,
    show: Callable[[str], None] = say,
) -> int:
    """`routing what-if`: 0 when replayed, 1 for invalid input, 2 for a file it cannot read."""
    from routing.knowledge import load_classifier

    try:
        first = date.fromisoformat(since)
        last = date.fromisoformat(until) if until else datetime.now(UTC).date()
    except ValueError as exc:
        show(f"dates are YYYY-MM-DD: {exc}")
        return 1
    if last < first:
        show(f"--until {last} is before --since {first}")
        return 1
    if model is not None and not model.is_file():
        # load_classifier falls back to the packaged model: not what a what-if asks about.
        show(f"no model file at {model}")
        return 2
    try:
        proposed = read_reference(reference)
    except OSError as exc:
        show(f"cannot read {reference}: {exc}")
        return 2
    except reference_versions.ReferenceRejected as exc:
        show(f"rejected: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            show(f"  - {problem['field']}: {problem['message']}")
        return 1
    current_model = load_classifier(settings.model_path)
    proposed_model = load_classifier(model) if model is not None else current_model
    try:
        report = asyncio.run(
            _replay(settings, proposed, (current_model, proposed_model), first, last, examples)
        )
    except LookupError as exc:
        show(str(exc))
        return 1
    show(whatif.as_text(report))
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("moves.csv", whatif.moves_csv(report)),
        ("load.csv", whatif.load_csv(report)),
        ("appeals.csv", whatif.appeals_csv(report)),
    ):
        (out / name).write_text(text, encoding="utf-8")
    show(f"\nwrote {out / 'moves.csv'}, {out / 'load.csv'} and {out / 'appeals.csv'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="routing", description="Operator commands of the routing service."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    reference = commands.add_parser("reference", help="show, import or list reference data")
    actions = reference.add_subparsers(dest="action", required=True)
    show_parser = actions.add_parser("show", help="the active (or a given) version")
    show_parser.add_argument("--version", help="an earlier version instead of the active one")
    show_parser.add_argument("--document", action="store_true", help="print the whole JSON")
    import_parser = actions.add_parser("import", help="validate, store and activate a document")
    import_parser.add_argument("file", type=Path, help="YAML/JSON document or a directory")
    import_parser.add_argument("--by", default=None, help="who makes the change (default: $USER)")
    actions.add_parser("history", help="every version, newest activation first")
    retrain_parser = commands.add_parser(
        "retrain", help="rebuild the classifier with the labelled examples"
    )
    retrain_parser.add_argument(
        "--model", type=Path, default=None, help="where to save (default ROUTING_MODEL_PATH)"
    )
    commands.add_parser("migrate", help="apply the missing schema migrations and exit")
    what_if_parser = commands.add_parser(
        "what-if", help="which stored appeals a proposed reference (or model) would move"
    )
    what_if_parser.add_argument(
        "--reference", type=Path, required=True, help="the proposed YAML/JSON document or dir"
    )
    what_if_parser.add_argument("--model", type=Path, default=None, help="a proposed model file")
    what_if_parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
    what_if_parser.add_argument("--until", default=None, help="last day (default today)")
    what_if_parser.add_argument(
        "--csv", type=Path, default=None, help="where to write the CSVs (default what-if-<since>)"
    )
    what_if_parser.add_argument("--examples", type=int, default=3, help="examples per move")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "what-if":
        out = args.csv or Path(f"what-if-{args.since}")
        return what_if(
            settings, args.reference, args.model, args.since, args.until, out, args.examples
        )
    if args.command == "migrate":
        print(report(asyncio.run(migrate_service(settings, "routing.migrations"))), flush=True)
        return 0
    if args.command == "retrain":
        return asyncio.run(retrain_model(settings, args.model or settings.model_path))
    if args.action == "show":
        return asyncio.run(show(settings, args.version, args.document))
    if args.action == "import":
        by = args.by or f"cli:{getpass.getuser()}"
        return asyncio.run(import_file(settings, args.file, by))
    return asyncio.run(history(settings))


if __name__ == "__main__":
    raise SystemExit(main())
