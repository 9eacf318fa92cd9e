"""`make docs`: write each service's OpenAPI and AsyncAPI documents under docs/, and the
JSON Schema of the open-data feed (docs/open-data/monthly.schema.json).

The AsyncAPI documents come from the FastStream brokers the services actually run, so they
list the real channels; a test checks that the checked-in files match the code.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from appeals_tools.stack.layout import project_root
from appeals_tools.stack.services import SERVICES

OPEN_DATA_SCHEMA = "open-data/monthly.schema.json"


def open_data_schema() -> dict[str, Any]:
    """The open-data feed's JSON Schema (imported by name, as the services are above)."""
    document: dict[str, Any] = importlib.import_module("deadlines.open_data").schema()
    return document


def documents(service: str) -> tuple[dict[str, Any], str]:
    """(OpenAPI as data, AsyncAPI as YAML) of one service, built without starting it.

    It never connects: a placeholder Kafka password stands in for the service's password file,
    which a checkout without a local stack does not have.
    """
    variable = f"{service.upper()}_KAFKA_PASSWORD"
    before = os.environ.get(variable)
    os.environ[variable] = "not-used-by-documents"
    try:
        app = importlib.import_module(f"{service}.app").create_app()
    finally:
        if before is None:
            del os.environ[variable]
        else:
            os.environ[variable] = before
    runtime = app.state.runtime
    asyncapi = AsyncAPI(
        runtime.broker,
        title=f"Appeals {service}",
        version="1.0.0",
        description=f"Kafka channels the {service} service consumes; "
        "see docs/topics.md for the topics.",
    )
    return app.openapi(), asyncapi.to_specification().to_yaml()


def main() -> None:
    root = project_root() / "docs"
    for service in SERVICES:
        openapi, asyncapi = documents(service)
        for folder, name, text in (
            ("openapi", f"{service}.json", json.dumps(openapi, indent=2, ensure_ascii=False)),
            ("asyncapi", f"{service}.yaml", asyncapi),
        ):
            path: Path = root / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + ("\n" if not text.endswith("\n") else ""), encoding="utf-8")
            print(f"wrote {path.relative_to(project_root())}")
    path = root / OPEN_DATA_SCHEMA
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(open_data_schema(), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(project_root())}")


if __name__ == "__main__":
    main()
