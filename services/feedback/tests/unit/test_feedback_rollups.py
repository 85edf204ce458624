"""Rollups: spans that cover any period exactly, folding that counts every survey issue and
answer revision once however the events are delivered, and reports read from them."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opora_feedback.adapters.memory import MemoryRollups
from opora_feedback.domain import reports, service
from opora_feedback.domain.metrics import SCALES, Tally, answer_tally, issued_tally
from opora_feedback.domain.rollups import (
    LEVELS,
    Contribution,
    Dimension,
    Filters,
    Node,
    Positioned,
    Slice,
    cover,
    day_number,
    differences,
    fold,
    rebuild,
    report_day,
)
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyResponseRecordedV1, SurveyType

UTC_ZONE = ZoneInfo("UTC")
DAY = date(2026, 2, 1)


def covered_days(first: date, last: date) -> list[int]:
    found = []
    for node_id in cover(first, last):
        level, index = (int(x) for x in node_id[1:].split(":"))
        found += range(index << level, (index + 1) << level)
    return found


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=3_000),
)
def test_spans_cover_a_period_exactly_once(first, length) -> None:
    last = first + timedelta(days=length)

    days = covered_days(first, last)

    assert sorted(days) == list(range(day_number(first), day_number(last) + 1))


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=1_000),
)
def test_a_period_of_up_to_a_thousand_days_reads_at_most_two_spans_a_level(first, length) -> None:
    assert len(cover(first, first + timedelta(days=length))) <= 2 * LEVELS


def test_a_day_is_counted_in_the_time_zone_of_the_reports() -> None:
    late_evening_utc = datetime(2026, 2, 28, 22, 30, tzinfo=UTC)

    assert report_day(late_evening_utc, ZoneInfo("Europe/Moscow")) == date(2026, 3, 1)


def contribution(day=DAY, agent="anna", score=5) -> Contribution:
    return Contribution(
        day,
        Slice("anna" if agent is None else agent, "t1", "email", "warranty"),
        answer_tally(SurveyType.CSAT, score),
    )


def test_a_node_counts_a_record_once() -> None:
    node = Node("n0:1")
    entries = [Positioned(0, 7, contribution())]

    assert fold(node, entries) is True
    assert fold(node, entries) is False
    assert node.rows["total"][""].csat_responses == 1


def test_a_node_counts_later_records_of_the_same_partition() -> None:
    node = Node("n0:1")
    fold(node, [Positioned(0, 7, contribution())])

    fold(node, [Positioned(0, 7, contribution()), Positioned(0, 9, contribution(score=1))])

    assert node.rows["total"][""].csat_responses == 2


def test_a_node_survives_packing() -> None:
    node = Node("n3:100")
    fold(node, [Positioned(2, 1, contribution()), Positioned(2, 2, contribution(agent="boris"))])

    again = Node.unpack(node.node_id, node.pack(), {"2": 2}, 1)

    assert again.rows == node.rows
    assert again.counted(Positioned(2, 2, contribution()))


# --- folding feedback's own events, delivered the way Kafka delivers them --------------------

AGENTS = ("anna", "boris", None)
TEAMS = ("t1", "t2")
CHANNELS = (Channel.EMAIL, Channel.CHAT)
TYPES = (RequestType.WARRANTY, RequestType.LOYALTY)


def issued(ticket: int, *, day: int, agent: int, questions: tuple[SurveyType, ...]):
    at = datetime.combine(DAY + timedelta(days=day), time(12), UTC)
    return SurveyIssuedV1(
        ticket_id=f"t{ticket}",
        survey_id=f"t{ticket}:{questions[0].value}",
        survey_type=questions[0],
        agent_id=AGENTS[agent % 3],
        team=TEAMS[agent % 2],
        channel=CHANNELS[ticket % 2],
        request_type=TYPES[agent % 2],
        customer=CustomerRef(customer_id="c"),
        url="https://opora.test/s/x",
        expires_at=at + timedelta(days=28),
        send_after=at,
        questions=questions,
        occurred_at=at,
    )


def recorded(issue: SurveyIssuedV1, survey_type, score, revision, previous):
    return SurveyResponseRecordedV1(
        ticket_id=issue.ticket_id,
        survey_id=f"{issue.ticket_id}:{survey_type.value}",
        survey_type=survey_type,
        agent_id=issue.agent_id,
        team=issue.team,
        channel=issue.channel,
        request_type=issue.request_type,
        score=score,
        revision=revision,
        previous_score=previous,
        issued_at=issue.occurred_at,
        occurred_at=issue.occurred_at + timedelta(days=revision),
    )


@st.composite
def histories(draw: st.DrawFn):
    """Surveys issued and answered (with edits), as feedback publishes them, and the state
    they end in."""
    events: list[SurveyIssuedV1 | SurveyResponseRecordedV1] = []
    final: list[Contribution] = []
    for ticket in range(draw(st.integers(1, 6))):
        questions = draw(
            st.sampled_from(
                [
                    (SurveyType.CSAT,),
                    (SurveyType.NPS, SurveyType.CSAT),
                    (SurveyType.CSAT, SurveyType.CES),
                ]
            )
        )
        issue = issued(
            ticket, day=draw(st.integers(0, 40)), agent=draw(st.integers(0, 5)), questions=questions
        )
        events.append(issue)
        where = Slice.of(issue.agent_id, issue.team, issue.channel.value, issue.request_type.value)
        day = issue.occurred_at.date()
        final.append(Contribution(day, where, issued_tally(questions)))
        for question in questions:
            low, high = SCALES[question]
            scores = draw(st.lists(st.integers(low, high), max_size=3))
            for revision, score in enumerate(scores, start=1):
                previous = scores[revision - 2] if revision > 1 else None
                events.append(recorded(issue, question, score, revision, previous))
            if scores:
                final.append(Contribution(day, where, answer_tally(question, scores[-1])))
    return events, final


async def deliver(events, *, seed: int, rollups: MemoryRollups) -> None:
    """Publish on two partitions (some events twice, as a republish after a failed publish
    does), then consume in random batches that sometimes fail before the commit and are
    delivered again from the last committed offset."""
    rng = random.Random(seed)
    partitions: dict[int, list] = {0: [], 1: []}
    for event in events:
        partition = int(event.ticket_id[1:]) % 2
        partitions[partition].append(event)
        if rng.random() < 0.2:
            partitions[partition].append(event)
    committed = {0: 0, 1: 0}
    while any(committed[p] < len(partitions[p]) for p in partitions):
        batch = []
        for p, log in partitions.items():
            take = rng.randint(0, 4)
            batch += [
                service.Record(p, offset, log[offset])
                for offset in range(committed[p], min(len(log), committed[p] + take))
            ]
        await service.fold_records(batch, rollups, UTC_ZONE)
        if rng.random() < 0.3:
            continue  # crashed before committing: the batch comes again
        for record in batch:
            committed[record.partition] = max(committed[record.partition], record.offset + 1)


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 10_000))
async def test_folding_redelivered_and_republished_events_counts_each_once(history, seed):
    events, final = history
    rollups = MemoryRollups()

    await deliver(events, seed=seed, rollups=rollups)

    assert differences(rollups.nodes, rebuild(final)) == []


# --- reports ----------------------------------------------------------------------------------


@pytest.fixture
async def filled() -> MemoryRollups:
    """Four surveys over two days and two agents."""
    rollups = MemoryRollups()
    first = issued(1, day=0, agent=0, questions=(SurveyType.CSAT,))  # anna, t1
    second = issued(2, day=0, agent=1, questions=(SurveyType.CSAT,))  # boris, t2
    third = issued(3, day=1, agent=0, questions=(SurveyType.NPS, SurveyType.CSAT))
    fourth = issued(4, day=1, agent=0, questions=(SurveyType.CSAT,))
    events = [
        first,
        second,
        third,
        fourth,
        recorded(first, SurveyType.CSAT, 5, 1, None),
        recorded(second, SurveyType.CSAT, 2, 1, None),
        recorded(third, SurveyType.NPS, 10, 1, None),
        recorded(third, SurveyType.CSAT, 4, 1, None),
    ]
    await service.fold_records(
        [service.Record(0, offset, e) for offset, e in enumerate(events)], rollups, UTC_ZONE
    )
    return rollups


async def report(rollups, group_by, *, first=DAY, last=DAY + timedelta(days=1), **filters):
    query = reports.ReportQuery(first, last, reports.GroupBy(group_by), Filters(**filters))
    return await service.report(query, rollups)


async def test_a_report_by_agent_credits_each_agent(filled) -> None:
    made = await report(filled, "agent")

    by_agent = {row.key: row.tally for row in made.rows}
    assert by_agent["anna"].csat_percent == 100.0
    assert by_agent["boris"].csat_percent == 0.0
    assert made.total.csat_responses == 3
    assert made.total.response_rate(SurveyType.CSAT) == 75.0


async def test_a_report_by_day_has_a_row_per_day(filled) -> None:
    made = await report(filled, "day")

    assert [(r.key, r.tally.csat_issued) for r in made.rows] == [
        ("2026-02-01", 2),
        ("2026-02-02", 2),
    ]


async def test_a_report_by_month_adds_whole_and_partial_months(filled) -> None:
    made = await report(filled, "month", first=date(2026, 1, 15), last=date(2026, 2, 28))

    assert [(r.key, r.tally.csat_issued) for r in made.rows] == [("2026-01", 0), ("2026-02", 4)]


async def test_a_filtered_report_reads_the_cells(filled) -> None:
    made = await report(filled, "request_type", agent="anna")

    assert {r.key: r.tally.nps for r in made.rows} == {"warranty": 100.0}
    assert made.total.csat_issued == 3


async def test_a_report_outside_the_data_is_empty(filled) -> None:
    made = await report(filled, "agent", first=date(2025, 1, 1), last=date(2025, 1, 31))

    assert made.rows == ()
    assert made.total == Tally()


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(reports.ReportError, match=r"^to:"):
        reports.ReportQuery(DAY, DAY - timedelta(days=1)).check()


def test_a_daily_report_longer_than_the_limit_is_refused() -> None:
    query = reports.ReportQuery(
        DAY, DAY + timedelta(days=reports.MAX_DAYS_READ), reports.GroupBy.DAY
    )

    with pytest.raises(reports.ReportError):
        query.check()


def test_a_year_by_agent_reads_a_handful_of_nodes() -> None:
    _, node_ids = reports.plan(
        reports.ReportQuery(date(2025, 3, 17), date(2026, 3, 16), reports.GroupBy.AGENT)
    )

    assert len(node_ids) <= 2 * LEVELS


def test_total_dimension_is_part_of_every_span() -> None:
    node = Node("n0:1")
    fold(node, [Positioned(0, 1, contribution())])

    assert set(node.rows) == {d.value for d in Dimension}


def test_a_daily_trend_reads_only_the_months_it_spans() -> None:
    _, node_ids = reports.plan(
        reports.ReportQuery(date(2026, 1, 20), date(2026, 2, 18), reports.GroupBy.DAY)
    )

    assert node_ids == ["m:2026-01", "m:2026-02"]


async def test_a_weekly_trend_adds_up_its_days(filled) -> None:
    made = await report(filled, "week")

    assert [(r.key, r.tally.csat_issued) for r in made.rows] == [("2026-W05", 2), ("2026-W06", 2)]
