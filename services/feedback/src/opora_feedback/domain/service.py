"""feedback's use cases as plain functions over the ports.

Kafka side: remember what attribution needs, issue one CSAT survey per solved ticket.
HTTP side: open a survey by its signed link, record the customer's answer, report CSAT.

Every write is keyed (ticket id, survey id) so that redeliveries are harmless, and every
event id is derived, so that a repeat publishes an event consumers already know. Publishing
follows the write; a crash between the two is healed by the redelivery (Kafka) or by the
customer submitting again (HTTP: the same answer republishes the same events).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.errors import PermanentError
from opora_shared.ports import Clock, Publisher

from opora_feedback.domain import model
from opora_feedback.domain.model import (
    CsatReport,
    Survey,
    SurveyNotFoundError,
    SurveyPolicy,
    SurveyResponse,
)
from opora_feedback.domain.ports import ResponseStore, SurveyStore, SurveyTokens, TicketFactsStore

log = logging.getLogger(__name__)


async def remember_opened(event: TicketOpenedV1, facts: TicketFactsStore) -> None:
    await facts.record_opened(event)


async def remember_assignment(event: TicketAssignedV1, facts: TicketFactsStore) -> None:
    await facts.record_assignment(
        event.ticket_id, agent_id=event.agent_id, team=event.team, assigned_at=event.occurred_at
    )


async def issue_csat_survey(
    event: TicketStatusChangedV1,
    *,
    facts: TicketFactsStore,
    surveys: SurveyStore,
    tokens: SurveyTokens,
    publisher: Publisher,
    policy: SurveyPolicy,
    clock: Clock,
) -> SurveyIssuedV1 | None:
    """One CSAT survey per ticket, the first time it is solved; later solves republish it."""
    if event.status is not TicketStatus.SOLVED:
        return None
    survey_id = model.survey_id_for(event.ticket_id, SurveyType.CSAT)
    survey = await surveys.get(survey_id)
    if survey is None:
        ticket = await facts.get(event.ticket_id)
        if ticket is None or not ticket.opened:
            # TicketOpenedV1 precedes every status change on the same partition, so this is
            # not a race: the opening was never seen, and waiting will not bring it.
            raise PermanentError(f"no TicketOpenedV1 seen for ticket {event.ticket_id}")
        fresh = model.issue_survey(ticket, token=tokens.sign(survey_id), policy=policy, now=clock())
        survey = await surveys.add(fresh)
    await publisher.publish(survey.issued)
    log.info("survey issued", extra={"ticket_id": event.ticket_id, "survey_id": survey_id})
    return survey.issued


@dataclass(frozen=True)
class OpenedSurvey:
    survey: Survey
    response: SurveyResponse | None


async def open_survey(
    token: str, *, tokens: SurveyTokens, surveys: SurveyStore, responses: ResponseStore
) -> OpenedSurvey:
    """The survey a link points to, with the answer given so far; raises ``SurveyError``s."""
    survey_id = tokens.verify(token)
    survey = await surveys.get(survey_id)
    if survey is None:
        raise SurveyNotFoundError(survey_id)
    return OpenedSurvey(survey, await responses.get(survey_id))


async def record_response(
    token: str,
    *,
    score: int,
    comment: str | None,
    tokens: SurveyTokens,
    surveys: SurveyStore,
    responses: ResponseStore,
    publisher: Publisher,
    policy: SurveyPolicy,
    clock: Clock,
) -> model.ResponseDecision:
    """Store the customer's answer (first, edited or repeated) and announce it."""
    opened = await open_survey(token, tokens=tokens, surveys=surveys, responses=responses)
    decision = model.decide_response(
        opened.survey,
        opened.response,
        score=score,
        comment=comment,
        now=clock(),
        policy=policy,
    )
    if decision.changed:
        await responses.save(decision.response, survey=opened.survey)
    for event in model.response_events(opened.survey, decision.response):
        await publisher.publish(event)
    log.info(
        "survey response recorded",
        extra={
            "survey_id": decision.response.survey_id,
            "revision": decision.response.revision,
            "changed": decision.changed,
        },
    )
    return decision


async def csat_report(responses: ResponseStore) -> CsatReport:
    return CsatReport(
        responses=await responses.count(SurveyType.CSAT),
        satisfied=await responses.count(SurveyType.CSAT, min_score=model.CSAT_SATISFIED_MIN),
    )
