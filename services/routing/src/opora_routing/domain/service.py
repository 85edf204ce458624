"""routing's use cases as plain functions over the ports: route, release, follow agents, dispatch.

Without transactions every step is a single-document conditional write, ordered so that a crash
between two steps leaves a state the next run completes:

1. ``track`` the ticket as waiting (upsert keyed by ticket id);
2. ``reserve`` a slot on the chosen agent (conditional update on the agent document);
3. ``claim`` the ticket for that agent (waiting → assigned, conditional);
4. publish TicketAssignedV1 (id derived from ticket and agent), then ``mark_announced``.

A slot reserved for a ticket that still waits is adopted by the next dispatch; a slot held for a
ticket that went elsewhere or closed is released; an assignment not yet announced is published
again. Any trigger — a ticket, a release, an agent event, a redelivery — runs that repair.
"""

from __future__ import annotations

import logging
from datetime import datetime

from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.routing import TicketAssignedV1, TicketQueuedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    Presence,
)
from opora_shared.ports import Clock, Publisher

from opora_routing.domain.model import (
    Agent,
    Routing,
    RoutingState,
    Ticket,
    assigned_event_id,
    plan,
    queue_order,
    queued_event_id,
    reconcile,
)
from opora_routing.domain.ports import Repository

log = logging.getLogger(__name__)

DISPATCH_ROUNDS = 3
"""Re-plans after a reservation lost a race, before leaving the rest to the next trigger."""

_RELEASING = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})


def ticket_of(opened: TicketOpenedV1) -> Ticket:
    return Ticket(
        ticket_id=opened.ticket_id,
        channel=opened.channel,
        request_type=opened.request_type,
        priority=opened.priority,
        language=opened.language,
        opened_at=opened.occurred_at,
    )


async def route_ticket(
    opened: TicketOpenedV1, repo: Repository, publisher: Publisher, now: Clock = utc_now
) -> Routing:
    """Assign a new ticket to the best agent, or queue it; a redelivery repeats the same event."""
    routing = await repo.track(ticket_of(opened))
    if routing.state is RoutingState.WAITING:
        for assigned in await dispatch(repo, publisher, now):
            if assigned.ticket.ticket_id == opened.ticket_id:
                return assigned  # announced by dispatch
        routing = await repo.get(opened.ticket_id) or routing
        if routing.state is RoutingState.WAITING:
            await publisher.publish(await _queued_event(routing, repo))
            return routing
    if routing.agent_id is not None:  # assigned before, or closed since: same event, same id
        await _announce(routing, repo, publisher)
    return routing


async def release_ticket(
    changed: TicketStatusChangedV1, repo: Repository, publisher: Publisher, now: Clock = utc_now
) -> None:
    """A solved or closed ticket frees its agent's slot, which goes to the queue at once."""
    if changed.status not in _RELEASING:
        return
    routing = await repo.get(changed.ticket_id)
    if routing is None:
        log.info(
            "status change for a ticket routing never saw", extra={"ticket": changed.ticket_id}
        )
        return
    if routing.agent_id is not None:
        await repo.release(routing.agent_id, routing.ticket)
    if routing.state is not RoutingState.CLOSED:
        await repo.close(changed.ticket_id)
    # Always, even when the release above was a no-op: the first run may have stopped here.
    await dispatch(repo, publisher, now)


async def update_profile(
    profile: AgentProfileChangedV1, repo: Repository, publisher: Publisher, now: Clock = utc_now
) -> None:
    await repo.save_profile(profile)
    await dispatch(repo, publisher, now)


async def update_presence(
    change: AgentPresenceChangedV1, repo: Repository, publisher: Publisher, now: Clock = utc_now
) -> None:
    await repo.set_presence(change.agent_id, change.presence)
    if change.presence is Presence.ONLINE:
        await dispatch(repo, publisher, now)


async def dispatch(repo: Repository, publisher: Publisher, now: Clock = utc_now) -> list[Routing]:
    """Repair what a crash left, then assign waiting tickets while agents have room."""
    assigned = await _repair(repo, publisher, now)
    for _ in range(DISPATCH_ROUNDS):
        agents = await repo.agents()
        if not any(a.presence is Presence.ONLINE for a in agents):
            break
        waiting = [r.ticket for r in await repo.waiting()]
        matches = plan(waiting, agents, now())
        lost_race = False
        for match in matches:
            routing = await _assign(match.ticket, match.agent, repo, publisher, now())
            if routing is None:
                lost_race = True
            else:
                assigned.append(routing)
        if not lost_race:
            break
    return assigned


async def _assign(
    ticket: Ticket, agent: Agent, repo: Repository, publisher: Publisher, at: datetime
) -> Routing | None:
    if not await repo.reserve(agent, ticket, at):
        return None
    return await _complete(ticket.ticket_id, agent, repo, publisher, at)


async def _complete(
    ticket_id: str, agent: Agent, repo: Repository, publisher: Publisher, at: datetime
) -> Routing | None:
    """Record the assignment the agent's slot was reserved for, and announce it."""
    routing = await repo.claim(ticket_id, agent.agent_id, agent.team, at)
    if routing is None:
        current = await repo.get(ticket_id)
        if current is None or current.agent_id != agent.agent_id:
            if current is not None:
                await repo.release(agent.agent_id, current.ticket)
            return None
        routing = current
    await _announce(routing, repo, publisher)
    return routing


async def _announce(routing: Routing, repo: Repository, publisher: Publisher) -> None:
    await publisher.publish(assigned_event(routing))
    if not routing.announced:
        await repo.mark_announced(routing.ticket.ticket_id)


async def _repair(repo: Repository, publisher: Publisher, now: Clock) -> list[Routing]:
    """Announce what was not announced; adopt or free slots a crash left behind."""
    announced = await repo.unannounced()
    for routing in announced:
        await _announce(routing, repo, publisher)
    agents = await repo.agents()
    held = {ticket_id for agent in agents for ticket_id in agent.active}
    if not held:
        return announced
    found = reconcile(agents, await repo.find(held))
    for routing, agent in found.release:
        await repo.release(agent.agent_id, routing.ticket)
    for routing, agent in found.adopt:
        adopted = await _complete(routing.ticket.ticket_id, agent, repo, publisher, now())
        if adopted is not None:
            announced.append(adopted)
    return announced


def assigned_event(routing: Routing) -> TicketAssignedV1:
    assert routing.agent_id is not None, "only an assigned ticket has an assigned event"
    assert routing.assigned_at is not None
    return TicketAssignedV1(
        event_id=assigned_event_id(routing.ticket.ticket_id, routing.agent_id),
        occurred_at=routing.assigned_at,
        ticket_id=routing.ticket.ticket_id,
        queue=routing.ticket.queue,
        agent_id=routing.agent_id,
        team=routing.team,
    )


async def _queued_event(routing: Routing, repo: Repository) -> TicketQueuedV1:
    order = queue_order(r.ticket for r in await repo.waiting())
    ids = [t.ticket_id for t in order]
    ticket = routing.ticket
    return TicketQueuedV1(
        event_id=queued_event_id(ticket.ticket_id),
        occurred_at=ticket.opened_at,
        ticket_id=ticket.ticket_id,
        queue=ticket.queue,
        required_skills=ticket.required_skills,
        position=ids.index(ticket.ticket_id) if ticket.ticket_id in ids else None,
    )
