"""The checked-in OpenAPI and AsyncAPI documents and the open-data JSON Schema are the ones the
code produces (`make docs`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from appeals_tools.docs import OPEN_DATA_SCHEMA, documents
from deadlines.open_data import schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("service", ["intake", "routing", "deadlines"])
def test_checked_in_api_documents_match_the_code(service: str) -> None:
    openapi, asyncapi = documents(service)
    assert json.loads((DOCS / "openapi" / f"{service}.json").read_text()) == openapi, "make docs"
    # Compared as data: FastStream does not keep channels in a fixed order between runs.
    checked_in = yaml.safe_load((DOCS / "asyncapi" / f"{service}.yaml").read_text())
    assert checked_in == yaml.safe_load(asyncapi), "make docs"


def test_checked_in_open_data_schema_matches_the_feed() -> None:
    assert json.loads((DOCS / OPEN_DATA_SCHEMA).read_text()) == schema(), "make docs"
