"""Who gets a digest: a YAML file of addresses, each with an agency (its head's digest) or the
region (monitoring's), and a language.

    recipients:
      - email: head@energy.example.kz
        agency: KRG-ENERGY-HOUSING
        language: kk
      - email: monitoring@akimat.example.kz
        scope: region
        language: ru

Addresses live in configuration, not in the reference data: the reference data is published
and versioned for routing, while addresses change with people. An agency the reference data
does not know is an error at start-up, not a digest that never goes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from appeals_reference.models import ReferenceData

REGION = "region"

Language = Literal["ru", "kk"]


class Recipient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    agency: str | None = None
    scope: Literal["agency", "region"] = "agency"
    language: Language = "ru"

    @model_validator(mode="after")
    def _scope_matches_agency(self) -> Recipient:
        if self.scope == "agency" and not self.agency:
            raise ValueError("an agency digest needs `agency` (or `scope: region`)")
        if self.scope == REGION and self.agency:
            raise ValueError("a regional digest has no `agency`")
        return self

    @property
    def key(self) -> str:
        """What the digest covers: an agency code or 'region'."""
        return self.agency or REGION


class RecipientList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[Recipient]


def load(path: Path | None, reference: ReferenceData) -> list[Recipient]:
    """The recipients in `path` (none without a file); ValueError names a bad entry."""
    if path is None:
        return []
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {"recipients": []}
    recipients = RecipientList.model_validate(document).recipients
    unknown = sorted(
        {r.agency for r in recipients if r.agency and not reference.has_agency(r.agency)}
    )
    if unknown:
        raise ValueError(f"{path}: agencies not in the reference data: {', '.join(unknown)}")
    seen: set[str] = set()
    for recipient in recipients:
        # One digest per address and day: the claim's key is the address.
        if recipient.email.lower() in seen:
            raise ValueError(f"{path}: an address is listed twice (one digest per address)")
        seen.add(recipient.email.lower())
    return recipients
