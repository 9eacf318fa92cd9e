"""Reference data models: localities, category groups, categories, agencies, and the whole set."""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field, model_validator

LocalityType = Literal["region", "city", "district", "city_district", "town", "village"]
AgencyLevel = Literal[
    "region_akimat",
    "region_department",
    "city_akimat",
    "city_department",
    "district_akimat",
    "territorial_body",
    "out_of_region",
]


class Locality(BaseModel):
    """A region, city, district, city district, town or village."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    type: LocalityType
    name_ru: str
    name_kk: str
    parent: str | None
    centre: str | None = None
    outside_jurisdiction: bool = False
    requires_qualifier: bool = False
    source_status: Literal["confirmed", "typical"]
    aliases: tuple[str, ...] = ()


class CategoryGroup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name_ru: str
    name_kk: str


class Category(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    group: str
    name_ru: str
    name_kk: str
    description_ru: str
    keywords_ru: tuple[str, ...] = ()
    keywords_kk: tuple[str, ...] = ()


class Agency(BaseModel):
    """A state body: where it is competent (jurisdiction) and for what (competences)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name_ru: str
    name_kk: str
    level: AgencyLevel
    jurisdiction: tuple[str, ...]
    competences: tuple[str, ...]
    parent: str | None
    supervisor_ru: str | None = None
    supervisor_kk: str | None = None
    topic: str
    name_status: Literal["confirmed", "partly_confirmed", "typical"]


def _duplicates(codes: list[str]) -> list[str]:
    return sorted(code for code, n in Counter(codes).items() if n > 1)


class ReferenceData(BaseModel):
    """The three reference lists as one immutable, versioned value with lookups.

    `version` is derived from the content (short sha256 of the canonical JSON), so two
    processes holding the same data agree on it and any edit changes it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    localities: tuple[Locality, ...]
    groups: tuple[CategoryGroup, ...]
    categories: tuple[Category, ...]
    agencies: tuple[Agency, ...]

    @model_validator(mode="before")
    @classmethod
    def _drop_derived_version(cls, data: Any) -> Any:
        # A document written by to_document() carries the version it had; it is derived
        # from the content, so an edited document must not keep a stale one.
        if isinstance(data, dict) and "version" in data:
            return {k: v for k, v in data.items() if k != "version"}
        return data

    @model_validator(mode="after")
    def _check_references(self) -> ReferenceData:
        problems: list[str] = []
        for kind, codes in (
            ("locality", [x.code for x in self.localities]),
            ("group", [x.code for x in self.groups]),
            ("category", [x.code for x in self.categories]),
            ("agency", [x.code for x in self.agencies]),
        ):
            problems += [f"duplicate {kind} code {c}" for c in _duplicates(codes)]
        localities = {x.code for x in self.localities}
        groups = {x.code for x in self.groups}
        categories = {x.code for x in self.categories}
        agencies = {x.code for x in self.agencies}
        for loc in self.localities:
            if loc.parent is not None and loc.parent not in localities:
                problems.append(f"locality {loc.code}: unknown parent {loc.parent}")
            if loc.centre is not None and loc.centre not in localities:
                problems.append(f"locality {loc.code}: unknown centre {loc.centre}")
        for cat in self.categories:
            if cat.group not in groups:
                problems.append(f"category {cat.code}: unknown group {cat.group}")
        for ag in self.agencies:
            problems += [
                f"agency {ag.code}: unknown jurisdiction locality {c}"
                for c in ag.jurisdiction
                if c not in localities
            ]
            problems += [
                f"agency {ag.code}: unknown competence category {c}"
                for c in ag.competences
                if c not in categories
            ]
            if ag.parent is not None and ag.parent not in agencies:
                problems.append(f"agency {ag.code}: unknown parent {ag.parent}")
        problems += self._parent_cycles()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _parent_cycles(self) -> list[str]:
        parent = {x.code: x.parent for x in self.localities}
        problems = []
        for code in parent:
            seen = {code}
            current = parent[code]
            while current is not None and current in parent:
                if current in seen:
                    problems.append(f"locality {code}: parent chain has a cycle")
                    break
                seen.add(current)
                current = parent[current]
        return problems

    # Look-up tables and the version are cached in the instance's __dict__ on first use:
    # a pydantic private attribute is read through `__getattr__` (about 1.5 µs a read), and
    # routing reads these several times for every appeal. The model is frozen, so they
    # never go stale.
    @functools.cached_property
    def _locality_by_code(self) -> dict[str, Locality]:
        return {x.code: x for x in self.localities}

    @functools.cached_property
    def _category_by_code(self) -> dict[str, Category]:
        return {x.code: x for x in self.categories}

    @functools.cached_property
    def _agency_by_code(self) -> dict[str, Agency]:
        return {x.code: x for x in self.agencies}

    @functools.cached_property
    def _agencies_by_category(self) -> dict[str, tuple[Agency, ...]]:
        return {
            cat.code: tuple(a for a in self.agencies if cat.code in a.competences)
            for cat in self.categories
        }

    @computed_field  # type: ignore[prop-decorator]
    @functools.cached_property
    def version(self) -> str:
        """Short sha256 of the canonical content; recorded with every routing decision."""
        canonical = json.dumps(
            self.model_dump(mode="json", exclude={"version"}),
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    def to_document(self) -> dict[str, Any]:
        """JSON-ready dict that `ReferenceData.model_validate` turns back into an equal value."""
        return self.model_dump(mode="json")

    # ------------------------------------------------------------------ lookups
    def has_locality(self, code: str | None) -> bool:
        return code is not None and code in self._locality_by_code

    def has_category(self, code: str | None) -> bool:
        return code is not None and code in self._category_by_code

    def has_agency(self, code: str | None) -> bool:
        return code is not None and code in self._agency_by_code

    def locality(self, code: str) -> Locality:
        """The locality with this code; KeyError if there is none."""
        try:
            return self._locality_by_code[code]
        except KeyError:
            raise KeyError(f"unknown locality {code!r}") from None

    def category(self, code: str) -> Category:
        try:
            return self._category_by_code[code]
        except KeyError:
            raise KeyError(f"unknown category {code!r}") from None

    def agency(self, code: str) -> Agency:
        try:
            return self._agency_by_code[code]
        except KeyError:
            raise KeyError(f"unknown agency {code!r}") from None

    def agency_topic(self, code: str) -> str:
        """The Kafka topic the agency receives its appeals on."""
        return self.agency(code).topic

    def ancestors(self, code: str) -> list[Locality]:
        """The chain code, parent(code), … up to its region: the locality itself comes first."""
        chain = [self.locality(code)]
        while chain[-1].parent is not None:
            chain.append(self.locality(chain[-1].parent))
        return chain

    def depth(self, code: str) -> int:
        """Region 0, city or district 1, city district, town or village 2."""
        return len(self.ancestors(code)) - 1

    def is_within(self, code: str, ancestor: str) -> bool:
        """True when `ancestor` is `code` itself or on its parent chain."""
        return any(x.code == ancestor for x in self.ancestors(code))

    def agencies_for(self, category: str) -> tuple[Agency, ...]:
        """Bodies that list this category among their competences."""
        return self._agencies_by_category.get(category, ())

    @property
    def home_region(self) -> Locality:
        """The region this data set serves: the one region that is not outside jurisdiction."""
        regions = [x for x in self.localities if x.type == "region" and not x.outside_jurisdiction]
        if len(regions) != 1:
            raise ValueError(f"expected exactly one home region, found {len(regions)}")
        return regions[0]
