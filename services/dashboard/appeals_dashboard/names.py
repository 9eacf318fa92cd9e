"""Names of codes (agencies, localities, categories, levels, appeal types) in each language.

The reference data names things in Russian and Kazakh; English pages show the Russian
official name, as the bodies have no English names of record.
"""

from __future__ import annotations

from dataclasses import dataclass

from appeals_dashboard.i18n import Lang, text
from appeals_reference.models import ReferenceData


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    depth: int = 0


class Names:
    def __init__(self, reference: ReferenceData) -> None:
        self.reference = reference

    def agency(self, lang: Lang, code: str | None) -> str:
        if not code:
            return text(lang, "name.none")
        if not self.reference.has_agency(code):
            return code
        agency = self.reference.agency(code)
        return agency.name_kk if lang == "kk" else agency.name_ru

    def locality(self, lang: Lang, code: str | None) -> str:
        if not code:
            return text(lang, "name.none")
        if not self.reference.has_locality(code):
            return code
        locality = self.reference.locality(code)
        return locality.name_kk if lang == "kk" else locality.name_ru

    def category(self, lang: Lang, code: str | None) -> str:
        if not code:
            return text(lang, "name.none")
        if not self.reference.has_category(code):
            return code
        category = self.reference.category(code)
        return category.name_kk if lang == "kk" else category.name_ru

    def level(self, lang: Lang, code: str | None) -> str:
        return text(lang, f"level.{code}") if code else text(lang, "name.none")

    def appeal_type(self, lang: Lang, code: str) -> str:
        return text(lang, f"type.{code}")

    def of(self, dimension: str, lang: Lang, key: str) -> str:
        """The name of a compliance row's key."""
        if dimension == "agency":
            return self.agency(lang, key)
        if dimension in ("region", "district", "locality"):
            return self.locality(lang, key)
        if dimension == "level":
            return self.level(lang, key)
        if dimension == "category":
            return self.category(lang, key)
        if dimension == "sector":
            return text(lang, f"sector.{key}")
        return text(lang, "name.all")

    def agency_options(self, lang: Lang) -> list[Option]:
        options = [Option(a.code, self.agency(lang, a.code)) for a in self.reference.agencies]
        return sorted(options, key=lambda o: o.label)

    def locality_options(self, lang: Lang) -> list[Option]:
        """Localities in tree order (region, its cities and districts, their villages)."""
        children: dict[str | None, list[str]] = {}
        for locality in self.reference.localities:
            children.setdefault(locality.parent, []).append(locality.code)
        options: list[Option] = []

        def walk(parent: str | None, depth: int) -> None:
            for code in sorted(children.get(parent, []), key=lambda c: self.locality(lang, c)):
                options.append(Option(code, self.locality(lang, code), depth))
                walk(code, depth + 1)

        walk(None, 0)
        return options
