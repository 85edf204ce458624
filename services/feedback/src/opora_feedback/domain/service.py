"""feedback's use cases as plain functions over the ports.

Kafka side: remember what attribution needs, issue one invitation per solved ticket, record the
answers that reach intake by text message or IVR, and fold feedback's own events into rollups.
HTTP side: open a survey by its signed link, record the customer's answers, report.

Every write is keyed (ticket id, answer id and revision) so that redeliveries are harmless, and
every event id is derived, so that a repeat publishes an event consumers already know. An
answer is put in the outbox before it is stored and taken out once its events are published;
the outbox sweep publishes what a crash left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, RequestType, TicketStatus
from opora_shared.contracts.feedback import (
    AnsweredVia,
    SurveyAnswerReceivedV1,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
)
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1, TicketUpdatedV1
from opora_shared.errors import PermanentError
from opora_shared.ports import Clock, Publisher

from opora_feedback.domain import model, reports
from opora_feedback.domain.metrics import issued_tally, revision_tally
from opora_feedback.domain.model import (
    Answer,
    ConcurrentEditError,
    EditWindowClosedError,
    InvalidAnswerError,
    ResponseDecision,
    Survey,
    SurveyNotFoundError,
    SurveyPolicy,
    SurveyResponse,
)
from opora_feedback.domain.ports import (
    DetractorStore,
    ResponseStore,
    RollupStore,
    SurveyStore,
    SurveyTokens,
    TaskQueue,
    TicketFactsStore,
)
from opora_feedback.domain.rollups import Contribution, Positioned, Slice, report_day

log = logging.getLogger(__name__)

OUTBOX_GRACE = timedelta(seconds=30)  # an answer's own request publishes well within this
VIA_OF_CHANNEL: dict[Channel, AnsweredVia] = {
    Channel.SMS: "sms",
    Channel.MESSENGER: "messenger",
    Channel.PHONE: "ivr",
}


# --- what attribution needs ----------------------------------------------------------------


async def remember_opened(event: TicketOpenedV1, facts: TicketFactsStore) -> None:
    await facts.record_opened(event)


async def remember_updated(event: TicketUpdatedV1, facts: TicketFactsStore) -> None:
    if event.request_type is not None or event.language is not None:
        await facts.record_updated(event)


async def remember_assignment(event: TicketAssignedV1, facts: TicketFactsStore) -> None:
    await facts.record_assignment(
        event.ticket_id, agent_id=event.agent_id, team=event.team, assigned_at=event.occurred_at
    )


# --- issuing -------------------------------------------------------------------------------


async def issue_survey(
    event: TicketStatusChangedV1,
    *,
    facts: TicketFactsStore,
    surveys: SurveyStore,
    tokens: SurveyTokens,
    publisher: Publisher,
    policy: SurveyPolicy,
    clock: Clock,
) -> SurveyIssuedV1 | None:
    """One invitation per ticket, the first time it is solved; later solves republish it."""
    if event.status is not TicketStatus.SOLVED:
        return None
    survey = await surveys.get(event.ticket_id)
    if survey is None:
        ticket = await facts.get(event.ticket_id)
        if ticket is None or not ticket.opened:
            # TicketOpenedV1 precedes every status change on the same partition, so this is
            # not a race: the opening was never seen, and waiting will not bring it.
            raise PermanentError(f"no TicketOpenedV1 seen for ticket {event.ticket_id}")
        channel = ticket.channel
        assert channel is not None
        if ticket.agent_id is None and event.agent_id is not None:
            # The assignment is on another topic and may not have been read yet: the agent who
            # solved the ticket is the best attribution there is.
            ticket = replace(ticket, agent_id=event.agent_id)
        questions = policy.rules.questions_for(ticket.request_type or RequestType.OTHER, channel)
        if not questions:
            log.info("no survey for this ticket", extra={"ticket_id": event.ticket_id})
            return None
        fresh = model.issue_survey(
            ticket,
            questions,
            token=tokens.sign(event.ticket_id),
            policy=policy,
            now=clock(),
        )
        survey = await surveys.add(fresh)
    await publisher.publish(survey.issued)
    log.info(
        "survey issued",
        extra={"ticket_id": event.ticket_id, "questions": [q.value for q in survey.questions]},
    )
    return survey.issued


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answering:
    """Everything recording an answer touches."""

    surveys: SurveyStore
    responses: ResponseStore
    detractors: DetractorStore
    outbox: TaskQueue
    comment_expiry: TaskQueue
    publisher: Publisher
    policy: SurveyPolicy


@dataclass(frozen=True)
class OpenedSurvey:
    survey: Survey
    responses: dict[str, SurveyResponse]  # by survey type

    def response(self, survey_type: str) -> SurveyResponse | None:
        return self.responses.get(survey_type)


async def open_survey(
    token: str, *, tokens: SurveyTokens, surveys: SurveyStore, responses: ResponseStore
) -> OpenedSurvey:
    """The invitation a link points to, with the answers given so far; raises ``SurveyError``s."""
    ticket_id = tokens.verify(token)
    survey = await surveys.get(ticket_id)
    if survey is None:
        raise SurveyNotFoundError(ticket_id)
    found: dict[str, SurveyResponse] = {}
    for question in survey.questions:
        response = await responses.get(model.response_id(ticket_id, question))
        if response is not None:
            found[question.value] = response
    return OpenedSurvey(survey, found)


async def answer_survey(
    token: str,
    answers: Sequence[Answer],
    *,
    tokens: SurveyTokens,
    answering: Answering,
    now: datetime,
) -> list[ResponseDecision]:
    """Record the answers given on the page or through the API (one per question), all checked
    before any is stored."""
    opened = await open_survey(
        token, tokens=tokens, surveys=answering.surveys, responses=answering.responses
    )
    if not answers:
        raise InvalidAnswerError("choose a score for at least one question")
    decisions = [  # every answer must be acceptable before the first is stored
        model.decide_response(
            opened.survey,
            opened.response(answer.survey_type.value),
            answer,
            now=now,
            policy=answering.policy,
        )
        for answer in answers
    ]
    return [await _store(opened.survey, d, answering=answering, now=now) for d in decisions]


async def record(
    survey: Survey, answer: Answer, *, answering: Answering, now: datetime
) -> ResponseDecision:
    """Store one answer (first, edited or repeated) and announce it."""
    rid = model.response_id(survey.ticket_id, answer.survey_type)
    existing = await answering.responses.get(rid)
    decision = model.decide_response(survey, existing, answer, now=now, policy=answering.policy)
    return await _store(survey, decision, answering=answering, now=now)


async def _store(
    survey: Survey, decision: ResponseDecision, *, answering: Answering, now: datetime
) -> ResponseDecision:
    responses = answering.responses
    response = decision.response
    if decision.changed:
        key = _revision_key(response)
        await answering.outbox.put(key, now + OUTBOX_GRACE)
        if response.comment is not None:
            await answering.comment_expiry.put(
                key, model.comment_expires_at(response, answering.policy)
            )
        try:
            await responses.save(response, survey=survey)
        except ConcurrentEditError:
            await answering.outbox.done(key)
            raise
    await publish_revision(survey, response, answering)
    if decision.changed:
        await answering.outbox.done(_revision_key(response))
    log.info(
        "survey answer recorded",
        extra={
            "response_id": response.response_id,
            "revision": response.revision,
            "changed": decision.changed,
            "via": response.via,
            "has_comment": response.has_comment,
        },
    )
    return decision


async def publish_revision(survey: Survey, response: SurveyResponse, answering: Answering) -> None:
    events: list[Event] = [model.response_event(survey, response)]
    detractor = model.detractor_event(survey, response)
    if detractor is not None:
        # The first detractor claimed for the invitation is the one announced, for ever.
        events.append(await answering.detractors.claim(detractor))
    for event in events:
        await answering.publisher.publish(event)


def _revision_key(response: SurveyResponse) -> str:
    return f"{response.response_id}:{response.revision}"


def _split_revision_key(key: str) -> tuple[str, int] | None:
    response_id, _, revision = key.rpartition(":")
    return (response_id, int(revision)) if revision.isdigit() and response_id else None


async def record_channel_answer(
    event: SurveyAnswerReceivedV1, *, answering: Answering
) -> ResponseDecision | None:
    """An answer that reached intake by text message or IVR; recorded like one from the page."""
    survey = await answering.surveys.get(event.ticket_id)
    if survey is None:
        raise PermanentError(f"no survey was issued for ticket {event.ticket_id}")
    if event.received_at > survey.expires_at:
        log.info("a late survey answer was not recorded", extra={"ticket_id": event.ticket_id})
        return None
    answer = Answer(
        survey_type=event.survey_type or survey.lead,
        score=event.score,
        comment=event.comment,
        via=VIA_OF_CHANNEL.get(event.channel, "api"),
        source=f"{event.channel.value}:{event.source_message_id}",
    )
    try:
        return await record(survey, answer, answering=answering, now=event.received_at)
    except InvalidAnswerError as exc:
        raise PermanentError(f"{exc.field}: {exc}") from exc
    except EditWindowClosedError:
        log.info("a survey answer came after the edit window", extra={"ticket_id": event.ticket_id})
        return None


# --- periodic work -------------------------------------------------------------------------


async def sweep_outbox(answering: Answering, *, now: datetime, limit: int = 200) -> int:
    """Publish the answers whose own request died between storing and publishing them."""
    published = 0
    for key in await answering.outbox.due(now, limit):
        parsed = _split_revision_key(key)
        stored = await answering.responses.revision(*parsed) if parsed else None
        survey = await answering.surveys.get(stored.ticket_id) if stored else None
        if stored is not None and survey is not None:
            await answering.responses.settle(stored, survey=survey)
            await publish_revision(survey, stored, answering)
            published += 1
        await answering.outbox.done(key)
    if published:
        log.warning("published answers a request left unpublished", extra={"count": published})
    return published


async def expire_comments(
    responses: ResponseStore, queue: TaskQueue, *, now: datetime, limit: int = 500
) -> int:
    """Remove the text of comments older than the retention; scores stay."""
    removed = 0
    for key in await queue.due(now, limit):
        parsed = _split_revision_key(key)
        if parsed is not None:
            await responses.forget_comment(*parsed)
            removed += 1
        await queue.done(key)
    if removed:
        log.info("comment texts removed after the retention period", extra={"count": removed})
    return removed


# --- rollups and reports -------------------------------------------------------------------


def contribution_of(event: Event, zone: ZoneInfo) -> tuple[str, Contribution] | None:
    """What one of feedback's own events adds to the counts, with the key that makes it count
    once: the ticket's issue, or the answer's revision."""
    if isinstance(event, SurveyIssuedV1):
        questions = event.questions or (event.survey_type,)
        return f"issued:{event.ticket_id}", Contribution(
            report_day(event.occurred_at, zone), _slice(event), issued_tally(questions)
        )
    if isinstance(event, SurveyResponseRecordedV1):
        tally = revision_tally(event.survey_type, event.score, event.previous_score)
        day = report_day(event.issued_at or event.occurred_at, zone)
        return f"{event.survey_id}:{event.revision}", Contribution(day, _slice(event), tally)
    return None


def _slice(event: SurveyIssuedV1 | SurveyResponseRecordedV1) -> Slice:
    return Slice.of(event.agent_id, event.team, event.channel.value, event.request_type.value)


@dataclass(frozen=True)
class Record:
    """One of feedback's own events as read back from Kafka, with its position."""

    partition: int
    offset: int
    event: Event


async def fold_records(records: Sequence[Record], rollups: RollupStore, zone: ZoneInfo) -> int:
    """Count a batch of feedback's own events into the rollups, each survey issue and answer
    revision once however often it was published or delivered."""
    keyed: list[tuple[str, Positioned]] = []
    for record in records:
        found = contribution_of(record.event, zone)
        if found is not None:
            key, contribution = found
            keyed.append((key, Positioned(record.partition, record.offset, contribution)))
    if not keyed:
        return 0
    admitted = await rollups.admit(keyed)
    return await rollups.fold(admitted)


async def report(query: reports.ReportQuery, rollups: RollupStore) -> reports.Report:
    buckets, node_ids = reports.plan(query)
    nodes = await rollups.read(node_ids)
    return reports.assemble(query, buckets, nodes)
