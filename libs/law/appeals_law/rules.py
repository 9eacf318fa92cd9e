"""Deadline rules as versioned data: the term of each appeal type and the clock's other knobs.

The default set lives in `data/rules.json`; an operator can supply another file with the same
shape (`RuleSet.model_validate_json`). Every computed due date records `RuleSet.version`.
"""

from __future__ import annotations

from datetime import date, time
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

Unit = Literal["working", "calendar"]

# The АППК types every rule set must cover, because intake may register any of them.
CORE_APPEAL_TYPES = ("statement", "complaint", "proposal", "feedback", "report", "request")


class UnknownAppealTypeError(ValueError):
    """The rule set has no term for this appeal type."""


class TermRule(BaseModel):
    """How long an appeal of one type may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    appeal_type: str = Field(min_length=1)
    days: PositiveInt
    unit: Unit
    title_ru: str = ""
    basis: str = ""


class RuleSet(BaseModel):
    """One version of the counting rules (АППК arts. 64, 65, 76 as practised by eOtinish)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    effective_from: date | None = None
    terms: tuple[TermRule, ...]
    redirect_window_working_days: PositiveInt = 3
    extension_cap_months: PositiveInt = 2
    extension_notice_working_days: PositiveInt = 3
    max_extensions: int = Field(default=1, ge=0)
    warning_offsets_working_days: tuple[PositiveInt, ...] = (3, 1)
    overdue_reminder_every_working_days: PositiveInt = 5
    escalate_after_working_days: PositiveInt = 10
    # Art. 64(3): received after the working day ends → registered on the next working day.
    cutoff_local_time: time = time(18, 30)
    due_local_time: time = time(23, 59, 59)
    # eOtinish counts the registration day as day 1; the general civil-law reading starts the
    # day after. The АППК text on this was not seen (kz-law.md §6 item 3), so it is a setting.
    first_day: Literal["registration_day", "day_after_registration"] = "registration_day"

    @model_validator(mode="after")
    def _terms_are_complete_and_unique(self) -> RuleSet:
        types = [term.appeal_type for term in self.terms]
        duplicates = sorted({t for t in types if types.count(t) > 1})
        if duplicates:
            raise ValueError(f"appeal types listed more than once: {', '.join(duplicates)}")
        missing = [t for t in CORE_APPEAL_TYPES if t not in types]
        if missing:
            raise ValueError(f"rule set has no term for: {', '.join(missing)}")
        if len(set(self.warning_offsets_working_days)) != len(self.warning_offsets_working_days):
            raise ValueError("warning offsets must be distinct")
        return self

    @property
    def appeal_types(self) -> tuple[str, ...]:
        return tuple(term.appeal_type for term in self.terms)

    def term(self, appeal_type: str) -> TermRule:
        for term in self.terms:
            if term.appeal_type == appeal_type:
                return term
        raise UnknownAppealTypeError(
            f"unknown appeal type {appeal_type!r}; known: {', '.join(self.appeal_types)}"
        )


def load_rules(path: Path | None = None) -> RuleSet:
    """The rule set in `path`, or the packaged default when no path is given."""
    if path is None:
        text = files("appeals_law").joinpath("data/rules.json").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return RuleSet.model_validate_json(text)
