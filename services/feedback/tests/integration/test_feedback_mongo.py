"""The MongoDB stores against a real MongoDB-wire server (MongoDB or FerretDB).

The server comes from the session ``infra`` fixture; each test uses a database of its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from opora_feedback.adapters.repository import (
    MongoResponseStore,
    MongoSurveyStore,
    MongoTicketFactsStore,
)
from opora_feedback.domain.model import ConcurrentEditError, decide_response, issue_survey
from opora_shared.contracts.feedback import SurveyType
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration
AT = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(infra):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5_000)
    name = f"test_feedback_{uuid.uuid4().hex[:8]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


async def test_facts_from_both_topics_meet_in_one_document(db, events):
    facts = MongoTicketFactsStore(db)
    late = datetime(2026, 2, 27, 12, tzinfo=UTC)

    await facts.record_assignment("t-1", agent_id="boris", team="appliances", assigned_at=late)
    await facts.record_opened(events.ticket_opened())
    await facts.record_opened(events.ticket_opened())
    stale = late - timedelta(hours=1)
    await facts.record_assignment("t-1", agent_id="anna", team="appliances", assigned_at=stale)
    known = await facts.get("t-1")

    assert known is not None
    assert known.opened
    assert known.agent_id == "boris"
    assert known.customer is not None
    assert known.customer.name == "Иван Петров"


async def test_a_survey_is_stored_once(db, events, policy):
    facts = MongoTicketFactsStore(db)
    surveys = MongoSurveyStore(db)
    await facts.record_opened(events.ticket_opened())
    ticket = await facts.get("t-1")
    first = issue_survey(ticket, token="first", policy=policy, now=AT)
    second = issue_survey(ticket, token="second", policy=policy, now=AT + timedelta(hours=1))

    assert await surveys.add(first) == first
    assert await surveys.add(second) == first


async def test_responses_are_revised_and_counted(db, events, policy):
    facts = MongoTicketFactsStore(db)
    responses = MongoResponseStore(db)
    await responses.create_indexes()
    await facts.record_opened(events.ticket_opened())
    survey = issue_survey(await facts.get("t-1"), token="t", policy=policy, now=AT)

    first = decide_response(survey, None, score=2, comment=None, now=AT, policy=policy)
    await responses.save(first.response, survey=survey)
    edit = decide_response(
        survey, first.response, score=5, comment="ok", now=AT + timedelta(days=1), policy=policy
    )
    await responses.save(edit.response, survey=survey)
    stored = await responses.get("t-1:csat")

    assert stored is not None
    assert (stored.score, stored.revision, stored.comment) == (5, 2, "ok")
    with pytest.raises(ConcurrentEditError):
        await responses.save(edit.response, survey=survey)
    assert await responses.count(SurveyType.CSAT) == 1
    assert await responses.count(SurveyType.CSAT, min_score=4) == 1
