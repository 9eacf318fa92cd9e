"""The checked-in OpenAPI and AsyncAPI documents are the ones the code produces (`make docs`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appeals_platform.docs import documents

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("service", ["intake", "routing", "deadlines"])
def test_checked_in_api_documents_match_the_code(service: str) -> None:
    openapi, asyncapi = documents(service)
    assert json.loads((DOCS / "openapi" / f"{service}.json").read_text()) == openapi, "make docs"
    assert (DOCS / "asyncapi" / f"{service}.yaml").read_text().strip() == asyncapi.strip(), (
        "make docs"
    )
