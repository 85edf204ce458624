"""feedback's use cases over fakes: attribution, one survey per ticket, recording answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opora_feedback.domain import service
from opora_feedback.domain.model import EditWindowClosedError
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyIssuedV1
from opora_shared.errors import PermanentError


@pytest.fixture
def issue(facts, surveys, tokens, publisher, policy, clock):
    async def run(event):
        return await service.issue_csat_survey(
            event,
            facts=facts,
            surveys=surveys,
            tokens=tokens,
            publisher=publisher,
            policy=policy,
            clock=clock,
        )

    return run


@pytest.fixture
def respond(tokens, surveys, responses, publisher, policy, clock):
    async def run(token, score, comment=None):
        return await service.record_response(
            token,
            score=score,
            comment=comment,
            tokens=tokens,
            surveys=surveys,
            responses=responses,
            publisher=publisher,
            policy=policy,
            clock=clock,
        )

    return run


@pytest.fixture
async def token(facts, issue, events):
    await service.remember_opened(events.ticket_opened(), facts)
    issued = await issue(events.status_changed())
    return issued.url.rsplit("/s/", 1)[1]


async def test_solving_a_ticket_issues_a_survey_attributed_to_its_assignee(
    facts, issue, publisher, events
):
    await service.remember_opened(events.ticket_opened(), facts)
    await service.remember_assignment(events.ticket_assigned(agent_id="anna"), facts)

    issued = await issue(events.status_changed())

    assert publisher.published == [issued]
    assert isinstance(issued, SurveyIssuedV1)
    assert (issued.agent_id, issued.team, issued.language) == ("anna", "appliances", "ru")


async def test_a_stale_assignment_does_not_take_the_credit(facts, issue, events):
    await service.remember_opened(events.ticket_opened(), facts)
    late = datetime(2026, 2, 27, 12, tzinfo=UTC)
    await service.remember_assignment(events.ticket_assigned(agent_id="boris", at=late), facts)
    early = late - timedelta(hours=1)
    await service.remember_assignment(events.ticket_assigned(agent_id="anna", at=early), facts)

    issued = await issue(events.status_changed())

    assert issued.agent_id == "boris"


async def test_a_status_other_than_solved_issues_nothing(facts, issue, publisher, events):
    await service.remember_opened(events.ticket_opened(), facts)

    assert await issue(events.status_changed(status=TicketStatus.PENDING)) is None
    assert publisher.published == []


async def test_solving_again_republishes_the_same_survey(facts, issue, publisher, events, clock):
    await service.remember_opened(events.ticket_opened(), facts)
    first = await issue(events.status_changed())
    clock.advance(timedelta(days=2))

    again = await issue(events.status_changed())

    assert again == first
    assert publisher.published == [first, first]


async def test_a_solve_of_a_ticket_never_seen_opened_is_permanent(issue, events):
    with pytest.raises(PermanentError):
        await issue(events.status_changed(ticket_id="unknown"))


async def test_an_answer_is_stored_and_announced(token, respond, responses, publisher):
    decision = await respond(token, 5, "Спасибо")

    assert responses.responses["t-1:csat"].score == 5
    assert publisher.published[-1].score == 5
    assert decision.created


async def test_a_low_score_also_announces_a_detractor(token, respond, publisher):
    await respond(token, 1)

    assert isinstance(publisher.published[-1], DetractorFoundV1)


async def test_an_edit_after_the_window_is_refused(token, respond, clock):
    await respond(token, 2)
    clock.advance(timedelta(days=15))

    with pytest.raises(EditWindowClosedError):
        await respond(token, 5)


async def test_repeating_an_answer_republishes_its_events_unchanged(token, respond, publisher):
    await respond(token, 4)
    await respond(token, 4)

    assert publisher.published[-1] == publisher.published[-2]


async def test_the_csat_report_counts_satisfied_answers(responses, token, respond):
    await respond(token, 4)

    report = await service.csat_report(responses)

    assert (report.responses, report.satisfied, report.csat_percent) == (1, 1, 100.0)
