"""How inbound messages become tickets: opening, deduplication, classification, statuses."""

from __future__ import annotations

import pytest
from opora_intake.domain.service import accept_message, change_status, open_recovery
from opora_shared.contracts.common import Channel, RequestType, TicketStatus
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyType
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.contracts.workspace import StatusSetV1, WorkspaceStatus
from opora_shared.errors import PermanentError

from .messages import walk_in, web_form


def opened(publisher) -> TicketOpenedV1:
    [event] = [e for e in publisher.published if isinstance(e, TicketOpenedV1)]
    return event


async def test_a_new_message_opens_a_numbered_ticket(repo, publisher, policy) -> None:
    outcome = await accept_message(web_form(), repo, publisher, policy)

    assert outcome.opened
    assert outcome.number == "OP-000001"
    assert opened(publisher).ticket_id == outcome.ticket_id


async def test_a_repeated_message_republishes_the_same_events_and_opens_nothing(
    repo, publisher, policy
) -> None:
    first = await accept_message(web_form(), repo, publisher, policy)
    count = len(publisher.published)
    again = await accept_message(web_form(), repo, publisher, policy)

    assert again.ticket_id == first.ticket_id
    assert len(repo.tickets) == 1
    assert [e.event_id for e in publisher.published[count:]] == [
        e.event_id for e in publisher.published[:count]
    ]


async def test_cyrillic_text_makes_the_ticket_russian(repo, publisher, policy) -> None:
    await accept_message(web_form(), repo, publisher, policy)

    assert opened(publisher).language == "ru"


async def test_the_ticket_carries_its_classification_and_why(repo, publisher, policy) -> None:
    await accept_message(walk_in(), repo, publisher, policy)

    event = opened(publisher)
    assert event.request_type is RequestType.COMPLAINT
    assert any(reason.startswith("request_type=complaint") for reason in event.classification)


async def test_the_ticket_names_the_skills_routing_needs(repo, publisher, policy) -> None:
    await accept_message(walk_in(), repo, publisher, policy)

    assert opened(publisher).skills


async def test_status_change_of_an_unknown_ticket_is_a_permanent_error(repo, publisher) -> None:
    action = StatusSetV1(ticket_id="nope", agent_id="a-1", status=WorkspaceStatus.SOLVED)

    with pytest.raises(PermanentError):
        await change_status(action, repo, publisher)


async def test_reopening_a_solved_ticket_marks_the_event_reopened(repo, publisher, policy) -> None:
    outcome = await accept_message(web_form(), repo, publisher, policy)
    solved = StatusSetV1(ticket_id=outcome.ticket_id, agent_id="a-1", status=WorkspaceStatus.SOLVED)
    await change_status(solved, repo, publisher)
    reopen = StatusSetV1(
        ticket_id=outcome.ticket_id, agent_id="a-1", status=WorkspaceStatus.REOPENED
    )

    event = await change_status(reopen, repo, publisher)

    assert event.status is TicketStatus.OPEN
    assert event.reopened
    assert event.previous_status is TicketStatus.SOLVED


async def test_a_redelivered_status_action_reports_the_same_change(repo, publisher, policy) -> None:
    outcome = await accept_message(web_form(), repo, publisher, policy)
    solved = StatusSetV1(ticket_id=outcome.ticket_id, agent_id="a-1", status=WorkspaceStatus.SOLVED)
    first = await change_status(solved, repo, publisher)

    again = await change_status(solved, repo, publisher)

    assert again == first


def detractor(ticket_id: str, score: int = 2) -> DetractorFoundV1:
    return DetractorFoundV1(
        ticket_id=ticket_id,
        survey_id=f"survey-{ticket_id}",
        survey_type=SurveyType.CSAT,
        channel=Channel.WEB_FORM,
        request_type=RequestType.TECHNICAL_SUPPORT,
        agent_id="anna",
        score=score,
    )


async def test_a_detractor_opens_a_recovery_ticket_for_team_leads(repo, publisher, policy) -> None:
    original = await accept_message(web_form(), repo, publisher, policy)

    outcome = await open_recovery(detractor(original.ticket_id), repo, publisher, policy)

    recovery = publisher.published[-1]
    assert isinstance(recovery, TicketOpenedV1)
    assert recovery.ticket_id == outcome.ticket_id != original.ticket_id
    assert (recovery.channel, recovery.skills) == (Channel.WORKSPACE, {"team_lead": 1})
    assert original.number in recovery.text


async def test_a_redelivered_detractor_opens_no_second_recovery_ticket(
    repo, publisher, policy
) -> None:
    original = await accept_message(web_form(), repo, publisher, policy)
    first = await open_recovery(detractor(original.ticket_id), repo, publisher, policy)

    again = await open_recovery(detractor(original.ticket_id), repo, publisher, policy)

    assert again.ticket_id == first.ticket_id
    assert len(repo.tickets) == 2
