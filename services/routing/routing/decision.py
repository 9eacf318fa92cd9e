"""The routing decision: which body considers an appeal, how sure we are, and why.

1. Locality: `locality.resolve_locality` (citizen's code, address, text).
2. Category: the classifier's probabilities, with the citizen's own category counted as
   evidence (Bayes; a wrong pick is assumed to be a neighbouring category): a category the
   text is consistent with survives when the classifier hesitates; one the classifier
   clearly rules out loses.
3. Agency: the reference rule for each category at the locality. Categories that lead to the
   same body pool their probability, and the body with the largest pool wins; that pool is
   the decision's confidence. A crime or threat to people (classifier's police probability,
   confirmed by a crime word or as its first choice) goes to the police at once, never to
   triage, whatever the citizen filed it under and whether or not it is anonymous.
4. The `addressee` hint is honoured when it is the winner anyway, or when the winner is not
   clear (pool below the threshold) and the hint is the rule's winner for a plausible
   category. A body the rule would never pick at this place (wrong topic, a region body
   where a city body is competent, a Karaganda body for область Ұлытау) is never honoured,
   and the explanation says why.
5. Below the threshold the appeal goes to triage, still carrying the best guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from appeals_reference import (
    NoCompetentAgencyError,
    ReferenceData,
    competent_agencies,
    competent_agency,
)
from routing import native

if TYPE_CHECKING:  # mypy reads the source; at run time it is the build made from it, if current
    from routing.locality import How, LocalityMatch, key, keyed_words_headed, resolve_locality
else:
    _locality = native.load("locality")
    key, keyed_words_headed = _locality.key, _locality.keyed_words_headed
    resolve_locality = _locality.resolve_locality

Method = Literal["rule", "classifier", "hint", "manual", "safety"]
FloatMatrix = np.ndarray[Any, np.dtype[np.float64]]

DEFAULT_THRESHOLD = 0.5
# Share of citizen-chosen categories that match the text; eOtinish operators report that
# most, not all, citizens pick the right subcategory.
CITIZEN_CATEGORY_RELIABILITY = 0.8
# A citizen who picks the wrong category picks a neighbour of the right one (water vs
# drinking-water quality, stray dogs vs farm-animal disease…), not any of the other 36, so
# a wrong pick is spread over about this many categories. This keeps the citizen's choice
# from outvoting a classifier that clearly prefers the neighbour.
CITIZEN_CATEGORY_CONFUSABLE = 2
# A hint must carry at least this much probability to be honoured when the winner is unclear.
HINT_FLOOR = 0.05
# Citizens name the competent body about half the time; a wrong hint is usually the region
# body, the city akimat or a Karaganda body instead of the right one.
HINT_RELIABILITY = 0.5
HINT_CONFUSABLE = 3
POLICE_CATEGORY = "SAFETY-POLICE"
# The classifier alone sends to the police from here; with a strong crime word, from the floor.
SAFETY_PROBABILITY = 0.5
SAFETY_KEYWORD_FLOOR = 0.1
# …and when the police is the classifier's first choice, from here: urgency beats doubt,
# since a wrong send costs the police one redirect and a late one may cost a person.
SAFETY_TOP_FLOOR = 0.3
SAFETY_KEYWORD_CONFIDENCE = 0.8
# Word beginnings that name crimes and threats to people (ru, kk); matched on locality keys,
# so Kazakh words typed without Kazakh letters match too. Words shared with emergencies
# («взрыв газа», «угроза обрушения») are left to the classifier floor above.
SAFETY_WORDS = (
    "угрожа угроз убийств убил убью убьют избил избиени избива наркот наркоман закладк "
    "закладчик спайс поджог подожг взорв взрывчат заминир краж украл украд ворова ворует "
    "воруют грабеж грабит ограб разбой изнасил домогат похищ похит стрельб стреля оружи "
    "ножом драк дерут дебош хулиган "
    "қорқыт есірткі ұрлық ұрлап ұрлады ұры тонад тонау өлтір соққыға ұрып төбелес пышақ "
    "зорла өртеп өртеді жарылғыш бұзақы"
)


# ----------------------------------------------------------------------------- classifier


class CategoryScoreLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def probability(self) -> float: ...


class CategoryRanker(Protocol):
    """What decide() needs from a classifier (routing.classifier.CategoryClassifier fits)."""

    @property
    def version(self) -> str: ...
    def rank(self, text: str) -> Sequence[CategoryScoreLike]: ...
    def score_matrix(self, texts: Sequence[str]) -> tuple[Sequence[str], FloatMatrix]:
        """Category codes, and per text a row of their probabilities (summing to 1)."""
        ...


# ----------------------------------------------------------------------------- input


class _Location(BaseModel):
    model_config = ConfigDict(extra="ignore")

    locality: str | None = None
    address: str | None = None


class SubmissionInput(BaseModel):
    """The parts of intake's public submission that routing reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore")

    external_id: str | None = None
    subject: str = ""
    text: str = ""
    category: str | None = None
    location: _Location = Field(default_factory=_Location)
    addressee: str | None = None

    @field_validator("subject", "text", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("location", mode="before")
    @classmethod
    def _null_location(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def full_text(self) -> str:
        """Subject and body, as the classifier and the place finder read them."""
        if self.subject and self.text:
            return f"{self.subject}.\n{self.text}"
        return self.subject or self.text


Submission = Mapping[str, Any] | BaseModel


def as_submission(submission: Submission) -> SubmissionInput:
    if isinstance(submission, SubmissionInput):
        return submission
    if isinstance(submission, BaseModel):
        return SubmissionInput.model_validate(submission.model_dump(mode="json"))
    return SubmissionInput.model_validate(dict(submission))


# ----------------------------------------------------------------------------- output


# Plain dataclasses, not pydantic models: every routed appeal builds five of them from values
# this module computed itself, and validating those cost ~15 µs an appeal. orjson writes them.


@dataclass(slots=True, kw_only=True)
class Alternative:
    category: str
    probability: float
    agency: str | None


@dataclass(slots=True, kw_only=True)
class HintOutcome:
    agency: str
    honoured: bool
    reason: str


@dataclass(slots=True, kw_only=True)
class Explanation:
    method: Method
    locality: str
    locality_how: How
    locality_matched: str | None
    category: str
    category_confidence: float
    category_source: Literal["citizen", "classifier"]
    alternatives: list[Alternative]
    hint: HintOutcome | None
    reference_version: str
    classifier_version: str
    notes: list[str]


@dataclass(slots=True, kw_only=True)
class Decision:
    """Where an appeal goes. `agency` is a best guess even when `triage` is set."""

    agency: str | None
    category: str
    locality: str
    method: Method
    confidence: float
    triage: bool
    out_of_region: bool = False  # a redirection (АППК art. 65), not consideration on the merits
    explanation: Explanation


def as_json(value: Decision | Explanation) -> dict[str, Any]:
    """A decision or its explanation as JSON data: what is stored, published and printed.

    An explanation is spelled out field by field: it is written for every routed appeal, and
    this is twice as fast as orjson's round trip (a test holds the two equal).
    """
    if isinstance(value, Decision):
        data: dict[str, Any] = orjson.loads(orjson.dumps(value))
        return data
    hint = value.hint
    return {
        "method": value.method,
        "locality": value.locality,
        "locality_how": value.locality_how,
        "locality_matched": value.locality_matched,
        "category": value.category,
        "category_confidence": value.category_confidence,
        "category_source": value.category_source,
        "alternatives": [
            {"category": a.category, "probability": a.probability, "agency": a.agency}
            for a in value.alternatives
        ],
        "hint": None
        if hint is None
        else {"agency": hint.agency, "honoured": hint.honoured, "reason": hint.reason},
        "reference_version": value.reference_version,
        "classifier_version": value.classifier_version,
        "notes": list(value.notes),
    }


# ----------------------------------------------------------------------------- deciding

_SAFETY_KEYS = tuple(key(w) for w in SAFETY_WORDS.split())
# First three letters of every crime word: one set look-up rules out most words of a text.
_SAFETY_HEADS = frozenset(k[:3] for k in _SAFETY_KEYS)
assert min(map(len, _SAFETY_KEYS)) >= 3
_AGENCY_TABLES: dict[tuple[str, str], dict[str, str | None]] = {}


def _agency_by_category(ref: ReferenceData, locality: str) -> dict[str, str | None]:
    """The rule's winner for every category at this locality (None where the data has a gap)."""
    table = _AGENCY_TABLES.get((ref.version, locality))
    if table is None:
        table = {}
        for cat in ref.categories:
            try:
                table[cat.code] = competent_agency(ref, cat.code, locality).code
            except NoCompetentAgencyError:
                table[cat.code] = None
        if len(_AGENCY_TABLES) > 1000:
            _AGENCY_TABLES.clear()
        _AGENCY_TABLES[(ref.version, locality)] = table
    return table


def _normalised(scores: Mapping[str, float]) -> dict[str, float]:
    total = sum(scores.values())
    if total <= 0:
        return {code: 1 / len(scores) for code in scores}
    return {code: p / total for code, p in scores.items()}


def _with_evidence(
    probs: Mapping[str, float], code: str, reliability: float, confusable: int
) -> dict[str, float]:
    """Bayes update for "someone who is right `reliability` of the time said `code`".

    When wrong, the source names one of about `confusable` look-alikes of the truth, so the
    likelihood ratio of its answer being the truth is reliability * confusable / (1 - it).
    """
    ratio = _evidence_ratio(reliability, confusable)
    return _normalised({c: p * ratio if c == code else p for c, p in probs.items()})


def _evidence_ratio(reliability: float, confusable: int) -> float:
    return reliability * confusable / (1 - reliability)


def _safety_words(text: str) -> list[str]:
    return sorted(
        {
            w.lower()
            for w, k in keyed_words_headed(text, _SAFETY_HEADS)
            if k.startswith(_SAFETY_KEYS)
        }
    )


def _hint_refusal(
    ref: ReferenceData, hint: str, category: str, locality: str, winner: str | None
) -> str:
    agency = ref.agency(hint)
    chain = {x.code for x in ref.ancestors(locality)}
    if not chain.intersection(agency.jurisdiction):
        return f"{hint} has no jurisdiction over {locality}; the rule gives {winner}"
    if category not in agency.competences:
        return f"{hint} does not handle {category}; the rule gives {winner}"
    deeper = [c for c in competent_agencies(ref, category, locality) if c.agency.code == winner]
    if deeper:
        return f"{hint} covers {locality}, but the more local {winner} is competent for {category}"
    return f"the rule gives {winner} for {category} at {locality}"


def decide(
    submission: Submission,
    ref: ReferenceData,
    classifier: CategoryRanker,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> Decision:
    """Route one submission (a mapping in intake's public format, or a pydantic model)."""
    return decide_many([submission], ref, classifier, threshold=threshold)[0]


def decide_many(
    submissions: Sequence[Submission],
    ref: ReferenceData,
    classifier: CategoryRanker,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Decision]:
    """Route many submissions: one classifier call and one set of array operations per batch.

    The probability arithmetic (the citizen's evidence, pooling by agency, the winner and its
    best category, the top three) is done on the batch's matrix, grouped by locality; the
    Python loop per appeal only finds the place, reads the results and writes the
    explanation. Per appeal in dictionaries it cost as much as the classifier.
    """
    parsed = [as_submission(s) for s in submissions]
    if not parsed:
        return []
    codes, matrix = classifier.score_matrix([p.full_text for p in parsed])
    # Place and crime words together: both read the text's words, cached for one text.
    places: list[LocalityMatch] = []
    crime_words: list[list[str]] = []
    for p in parsed:
        text = p.full_text
        places.append(resolve_locality(ref, p.location.locality, p.location.address, text))
        crime_words.append(_safety_words(text))
    batch = _Batch(ref, codes, matrix, parsed, places)
    return [
        _decide(p, place, words, batch, n, ref, classifier.version, threshold)
        for n, (p, place, words) in enumerate(zip(parsed, places, crime_words, strict=True))
    ]


class _Batch:
    """The numbers of a batch of decisions, categories in reference order.

    raw: the classifier's probabilities over the reference categories, renormalised (a
    category the classifier lacks has 0). posterior: raw with the citizen's category
    weighed in (Bayes, see _with_evidence). Agencies are pooled per locality, in the order
    of their first category, so ties go to the same agency as a left-to-right scan would.
    """

    def __init__(
        self,
        ref: ReferenceData,
        codes: Sequence[str],
        matrix: FloatMatrix,
        parsed: Sequence[SubmissionInput],
        places: Sequence[LocalityMatch],
    ) -> None:
        self.categories = [c.code for c in ref.categories]
        self.index = {code: j for j, code in enumerate(self.categories)}
        column = {code: j for j, code in enumerate(codes)}
        take = np.array([column.get(c, -1) for c in self.categories], dtype=np.intp)
        scores = np.where(take >= 0, matrix[:, np.maximum(take, 0)], 0.0)
        self.raw = _rows_normalised(scores)
        posterior = self.raw.copy()
        citizen = [
            (n, self.index[p.category])
            for n, p in enumerate(parsed)
            if p.category is not None and p.category in self.index
        ]
        if citizen:
            at, cols = (np.array(x, dtype=np.intp) for x in zip(*citizen, strict=True))
            posterior[at, cols] *= _evidence_ratio(
                CITIZEN_CATEGORY_RELIABILITY, CITIZEN_CATEGORY_CONFUSABLE
            )
            posterior[at] = _rows_normalised(posterior[at])
        self.posterior = posterior
        police = self.index.get(POLICE_CATEGORY)
        rows = len(parsed)
        self.police: list[float] = [0.0] * rows
        self.police_on_top: list[bool] = [False] * rows
        if police is not None:
            self.police = self.raw[:, police].tolist()
            self.police_on_top = (self.raw.argmax(axis=1) == police).tolist()
        # Stable, so equal probabilities keep reference order, as sorted() would.
        self.top3 = np.argsort(-posterior, axis=1, kind="stable")[:, :3].tolist()
        self.winner: list[str | None] = [None] * len(parsed)
        self.confidence = [0.0] * len(parsed)
        self.best: list[str] = [""] * len(parsed)
        # Per appeal: its locality's agencies, their pools for its locality's appeals, its row.
        self._pools: list[tuple[list[str], FloatMatrix, int]] = [([], _NO_POOLS, 0)] * rows
        by_locality: dict[str, list[int]] = {}
        for n, place in enumerate(places):
            by_locality.setdefault(place.code, []).append(n)
        for locality, rows_here in by_locality.items():
            self._pool(ref, locality, rows_here)

    def _pool(self, ref: ReferenceData, locality: str, rows: list[int]) -> None:
        table = _agency_by_category(ref, locality)
        agencies = list(dict.fromkeys(a for a in (table[c] for c in self.categories) if a))
        at = np.array(rows, dtype=np.intp)
        posterior = self.posterior[at]
        if not agencies:  # a gap in the data: no body for anything here
            for n, best in zip(rows, posterior.argmax(axis=1).tolist(), strict=True):
                self.best[n] = self.categories[best]
            return
        column = {agency: k for k, agency in enumerate(agencies)}
        member = np.zeros((len(self.categories), len(agencies)))
        for j, code in enumerate(self.categories):
            agency = table[code]
            if agency is not None:
                member[j, column[agency]] = 1.0
        pools = posterior @ member
        for k, n in enumerate(rows):
            self._pools[n] = (agencies, pools, k)
        winners = pools.argmax(axis=1)
        # The winner's most probable category: others masked out (-1 is below any probability).
        leading = member[:, winners].T > 0
        best = np.where(leading, posterior, -1.0).argmax(axis=1)
        for n, w, pool, b in zip(
            rows,
            winners.tolist(),
            pools[np.arange(len(rows)), winners].tolist(),
            best.tolist(),
            strict=True,
        ):
            self.winner[n], self.confidence[n], self.best[n] = agencies[w], pool, self.categories[b]

    def posterior_of(self, n: int) -> dict[str, float]:
        return dict(zip(self.categories, self.posterior[n].tolist(), strict=True))

    def pools_of(self, n: int) -> dict[str, float]:
        """Probability per agency at the appeal's locality, in the order of first category."""
        agencies, pools, k = self._pools[n]
        return dict(zip(agencies, pools[k].tolist(), strict=True))


_NO_POOLS: FloatMatrix = np.zeros((1, 0))


def _rows_normalised(matrix: FloatMatrix) -> FloatMatrix:
    """Each row divided by its sum; a row summing to 0 becomes uniform."""
    totals = matrix.sum(axis=1, keepdims=True)
    uniform = np.full_like(matrix, 1.0 / matrix.shape[1])
    result: FloatMatrix = np.divide(matrix, totals, out=uniform, where=totals > 0)
    return result


def _decide(
    sub: SubmissionInput,
    place: LocalityMatch,
    crime_words: list[str],
    batch: _Batch,
    n: int,
    ref: ReferenceData,
    classifier_version: str,
    threshold: float,
) -> Decision:
    notes: list[str] = []
    if place.note:
        notes.append(place.note)
    table = _agency_by_category(ref, place.code)
    out_of_region = ref.locality(place.code).outside_jurisdiction
    citizen = sub.category if ref.has_category(sub.category) else None
    if sub.category and citizen is None:
        notes.append(f"unknown category code {sub.category!r} ignored")

    safety = _safety(crime_words, batch.police[n], batch.police_on_top[n], notes)
    if safety is not None and POLICE_CATEGORY in table:
        choice = _safety_choice(sub.addressee, table, batch, n, safety)
    else:
        choice = _rule_choice(ref, sub.addressee, batch, n, table, threshold, place.code)
    agency_code, category, confidence = choice.agency, choice.category, choice.confidence
    method: Method = choice.method
    if agency_code is None:
        notes.append("no body is competent for this category and place: manual routing")
    elif method == "safety":
        notes.append("a report of a crime or threat: sent at once, never to triage")
    elif method == "rule" and category != citizen:
        method = "classifier"  # the category came from the text, not from the citizen
    triage = agency_code is None or (method != "safety" and confidence < threshold)
    if out_of_region:
        notes.append(
            f"{place.code} is outside Karaganda region: redirect to {agency_code} within "
            "3 working days and notify the applicant (АППК art. 65)"
        )
    if triage:
        notes.append(f"confidence {confidence:.2f} below {threshold:.2f}: sent to triage")

    posterior = batch.posterior[n]
    alternatives = [
        Alternative(
            category=batch.categories[j],
            probability=round(float(posterior[j]), 4),
            agency=table[batch.categories[j]],
        )
        for j in batch.top3[n]
    ]
    explanation = Explanation(
        method=method,
        locality=place.code,
        locality_how=place.how,
        locality_matched=place.matched,
        category=category,
        category_confidence=round(float(posterior[batch.index[category]]), 4),
        category_source="citizen" if category == citizen else "classifier",
        alternatives=alternatives,
        hint=choice.hint,
        reference_version=ref.version,
        classifier_version=classifier_version,
        notes=notes,
    )
    return Decision(
        agency=agency_code,
        category=category,
        locality=place.code,
        method=method,
        confidence=round(confidence, 4),
        triage=triage,
        out_of_region=out_of_region,
        explanation=explanation,
    )


class _Choice(NamedTuple):  # one per appeal: a tuple is built faster than a frozen dataclass
    agency: str | None
    category: str
    confidence: float
    method: Method  # "rule" here means: by the rule, from whichever category won
    hint: HintOutcome | None


def _safety_choice(
    hint: str | None,
    table: Mapping[str, str | None],
    batch: _Batch,
    n: int,
    safety: float,
) -> _Choice:
    agency = table[POLICE_CATEGORY]
    outcome = None
    if hint:
        outcome = HintOutcome(
            agency=hint,
            honoured=hint == agency,
            reason="a report of a crime or threat goes to the police at once",
        )
    confidence = max(safety, batch.pools_of(n).get(agency or "", 0.0))
    return _Choice(agency, POLICE_CATEGORY, confidence, "safety", outcome)


def _rule_choice(
    ref: ReferenceData,
    hint: str | None,
    batch: _Batch,
    n: int,
    table: Mapping[str, str | None],
    threshold: float,
    locality: str,
) -> _Choice:
    """The body with the largest pool, or the hint where the rule allows it."""
    agency, confidence, category = batch.winner[n], batch.confidence[n], batch.best[n]
    outcome = None
    if hint:
        posterior = batch.posterior_of(n)
        agency, confidence, outcome = _apply_hint(
            ref, hint, batch.pools_of(n), agency, confidence, threshold, category, locality
        )
        category = _best_category(posterior, table, agency)
    method: Method = "hint" if outcome is not None and outcome.honoured else "rule"
    if agency is None:
        method = "manual"
    return _Choice(agency, category, confidence, method, outcome)


def _best_category(
    posterior: Mapping[str, float], table: Mapping[str, str | None], agency: str | None
) -> str:
    """The most probable category that leads to `agency` (the most probable one overall if none)."""
    leading = [c for c in posterior if table[c] == agency]
    return max(leading or posterior, key=posterior.__getitem__)


def _safety(words: list[str], police: float, police_on_top: bool, notes: list[str]) -> float | None:
    """The confidence that this reports a crime or a threat to people, or None if it does not.

    Uses the classifier's own view (before the citizen's category is weighed): a citizen who
    files an assault under "housing" still reports an assault.
    """
    if words and police >= SAFETY_KEYWORD_FLOOR:
        notes.append(f"crime or threat words: {', '.join(words)}")
        return max(police, SAFETY_KEYWORD_CONFIDENCE)
    if police >= SAFETY_PROBABILITY or (police_on_top and police >= SAFETY_TOP_FLOOR):
        return police
    return None


def _apply_hint(
    ref: ReferenceData,
    hint: str,
    pools: Mapping[str, float],
    winner: str | None,
    confidence: float,
    threshold: float,
    category: str,
    locality: str,
) -> tuple[str | None, float, HintOutcome]:
    if not ref.has_agency(hint):
        return (
            winner,
            confidence,
            HintOutcome(agency=hint, honoured=False, reason=f"unknown agency code {hint!r}"),
        )
    boosted = _with_evidence(
        {a.code: pools.get(a.code, 0.0) for a in ref.agencies},
        hint,
        HINT_RELIABILITY,
        HINT_CONFUSABLE,
    )
    if hint == winner:
        return (
            winner,
            boosted[hint],
            HintOutcome(
                agency=hint, honoured=True, reason="the hint is the competent body by the rule"
            ),
        )
    mass = pools.get(hint, 0.0)
    if confidence < threshold and mass >= HINT_FLOOR:
        return (
            hint,
            boosted[hint],
            HintOutcome(
                agency=hint,
                honoured=True,
                reason=(
                    f"the winner {winner} was uncertain ({confidence:.2f}) and {hint} is competent "
                    f"for a plausible category here ({mass:.2f})"
                ),
            ),
        )
    if mass > 0:
        reason = f"the text points to {winner} ({confidence:.2f}) rather than {hint} ({mass:.2f})"
    else:
        reason = _hint_refusal(ref, hint, category, locality, winner)
    return winner, confidence, HintOutcome(agency=hint, honoured=False, reason=reason)
