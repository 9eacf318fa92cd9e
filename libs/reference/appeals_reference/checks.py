"""Invariants that keep the routing rule total and unambiguous; run after every data edit."""

from __future__ import annotations

import re
from collections import defaultdict

from appeals_reference.models import ReferenceData
from appeals_reference.rule import NoCompetentAgencyError, competent_agency

_SPACES = re.compile(r"\s+")


def fold_name(name: str) -> str:
    """The README's notion of "the same name": case folded, ё as е, whitespace collapsed."""
    return _SPACES.sub(" ", name.casefold().replace("ё", "е")).strip()


def check_invariants(ref: ReferenceData) -> list[str]:
    """One message per violated property; an empty list means the data is safe to route with."""
    problems: list[str] = []
    problems += _unique_names(ref)
    problems += _topics(ref)
    problems += _one_region_body_per_category(ref)
    problems += _one_local_body_per_category(ref)
    problems += _no_deeper_bodies(ref)
    problems += _outside_regions_are_separate(ref)
    if not problems:
        # The pair check repeats what the four properties guarantee; it runs only on data
        # that passes them, so a broken edit is reported by cause, not 1,702 times.
        problems += _every_pair_has_one_winner(ref)
    return problems


def _unique_names(ref: ReferenceData) -> list[str]:
    owner: dict[str, str] = {}
    problems = []
    for loc in ref.localities:
        for name in {fold_name(n) for n in (loc.name_ru, loc.name_kk, *loc.aliases)}:
            if name in owner and owner[name] != loc.code:
                problems.append(f"name {name!r} belongs to both {owner[name]} and {loc.code}")
            owner.setdefault(name, loc.code)
    return problems


def _topics(ref: ReferenceData) -> list[str]:
    return [
        f"agency {a.code}: topic {a.topic!r}, expected agency.{a.code.lower()}.appeals"
        for a in ref.agencies
        if a.topic != f"agency.{a.code.lower()}.appeals"
    ]


def _one_region_body_per_category(ref: ReferenceData) -> list[str]:
    try:
        home = ref.home_region.code
    except ValueError as exc:
        return [str(exc)]
    problems = []
    for cat in ref.categories:
        holders = [a.code for a in ref.agencies_for(cat.code) if home in a.jurisdiction]
        if len(holders) != 1:
            problems.append(
                f"one region body per category: {cat.code} is held at {home} by "
                f"{len(holders)} bodies {holders}"
            )
    return problems


def _one_local_body_per_category(ref: ReferenceData) -> list[str]:
    problems = []
    for loc in ref.localities:
        if ref.depth(loc.code) != 1:
            continue
        for cat in ref.categories:
            holders = [a.code for a in ref.agencies_for(cat.code) if loc.code in a.jurisdiction]
            if len(holders) > 1:
                problems.append(
                    f"one local body per category: {cat.code} in {loc.code} is held by {holders}"
                )
    return problems


def _no_deeper_bodies(ref: ReferenceData) -> list[str]:
    return [
        f"no deeper bodies: {a.code} covers {code} (depth {ref.depth(code)})"
        for a in ref.agencies
        for code in a.jurisdiction
        if ref.depth(code) > 1
    ]


def _outside_regions_are_separate(ref: ReferenceData) -> list[str]:
    problems = []
    root_of = {loc.code: ref.ancestors(loc.code)[-1].code for loc in ref.localities}
    covering: dict[str, set[str]] = defaultdict(set)
    for agency in ref.agencies:
        for code in agency.jurisdiction:
            covering[root_of[code]].add(agency.code)
    all_categories = {c.code for c in ref.categories}
    for region in ref.localities:
        if region.parent is not None:
            continue
        inside = [x.code for x in ref.localities if root_of[x.code] == region.code]
        flags = {ref.locality(code).outside_jurisdiction for code in inside}
        if len(flags) > 1:
            problems.append(
                f"{region.code}: outside_jurisdiction must be the same for the region and "
                "everything under it"
            )
        if not region.outside_jurisdiction:
            continue
        bodies = sorted(covering[region.code])
        if len(bodies) != 1:
            problems.append(f"separate region {region.code} is covered by {bodies}, expected one")
            continue
        body = ref.agency(bodies[0])
        if body.level != "out_of_region":
            problems.append(f"{body.code} covers {region.code} but its level is {body.level}")
        if region.code not in body.jurisdiction:
            problems.append(f"{body.code} must cover {region.code} itself")
        missing = sorted(all_categories - set(body.competences))
        if missing:
            problems.append(f"{body.code} must list every category; missing {missing}")
        if any(root_of[c] != region.code for c in body.jurisdiction):
            problems.append(f"{body.code} also covers localities outside {region.code}")
    return problems


def _every_pair_has_one_winner(ref: ReferenceData) -> list[str]:
    problems = []
    for cat in ref.categories:
        for loc in ref.localities:
            try:
                competent_agency(ref, cat.code, loc.code)
            except NoCompetentAgencyError as exc:
                problems.append(f"pair {cat.code} × {loc.code}: {exc}")
    return problems
