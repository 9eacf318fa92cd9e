"""Reference codes a submission may use, from the packaged reference data."""

from __future__ import annotations

from appeals_contracts.submission import AppealSubmission, FieldError, check_codes
from appeals_reference.loader import load_reference


class Codes:
    def __init__(self) -> None:
        ref = load_reference()
        self.categories = {c.code for c in ref.categories}
        self.localities = {loc.code for loc in ref.localities}
        self.agencies = {a.code for a in ref.agencies}
        self.reference = ref

    def problems(self, submission: AppealSubmission) -> list[FieldError]:
        return check_codes(submission, self.categories, self.localities, self.agencies)
