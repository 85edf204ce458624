"""The MongoDB stores against a real MongoDB-wire server (FerretDB locally, MongoDB in CI
with testcontainers): unique claims, revisions that only move forwards, comment retention,
and rollup nodes that count every record once.

The server comes from the session ``infra`` fixture; each test uses a database of its own.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from opora_feedback.adapters.repository import (
    MongoDetractorStore,
    MongoResponseStore,
    MongoSurveyStore,
    MongoTaskQueue,
    MongoTicketFactsStore,
)
from opora_feedback.adapters.rollups import MongoRollupStore
from opora_feedback.domain.metrics import answer_tally
from opora_feedback.domain.model import (
    Answer,
    ConcurrentEditError,
    decide_response,
    detractor_event,
    issue_survey,
)
from opora_feedback.domain.rollups import (
    FACET_KINDS,
    Contribution,
    Positioned,
    Slice,
    facet_id,
    span_id,
)
from opora_shared.contracts.feedback import SurveyType
from opora_shared.contracts.tickets import TicketUpdatedV1
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration
AT = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(infra, database_name):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5_000)
    yield client[database_name]
    await client.drop_database(database_name)
    await client.close()


@pytest.fixture
async def survey(db, events, policy):
    facts = MongoTicketFactsStore(db)
    await facts.record_opened(events.ticket_opened())
    await facts.record_assignment("t-1", agent_id="anna", team="appliances", assigned_at=AT)
    ticket = await facts.get("t-1")
    return issue_survey(ticket, (SurveyType.CSAT,), token="tok", policy=policy, now=AT)


def csat(survey, existing, policy, score, *, comment=None, now=AT):
    answer = Answer(SurveyType.CSAT, score, comment)
    return decide_response(survey, existing, answer, now=now, policy=policy).response


async def test_facts_from_both_topics_meet_in_one_document(db, events):
    facts = MongoTicketFactsStore(db)
    late = datetime(2026, 2, 27, 12, tzinfo=UTC)

    await facts.record_assignment("t-1", agent_id="boris", team="appliances", assigned_at=late)
    await facts.record_opened(events.ticket_opened())
    await facts.record_updated(TicketUpdatedV1(ticket_id="t-1", language="en"))
    await facts.record_opened(events.ticket_opened())  # redelivered: keeps the update
    await facts.record_assignment(
        "t-1", agent_id="anna", team="appliances", assigned_at=late - timedelta(hours=1)
    )
    known = await facts.get("t-1")

    assert known is not None
    assert (known.agent_id, known.language, known.opened) == ("boris", "en", True)


async def test_a_ticket_has_one_invitation(db, survey, policy):
    surveys = MongoSurveyStore(db)
    second = issue_survey(
        await MongoTicketFactsStore(db).get("t-1"),
        (SurveyType.NPS,),
        token="again",
        policy=policy,
        now=AT + timedelta(hours=1),
    )

    assert await surveys.add(survey) == survey
    assert await surveys.add(second) == survey


async def test_revisions_move_forwards_and_a_stale_edit_is_refused(db, survey, policy):
    responses = MongoResponseStore(db)
    await responses.create_indexes()
    first = csat(survey, None, policy, 2)
    await responses.save(first, survey=survey)
    edit = csat(survey, first, policy, 5, comment="ok", now=AT + timedelta(days=1))
    await responses.save(edit, survey=survey)

    stale = csat(survey, first, policy, 4, now=AT + timedelta(days=2))
    with pytest.raises(ConcurrentEditError):
        await responses.save(stale, survey=survey)
    stored = await responses.get("t-1:csat")

    assert stored is not None
    assert (stored.score, stored.revision, stored.comment) == (5, 2, "ok")


async def test_two_concurrent_edits_of_one_revision_store_one(db, survey, policy):
    responses = MongoResponseStore(db)
    first = csat(survey, None, policy, 2)
    await responses.save(first, survey=survey)
    edits = [csat(survey, first, policy, score, now=AT + timedelta(hours=1)) for score in (4, 5)]

    outcomes = await asyncio.gather(
        *(responses.save(e, survey=survey) for e in edits), return_exceptions=True
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["ConcurrentEditError", "NoneType"]
    stored = await responses.get("t-1:csat")
    assert stored is not None
    assert stored.revision == 2


async def test_a_revision_whose_writer_died_before_the_copy_is_rolled_forward_by_the_next(
    db, survey, policy
):
    responses = MongoResponseStore(db)
    first = csat(survey, None, policy, 2)
    await responses.save(first, survey=survey)
    died = csat(survey, first, policy, 4, now=AT + timedelta(hours=1))
    await db["survey_revisions"].insert_one(  # the claim, without the copy
        {"_id": "t-1:csat:2", **_stored(died)}
    )
    stale = await responses.get("t-1:csat")
    assert stale is not None
    next_edit = csat(survey, stale, policy, 5, now=AT + timedelta(hours=2))

    with pytest.raises(ConcurrentEditError):
        await responses.save(next_edit, survey=survey)
    stored = await responses.get("t-1:csat")

    assert stale.revision == 1
    assert stored is not None
    assert (stored.score, stored.revision) == (4, 2)


def _stored(response):
    from opora_feedback.adapters.repository import response_fields

    return response_fields(
        response,
        agent_id="anna",
        team="appliances",
        channel="messenger",
        request_type="warranty",
        issued_at=AT,
    )


async def test_forgetting_a_comment_keeps_the_score(db, survey, policy):
    responses = MongoResponseStore(db)
    await responses.save(csat(survey, None, policy, 1, comment="Позвоните мне"), survey=survey)

    await responses.forget_comment("t-1:csat", 1)

    stored = await responses.get("t-1:csat")
    history = await responses.revision("t-1:csat", 1)
    assert stored is not None
    assert history is not None
    assert (stored.score, stored.comment, history.comment) == (1, None, None)


async def test_answers_are_found_by_ticket_and_by_agent(db, survey, policy):
    responses = MongoResponseStore(db)
    await responses.create_indexes()
    await responses.save(csat(survey, None, policy, 3), survey=survey)

    by_ticket = await responses.for_ticket("t-1")
    by_agent = await responses.for_agent(
        "anna", since=AT - timedelta(days=1), until=AT + timedelta(days=1), limit=10
    )

    assert [r.response_id for r in by_ticket] == ["t-1:csat"]
    assert [r.response_id for r in by_agent] == ["t-1:csat"]


async def test_the_task_queue_hands_out_what_is_due(db):
    queue = MongoTaskQueue(db, "survey_outbox")
    await queue.create_indexes()
    await queue.put("a:1", AT)
    await queue.put("b:1", AT + timedelta(hours=1))

    due = await queue.due(AT + timedelta(minutes=1), 10)
    await queue.done("a:1")

    assert due == ["a:1"]
    assert await queue.due(AT + timedelta(days=1), 10) == ["b:1"]


async def test_an_invitation_has_one_detractor(db, survey, policy):
    detractors = MongoDetractorStore(db)
    first = detractor_event(survey, csat(survey, None, policy, 2))
    later = detractor_event(survey, csat(survey, None, policy, 1, now=AT + timedelta(hours=1)))
    assert first is not None
    assert later is not None

    assert await detractors.claim(first) == first
    assert await detractors.claim(later) == first


# --- rollups ---------------------------------------------------------------------------------


def entry(partition: int, offset: int, *, day=date(2026, 2, 28), agent="anna", score=5):
    where = Slice(agent, "appliances", "email", "warranty")
    return Positioned(
        partition, offset, Contribution(day, where, answer_tally(SurveyType.CSAT, score))
    )


async def test_a_claim_is_admitted_once_but_again_for_its_own_record(db):
    rollups = MongoRollupStore(db)
    first = [("t-1:csat:1", entry(0, 10)), ("t-2:csat:1", entry(0, 11))]

    assert len(await rollups.admit(first)) == 2
    again = await rollups.admit([("t-1:csat:1", entry(0, 10)), ("t-1:csat:1", entry(0, 50))])

    assert [(e.partition, e.offset) for e in again] == [(0, 10)]


async def test_folding_a_batch_twice_counts_it_once_in_every_node(db):
    rollups = MongoRollupStore(db)
    batch = [entry(0, 1), entry(0, 2, agent="boris", score=1), entry(1, 1)]

    await rollups.fold(batch)
    await rollups.fold(batch)
    team = facet_id(date(2026, 2, 28), FACET_KINDS[1], ["appliances"])
    nodes = await rollups.read([span_id(0, 20512), team])

    day = nodes[span_id(0, 20512)]
    assert day.rows["total"][""].csat_responses == 3
    assert day.rows["agent"]["boris"].csat_satisfied == 0
    by_agent = {values: c[1] for (_, values), c in nodes[team].table(1).items()}  # (agent,)
    assert by_agent == {("anna",): 2, ("boris",): 1}
