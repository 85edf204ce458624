"""Facets: what filtered reports read. Every combination of filters and grouping finds a facet
table, reports from stored facets equal a count of the contributions themselves, a facet keeps
the positions of each of its days apart, and the days counted before facets are carried over
once; stored invitations and revisions count as their events do when folded."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from opora_feedback.domain import reports, service
from opora_feedback.domain.metrics import Tally, answer_tally, issued_tally
from opora_feedback.domain.model import response_event
from opora_feedback.domain.rollups import (
    FACET_KINDS,
    Contribution,
    Dimension,
    FacetRead,
    Filters,
    Node,
    Positioned,
    Slice,
    carry_over,
    differences,
    fold,
    issue_counted,
    legacy_cells,
    rebuild,
    revision_counted,
)
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType

DAY = date(2026, 1, 20)
ZONE = ZoneInfo("Europe/Moscow")
FILTERED = (Dimension.AGENT, Dimension.TEAM, Dimension.CHANNEL, Dimension.REQUEST_TYPE)
TALLIES = [
    answer_tally(SurveyType.CSAT, 5),
    answer_tally(SurveyType.CSAT, 1),
    answer_tally(SurveyType.NPS, 9),
    answer_tally(SurveyType.CES, 6),
    issued_tally([SurveyType.NPS, SurveyType.CSAT]),
]


def test_every_combination_of_filters_and_grouping_has_a_facet_table() -> None:
    chosen = set()
    for size in range(1, len(FILTERED) + 1):
        for filtered in itertools.combinations(FILTERED, size):
            for group_by in reports.GroupBy:
                read = FacetRead.choose(
                    Filters(**{d.value: "x" for d in filtered}), group_by.dimension
                )
                grouped = {group_by.dimension} - {None, Dimension.TOTAL}
                needed = (set(filtered) | grouped) - set(read.kind.lead)
                assert set(read.kind.lead) <= set(filtered)
                assert needed <= set(read.kind.tables[read.table])
                chosen.add((read.kind.name, read.table))

    assert len(chosen) == sum(len(kind.tables) for kind in FACET_KINDS)  # none is unused


def test_every_kind_of_facet_begins_with_its_day_totals() -> None:
    assert [kind.tables[0] for kind in FACET_KINDS] == [()] * len(FACET_KINDS)


def test_a_filtered_report_reads_one_facet_a_month() -> None:
    query = reports.ReportQuery(
        date(2026, 1, 20), date(2026, 2, 18), reports.GroupBy.REQUEST_TYPE, Filters(agent="anna")
    )

    _, node_ids = reports.plan(query)

    assert node_ids == ["f:2026-01:agent:anna", "f:2026-02:agent:anna"]


slices = st.builds(
    Slice,
    st.sampled_from(["anna", "boris", "-"]),
    st.sampled_from(["t1", "t2"]),
    st.sampled_from(["email", "chat"]),
    st.sampled_from(["warranty", "loyalty"]),
)
contributions = st.lists(
    st.builds(
        Contribution,
        st.dates(DAY, DAY + timedelta(days=45)),
        slices,
        st.sampled_from(TALLIES),
    ),
    max_size=25,
)
filters = st.builds(
    Filters,
    agent=st.none() | st.sampled_from(["anna", "-"]),
    team=st.none() | st.just("t1"),
    channel=st.none() | st.just("email"),
    request_type=st.none() | st.just("loyalty"),
).filter(bool)


def stored(nodes: dict[str, Node]) -> dict[str, Node]:
    """The nodes as a reader gets them back from storage (facets' tables still packed)."""
    found = {}
    for node_id, node in nodes.items():
        if node.is_facet:
            found[node_id] = Node.unpack_facet(node_id, *node.pack_facet(), 1)
        else:
            found[node_id] = Node.unpack(node_id, node.pack(), {}, 1)
    return found


def bucket_key(group_by: reports.GroupBy, day: date, where: Slice) -> str:
    if group_by is reports.GroupBy.DAY:
        return day.isoformat()
    if group_by is reports.GroupBy.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by is reports.GroupBy.MONTH:
        return f"{day:%Y-%m}"
    dimension = group_by.dimension
    return "" if dimension is None else where.value(dimension)


@settings(max_examples=150, deadline=None)
@given(
    contributions,
    filters,
    st.sampled_from(list(reports.GroupBy)),
    st.integers(0, 30),
    st.integers(0, 40),
)
def test_a_filtered_report_equals_a_count_of_what_passes_its_filters(
    found, wanted, group_by, start, length
) -> None:
    first = DAY + timedelta(days=start)
    last = first + timedelta(days=length)
    query = reports.ReportQuery(first, last, group_by, wanted)
    expected: dict[str, Tally] = {}
    for c in found:
        if first <= c.day <= last and all(
            wanted.value(d) in (None, c.slice.value(d)) for d in FILTERED
        ):
            key = bucket_key(group_by, c.day, c.slice)
            expected[key] = expected.get(key, Tally()) + c.tally

    buckets, node_ids = reports.plan(query)
    nodes = stored(rebuild(found))
    made = reports.assemble(query, buckets, {i: nodes[i] for i in node_ids if i in nodes})

    rows = {row.key: row.tally for row in made.rows if row.tally}
    if group_by is reports.GroupBy.NONE:
        rows = {"": made.total} if made.total else {}
    assert rows == {k: t for k, t in expected.items() if t}
    assert made.total == sum(expected.values(), Tally())


def answer(day: date, agent: str = "anna") -> Contribution:
    return Contribution(day, Slice(agent, "t1", "email", "warranty"), TALLIES[0])


def test_a_facet_survives_packing() -> None:
    node = Node("f:2026-01:team:t1")
    fold(node, [Positioned(0, 4, answer(DAY)), Positioned(1, 2, answer(DAY, "boris"))])

    again = Node.unpack_facet(node.node_id, *node.pack_facet(), 1)

    assert differences({"x": node}, {"x": again}) == []
    assert again.day_offsets == {DAY.day: {0: 4, 1: 2}}


def test_a_legacy_day_is_carried_over_once() -> None:
    node = Node("f:2026-01:agent:anna")

    carried = [carry_over(node, DAY, {0: 7}, [answer(DAY)]) for _ in range(2)]

    assert carried == [True, False]
    assert sum((Tally(*c) for c in node.table(0).values()), Tally()).csat_responses == 1


def test_a_record_a_carried_over_day_counted_is_skipped_and_a_later_one_counted() -> None:
    node = Node("f:2026-01:agent:anna")
    carry_over(node, DAY, {0: 7}, [answer(DAY)])
    carry_over(node, DAY + timedelta(days=1), {0: 3}, [])

    fold(
        node,
        [
            Positioned(0, 7, answer(DAY)),  # that day counted it already
            Positioned(0, 8, answer(DAY)),
            Positioned(0, 5, answer(DAY + timedelta(days=1))),  # that day had counted up to 3
        ],
    )

    by_day = {day: Tally(*c).csat_responses for (day, _), c in node.table(0).items()}
    assert by_day == {DAY.day: 2, DAY.day + 1: 1}


def test_legacy_day_cells_read_as_the_contributions_they_sum() -> None:
    packed = json.dumps([["anna", "t1", "email", "warranty", 1, 1, 1]])

    found = legacy_cells("c:2026-01-20", packed)

    assert found == [
        Contribution(DAY, Slice("anna", "t1", "email", "warranty"), Tally(1, 1, 1)),
    ]


def test_differences_name_the_documents_that_count_otherwise() -> None:
    same, changed = Node("n0:1"), Node("n0:2")
    fold(same, [Positioned(0, 1, answer(DAY))])
    fold(changed, [Positioned(0, 1, answer(DAY))])
    recounted = rebuild([answer(DAY)])
    other = Node("n0:2")
    fold(other, [Positioned(0, 1, answer(DAY, "boris"))])

    assert differences({"n0:1": same, "n0:2": changed}, {"n0:1": same, "n0:2": other}) == ["n0:2"]
    assert differences({}, recounted) == sorted(recounted)


# --- what stored invitations and revisions count -----------------------------------------


def issued_event() -> SurveyIssuedV1:
    at = datetime(2026, 1, 20, 22, 30, tzinfo=UTC)  # the 21st in Moscow
    return SurveyIssuedV1(
        ticket_id="t-9",
        survey_id="t-9:nps",
        survey_type=SurveyType.NPS,
        questions=(SurveyType.NPS, SurveyType.CSAT),
        agent_id=None,
        team="t1",
        channel=Channel.EMAIL,
        request_type=RequestType.LOYALTY,
        customer=CustomerRef(customer_id="c"),
        url="https://opora.test/s/x",
        expires_at=at + timedelta(days=28),
        send_after=at,
        occurred_at=at,
    )


def test_a_stored_invitation_counts_as_its_event_does_when_folded() -> None:
    event = issued_event()
    where = Slice.of(None, "t1", "email", "loyalty")

    stored_one = issue_counted("t-9", event.questions, event.occurred_at, where, ZONE)

    assert stored_one == service.contribution_of(event, ZONE)


def test_a_stored_revision_counts_as_its_event_does_when_folded() -> None:
    from opora_feedback.domain.model import Survey, SurveyResponse

    survey = Survey(issued=issued_event())
    edit = SurveyResponse(
        response_id="t-9:nps",
        ticket_id="t-9",
        survey_type=SurveyType.NPS,
        score=10,
        comment=None,
        revision=2,
        first_recorded_at=survey.issued.occurred_at,
        updated_at=survey.issued.occurred_at + timedelta(days=3),
        previous_score=4,
    )
    where = Slice.of(None, "t1", "email", "loyalty")

    stored_one = revision_counted(
        "t-9:nps:2", SurveyType.NPS, 10, 4, survey.issued.occurred_at, where, ZONE
    )

    assert stored_one == service.contribution_of(response_event(survey, edit), ZONE)
