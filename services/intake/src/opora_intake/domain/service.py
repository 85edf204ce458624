"""intake's use cases, plain functions over its ports: accept a message (or recognise it as a
survey answer), apply an agent's action, merge and unmerge customer profiles."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerRef, Priority, RequestType, TicketStatus
from opora_shared.contracts.customers import (
    CustomerIdentifierLinkedV1,
    CustomerMatchSuggestedV1,
    CustomerMergedV1,
    CustomerUnmergedV1,
    IdentifierKind,
)
from opora_shared.contracts.feedback import (
    DetractorFoundV1,
    SurveyAnswerReceivedV1,
    SurveyIssuedV1,
    SurveyType,
)
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundMessage,
    InboundMessengerMessageV1,
    InboundSmsV1,
    InboundWalkInV1,
)
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
)
from opora_shared.contracts.workspace import ReplyPostedV1, StatusSetV1, WorkspaceStatus
from opora_shared.errors import PermanentError
from opora_shared.ports import Publisher

from opora_intake.domain.automations import Automation
from opora_intake.domain.classification import (
    Classification,
    ClassificationRules,
    classify,
    input_from_message,
    load_rules,
)
from opora_intake.domain.identity import Identifier, identifiers_of, resolve
from opora_intake.domain.model import (
    derived_id,
    fit_id,
    message_key,
    ticket_id_for,
    ticket_number,
)
from opora_intake.domain.ports import (
    CustomerProfile,
    NumberTakenError,
    Outcome,
    Repository,
    TicketRecord,
)
from opora_intake.domain.surveys import (
    COMMENT_LIMIT,
    Invitation,
    answered_by_keypad,
    answered_by_reply,
    read_keypad,
    read_reply,
)
from opora_intake.domain.threading import Verdict, lookup_for, own_keys, verdict

Handler = Callable[..., Awaitable[Any]]

log = logging.getLogger(__name__)

_WAITING_ON_CUSTOMER = (TicketStatus.PENDING, TicketStatus.ON_HOLD)
_LIVE = (TicketStatus.NEW, TicketStatus.OPEN, *_WAITING_ON_CUSTOMER)


@dataclass(frozen=True)
class Policy:
    """The knobs of intake's decisions, from settings."""

    number_prefix: str = "OP"
    reopen_window: timedelta = timedelta(days=7)
    phone_region: str = "RU"
    rules: ClassificationRules = field(default_factory=load_rules)


async def accept_message(
    message: InboundMessage, repo: Repository, publisher: Publisher, policy: Policy
) -> Outcome:
    """Turn an inbound message into a new ticket, a message on an existing one, or the answer to
    a survey the sender was invited to, exactly once.

    A message seen before (a provider retry, a Kafka redelivery, another replica's work) yields
    the stored outcome, whose events are published again with the same ids so consumers drop
    the repeats.
    """
    key = message_key(message)
    outcome = await repo.find_outcome(key)
    if outcome is None:
        decided = await _survey_answer(message, repo, policy) or await _decide(
            message, repo, policy
        )
        outcome = await repo.save_outcome(key, decided)
        if outcome is not decided:  # another replica stored its outcome first
            outcome = replace(outcome, repeat=True)
    else:
        outcome = replace(outcome, repeat=True)
    for event in outcome.events:
        await publisher.publish(event)
    return outcome


async def _decide(message: InboundMessage, repo: Repository, policy: Policy) -> Outcome:
    classification = classify(input_from_message(message), policy.rules)
    customer, customer_events = await _resolve_customer(message, repo, policy, classification)
    if customer.tier != "standard":
        classification = classify(
            input_from_message(message, customer_tier=customer.tier), policy.rules
        )

    for _ in range(THREAD_ATTEMPTS):
        found, threaded_by = await _find_thread(message, repo, policy)
        if found is None or found.ticket_id == ticket_id_for(message):
            break
        what = verdict(found.status, found.solved_at, message.received_at, policy.reopen_window)
        if what is Verdict.OPEN_NEW:
            break
        events = await _append(message, found, customer, threaded_by, what, repo)
        if events is None:  # its status changed under us (an automation, an agent): look again
            continue
        await repo.add_keys(found.ticket_id, own_keys(message))
        return Outcome(found.ticket_id, found.number, False, (*customer_events, *events))

    ticket = await _create_ticket(message, customer, repo, policy)
    if isinstance(message, InboundWalkInV1):  # the receipt the customer can quote later
        receipt = Identifier(IdentifierKind.RECEIPT, ticket.number, verified=True)
        await repo.save_customer(
            customer.customer_id, name=None, language=customer.language, identifiers=[receipt]
        )
    opened = _opened_event(message, ticket, customer, classification)
    return Outcome(ticket.ticket_id, ticket.number, True, (*customer_events, opened))


NUMBER_ATTEMPTS = 20
THREAD_ATTEMPTS = 3


async def _create_ticket(
    message: InboundMessage, customer: CustomerRef, repo: Repository, policy: Policy
) -> TicketRecord:
    return await _create_ticket_with_id(
        ticket_id_for(message), customer, own_keys(message), repo, policy, message.channel
    )


async def _create_ticket_with_id(
    ticket_id: str,
    customer: CustomerRef,
    keys: tuple[str, ...],
    repo: Repository,
    policy: Policy,
    channel: Channel = Channel.WORKSPACE,
) -> TicketRecord:
    """A new ticket with the next free number (a number drawn twice is drawn again)."""
    for _ in range(NUMBER_ATTEMPTS):
        record = TicketRecord(
            ticket_id=ticket_id,
            number=ticket_number(policy.number_prefix, await repo.next_number()),
            status=TicketStatus.NEW,
            customer_id=customer.customer_id,
            channel=channel,
        )
        try:
            return await repo.create_ticket(record, keys)
        except NumberTakenError:
            continue
    raise RuntimeError(f"no free ticket number after {NUMBER_ATTEMPTS} attempts")


async def _find_thread(
    message: InboundMessage, repo: Repository, policy: Policy
) -> tuple[TicketRecord | None, str | None]:
    lookup = lookup_for(message, policy.number_prefix)
    for thread_key in lookup.keys[:-1]:  # e-mail references first
        if found := await repo.find_ticket_by_key(thread_key.key):
            return found, thread_key.why
    if lookup.number and (found := await repo.find_ticket_by_number(lookup.number)):
        return found, "ticket number"
    conversation = lookup.keys[-1]
    return await repo.find_ticket_by_key(conversation.key), conversation.why


async def _append(
    message: InboundMessage,
    ticket: TicketRecord,
    customer: CustomerRef,
    threaded_by: str | None,
    what: Verdict,
    repo: Repository,
) -> tuple[Event, ...] | None:
    """The message's events on ``ticket``, waking it when it waits on the customer or reopening
    it; None when the ticket left the status it was found in before it could be woken."""
    key = message_key(message)
    events: list[Event] = []
    wakes = (TicketStatus.SOLVED,) if what is Verdict.REOPEN else _WAITING_ON_CUSTOMER
    previous: TicketStatus | None = None
    # A message that woke the ticket before a crash finds its change made and says so again.
    if ticket.status in wakes or ticket.changed_by == key:
        change = await repo.set_status(
            ticket.ticket_id, TicketStatus.OPEN, message.received_at, expected=wakes, changed_by=key
        )
        if change is None:
            return None
        previous = change.previous_status
    if previous is not None:
        events.append(
            TicketStatusChangedV1(
                event_id=derived_id("ticket-status-changed", key),
                occurred_at=message.received_at,
                ticket_id=ticket.ticket_id,
                status=TicketStatus.OPEN,
                previous_status=previous,
                reopened=previous is TicketStatus.SOLVED,
                actor="customer",
            )
        )
    events.append(
        TicketMessageReceivedV1(
            event_id=derived_id("message-received", key),
            occurred_at=message.received_at,
            ticket_id=ticket.ticket_id,
            message_id=key,
            channel=message.channel,
            customer_id=customer.customer_id,
            text=message.text,
            attachments=message.attachments,
            threaded_by=threaded_by,
        )
    )
    return tuple(events)


def _opened_event(
    message: InboundMessage,
    ticket: TicketRecord,
    customer: CustomerRef,
    classification: Classification,
) -> TicketOpenedV1:
    return TicketOpenedV1(
        event_id=derived_id("ticket-opened", ticket.ticket_id),
        occurred_at=message.received_at,
        ticket_id=ticket.ticket_id,
        number=ticket.number,
        channel=message.channel,
        customer=customer.model_copy(update={"language": classification.language}),
        subject=str(getattr(message, "subject", "") or ""),
        text=message.text,
        request_type=classification.request_type,
        priority=classification.priority,
        language=classification.language,
        product=classification.product,
        source_message_id=message_key(message),
        attachments=message.attachments,
        skills=classification.skills,
        references=classification.references,
        classification=tuple(r[:1000] for r in classification.reasons),
    )


async def _resolve_customer(
    message: InboundMessage,
    repo: Repository,
    policy: Policy,
    classification: Classification,
) -> tuple[CustomerRef, tuple[Event, ...]]:
    """The one profile the message's sender has, and the profile events it caused."""
    key = message_key(message)
    identifiers = identifiers_of(message, default_region=policy.phone_region)
    stored = await repo.find_identifiers(identifiers)
    resolution = resolve(identifiers, stored, fallback=key)
    profile = await repo.save_customer(
        resolution.customer_id,
        name=message.customer.name,
        language=message.customer.language or classification.language,
        identifiers=resolution.new_identifiers,
    )
    if resolution.suggestions:
        await repo.add_suggestions(profile.customer_id, dict(resolution.suggestions))
    events: list[Event] = [
        CustomerIdentifierLinkedV1(
            event_id=derived_id("identifier-linked", profile.customer_id, i.key),
            occurred_at=message.received_at,
            customer_id=profile.customer_id,
            kind=i.kind,
            value=i.value,
            verified=i.verified,
            source=key,
        )
        for i in resolution.new_identifiers
    ]
    events += [
        CustomerMatchSuggestedV1(
            event_id=derived_id("match-suggested", *sorted((profile.customer_id, other))),
            occurred_at=message.received_at,
            customer_id=profile.customer_id,
            other_customer_id=other,
            evidence=evidence,
        )
        for other, evidence in resolution.suggestions.items()
    ]
    return customer_ref(profile), tuple(events)


def customer_ref(profile: CustomerProfile) -> CustomerRef:
    """What follow-ups need of a profile: its best contact details (verified first)."""
    by_kind: dict[str, str] = {}
    for identifier in sorted(profile.identifiers, key=lambda i: not i.verified):
        by_kind.setdefault(identifier.kind, identifier.value)
    return CustomerRef(
        customer_id=profile.customer_id,
        name=profile.name,
        email=by_kind.get("email"),
        phone=by_kind.get("phone"),
        language=profile.language,
        tier=profile.tier,
    )


# --- closing the loop: a detractor opens a recovery ticket for the team lead ----------------

RECOVERY_SKILLS = {"team_lead": 1}


async def open_recovery(
    detractor: DetractorFoundV1, repo: Repository, publisher: Publisher, policy: Policy
) -> Outcome | None:
    """A low score opens a ticket of its own, routed to team leads (the workspace channel,
    high priority), naming the ticket, agent and score. Exactly once per survey."""
    key = fit_id("feedback", detractor.survey_id)
    outcome = await repo.find_outcome(key)
    if outcome is None:
        original = await repo.get_ticket(detractor.ticket_id)
        if original is None:
            log.warning("detractor for a ticket intake does not know", extra={"survey": key})
            return None
        profile = await repo.get_customer(original.customer_id)
        customer = (
            customer_ref(profile) if profile else CustomerRef(customer_id=original.customer_id)
        )
        ticket = await _create_ticket_with_id(
            derived_id("recovery", detractor.survey_id), customer, (key,), repo, policy
        )
        opened = TicketOpenedV1(
            event_id=derived_id("ticket-opened", ticket.ticket_id),
            occurred_at=detractor.occurred_at,
            ticket_id=ticket.ticket_id,
            number=ticket.number,
            channel=Channel.WORKSPACE,
            customer=customer,
            subject=f"Low {detractor.survey_type.upper()} on {original.number}: call the customer",
            text=(
                f"The customer rated ticket {original.number} {detractor.score} "
                f"({detractor.survey_type}); agent {detractor.agent_id or 'unknown'}, "
                f"team {detractor.team or 'unknown'}. Get in touch and put it right."
            ),
            request_type=RequestType.COMPLAINT,
            priority=Priority.HIGH,
            language=customer.language,
            tags=("recovery", "detractor", original.number),
            source_message_id=key,
            skills=RECOVERY_SKILLS,
            references={"ticket": (original.number,)},
            classification=(f"recovery ticket: {detractor.survey_type} score {detractor.score}",),
        )
        outcome = await repo.save_outcome(
            key, Outcome(ticket.ticket_id, ticket.number, True, (opened,))
        )
    for event in outcome.events:
        await publisher.publish(event)
    return outcome


# --- survey answers by text message and IVR keypad -----------------------------------------


async def remember_invitation(issued: SurveyIssuedV1, repo: Repository) -> None:
    """Keep the survey feedback issued, so the customer's digit reply can be recognised."""
    await repo.save_invitation(Invitation.of(issued))


async def _survey_answer(
    message: InboundMessage, repo: Repository, policy: Policy
) -> Outcome | None:
    """The message as the answer to a survey its sender was invited to, or None when it is not
    one and is to be handled as the message it is."""
    if isinstance(message, InboundCallV1):
        answered = await _keypad_answer(message, repo, policy)
    elif isinstance(message, InboundSmsV1 | InboundMessengerMessageV1):
        answered = await _text_answer(message, repo, policy)
    else:
        return None
    if answered is None:
        return None
    invitation, events = answered
    ticket = await repo.get_ticket(invitation.ticket_id)
    log.info(
        "a survey answer arrived",
        extra={"ticket_id": invitation.ticket_id, "channel": message.channel.value},
    )
    return Outcome(invitation.ticket_id, ticket.number if ticket else "", False, events)


Answered = tuple[Invitation, tuple[SurveyAnswerReceivedV1, ...]]


async def _text_answer(
    message: InboundSmsV1 | InboundMessengerMessageV1, repo: Repository, policy: Policy
) -> Answered | None:
    """A score texted back: the sender's most recently sent open invitation, when the score fits
    its first question and no conversation of the sender's is going on (the digit would belong
    to it). A message with attachments is never an answer: they would be lost."""
    reply = None if message.attachments else read_reply(message.text)
    if reply is None:
        return None
    invitations = await _open_invitations(message, repo, policy)
    invitation = answered_by_reply(reply, invitations, message.received_at)
    if invitation is None:
        return None
    found, _ = await _find_thread(message, repo, policy)
    if found is not None and found.status in _LIVE:
        return None
    answer = _answer_event(message, invitation, invitation.survey_type, reply.score, reply.comment)
    return invitation, (answer,)


async def _keypad_answer(
    message: InboundCallV1, repo: Repository, policy: Policy
) -> Answered | None:
    """``survey:<type>:<score>`` IVR selections: one answer per question the caller's invitation
    asks; the call's transcript, if any, is the first answer's comment."""
    keypad = read_keypad(message.ivr_selections)
    if not keypad:
        return None
    invitations = await _open_invitations(message, repo, policy)
    chosen = answered_by_keypad(keypad, invitations, message.received_at)
    if chosen is None:
        return None
    invitation, answers = chosen
    spoken = (message.text or message.transcript or "").strip()[:COMMENT_LIMIT] or None
    events = tuple(
        _answer_event(message, invitation, a.survey_type, a.score, spoken if n == 0 else None)
        for n, a in enumerate(answers)
    )
    return invitation, events


async def _open_invitations(
    message: InboundMessage, repo: Repository, policy: Policy
) -> list[Invitation]:
    """The invitations held by the sender's profile (and by profiles merged into it), not yet
    expired when the message arrived; none for a sender intake does not know."""
    identifiers = identifiers_of(message, default_region=policy.phone_region)
    stored = await repo.find_identifiers(identifiers)
    resolution = resolve(identifiers, stored, fallback=message_key(message))
    if resolution.created:
        return []
    profile = await repo.get_customer(resolution.customer_id)
    merged = profile.merged if profile else ()
    return await repo.open_invitations((resolution.customer_id, *merged), message.received_at)


def _answer_event(
    message: InboundMessage,
    invitation: Invitation,
    survey_type: SurveyType,
    score: int,
    comment: str | None,
) -> SurveyAnswerReceivedV1:
    return SurveyAnswerReceivedV1(
        event_id=derived_id("survey-answer", message_key(message), survey_type.value),
        occurred_at=message.received_at,
        ticket_id=invitation.ticket_id,
        channel=message.channel,
        source_message_id=message.source_message_id,
        received_at=message.received_at,
        score=score,
        survey_type=survey_type,
        comment=comment,
    )


# --- customer profiles: explicit merges, reversible ----------------------------------------


async def merge_customers(
    survivor_id: str,
    merged_id: str,
    repo: Repository,
    publisher: Publisher,
    *,
    actor: str,
    reason: str | None = None,
) -> CustomerMergedV1:
    """``merged_id`` resolves to ``survivor_id`` from now on; undone by ``unmerge_customers``."""
    if survivor_id == merged_id:
        raise PermanentError("a profile cannot be merged into itself")
    survivor = await repo.get_customer(survivor_id)
    if survivor is None:
        raise LookupError(survivor_id)
    if survivor.merged_into is not None:
        raise PermanentError(f"{survivor_id} is itself merged into {survivor.merged_into}")
    current = await repo.get_customer(merged_id)
    if current is None:
        raise LookupError(merged_id)
    if current.merged_into == survivor_id:  # a retried request: announce the same merge again
        revision = current.merge_revision - 1
    elif current.merged_into is not None:
        raise PermanentError(f"{merged_id} is already merged into {current.merged_into}")
    else:
        before = await repo.set_merged_into(merged_id, survivor_id)
        revision = before.merge_revision if before else current.merge_revision
    event = CustomerMergedV1(
        event_id=derived_id("customer-merged", survivor_id, merged_id, str(revision)),
        customer_id=survivor_id,
        merged_customer_id=merged_id,
        actor=actor,
        reason=reason,
    )
    await publisher.publish(event)
    return event


async def unmerge_customers(
    survivor_id: str,
    merged_id: str,
    repo: Repository,
    publisher: Publisher,
    *,
    actor: str,
    reason: str | None = None,
) -> CustomerUnmergedV1:
    merged = await repo.get_customer(merged_id)
    if merged is None:
        raise LookupError(merged_id)
    if merged.merged_into == survivor_id:
        before = await repo.set_merged_into(merged_id, None)
        revision = before.merge_revision if before else merged.merge_revision
    elif merged.merged_into is None and merged.last_merged_into == survivor_id:
        revision = merged.merge_revision - 1  # a retried request: the same unmerge again
    else:
        raise PermanentError(f"{merged_id} is not merged into {survivor_id}")
    event = CustomerUnmergedV1(
        event_id=derived_id("customer-unmerged", survivor_id, merged_id, str(revision)),
        customer_id=survivor_id,
        merged_customer_id=merged_id,
        actor=actor,
        reason=reason,
    )
    await publisher.publish(event)
    return event


# --- the agent workspace ----------------------------------------------------------------------


async def record_reply(
    action: ReplyPostedV1, publisher: Publisher, automation: Automation | None = None
) -> TicketRepliedV1:
    """An agent's reply, published; a public one to a pending ticket calls off its automatic
    solve."""
    if automation is not None:
        await automation.on_reply(action)
    event = TicketRepliedV1(
        event_id=derived_id("ticket-replied", action.event_id),
        occurred_at=action.occurred_at,
        ticket_id=action.ticket_id,
        reply_id=action.reply_id,
        agent_id=action.agent_id,
        public=action.public,
        text=action.text,
    )
    await publisher.publish(event)
    return event


_STATUS_OF = {
    WorkspaceStatus.OPEN: TicketStatus.OPEN,
    WorkspaceStatus.PENDING: TicketStatus.PENDING,
    WorkspaceStatus.ON_HOLD: TicketStatus.ON_HOLD,
    WorkspaceStatus.SOLVED: TicketStatus.SOLVED,
    WorkspaceStatus.CLOSED: TicketStatus.CLOSED,
    WorkspaceStatus.REOPENED: TicketStatus.OPEN,
}


async def change_status(
    action: StatusSetV1,
    repo: Repository,
    publisher: Publisher,
    automation: Automation | None = None,
) -> TicketStatusChangedV1:
    """An agent's status change. Entering pending or solved arms the automation that will
    solve or close the ticket (when it is on), and the event says when."""
    status = _STATUS_OF[action.status]
    due = automation.due(status, action.occurred_at) if automation else None
    change = await repo.set_status(
        action.ticket_id, status, action.occurred_at, changed_by=action.event_id, auto_change_at=due
    )
    if change is None:
        raise PermanentError(f"unknown ticket {action.ticket_id}")
    # A redelivered action finds its own change made (previous status and due time included).
    event = TicketStatusChangedV1(
        event_id=derived_id("ticket-status-changed", action.event_id),
        occurred_at=action.occurred_at,
        ticket_id=action.ticket_id,
        status=status,
        previous_status=change.previous_status,
        reopened=action.status == WorkspaceStatus.REOPENED,
        agent_id=action.agent_id,
        auto_change_at=change.auto_change_at,
    )
    await publisher.publish(event)
    if automation is not None:
        automation.arm(action.ticket_id, change.auto_change_at)
    return event


__all__ = [
    "Handler",
    "Policy",
    "accept_message",
    "change_status",
    "customer_ref",
    "merge_customers",
    "open_recovery",
    "record_reply",
    "remember_invitation",
    "unmerge_customers",
]
