"""notifications' use cases: turn facts into planned notifications, and deliver each exactly once
at its time.

**Planning.** A fact (a ticket opened, pending, solved; a survey issued; an SLA warning) first
updates the ticket's view, then every enabled rule it triggers plans one notification per
recipient: a record inserted under its deterministic id (:func:`model.notification_id`), so a
redelivered fact plans nothing new. A record due within the arming horizon gets an exact timer
(``opora_shared.timers``); the rest are armed when the horizon reaches them. Kafka handlers
never wait for a channel: they return once the plan is stored.

**Delivering.** When a record's timer fires, the next *attempt* is claimed by inserting
``<id>#<n>`` (unique): only the claimant acts, so replicas firing the same timer cannot both
send. The claimant checks, in order, that the rule still exists, that nothing cancelled it
(``cancel_if``: the customer replied, the ticket was reopened…), the customer's opt-outs and a
channel that reaches them, quiet hours in their time zone, the rate limit, survey fatigue —
each may end the attempt (cancelled, suppressed) or defer the next one (held). Then it renders
the template in the recipient's language and sends, with a few quick retries (tenacity) for
blips; a transient failure that outlasts them plans the next attempt with exponential backoff
and jitter, a permanent one (or running out of attempts) settles as failed with a
``NotificationFailedV1`` and a dead-letter record; success publishes ``NotificationSentV1``, and
a notification cancelled or suppressed on purpose ``NotificationCancelledV1`` with its reason.

**Crashes.** An attempt claimed but never settled (its process died) is *in doubt* once its
lease runs out: the next attempt sends again, with the same ``Message-ID`` /
``Idempotency-Key``, because the two cases cannot be told apart: the process died before the
channel took the message (sending again is right) or after (the channel may deliver twice; its
receiver can drop the repeat by that id). Nothing is lost; the only duplicate possible is that
window between the channel's acceptance and our write of the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyIssuedV1
from opora_shared.contracts.notifications import CancelReason, NotificationEvent
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaWarningV1,
)
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
    TicketUpdatedV1,
)
from opora_shared.contracts.workspace import AgentProfileChangedV1
from opora_shared.ports import Clock, Publisher
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from opora_notifications.domain import timing
from opora_notifications.domain.directory import StaffDirectory, StaffMember
from opora_notifications.domain.model import (
    CUSTOMER,
    LANGUAGES,
    Agent,
    Attempt,
    Audience,
    Claim,
    DeadLetter,
    DeliveryState,
    Done,
    HistoryEntry,
    NotificationRecord,
    Outcome,
    Preferences,
    Wait,
    cancelled_event,
    failed_event,
    mask_address,
    next_step,
    notification_id,
    sent_event,
    staff_key,
    template_language,
)
from opora_notifications.domain.ports import (
    AgentStore,
    DeliveryError,
    NotificationStore,
    OutgoingMessage,
    PreferenceStore,
    Quotas,
    Renderer,
    Sender,
    TemplateContextError,
    TicketStore,
    Timers,
    UnknownTemplateError,
    WaitingRoom,
)
from opora_notifications.domain.rules import (
    SHORT_CHANNELS,
    Anchor,
    Category,
    NotificationRule,
    NotificationRules,
    Once,
    Role,
    Trigger,
)
from opora_notifications.domain.templates import Reader, context_for
from opora_notifications.domain.tickets import TicketView, cancellation, matches, warranty_end

log = logging.getLogger(__name__)

REFILL_TIMER = "notifications:refill"
# How long a fact about a ticket waits for the ticket's opening before it is forgotten.
WAITING_AT_MOST = timedelta(days=30)
_STATUS_TRIGGERS = {
    TicketStatus.PENDING: Trigger.TICKET_PENDING,
    TicketStatus.SOLVED: Trigger.TICKET_SOLVED,
    TicketStatus.CLOSED: Trigger.TICKET_CLOSED,
}


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard and how long delivery tries; from settings."""

    lease: timedelta = timedelta(seconds=120)
    """How long a claimed attempt may take before it is considered crashed (in doubt)."""
    quick_tries: int = 3
    quick_wait_max: timedelta = timedelta(seconds=2)
    retry_first: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(hours=1)
    max_send_attempts: int = 8
    give_up_after: timedelta = timedelta(hours=24)
    unknown_ticket_retry: timedelta = timedelta(seconds=30)
    horizon: timedelta = timedelta(hours=6)
    """Timers are armed for what is due within this; the rest when the horizon gets there."""
    max_concurrent_sends: int = 16


@dataclass(frozen=True)
class Occurrence:
    """A triggering fact, as the rules see it."""

    trigger: Trigger
    ticket_id: str
    event_id: str
    at: datetime
    send_after: datetime | None = None
    auto_change_at: datetime | None = None
    level: int | None = None
    metric: str | None = None
    team: str | None = None
    agent_id: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """Where and how one attempt goes."""

    channel: Channel
    address: str
    name: str | None
    language: str
    zone: ZoneInfo
    recipient_id: str  # whom rate limits and fatigue count: a customer id or a staff key
    customer_id: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Withheld:
    """Why a notification goes to nobody: the customer opted out, or nothing reaches them."""

    reason: CancelReason
    detail: str


UnsubscribeLink = Callable[[str, Category], str | None]


def _no_links(_customer_id: str, _category: Category) -> str | None:
    return None


class Notifier:
    """Everything the use cases need, wired once by ``main.py``."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        tickets: TicketStore,
        waiting: WaitingRoom,
        agents: AgentStore,
        preferences: PreferenceStore,
        quotas: Quotas,
        renderer: Renderer,
        senders: Mapping[Channel, Sender],
        publisher: Publisher,
        rules: NotificationRules,
        directory: StaffDirectory,
        timers: Timers,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        unsubscribe_link: UnsubscribeLink = _no_links,
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.waiting = waiting
        self.agents = agents
        self.preferences = preferences
        self.quotas = quotas
        self.renderer = renderer
        self.senders = senders
        self.publisher = publisher
        self.rules = rules
        self.directory = directory
        self.timers = timers
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.unsubscribe_link = unsubscribe_link
        self._sending = asyncio.Semaphore(self.policy.max_concurrent_sends)
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._firing: set[str] = set()
        self._rearm: dict[str, datetime] = {}
        self._closing = False

    # --- facts ------------------------------------------------------------------------------

    async def on_ticket_opened(self, event: TicketOpenedV1) -> None:
        await self.tickets.opened(
            TicketView(
                ticket_id=event.ticket_id,
                number=event.number,
                subject=event.subject,
                channel=event.channel,
                request_type=event.request_type,
                priority=event.priority,
                language=event.language,
                product=event.product,
                references={k: tuple(v) for k, v in event.references.items()},
                customer=event.customer,
                source_message_id=event.source_message_id,
                opened_at=event.occurred_at,
            )
        )
        for early in await self.waiting.waiting(event.ticket_id):
            await self._trigger(early)
            await self.waiting.release(early)
        await self._trigger(
            Occurrence(Trigger.TICKET_OPENED, event.ticket_id, event.event_id, event.occurred_at)
        )

    async def on_status_changed(self, event: TicketStatusChangedV1) -> None:
        await self.tickets.status_changed(
            event.ticket_id, event.status, event.occurred_at, reopened=event.reopened
        )
        trigger = Trigger.TICKET_REOPENED if event.reopened else _STATUS_TRIGGERS.get(event.status)
        if trigger is not None:
            auto = event.auto_change_at
            await self._trigger(
                Occurrence(
                    trigger,
                    event.ticket_id,
                    event.event_id,
                    event.occurred_at,
                    auto_change_at=auto,
                    # Kept for the templates: the date the customer is told.
                    facts={"auto_change_at": auto.isoformat()} if auto else {},
                )
            )
        await self.reconsider(event.ticket_id)

    async def on_message_received(self, event: TicketMessageReceivedV1) -> None:
        await self.tickets.customer_wrote(event.ticket_id, event.occurred_at)
        await self.reconsider(event.ticket_id)

    async def on_replied(self, event: TicketRepliedV1) -> None:
        if event.public:
            await self.tickets.agent_replied(event.ticket_id, event.occurred_at)
            await self.reconsider(event.ticket_id)

    async def on_ticket_updated(self, event: TicketUpdatedV1) -> None:
        changed = {
            name: getattr(event, name)
            for name in ("priority", "request_type", "language", "product")
            if getattr(event, name) is not None
        }
        if changed:
            await self.tickets.updated(event.ticket_id, changed)

    async def on_assigned(self, event: TicketAssignedV1) -> None:
        await self.tickets.assigned(
            event.ticket_id,
            agent_id=event.agent_id,
            team=event.team,
            queue=event.queue,
            at=event.occurred_at,
        )
        agent = await self.agents.get(event.agent_id)
        await self._trigger(
            Occurrence(
                Trigger.TICKET_ASSIGNED,
                event.ticket_id,
                event.event_id,
                event.occurred_at,
                team=event.team,
                agent_id=event.agent_id,
                facts={"agent_name": _first_word(agent.name) if agent else ""},
            )
        )

    async def on_sla_applied(self, event: SlaAppliedV1) -> None:
        """The reply's due time; an acknowledgement waiting for it goes out now."""
        due = [
            t.due_at
            for t in event.targets
            if t.metric in (Metric.FIRST_REPLY, Metric.NEXT_REPLY) and t.due_at is not None
        ]
        await self.tickets.sla_applied(
            event.ticket_id, min(due) if due else None, event.occurred_at
        )
        for nid in await self.store.pull_forward(event.ticket_id, self.clock()):
            self._arm(nid, self.clock())

    async def on_sla_alert(self, event: SlaWarningV1 | SlaBreachedV1 | SlaEscalatedV1) -> None:
        trigger = {
            SlaWarningV1: Trigger.SLA_WARNING,
            SlaBreachedV1: Trigger.SLA_BREACHED,
            SlaEscalatedV1: Trigger.SLA_ESCALATED,
        }[type(event)]
        level = event.level if isinstance(event, SlaEscalatedV1) else None
        ticket = await self.tickets.get(event.ticket_id)
        agent = await self.agents.get(ticket.agent_id) if ticket and ticket.agent_id else None
        facts: dict[str, Any] = {
            "agent_name": agent.name if agent else "",
            "metric": event.metric.value,
            "due_at": event.due_at.isoformat(),
            "remaining_s": event.remaining_s,
            "level": level,
            "threshold": event.threshold if isinstance(event, SlaWarningV1) else None,
        }
        await self._trigger(
            Occurrence(
                trigger,
                event.ticket_id,
                event.event_id,
                event.occurred_at,
                level=level,
                metric=event.metric.value,
                facts=facts,
            )
        )

    async def on_survey_issued(self, event: SurveyIssuedV1) -> None:
        await self.tickets.survey_facts(
            event.ticket_id,
            customer=event.customer,
            channel=event.channel,
            language=event.language,
            request_type=event.request_type.value,
        )
        await self._trigger(
            Occurrence(
                Trigger.SURVEY_ISSUED,
                event.ticket_id,
                event.event_id,
                event.occurred_at,
                send_after=event.send_after,
                team=event.team,
                agent_id=event.agent_id,
                facts={
                    "url": event.url,
                    "expires_at": event.expires_at.isoformat(),
                    "survey_type": event.survey_type.value,
                    "rating_links": [
                        {"score": link.score, "url": link.url} for link in event.rating_links
                    ],
                },
            )
        )

    async def on_detractor_found(self, event: DetractorFoundV1) -> None:
        agent = await self.agents.get(event.agent_id) if event.agent_id else None
        await self._trigger(
            Occurrence(
                Trigger.DETRACTOR_FOUND,
                event.ticket_id,
                event.event_id,
                event.occurred_at,
                team=event.team,
                agent_id=event.agent_id,
                facts={
                    "score": event.score,
                    "survey_type": event.survey_type.value,
                    "agent_name": agent.name if agent else "",
                },
            )
        )

    async def on_agent_profile(self, event: AgentProfileChangedV1) -> None:
        await self.agents.save(
            Agent(
                agent_id=event.agent_id,
                name=event.name,
                email=event.email,
                languages=tuple(event.languages),
                teams=tuple(event.teams),
            )
        )

    # --- planning ---------------------------------------------------------------------------

    async def _ticket_for(self, occurrence: Occurrence) -> TicketView | None:
        """The ticket the occurrence is about; None when its opening has not arrived yet, the
        occurrence then parked until it does (``on_ticket_opened`` plans it)."""
        ticket = await self.tickets.get(occurrence.ticket_id)
        if ticket is not None and _known(ticket):
            return ticket
        await self.waiting.park(occurrence)
        # The opening may have been stored since, its handler reading the waiting room before
        # this occurrence was in it: look again, now that it is parked.
        ticket = await self.tickets.get(occurrence.ticket_id)
        if ticket is None or not _known(ticket):
            log.info(
                "waiting for the ticket's opening",
                extra={"ticket_id": occurrence.ticket_id, "trigger": occurrence.trigger.value},
            )
            return None
        await self.waiting.release(occurrence)
        return ticket

    async def _trigger(self, occurrence: Occurrence) -> list[NotificationRecord]:
        rules = [
            r for r in self.rules.notifications if r.trigger is occurrence.trigger and r.enabled
        ]
        if not rules:
            return []
        ticket = await self._ticket_for(occurrence)
        if ticket is None:
            return []
        planned: list[NotificationRecord] = []
        for rule in rules:
            if not matches(rule.when, ticket, level=occurrence.level, metric=occurrence.metric):
                continue
            for record in await self._plan(rule, occurrence, ticket):
                stored, created = await self.store.plan(record)
                if created:
                    log.info("notification planned", extra=_log_fields(stored))
                if not stored.settled:
                    self._arm(stored.notification_id, stored.wake_at or stored.due_at)
                planned.append(stored)
        return planned

    async def _plan(
        self, rule: NotificationRule, occurrence: Occurrence, ticket: TicketView
    ) -> list[NotificationRecord]:
        anchor = {
            Anchor.TRIGGER: occurrence.at,
            Anchor.SEND_AFTER: occurrence.send_after,
            Anchor.WARRANTY_END: warranty_end(ticket, self.rules.warranty),
            Anchor.AUTO_CHANGE_AT: occurrence.auto_change_at,
        }[rule.anchor]
        if anchor is None:
            return []  # e.g. intake's automation is off: no date to warn of
        if rule.anchor in (Anchor.WARRANTY_END, Anchor.AUTO_CHANGE_AT) and anchor <= occurrence.at:
            return []  # the warranty has ended, or the change is due already: nothing to warn of
        due = max(anchor + rule.after, occurrence.at)
        awaits_sla = rule.wait_for_sla is not None and ticket.reply_due_at is None
        if awaits_sla and rule.wait_for_sla is not None:
            due = max(due, occurrence.at + rule.wait_for_sla)
        occurrence_key = occurrence.event_id if rule.once is Once.PER_TRIGGER else ""
        now = self.clock()
        base = NotificationRecord(
            notification_id=notification_id(
                rule.intent, occurrence.ticket_id, CUSTOMER, occurrence_key
            ),
            intent=rule.intent,
            ticket_id=occurrence.ticket_id,
            template=rule.template,
            category=rule.category,
            audience=Audience.CUSTOMER,
            recipient_key=CUSTOMER,
            trigger=occurrence.trigger,
            trigger_event_id=occurrence.event_id,
            triggered_at=occurrence.at,
            due_at=due,
            wake_at=due,
            created_at=now,
            updated_at=now,
            facts=dict(occurrence.facts),
            awaits_sla=awaits_sla,
            history=(HistoryEntry(now, DeliveryState.SCHEDULED, f"due {due.isoformat()}"),),
        )
        if not rule.audience_is_staff:
            return [base]
        return [
            replace(
                base,
                notification_id=notification_id(
                    rule.intent, occurrence.ticket_id, staff_key(member.email), occurrence_key
                ),
                audience=Audience.STAFF,
                recipient_key=staff_key(member.email),
                recipient=member.email,
                recipient_name=member.name,
                recipient_language=member.language,
                recipient_time_zone=member.time_zone,
                recipient_masked=mask_address(Channel.EMAIL, member.email),
            )
            for member in await self._staff(rule.to, ticket, occurrence)
        ]

    async def _staff(
        self, roles: tuple[Role, ...], ticket: TicketView, occurrence: Occurrence
    ) -> list[StaffMember]:
        """The people behind the roles, by e-mail (someone in two roles is written to once)."""
        directory = self.directory
        agent_id = occurrence.agent_id or ticket.agent_id
        agent = await self.agents.get(agent_id) if agent_id else None
        listed = directory.agents.get(agent_id) if agent_id else None
        team_id = (
            occurrence.team
            or ticket.team
            or (agent.teams[0] if agent and agent.teams else None)
            or directory.team_of_queue(ticket.queue)
        )
        team_name, team = directory.team(team_id)
        language = team.language or directory.language
        zone = team.time_zone or directory.time_zone
        lead = StaffMember(team.lead.email, team.lead.name, team.lead.language or language, zone)
        boss = team.supervisor or directory.supervisor
        supervisor = StaffMember(boss.email, boss.name, boss.language or language, zone)
        found: dict[str, StaffMember] = {}
        for role in roles:
            member: StaffMember
            if role is Role.ASSIGNED_AGENT:
                email = (agent.email if agent else None) or (listed.email if listed else None)
                if email is None:  # nobody holds it, or we cannot reach them: their lead
                    member = lead
                else:
                    spoken = [
                        lang for lang in (agent.languages if agent else ()) if lang in LANGUAGES
                    ]
                    member = StaffMember(
                        email,
                        agent.name if agent else (listed.name if listed else email),
                        spoken[0]
                        if spoken
                        else (listed.language if listed and listed.language else language),
                        zone,
                    )
            elif role is Role.TEAM_LEAD:
                member = lead
            else:
                member = supervisor
            found.setdefault(member.email.lower(), member)
        log.debug("staff resolved", extra={"team": team_name, "recipients": len(found)})
        return list(found.values())

    # --- timers -----------------------------------------------------------------------------

    def _arm(self, nid: str, when: datetime) -> None:
        """Plan ``fire(nid)`` at ``when``. Never while it runs: replacing a running timer would
        cancel a send half-way (leaving it in doubt), so the request waits until it ends."""
        if when > self.clock() + self.policy.horizon:
            return
        if nid in self._firing:
            earlier = self._rearm.get(nid)
            self._rearm[nid] = when if earlier is None else min(earlier, when)
            return

        async def fire() -> None:
            await self.fire(nid)

        self.timers.schedule(nid, when, fire)

    def _disarm(self, nid: str) -> None:
        if nid not in self._firing:
            self.timers.cancel(nid)

    async def recover(self) -> int:
        """At start: publish outcomes a crash may have kept from Kafka, then arm every timer
        due within the horizon (and plan to arm the next ones when the horizon reaches them)."""
        for record in await self.store.unpublished():
            await self._publish(record)
        return await self.refill()

    async def refill(self) -> int:
        now = self.clock()
        pending = await self.store.unsettled(wake_before=now + self.policy.horizon)
        for record in pending:
            self._arm(record.notification_id, record.wake_at or record.due_at)
        await self.quotas.purge(now)
        await self.waiting.purge(now - WAITING_AT_MOST)
        self.timers.schedule(REFILL_TIMER, now + self.policy.horizon / 2, self.refill_quietly)
        log.info("notification timers armed", extra={"timers": len(pending)})
        return len(pending)

    async def refill_quietly(self) -> None:
        await self.refill()

    async def drain(self, timeout_s: float) -> None:
        """Stop claiming; let sends under way finish (so none is left in doubt)."""
        self._closing = True
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout_s)

    # --- delivery ---------------------------------------------------------------------------

    async def fire(self, nid: str) -> None:
        """Do whatever is due for the notification now: wait, attempt, or repair its record."""
        if self._closing:
            return
        if nid in self._firing:  # already at it: let that run look again when it ends
            self._rearm[nid] = self.clock()
            return
        self._firing.add(nid)
        try:
            await self._fire(nid)
        finally:
            self._firing.discard(nid)
            again = self._rearm.pop(nid, None)
            if again is not None:
                # After this task has ended: the scheduler keeps a plan whose task still runs.
                asyncio.get_running_loop().call_soon(self._arm, nid, again)

    async def _fire(self, nid: str) -> None:
        record = await self.store.get(nid)
        if record is None:
            return
        now = self.clock()
        if (
            record.attempts == 0
            and record.state is DeliveryState.SCHEDULED
            and record.due_at <= now
        ):
            # The common case, without reading the attempts: if the view lags behind them, the
            # claim fails and the attempts decide below.
            first = Attempt(nid, 1, now, now + self.policy.lease)
            if await self.store.claim(first):
                await self._attempt(record, first, in_doubt=False)
                return
        for _ in range(3):
            attempts = await self.store.attempts(nid)
            step = next_step(record, attempts, self.clock())
            if isinstance(step, Done):
                await self._repair(record, attempts)
                return
            if isinstance(step, Wait):
                if record.wake_at != step.until and not record.settled:
                    await self.store.save(replace(record, wake_at=step.until))
                self._arm(nid, step.until)
                return
            attempt = Attempt(nid, step.number, self.clock(), self.clock() + self.policy.lease)
            if await self.store.claim(attempt):
                await self._attempt(record, attempt, in_doubt=step.in_doubt)
                return
            # Another replica claimed it a moment ago: wait on its lease.

    async def reconsider(self, ticket_id: str) -> None:
        """Cancel now, rather than at send time, what a ticket's change made moot."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return
        for record in await self.store.unsettled(ticket_id=ticket_id):
            rule = self.rules.rule(record.intent)
            if rule is None or record.state is DeliveryState.SENDING:
                continue
            why = cancellation(rule.cancel_if, ticket, record.triggered_at)
            if why is None:
                continue
            attempts = await self.store.attempts(record.notification_id)
            step = next_step(record, attempts, record.due_at + timedelta(days=36_500))
            if isinstance(step, Done):
                # Settled, but a crash or a failed publish (this very handler, redelivered) left
                # the view and maybe the event behind: repair now rather than when it is due.
                await self._repair(record, attempts)
                self._disarm(record.notification_id)
                continue
            if not isinstance(step, Claim) or step.in_doubt:
                continue
            attempt = Attempt(
                record.notification_id, step.number, self.clock(), self.clock() + self.policy.lease
            )
            if await self.store.claim(attempt):
                await self._withhold(
                    record, attempt, Outcome.CANCELLED, CancelReason(why.value), f"cancelled: {why}"
                )
                self._disarm(record.notification_id)

    async def _attempt(
        self, record: NotificationRecord, attempt: Attempt, *, in_doubt: bool
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            async with self._sending:
                await self._decide_and_send(record, attempt, in_doubt=in_doubt)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _decide_and_send(
        self, record: NotificationRecord, attempt: Attempt, *, in_doubt: bool
    ) -> None:
        now = self.clock()
        rule = self.rules.rule(record.intent)
        if rule is None or not rule.enabled:
            await self._withhold(
                record,
                attempt,
                Outcome.CANCELLED,
                CancelReason.RULE_WITHDRAWN,
                "the rule is no longer in force",
            )
            return
        ticket = await self.tickets.get(record.ticket_id)
        if ticket is None or (record.audience is Audience.CUSTOMER and ticket.customer is None):
            if now - record.triggered_at > self.policy.give_up_after:
                await self._fail(record, attempt, "the ticket was never seen")
            else:
                retry_at = now + self.policy.unknown_ticket_retry
                await self._finish(
                    record, attempt, Outcome.DEFERRED, "ticket not seen yet", retry_at=retry_at
                )
            return
        if (why := cancellation(rule.cancel_if, ticket, record.triggered_at)) is not None:
            await self._withhold(
                record, attempt, Outcome.CANCELLED, CancelReason(why.value), f"cancelled: {why}"
            )
            return
        target = await self._target(record, rule, ticket)
        if isinstance(target, Withheld):
            await self._withhold(record, attempt, Outcome.SUPPRESSED, target.reason, target.detail)
            return
        if (held := self._quiet_until(record, rule, ticket, target, now)) is not None:
            await self._finish(
                record,
                attempt,
                Outcome.DEFERRED,
                f"quiet hours in {target.zone.key} until {held.isoformat()}",
                retry_at=held,
            )
            return
        if (later := await self._rate_limited(record, rule, target, now)) is not None:
            await self._finish(record, attempt, Outcome.DEFERRED, "rate limit", retry_at=later)
            return
        fatigue = self.rules.customers.survey_fatigue
        if rule.category is Category.SURVEYS and fatigue is not None:
            days = timing.fatigue_days(now, fatigue.max_one_per)
            keys = [f"fatigue:{target.recipient_id}:{day}" for day in days]
            expires = timing.EPOCH + timedelta(days=days[-1] + 1)
            if not await self.quotas.take_all(keys, record.notification_id, expires):
                await self._withhold(
                    record,
                    attempt,
                    Outcome.SUPPRESSED,
                    CancelReason.SURVEY_FATIGUE,
                    "survey fatigue",
                )
                return
        await self._send(record, attempt, rule, ticket, target, in_doubt=in_doubt)

    async def _send(
        self,
        record: NotificationRecord,
        attempt: Attempt,
        rule: NotificationRule,
        ticket: TicketView,
        target: Target,
        *,
        in_doubt: bool,
    ) -> None:
        short = target.channel in SHORT_CHANNELS
        unsubscribe = (
            self.unsubscribe_link(target.customer_id, rule.category)
            if target.customer_id is not None
            else None
        )
        context = context_for(
            record,
            ticket,
            self.rules,
            reader=Reader(target.language, target.zone),
            recipient_name=target.name,
            unsubscribe_url=unsubscribe,
        )
        masked = mask_address(target.channel, target.address)
        sending = replace(
            record,
            state=DeliveryState.SENDING,
            channel=target.channel,
            language=target.language,
            recipient_masked=masked,
            send_attempts=record.send_attempts + 1,
            attempts=attempt.number,
            wake_at=attempt.lease_until,
            updated_at=self.clock(),
        )
        detail = f"attempt {attempt.number} on {target.channel.value}" + (
            " (the previous one is in doubt: same message id)" if in_doubt else ""
        )
        try:
            content = self.renderer.render(record.template, target.language, context, short=short)
        except (UnknownTemplateError, TemplateContextError) as exc:
            await self._fail(sending, attempt, f"template: {exc}")
            return
        limit = self.rules.max_chars(target.channel) if short else None
        if limit is not None and len(content.text) > limit:
            content = replace(content, text=content.text[: limit - 1].rstrip() + "…")
        # The record is not written before the send (one write less per message): the claimed
        # attempt is what a crash leaves behind, and the timer re-armed at start finds it.
        message = OutgoingMessage(
            notification_id=record.notification_id,
            intent=record.intent,
            channel=target.channel,
            address=target.address,
            recipient_name=target.name,
            language=target.language,
            content=content,
            ticket_id=record.ticket_id,
            ticket_number=ticket.number,
            customer_id=target.customer_id,
            phone=target.phone,
            in_reply_to=ticket.email_thread_id if record.audience is Audience.CUSTOMER else None,
            unsubscribe_url=unsubscribe,
        )
        try:
            provider_id = await self._deliver(self.senders[target.channel], message)
        except DeliveryError as exc:
            now = self.clock()
            out_of_tries = sending.send_attempts >= self.policy.max_send_attempts
            too_late = now - record.due_at > self.policy.give_up_after
            if exc.permanent or out_of_tries or too_late:
                reason = exc.reason if exc.permanent else f"gave up: {exc.reason}"
                await self._fail(sending, attempt, reason)
                return
            wait = timing.backoff(
                sending.send_attempts, first=self.policy.retry_first, cap=self.policy.retry_max
            )
            wait = max(wait, timedelta(seconds=exc.retry_after_s or 0))
            failed = failed_event(
                sending,
                channel=target.channel,
                language=target.language,
                recipient_masked=masked,
                reason=exc.reason,
                attempts=sending.send_attempts,
                will_retry=True,
                at=now,
            )
            await self._finish(
                sending,
                attempt,
                Outcome.RETRY,
                f"{exc.reason} ({detail})",
                retry_at=now + wait,
                event=failed,
            )
            return
        event = sent_event(
            sending,
            channel=target.channel,
            language=target.language,
            recipient_masked=masked,
            provider_message_id=provider_id,
            at=self.clock(),
        )
        await self._finish(
            replace(sending, provider_message_id=provider_id, last_error=None),
            attempt,
            Outcome.SENT,
            f"sent: {detail}",
            event=event,
        )

    async def _deliver(self, sender: Sender, message: OutgoingMessage) -> str:
        """A few quick tries for blips (a dropped connection, a greylisting 451); longer
        outages are left to the planned retries, which survive restarts."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.quick_tries),
            wait=wait_random_exponential(
                multiplier=0.2, max=self.policy.quick_wait_max.total_seconds()
            ),
            retry=retry_if_exception(
                lambda exc: isinstance(exc, DeliveryError) and not exc.permanent
            ),
            reraise=True,
        )
        async for tried in retrying:
            with tried:
                return await sender.send(message)
        raise AssertionError("tenacity reraises the last failure")

    async def _fail(self, record: NotificationRecord, attempt: Attempt, reason: str) -> None:
        """Failed for good: a dead-letter record, and ``NotificationFailedV1`` once a channel
        was chosen (the event names one)."""
        now = self.clock()
        event = (
            failed_event(
                record,
                channel=record.channel,
                language=record.language or "en",
                recipient_masked=record.recipient_masked or "***",
                reason=reason,
                attempts=max(record.send_attempts, 1),
                will_retry=False,
                at=now,
            )
            if record.channel is not None
            else None
        )
        await self.quotas.release(record.notification_id)  # a survey never sent is no fatigue
        await self.store.dead_letter(
            DeadLetter(
                notification_id=record.notification_id,
                ticket_id=record.ticket_id,
                intent=record.intent,
                channel=record.channel,
                recipient_masked=record.recipient_masked,
                reason=reason[:1000],
                attempts=record.send_attempts,
                failed_at=now,
                trigger_event_id=record.trigger_event_id,
            )
        )
        await self._finish(record, attempt, Outcome.FAILED, reason, event=event)

    async def _withhold(
        self,
        record: NotificationRecord,
        attempt: Attempt,
        outcome: Outcome,
        reason: CancelReason,
        detail: str,
    ) -> None:
        """Settled without sending, on purpose: announced once, like a send or a failure."""
        event = cancelled_event(record, reason=reason, detail=detail, at=self.clock())
        await self._finish(record, attempt, outcome, detail, event=event)

    async def _finish(
        self,
        record: NotificationRecord,
        attempt: Attempt,
        outcome: Outcome,
        reason: str,
        *,
        retry_at: datetime | None = None,
        event: NotificationEvent | None = None,
    ) -> None:
        """Settle the attempt (the authority), then publish and write the record (the view).

        A final outcome's event is published before the record is written: if either fails or
        the process dies, the attempt holds the event and the next firing repairs the record and
        publishes it (again, with the same id)."""
        await self.store.settle(attempt, outcome, retry_at=retry_at, reason=reason, event=event)
        settled = replace(
            record,
            state=outcome.state,
            attempts=attempt.number,
            wake_at=retry_at,
            last_error=reason if outcome in (Outcome.FAILED, Outcome.RETRY) else record.last_error,
            outcome=event if outcome.final and event is not None else record.outcome,
            published=True,
            updated_at=self.clock(),
        )
        entry = HistoryEntry(self.clock(), outcome.state, reason)
        level = logging.WARNING if outcome in (Outcome.FAILED, Outcome.RETRY) else logging.INFO
        log.log(level, "notification %s", outcome.value, extra=_log_fields(settled, reason=reason))
        if event is not None and outcome.final:
            await self.publisher.publish(event)
            await self.store.save(settled, entry)
        else:
            await self.store.save(replace(settled, published=event is None), entry)
            if event is not None:  # a failed attempt that will be retried: for accounting
                await self.publisher.publish(event)
                await self.store.mark_published(record.notification_id)
        if retry_at is not None:
            self._arm(record.notification_id, retry_at)

    async def _repair(self, record: NotificationRecord, attempts: list[Attempt]) -> None:
        """The attempts say it is settled: make the record say so too, and publish its event
        if a crash kept it from Kafka."""
        last = max(attempts, key=lambda a: a.number)
        assert last.outcome is not None
        if record.state is not last.outcome.state:
            record = replace(
                record,
                state=last.outcome.state,
                attempts=last.number,
                wake_at=None,
                outcome=last.event or record.outcome,
                published=last.event is None and record.published,
            )
            await self.store.save(record, HistoryEntry(self.clock(), record.state, "repaired"))
        if not record.published:
            await self._publish(record)

    async def _publish(self, record: NotificationRecord) -> None:
        if record.outcome is not None:
            await self.publisher.publish(record.outcome)
        await self.store.mark_published(record.notification_id)

    # --- gates ------------------------------------------------------------------------------

    async def _target(
        self, record: NotificationRecord, rule: NotificationRule, ticket: TicketView
    ) -> Target | Withheld:
        """Where this attempt goes, or why it goes nowhere."""
        if record.audience is Audience.STAFF:
            assert record.recipient is not None, "staff alerts carry their address"
            return Target(
                channel=Channel.EMAIL,
                address=record.recipient,
                name=record.recipient_name,
                language=template_language(record.recipient_language),
                zone=ZoneInfo(record.recipient_time_zone or self.directory.time_zone),
                recipient_id=record.recipient_key,
            )
        customer = ticket.customer
        assert customer is not None
        prefs = await self.preferences.get(customer.customer_id) or Preferences(
            customer.customer_id
        )
        if not prefs.allows(rule.category):
            return Withheld(CancelReason.OPTED_OUT, f"opted out of {rule.category.value}")
        customers = self.rules.customers
        reply_on = customers.reply_channels[ticket.channel or Channel.EMAIL]
        addresses = {
            Channel.EMAIL: customer.email,
            Channel.SMS: customer.phone,
            Channel.MESSENGER: ticket.messenger_conversation,
        }
        language = template_language(ticket.language or customer.language)
        for channel in dict.fromkeys((*prefs.preferred_channels, *reply_on)):
            address = addresses.get(channel)
            if (
                address
                and channel in rule.channels
                and channel not in prefs.blocked_channels
                and channel in self.senders
            ):
                return Target(
                    channel=channel,
                    address=str(address),
                    name=customer.name,
                    language=language,
                    zone=timing.time_zone_of(
                        preferred=prefs.time_zone,
                        phone=customer.phone,
                        language=language,
                        rules=customers,
                    ),
                    recipient_id=f"customer:{customer.customer_id}",
                    customer_id=customer.customer_id,
                    phone=customer.phone,
                )
        return Withheld(CancelReason.NO_CHANNEL, "no channel reaches the customer")

    def _quiet_until(
        self,
        record: NotificationRecord,
        rule: NotificationRule,
        ticket: TicketView,
        target: Target,
        now: datetime,
    ) -> datetime | None:
        if not rule.quiet_hours:
            return None
        staff = record.audience is Audience.STAFF
        window = self.rules.staff.quiet_hours if staff else self.rules.customers.quiet_hours
        if window is None:
            return None
        active = ticket.last_customer_activity
        if (
            not staff
            and window.unless_active_within is not None
            and active is not None
            and now - active <= window.unless_active_within
        ):
            return None
        return timing.quiet_until(now, window, target.zone)

    async def _rate_limited(
        self, record: NotificationRecord, rule: NotificationRule, target: Target, now: datetime
    ) -> datetime | None:
        if not rule.rate_limited:
            return None
        staff = record.audience is Audience.STAFF
        limit = self.rules.staff.rate_limit if staff else self.rules.customers.rate_limit
        if limit is None:
            return None
        window, next_window = timing.window_of(now, limit.per)
        key = f"rate:{target.recipient_id}:{window}"
        if await self.quotas.take_slot(key, limit.max, record.notification_id, next_window):
            return None
        return next_window


def _first_word(name: str) -> str:
    words = name.split()
    return words[0] if words else ""


def _log_fields(record: NotificationRecord, **extra: object) -> dict[str, object]:
    return {
        "notification_id": record.notification_id,
        "intent": record.intent,
        "ticket_id": record.ticket_id,
        "recipient": record.recipient_masked or record.recipient_key,
        **extra,
    }


def _known(ticket: TicketView) -> bool:
    """Whether notifications knows enough of the ticket to plan for it: its opening, or the
    customer a survey named."""
    return ticket.seen_opened or ticket.customer is not None
