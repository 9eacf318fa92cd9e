"""The systems that submit appeals (e-gov portal, eGov Mobile, ЦОН operators, ...), as data."""

from __future__ import annotations

import functools
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Integration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Part of the integration's submission topic name and of its Kafka principal's name.
    source: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str


@functools.cache
def load_integrations() -> tuple[Integration, ...]:
    """The packaged list (data/integrations.yaml); cached."""
    text = (resources.files("appeals_reference") / "data" / "integrations.yaml").read_text(
        encoding="utf-8"
    )
    document = yaml.safe_load(text)
    found = tuple(Integration.model_validate(i) for i in document.get("integrations", []))
    sources = [i.source for i in found]
    if len(set(sources)) != len(sources):
        raise ValueError("integrations.yaml: a source is listed twice")
    return found
