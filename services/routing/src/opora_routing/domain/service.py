"""routing's use cases: place tickets under their rule, offer them, react to agents' answers,
presence, status changes, transfers and SLA events, and serve the queue the moment capacity
frees. Plain functions over the repository, the publisher, the rules and the timers.

Every change is one conditional update (an agent's slot against the load it was chosen on; a
ticket's state against the version it was read at), so replicas racing on the same agent or
ticket cannot overbook or double-offer: the loser re-plans. Every event id is derived from the
decision, so a redelivery or a repair publishes the same ids again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import Channel, Priority, TicketStatus
from opora_shared.contracts.routing import (
    RoutingReason,
    TicketAssignedV1,
    TicketEscalatedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketQueuedV1,
)
from opora_shared.contracts.sla import SlaAppliedV1, SlaBreachedV1, SlaWarningV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    Presence,
    TicketTransferRequestedV1,
)
from opora_shared.errors import PermanentError
from opora_shared.ports import Clock, Publisher

from opora_routing.domain.model import (
    Agent,
    CapacityPolicy,
    Requirement,
    Routing,
    RoutingState,
    Ticket,
    assigned_event_id,
    derived_id,
    offer_id_for,
    queued_event_id,
    reconcile,
)
from opora_routing.domain.ports import Repository
from opora_routing.domain.selection import Choice, plan

log = logging.getLogger(__name__)

DISPATCH_ROUNDS = 3
RETRY_LOST_RACE = timedelta(seconds=1)
"""Re-plans after a reservation lost a race, before leaving the rest to the next trigger."""

RevokeCause = Literal["declined", "timed_out", "agent_unavailable", "ticket_closed", "transferred"]


# --- what the rules decide (the rules file implements it) -------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where a ticket waits under its rule now, and when that relaxes next."""

    rule_id: str
    rule_version: str
    step: int
    requirement: Requirement
    next_step_in: timedelta | None
    why: str


@dataclass(frozen=True)
class Escalation:
    priority: Priority
    queue: str | None
    team: str | None
    why: str


class Rules(Protocol):
    capacity: CapacityPolicy
    strategy: str
    return_open_tickets_on_offline: bool

    def place(self, ticket: Ticket, waited: timedelta) -> Placement: ...

    def offer_timeout(self, channel: Channel) -> timedelta: ...

    def escalate(self, ticket: Ticket, kind: Literal["warning", "breach"]) -> Escalation: ...


class Timers(Protocol):
    def schedule(self, key: str, when: datetime, action: Any) -> None: ...

    def cancel(self, key: str) -> None: ...


@dataclass
class Desk:
    """Everything a use case needs, wired once by ``main.py``."""

    repo: Repository
    publisher: Publisher
    rules: Rules
    timers: Timers
    now: Clock = utc_now


# --- tickets arrive, change, leave ------------------------------------------------------------


def ticket_of(opened: TicketOpenedV1) -> Ticket:
    return Ticket(
        ticket_id=opened.ticket_id,
        channel=opened.channel,
        request_type=opened.request_type,
        priority=opened.priority,
        language=opened.language,
        opened_at=opened.occurred_at,
        tier=opened.customer.tier,
        product=opened.product,
        skills=dict(opened.skills),
    )


def _placed(ticket: Ticket, placement: Placement, at: datetime) -> Ticket:
    return replace(
        ticket,
        requirement=placement.requirement,
        rule_id=placement.rule_id,
        rule_version=placement.rule_version,
        step=placement.step,
        step_since=at,
    )


async def route_ticket(opened: TicketOpenedV1, desk: Desk) -> Routing:
    """Place a new ticket under its rule and offer it, or queue it; a redelivery repeats the
    same events."""
    ticket = ticket_of(opened)
    placement = desk.rules.place(ticket, timedelta(0))
    ticket = _placed(ticket, placement, opened.occurred_at)
    due = opened.occurred_at + placement.next_step_in if placement.next_step_in else None
    routing = await desk.repo.track(ticket, due)
    if routing.state is RoutingState.WAITING:
        offered = {r.ticket.ticket_id: r for r in await dispatch(desk)}
        routing = offered.get(ticket.ticket_id) or await desk.repo.get(ticket.ticket_id) or routing
        if routing.state is RoutingState.WAITING:
            await _announce_queued(routing, desk, "no eligible agent is free")
            _arm_step(routing, desk)
    elif routing.state in (RoutingState.OFFERED, RoutingState.ASSIGNED):
        await _announce(routing, desk)
    return routing


async def on_status_changed(changed: TicketStatusChangedV1, desk: Desk) -> None:
    """Solved or closed frees the agent's slot (and serves the queue); a reopened ticket waits
    again, preferring the agent who had it."""
    routing = await desk.repo.get(changed.ticket_id)
    if routing is None:
        log.info(
            "status change for a ticket routing never saw", extra={"ticket": changed.ticket_id}
        )
        return
    if changed.status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        await _close(routing, desk, changed.occurred_at)
    elif changed.reopened and routing.state is RoutingState.CLOSED:
        ticket = replace(
            routing.ticket,
            preferred_agent=routing.agent_id,
            declined_by=frozenset(),
            opened_at=changed.occurred_at,
        )
        placement = desk.rules.place(ticket, timedelta(0))
        ticket = _placed(ticket, placement, changed.occurred_at)
        reopened = await desk.repo.change(
            routing,
            ticket=ticket,
            state=RoutingState.WAITING,
            agent_id=None,
            offer_id=None,
            announced=False,
            next_step_at=_due(changed.occurred_at, placement),
            history=_history(changed.occurred_at, "reopened", agent=routing.agent_id),
        )
        if reopened is not None:
            await _announce_queued(reopened, desk, "reopened: its previous agent is preferred")
            _arm_step(reopened, desk)
    await dispatch(desk)


async def _close(routing: Routing, desk: Desk, at: datetime) -> None:
    for _ in range(DISPATCH_ROUNDS):
        if routing.state is RoutingState.CLOSED:
            break
        closed = await desk.repo.change(
            routing, state=RoutingState.CLOSED, history=_history(at, "closed")
        )
        if closed is not None:
            if routing.state is RoutingState.OFFERED:
                await _revoke(routing, desk, "ticket_closed", at)
            routing = closed
            break
        routing = await desk.repo.get(routing.ticket.ticket_id) or routing
    if routing.state is not RoutingState.CLOSED:
        raise RuntimeError(f"ticket {routing.ticket.ticket_id} kept changing while closing")
    if routing.agent_id is not None:  # also on a repeat: the first attempt may have stopped here
        await desk.repo.release(routing.agent_id, routing.ticket)
    desk.timers.cancel(_offer_timer(routing.ticket.ticket_id))
    desk.timers.cancel(_step_timer(routing.ticket.ticket_id))


async def transfer(request: TicketTransferRequestedV1, desk: Desk) -> None:
    """Move a ticket to another queue (tier 2, a specialist, a supervisor), keeping history."""
    routing = await desk.repo.get(request.ticket_id)
    if routing is None:
        raise PermanentError(f"routing does not know ticket {request.ticket_id}")
    if routing.state is RoutingState.CLOSED:
        return
    requirement = Requirement(
        queue=request.to_queue, team=request.to_queue, language=routing.ticket.language
    )
    ticket = replace(
        routing.ticket,
        requirement=requirement,
        step=0,
        step_since=request.occurred_at,
        declined_by=frozenset({request.agent_id}),
        preferred_agent=None,
    )
    moved = await desk.repo.change(
        routing,
        ticket=ticket,
        state=RoutingState.WAITING,
        agent_id=None,
        offer_id=None,
        announced=False,
        next_step_at=None,
        history=_history(
            request.occurred_at,
            request.kind,
            queue=request.to_queue,
            from_queue=routing.ticket.queue,
            agent=request.agent_id,
            reason=request.reason,
        ),
    )
    if moved is None:
        raise RuntimeError(f"ticket {request.ticket_id} changed during its transfer; retrying")
    if routing.agent_id is not None:
        await desk.repo.release(routing.agent_id, routing.ticket)
    if routing.state is RoutingState.OFFERED:
        await _revoke(routing, desk, "transferred", request.occurred_at)
    if request.kind == "escalate":
        history = await desk.repo.history(request.ticket_id)
        level = min(4, sum(1 for h in history if h.get("what") == "escalate"))
        await desk.publisher.publish(
            TicketEscalatedV1(
                event_id=derived_id(request.event_id, "escalated"),
                occurred_at=request.occurred_at,
                ticket_id=request.ticket_id,
                queue=request.to_queue,
                level=max(1, level),
                from_queue=routing.ticket.queue,
                reason=request.reason or "escalated by the agent",
            )
        )
    await _announce_queued(moved, desk, f"transferred to {request.to_queue}")
    await dispatch(desk)


# --- SLA: deadlines order the queue; warnings and breaches escalate ---------------------------


async def on_sla_applied(applied: SlaAppliedV1, desk: Desk) -> None:
    dues = [t.due_at for t in applied.targets if t.due_at is not None]
    routing = await desk.repo.get(applied.ticket_id)
    if routing is None or not dues or routing.ticket.deadline == min(dues):
        return
    await desk.repo.change(routing, ticket=replace(routing.ticket, deadline=min(dues)))


async def on_sla_alert(alert: SlaWarningV1 | SlaBreachedV1, desk: Desk) -> None:
    """A warning raises the ticket's priority; a breach can also move it to an escalation
    queue. Either way the queue is served again at once."""
    routing = await desk.repo.get(alert.ticket_id)
    if routing is None or routing.state is RoutingState.CLOSED:
        return
    kind: Literal["warning", "breach"] = "breach" if isinstance(alert, SlaBreachedV1) else "warning"
    if any(_same_alert(h, alert, kind) for h in await desk.repo.history(alert.ticket_id)):
        return  # a redelivery, or another warning of the same deadline: applied already
    decision = desk.rules.escalate(routing.ticket, kind)
    ticket = replace(routing.ticket, priority=decision.priority)
    moves = decision.queue is not None and routing.state is RoutingState.WAITING
    if moves:
        ticket = replace(
            ticket,
            requirement=Requirement(
                queue=decision.queue or routing.ticket.queue,
                skills=dict(routing.ticket.required_skills),
                team=decision.team or routing.ticket.requirement_team,
                language=routing.ticket.language,
            ),
        )
    if ticket == routing.ticket:
        return
    changed = await desk.repo.change(
        routing,
        ticket=ticket,
        history=_history(
            alert.occurred_at,
            f"sla_{kind}",
            metric=alert.metric.value,
            cycle=alert.cycle,
            event=alert.event_id,
        ),
    )
    if changed is None:
        raise RuntimeError(f"ticket {alert.ticket_id} changed during its escalation; retrying")
    await desk.publisher.publish(
        TicketEscalatedV1(
            event_id=derived_id(alert.event_id, "escalated"),
            occurred_at=alert.occurred_at,
            ticket_id=alert.ticket_id,
            queue=ticket.queue,
            level=1 if kind == "warning" else 2,
            from_queue=routing.ticket.queue if moves else None,
            reason=decision.why,
            rule_id=ticket.rule_id,
            rule_version=ticket.rule_version,
        )
    )
    await dispatch(desk)


def _same_alert(
    entry: dict[str, Any], alert: SlaWarningV1 | SlaBreachedV1, kind: Literal["warning", "breach"]
) -> bool:
    """An escalation already applied for this alert: the same event, or (a policy may warn at
    75 % and again 15 minutes before) the same kind of alert on the same deadline."""
    if entry.get("event") == alert.event_id:
        return True
    return (
        entry.get("what") == f"sla_{kind}"
        and entry.get("metric") == alert.metric.value
        and entry.get("cycle") == alert.cycle
    )


# --- agents -----------------------------------------------------------------------------------


async def update_profile(profile: AgentProfileChangedV1, desk: Desk) -> None:
    await desk.repo.save_profile(profile)
    await dispatch(desk)


async def update_presence(change: AgentPresenceChangedV1, desk: Desk) -> None:
    """Online serves the queue; away and offline hand back unaccepted offers (and, when the
    rules say so, an offline agent's open tickets)."""
    await desk.repo.set_presence(change.agent_id, change.presence)
    if change.presence is not Presence.ONLINE:
        for routing in await desk.repo.in_state(RoutingState.OFFERED, change.agent_id):
            await _return_to_queue(routing, desk, "agent_unavailable", change.occurred_at)
        if change.presence is Presence.OFFLINE and desk.rules.return_open_tickets_on_offline:
            for routing in await desk.repo.in_state(RoutingState.ASSIGNED, change.agent_id):
                await _return_to_queue(routing, desk, None, change.occurred_at)
    await dispatch(desk)


# --- offers -----------------------------------------------------------------------------------


async def accept_offer(accepted: OfferAcceptedV1, desk: Desk) -> Routing | None:
    routing = await desk.repo.get(accepted.ticket_id)
    if routing is None:
        raise PermanentError(f"routing does not know ticket {accepted.ticket_id}")
    if routing.state is RoutingState.ASSIGNED and routing.offer_id == accepted.offer_id:
        await _announce(routing, desk)  # a redelivered acceptance: the same event again
        return routing
    if routing.state is not RoutingState.OFFERED or routing.offer_id != accepted.offer_id:
        log.info("acceptance of an offer no longer open", extra={"ticket": accepted.ticket_id})
        return None
    assigned = await desk.repo.change(
        routing,
        state=RoutingState.ASSIGNED,
        assigned_at=accepted.occurred_at,
        announced=False,
        history=_history(accepted.occurred_at, "accepted", agent=routing.agent_id),
    )
    if assigned is None:
        raise RuntimeError(f"ticket {accepted.ticket_id} changed during acceptance; retrying")
    desk.timers.cancel(_offer_timer(accepted.ticket_id))
    await _announce(assigned, desk)
    return assigned


async def decline_offer(declined: OfferDeclinedV1, desk: Desk) -> None:
    routing = await desk.repo.get(declined.ticket_id)
    if routing is None or routing.offer_id != declined.offer_id:
        return
    if routing.state is RoutingState.OFFERED:
        await _return_to_queue(routing, desk, "declined", declined.occurred_at)
    await dispatch(desk)


async def expire_offer(ticket_id: str, offer_id: str, desk: Desk) -> None:
    """The offer's timer fired: hand the ticket to the next candidate."""
    routing = await desk.repo.get(ticket_id)
    if routing is None or routing.state is not RoutingState.OFFERED:
        return
    if routing.offer_id != offer_id:
        return
    await _return_to_queue(routing, desk, "timed_out", desk.now())
    await dispatch(desk)


async def advance_step(ticket_id: str, step: int, desk: Desk) -> None:
    """The ticket waited long enough: relax its rule to the next step and serve it again."""
    routing = await desk.repo.get(ticket_id)
    if routing is None or routing.state is not RoutingState.WAITING:
        return
    if routing.ticket.step != step:
        return
    now = desk.now()
    started = routing.ticket.opened_at
    placement = desk.rules.place(routing.ticket, now - started)
    if placement.step <= step:
        return
    ticket = _placed(routing.ticket, placement, now)
    moved = await desk.repo.change(
        routing,
        ticket=ticket,
        next_step_at=_due(started, placement),
        history=_history(now, "step", step=placement.step, queue=placement.requirement.queue),
    )
    if moved is None:
        return  # someone else moved it: their change re-armed what is due
    await dispatch(desk)
    moved = await desk.repo.get(ticket_id) or moved
    if moved.state is RoutingState.WAITING:
        await _announce_queued(moved, desk, placement.why)
        _arm_step(moved, desk)


async def _return_to_queue(
    routing: Routing, desk: Desk, cause: RevokeCause | None, at: datetime
) -> None:
    declined = routing.ticket.declined_by
    if cause in ("declined", "timed_out") and routing.agent_id:
        declined = declined | {routing.agent_id}
    back = await desk.repo.change(
        routing,
        ticket=replace(routing.ticket, declined_by=declined),
        state=RoutingState.WAITING,
        agent_id=None,
        offer_id=None,
        offer_expires_at=None,
        announced=False,
        history=_history(at, cause or "returned", agent=routing.agent_id),
    )
    if back is None:
        return  # accepted, closed or moved meanwhile: that change wins
    if routing.agent_id is not None:
        await desk.repo.release(routing.agent_id, routing.ticket)
    desk.timers.cancel(_offer_timer(routing.ticket.ticket_id))
    if cause is not None and routing.state is RoutingState.OFFERED:
        await _revoke(routing, desk, cause, at)
    await _announce_queued(back, desk, f"back in the queue: {cause or 'agent went offline'}")
    _arm_step(back, desk)


# --- serving the queue ------------------------------------------------------------------------


async def dispatch(desk: Desk) -> list[Routing]:
    """Repair what a crash left, then offer waiting tickets while agents have room."""
    offered = await _announce_unannounced(desk)
    agents = await desk.repo.agents()
    if await _free_orphan_slots(agents, desk):
        agents = await desk.repo.agents()
    for _ in range(DISPATCH_ROUNDS):
        if not any(a.presence is Presence.ONLINE for a in agents):
            break
        waiting = {r.ticket.ticket_id: r for r in await desk.repo.waiting()}
        tickets = [r.ticket for r in waiting.values()]
        matches = plan(tickets, agents, desk.rules.capacity, desk.now(), desk.rules.strategy)
        lost_race = False
        for match in matches:
            routing = await _offer(waiting[match.ticket.ticket_id], match.agent, match.choice, desk)
            if routing is None:
                lost_race = True
            else:
                offered.append(routing)
        if not lost_race:
            break
        agents = await desk.repo.agents()
    else:
        # Every round lost a race to another writer: serve again in a moment instead of leaving
        # the rest for a trigger that may not come.
        async def again() -> None:
            await dispatch(desk)

        desk.timers.schedule("dispatch:retry", desk.now() + RETRY_LOST_RACE, again)
    return offered


async def _offer(current: Routing, agent: Agent, choice: Choice, desk: Desk) -> Routing | None:
    """Take the agent's slot, then move the ticket from the version the plan read to offered;
    whichever step loses a race gives the slot back and leaves the ticket to the re-plan."""
    now = desk.now()
    ticket = current.ticket
    if not await desk.repo.reserve(agent, ticket, now):
        return None
    offer_id = offer_id_for(ticket.ticket_id, agent.agent_id, current.version)
    expires = now + desk.rules.offer_timeout(ticket.channel)
    offered = await desk.repo.change(
        current,
        state=RoutingState.OFFERED,
        agent_id=agent.agent_id,
        team=agent.team,
        offer_id=offer_id,
        offer_expires_at=expires,
        next_step_at=None,
        announced=False,
        reason=_reason(choice, current.ticket).model_dump(mode="json"),
        history=_history(now, "offered", agent=agent.agent_id, offer=offer_id),
    )
    if offered is None:
        await desk.repo.release(agent.agent_id, ticket)
        return None
    desk.timers.cancel(_step_timer(ticket.ticket_id))
    await _announce(offered, desk)
    return offered


async def _announce_unannounced(desk: Desk) -> list[Routing]:
    """Publish offers and assignments stored by a replica that stopped before publishing."""
    repaired = await desk.repo.unannounced()
    for routing in repaired:
        await _announce(routing, desk)
    return repaired


async def _free_orphan_slots(agents: list[Agent], desk: Desk) -> bool:
    """Free slots that a crash left without a matching offer or assignment (the queue gets them
    back); True when it freed any."""
    held = {ticket_id for agent in agents for ticket_id in agent.active}
    if not held:
        return False
    found = reconcile(agents, await desk.repo.find(held), desk.now())
    freed = False
    for routing, agent in found.release + found.adopt:
        freed = await desk.repo.release(agent.agent_id, routing.ticket) or freed
    return freed


async def recover(desk: Desk) -> int:
    """At start: re-arm every pending offer expiry and rule step (the timers are in MongoDB,
    so a restart or the loss of another replica loses none). Returns how many."""
    pending = await desk.repo.with_timers()
    for routing in pending:
        if routing.state is RoutingState.OFFERED:
            _arm_offer(routing, desk)
        else:
            _arm_step(routing, desk)
    log.info("re-armed routing timers", extra={"timers": len(pending)})
    return len(pending)


# --- events, timers, helpers ------------------------------------------------------------------


def _offer_timer(ticket_id: str) -> str:
    return f"offer:{ticket_id}"


def _step_timer(ticket_id: str) -> str:
    return f"step:{ticket_id}"


def _arm_offer(routing: Routing, desk: Desk) -> None:
    if routing.offer_expires_at is None or routing.offer_id is None:
        return
    ticket_id, offer_id = routing.ticket.ticket_id, routing.offer_id

    async def fire() -> None:
        await expire_offer(ticket_id, offer_id, desk)

    desk.timers.schedule(_offer_timer(ticket_id), routing.offer_expires_at, fire)


def _arm_step(routing: Routing, desk: Desk) -> None:
    if routing.next_step_at is None:
        return
    ticket_id, step = routing.ticket.ticket_id, routing.ticket.step

    async def fire() -> None:
        await advance_step(ticket_id, step, desk)

    desk.timers.schedule(_step_timer(ticket_id), routing.next_step_at, fire)


def _due(started: datetime, placement: Placement) -> datetime | None:
    return started + placement.next_step_in if placement.next_step_in is not None else None


def _history(at: datetime, what: str, **details: Any) -> dict[str, Any]:
    return {"at": at, "what": what, **{k: v for k, v in details.items() if v is not None}}


def _reason(choice: Choice, ticket: Ticket) -> RoutingReason:
    return RoutingReason(
        step=ticket.step,
        candidates=choice.candidates,
        scores=choice.scores,
        why=f"rule {ticket.rule_id or '-'} step {ticket.step}: {choice.why}"[:1000],
    )


async def _announce(routing: Routing, desk: Desk) -> None:
    """Publish the event of the ticket's current state (same id on every repeat)."""
    event: TicketOfferedV1 | TicketAssignedV1
    reason = RoutingReason.model_validate(routing.reason) if routing.reason else None
    ticket = routing.ticket
    assert routing.agent_id is not None, "only an offered or assigned ticket is announced"
    if routing.state is RoutingState.OFFERED:
        assert routing.offer_id is not None
        assert routing.offer_expires_at is not None
        event = TicketOfferedV1(
            event_id=derived_id(ticket.ticket_id, "offered", routing.offer_id),
            occurred_at=routing.offer_expires_at - desk.rules.offer_timeout(ticket.channel),
            ticket_id=ticket.ticket_id,
            queue=ticket.queue,
            rule_id=ticket.rule_id,
            rule_version=ticket.rule_version,
            offer_id=routing.offer_id,
            agent_id=routing.agent_id,
            expires_at=routing.offer_expires_at,
            reason=reason,
        )
        _arm_offer(routing, desk)
    else:
        event = TicketAssignedV1(
            event_id=assigned_event_id(ticket.ticket_id, routing.offer_id or routing.agent_id),
            occurred_at=routing.assigned_at or desk.now(),
            ticket_id=ticket.ticket_id,
            queue=ticket.queue,
            rule_id=ticket.rule_id,
            rule_version=ticket.rule_version,
            agent_id=routing.agent_id,
            offer_id=routing.offer_id,
            team=routing.team,
            reason=reason,
        )
    await desk.publisher.publish(event)
    if not routing.announced:
        await desk.repo.mark_announced(routing)


async def _announce_queued(routing: Routing, desk: Desk, why: str) -> None:
    ticket = routing.ticket
    waiting = await desk.repo.waiting()
    ids = [r.ticket.ticket_id for r in waiting]
    await desk.publisher.publish(
        TicketQueuedV1(
            event_id=queued_event_id(ticket.ticket_id, routing.version),
            occurred_at=ticket.step_since or ticket.opened_at,
            ticket_id=ticket.ticket_id,
            queue=ticket.queue,
            rule_id=ticket.rule_id,
            rule_version=ticket.rule_version,
            required_skills=ticket.required_skills,
            position=ids.index(ticket.ticket_id) if ticket.ticket_id in ids else None,
            step=ticket.step,
            reason=why[:1000],
        )
    )


async def _revoke(routing: Routing, desk: Desk, cause: RevokeCause, at: datetime) -> None:
    assert routing.offer_id is not None
    assert routing.agent_id is not None
    await desk.publisher.publish(
        TicketOfferRevokedV1(
            event_id=derived_id(routing.ticket.ticket_id, "revoked", routing.offer_id),
            occurred_at=at,
            ticket_id=routing.ticket.ticket_id,
            queue=routing.ticket.queue,
            rule_id=routing.ticket.rule_id,
            rule_version=routing.ticket.rule_version,
            offer_id=routing.offer_id,
            agent_id=routing.agent_id,
            cause=cause,
        )
    )
