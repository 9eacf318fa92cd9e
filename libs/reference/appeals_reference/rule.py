"""The routing rule of data/README.md (the reference data's own notes): the most local
competent body wins.

For category C about locality L: take the chain L, parent(L), … up to the region; every body
that lists C and covers a locality of that chain is a candidate; its specificity is the depth
of the deepest chain locality it covers; the deepest candidate wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from appeals_reference.models import Agency, ReferenceData


@dataclass(frozen=True)
class Candidate:
    """A body competent for the category somewhere on the locality's chain."""

    agency: Agency
    specificity: int  # depth of the deepest chain locality in its jurisdiction
    via: str  # that chain locality's code


class NoCompetentAgencyError(LookupError):
    """No body, or more than one equally specific body, answers for the pair."""


def routed_locality(ref: ReferenceData, locality: str | None) -> str:
    """The locality the rule works with: an unknown or missing one is routed as the home region."""
    if locality is not None and ref.has_locality(locality):
        return locality
    return ref.home_region.code


def competent_agencies(ref: ReferenceData, category: str, locality: str | None) -> list[Candidate]:
    """Every candidate for the pair, most specific first (ties keep the data file's order)."""
    ref.category(category)  # unknown category: KeyError, not an empty list
    chain = ref.ancestors(routed_locality(ref, locality))
    depth_of = {loc.code: len(chain) - 1 - i for i, loc in enumerate(chain)}
    candidates = []
    for agency in ref.agencies_for(category):
        covered = [c for c in agency.jurisdiction if c in depth_of]
        if covered:
            via = max(covered, key=depth_of.__getitem__)
            candidates.append(Candidate(agency, depth_of[via], via))
    return sorted(candidates, key=lambda c: -c.specificity)


def competent_agency(ref: ReferenceData, category: str, locality: str | None) -> Agency:
    """The single body that must consider an appeal of this category about this locality.

    Raises NoCompetentAgencyError when the data has a gap or a tie for the pair, which
    `checks.check_invariants` rules out for data that passes it.
    """
    candidates = competent_agencies(ref, category, locality)
    place = routed_locality(ref, locality)
    if not candidates:
        # Outside the region the out-of-region body takes everything for redirection, even
        # if an edit forgot to list the category there.
        if ref.locality(place).outside_jurisdiction:
            chain = {x.code for x in ref.ancestors(place)}
            for agency in ref.agencies:
                if agency.level == "out_of_region" and chain.intersection(agency.jurisdiction):
                    return agency
        raise NoCompetentAgencyError(f"no body is competent for {category} at {place}")
    if len(candidates) > 1 and candidates[0].specificity == candidates[1].specificity:
        tied = ", ".join(
            c.agency.code for c in candidates if c.specificity == candidates[0].specificity
        )
        raise NoCompetentAgencyError(f"tie for {category} at {place}: {tied}")
    return candidates[0].agency
