"""The rolling scores on /metrics: each survey type's score and answers over the last days."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opora_feedback.adapters.memory import MemoryRollups
from opora_feedback.domain import service
from opora_feedback.entrypoints.gauges import rolling_scores
from opora_shared.contracts.feedback import SurveyType
from opora_shared.gauges import Reading

from .test_feedback_rollups import DAY, issued, recorded

UTC_ZONE = ZoneInfo("UTC")
# Noon of the third day: a window ending then counts surveys issued up to that day (answers
# count on the day their survey was issued, as in the reports).
NOW = datetime.combine(DAY + timedelta(days=2), time(12), UTC)


async def folded(*events) -> MemoryRollups:
    rollups = MemoryRollups()
    await service.fold_records(
        [service.Record(0, offset, e) for offset, e in enumerate(events)], rollups, UTC_ZONE
    )
    return rollups


async def read(rollups: MemoryRollups, *, now=NOW, window_days=7) -> dict[str, Reading]:
    gauges = rolling_scores(rollups, zone=UTC_ZONE, clock=lambda: now, window_days=window_days)
    return {g.name: await g.read() for g in gauges}


def by_type(reading: Reading) -> dict[str, float]:
    return {attrs["opora.survey_type"]: value for attrs, value in reading}


async def test_the_scores_are_the_window_s_csat_nps_and_ces() -> None:
    csat = issued(1, day=0, agent=0, questions=(SurveyType.CSAT,))
    other = issued(2, day=1, agent=1, questions=(SurveyType.CSAT,))
    nps = issued(3, day=1, agent=0, questions=(SurveyType.NPS,))
    ces = issued(4, day=2, agent=0, questions=(SurveyType.CES,))
    rollups = await folded(
        csat,
        other,
        nps,
        ces,
        recorded(csat, SurveyType.CSAT, 5, 1, None),
        recorded(other, SurveyType.CSAT, 2, 1, None),
        recorded(nps, SurveyType.NPS, 10, 1, None),
        recorded(ces, SurveyType.CES, 6, 1, None),
    )

    scores = by_type((await read(rollups))["opora.feedback.score"])

    assert scores == {"csat": 50.0, "nps": 100.0, "ces": 6.0}


async def test_answers_older_than_the_window_are_left_out() -> None:
    old = issued(1, day=0, agent=0, questions=(SurveyType.CSAT,))
    recent = issued(2, day=2, agent=1, questions=(SurveyType.CSAT,))
    rollups = await folded(
        old,
        recent,
        recorded(old, SurveyType.CSAT, 1, 1, None),
        recorded(recent, SurveyType.CSAT, 5, 1, None),
    )

    gauges = await read(rollups, window_days=1)

    assert by_type(gauges["opora.feedback.score"])["csat"] == 100.0
    assert by_type(gauges["opora.feedback.responses"])["csat"] == 1


async def test_a_type_without_answers_reads_as_nan_and_no_answers() -> None:
    survey = issued(1, day=0, agent=0, questions=(SurveyType.CSAT,))
    rollups = await folded(survey, recorded(survey, SurveyType.CSAT, 4, 1, None))

    gauges = await read(rollups)

    assert math.isnan(by_type(gauges["opora.feedback.score"])["nps"])
    assert by_type(gauges["opora.feedback.responses"]) == {"csat": 1, "nps": 0, "ces": 0}
