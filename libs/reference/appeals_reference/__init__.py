"""Karaganda region reference data (localities, categories, agencies) and the routing rule."""

from appeals_reference.checks import check_invariants, fold_name
from appeals_reference.integrations import Integration, load_integrations
from appeals_reference.loader import (
    load_reference,
    parse_reference_document,
    parse_reference_files,
)
from appeals_reference.models import Agency, Category, CategoryGroup, Locality, ReferenceData
from appeals_reference.rule import (
    Candidate,
    NoCompetentAgencyError,
    competent_agencies,
    competent_agency,
    routed_locality,
)

__all__ = [
    "Agency",
    "Candidate",
    "Category",
    "CategoryGroup",
    "Integration",
    "Locality",
    "NoCompetentAgencyError",
    "ReferenceData",
    "check_invariants",
    "competent_agencies",
    "competent_agency",
    "fold_name",
    "load_integrations",
    "load_reference",
    "parse_reference_document",
    "parse_reference_files",
    "routed_locality",
]
