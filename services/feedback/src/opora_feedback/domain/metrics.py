"""Survey maths: what one answer or invitation adds to the counts, and the scores reported.

- **CSAT** % = satisfied answers (4 and 5 on the 1–5 scale) ÷ all answers.
- **NPS** = % promoters (9–10) − % detractors (0–6), from −100 to +100.
- **CES** = the average agreement (1–7) with "the company made it easy to handle my issue".
- **Response rate** = answers ÷ surveys issued that asked the question.

Counts are kept as a :class:`Tally` of plain integers, so that an answer's contribution can be
added, an edit's replaced (minus the old, plus the new) and any number of tallies summed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from opora_shared.contracts.feedback import SurveyType

SCALES: Mapping[SurveyType, tuple[int, int]] = {
    SurveyType.CSAT: (1, 5),
    SurveyType.NPS: (0, 10),
    SurveyType.CES: (1, 7),
}
CSAT_SATISFIED_MIN = 4  # 4 "satisfied" and 5 "very satisfied"
CSAT_DISSATISFIED_MAX = 2  # 1 and 2: a detractor to follow up on
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6


def on_scale(survey_type: SurveyType, score: int) -> bool:
    low, high = SCALES[survey_type]
    return low <= score <= high


def is_detractor(survey_type: SurveyType, score: int) -> bool:
    """NPS 0–6 or CSAT 1–2: somebody should get in touch (CES is not a loyalty question)."""
    if survey_type is SurveyType.NPS:
        return score <= NPS_DETRACTOR_MAX
    if survey_type is SurveyType.CSAT:
        return score <= CSAT_DISSATISFIED_MAX
    return False


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts of one slice of surveys (a day, an agent, ...); every field is additive."""

    csat_issued: int = 0
    csat_responses: int = 0
    csat_satisfied: int = 0
    csat_dissatisfied: int = 0
    nps_issued: int = 0
    nps_responses: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    ces_issued: int = 0
    ces_responses: int = 0
    ces_score_sum: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(self.packed(), other.packed(), strict=True)))

    def __sub__(self, other: Tally) -> Tally:
        return Tally(*(a - b for a, b in zip(self.packed(), other.packed(), strict=True)))

    def __bool__(self) -> bool:
        return any(self.packed())

    def packed(self) -> list[int]:
        """The counts in field order: how rollup documents store them."""
        return [getattr(self, name) for name in _FIELDS]

    @classmethod
    def unpacked(cls, values: Iterable[int]) -> Tally:
        counts = [int(v) for v in values]
        width = len(fields(cls))
        # A row written before a counter was added is shorter: the new counters start at 0.
        return cls(*(counts[:width] + [0] * (width - len(counts))))

    # --- the reported numbers ---------------------------------------------------------------

    @property
    def csat_percent(self) -> float | None:
        return _percent(self.csat_satisfied, self.csat_responses)

    @property
    def nps(self) -> float | None:
        if self.nps_responses <= 0:
            return None
        return round(100.0 * (self.nps_promoters - self.nps_detractors) / self.nps_responses, 1)

    @property
    def nps_passives(self) -> int:
        return self.nps_responses - self.nps_promoters - self.nps_detractors

    @property
    def ces_average(self) -> float | None:
        if self.ces_responses <= 0:
            return None
        return round(self.ces_score_sum / self.ces_responses, 2)

    def responses(self, survey_type: SurveyType) -> int:
        return int(getattr(self, f"{survey_type.value}_responses"))

    def issued(self, survey_type: SurveyType) -> int:
        return int(getattr(self, f"{survey_type.value}_issued"))

    def response_rate(self, survey_type: SurveyType) -> float | None:
        """Answers ÷ surveys issued, in percent; None before the first survey."""
        return _percent(self.responses(survey_type), self.issued(survey_type))


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Tally))


def _percent(part: int, whole: int) -> float | None:
    if whole <= 0:
        return None
    return round(100.0 * part / whole, 1)


def answer_tally(survey_type: SurveyType, score: int | None) -> Tally:
    """What one answer counts for (nothing for ``None``: no answer yet)."""
    if score is None:
        return Tally()
    if survey_type is SurveyType.CSAT:
        return Tally(
            csat_responses=1,
            csat_satisfied=int(score >= CSAT_SATISFIED_MIN),
            csat_dissatisfied=int(score <= CSAT_DISSATISFIED_MAX),
        )
    if survey_type is SurveyType.NPS:
        return Tally(
            nps_responses=1,
            nps_promoters=int(score >= NPS_PROMOTER_MIN),
            nps_detractors=int(score <= NPS_DETRACTOR_MAX),
        )
    return Tally(ces_responses=1, ces_score_sum=score)


def revision_tally(survey_type: SurveyType, score: int, previous_score: int | None) -> Tally:
    """An answer's change to the counts: the new score in, the one it replaces out."""
    return answer_tally(survey_type, score) - answer_tally(survey_type, previous_score)


def issued_tally(questions: Iterable[SurveyType]) -> Tally:
    counts = {f"{q.value}_issued": 1 for q in questions}
    return Tally(**counts)


def total(tallies: Iterable[Tally]) -> Tally:
    result = Tally()
    for tally in tallies:
        result = result + tally
    return result
