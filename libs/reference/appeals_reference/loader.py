"""Loading reference data from the packaged YAML files, a directory, or one YAML/JSON document."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from appeals_reference.models import ReferenceData

# The files carry `version: 1`: the layout of the files, not the content version.
SCHEMA_VERSION = 1
FILES = ("localities.yaml", "categories.yaml", "agencies.yaml")


def _parse_yaml(text: str, name: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise ValueError(f"{name}: expected a mapping at the top level")
    schema = document.get("version", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise ValueError(f"{name}: unsupported file version {schema!r}")
    return document


def parse_reference_files(
    localities_yaml: str, categories_yaml: str, agencies_yaml: str
) -> ReferenceData:
    """Build reference data from the texts of the three YAML files."""
    localities = _parse_yaml(localities_yaml, "localities.yaml")
    categories = _parse_yaml(categories_yaml, "categories.yaml")
    agencies = _parse_yaml(agencies_yaml, "agencies.yaml")
    return ReferenceData.model_validate(
        {
            "localities": localities.get("localities", []),
            "groups": categories.get("groups", []),
            "categories": categories.get("categories", []),
            "agencies": agencies.get("agencies", []),
        }
    )


def parse_reference_document(text: str) -> ReferenceData:
    """Build reference data from one YAML or JSON document shaped like `to_document()`."""
    document = yaml.safe_load(text)  # JSON is YAML, so one parser reads both
    if not isinstance(document, dict):
        raise ValueError("expected a mapping with localities, groups, categories, agencies")
    return ReferenceData.model_validate(document)


@functools.cache
def load_reference(directory: Path | None = None) -> ReferenceData:
    """The reference data from `directory` (three YAML files) or from the packaged copy; cached."""
    if directory is None:
        data = resources.files("appeals_reference") / "data"
        texts = [(data / name).read_text(encoding="utf-8") for name in FILES]
    else:
        texts = [(directory / name).read_text(encoding="utf-8") for name in FILES]
    return parse_reference_files(*texts)
