"""The gauges feedback serves on ``/metrics``: each survey type's score and answer count over
a rolling window of report days (today and the days before it, in the rules' time zone).

They are read from the rollups, the same numbers as the reports, so every replica reports the
same values (a dashboard takes the max). A score with no answer in the window is read as NaN,
which OpenTelemetry drops: the series has no sample ("no data"), never a score of 0.
"""

from __future__ import annotations

import math
from datetime import timedelta
from zoneinfo import ZoneInfo

from opora_shared import attributes
from opora_shared.contracts.feedback import SurveyType
from opora_shared.gauges import PolledGauge, Reading
from opora_shared.ports import Clock

from opora_feedback.domain import reports, service
from opora_feedback.domain.metrics import Tally
from opora_feedback.domain.ports import RollupStore
from opora_feedback.domain.rollups import report_day


def score(tally: Tally, survey_type: SurveyType) -> float | None:
    """The headline number of a survey type: CSAT % satisfied, NPS, CES average."""
    if survey_type is SurveyType.CSAT:
        return tally.csat_percent
    if survey_type is SurveyType.NPS:
        return tally.nps
    return tally.ces_average


def rolling_scores(
    rollups: RollupStore, *, zone: ZoneInfo, clock: Clock, window_days: int
) -> list[PolledGauge]:
    async def window() -> Tally:
        last = report_day(clock(), zone)
        query = reports.ReportQuery(first=last - timedelta(days=window_days - 1), last=last)
        return (await service.report(query, rollups)).total

    async def scores() -> Reading:
        tally = await window()
        found = ((t, score(tally, t)) for t in SurveyType)
        return [
            ({attributes.SURVEY_TYPE: t.value}, math.nan if value is None else value)
            for t, value in found
        ]

    async def responses() -> Reading:
        tally = await window()
        return [({attributes.SURVEY_TYPE: t.value}, tally.responses(t)) for t in SurveyType]

    days = f"the last {window_days} report days"
    return [
        PolledGauge(
            "opora.feedback.score",
            f"CSAT % satisfied, NPS and CES average over {days}, per survey type",
            scores,
        ),
        PolledGauge(
            "opora.feedback.responses", f"Survey answers over {days}, per survey type", responses
        ),
    ]
