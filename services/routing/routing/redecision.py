"""Deciding again after an agency redirected an appeal without naming the target.

The agency said "not us", so its probability is taken out and the rest renormalised: each
category's probability goes to the body the rule picks for it at the appeal's locality,
bodies pool their categories, and the largest pool among the others wins. Below the
threshold, or with no other body left, the appeal goes to triage like a first decision.
"""

from __future__ import annotations

from dataclasses import replace

from appeals_reference import NoCompetentAgencyError, ReferenceData, competent_agency
from routing.decision import (
    Alternative,
    CategoryRanker,
    Decision,
    Submission,
    as_submission,
    decide,
)


def decide_excluding(
    submission: Submission,
    ref: ReferenceData,
    classifier: CategoryRanker,
    *,
    exclude: str,
    threshold: float,
) -> Decision:
    base = decide(submission, ref, classifier, threshold=threshold)
    note = f"decided again without {exclude}, which redirected the appeal"
    if base.agency is not None and base.agency != exclude and not base.triage:
        notes = [*base.explanation.notes, note]
        return replace(base, explanation=replace(base.explanation, notes=notes))
    ranking = classifier.rank(as_submission(submission).full_text)
    pools: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    for score in ranking:
        if not ref.has_category(score.code):
            continue
        try:
            agency = competent_agency(ref, score.code, base.locality).code
        except NoCompetentAgencyError:
            continue
        if agency == exclude:
            continue
        pools[agency] = pools.get(agency, 0.0) + score.probability
        if score.probability > best.get(agency, (-1.0, ""))[0]:
            best[agency] = (score.probability, score.code)
    total = sum(pools.values())
    notes = [n for n in base.explanation.notes if "sent to triage" not in n] + [note]
    if not pools or total <= 0:
        notes.append("no other body is competent here: manual routing")
        explanation = replace(base.explanation, method="manual", notes=notes)
        return replace(
            base, agency=None, method="manual", confidence=0.0, triage=True, explanation=explanation
        )
    winner = max(pools, key=pools.__getitem__)
    confidence = pools[winner] / total
    category = best[winner][1]
    triage = confidence < threshold
    if triage:
        notes.append(f"confidence {confidence:.2f} below {threshold:.2f}: sent to triage")
    ranked = sorted(best.items(), key=lambda item: -pools[item[0]])[:3]
    explanation = replace(
        base.explanation,
        method="classifier",
        category=category,
        category_confidence=round(best[winner][0] / total, 4),
        category_source="classifier",
        alternatives=[
            Alternative(category=code, probability=round(pools[agency] / total, 4), agency=agency)
            for agency, (_, code) in ranked
        ],
        notes=notes,
    )
    return replace(
        base,
        agency=winner,
        category=category,
        method="classifier",
        confidence=round(confidence, 4),
        triage=triage,
        explanation=explanation,
    )
