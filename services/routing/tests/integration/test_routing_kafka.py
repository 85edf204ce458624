"""routing on a real Kafka broker and a real MongoDB-wire server: offers that lapse, declines,
presence hand-back, the queue served the moment capacity frees, rule steps relaxing on time,
and three replicas (one killed mid-stream) that never overbook an agent nor lose a ticket.

Agents, tickets and the workspace's answers are published on the real topics with CloudEvents
headers; what routing decides is read back from ``routing.events.v1``."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

import pytest
from opora_routing.adapters.repository import MongoRepository
from opora_routing.domain.model import RoutingState
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerRef, RequestType, TicketStatus
from opora_shared.contracts.routing import (
    TicketAssignedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketQueuedV1,
)
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import ROUTING
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    Presence,
)
from opora_shared.testing import KafkaTail, Seen

from .conftest import Publish, online, processes, running

pytestmark = pytest.mark.integration

E = TypeVar("E", bound=Event)

LONG_OFFER_S = 30
"""An offer timeout no test waits for, where only the agent's answer should end an offer."""


def ids() -> str:
    return uuid.uuid4().hex[:8]


def agent(
    agent_id: str, *, chat: int = 1, skills: dict[str, int] | None = None
) -> AgentProfileChangedV1:
    return AgentProfileChangedV1(
        agent_id=agent_id,
        name=agent_id,
        skills={"general": 3} if skills is None else skills,
        languages=("ru", "en"),
        teams=("tier1",),
        capacity={Channel.CHAT: chat},
    )


def opened(ticket_id: str, request_type: RequestType = RequestType.OTHER) -> TicketOpenedV1:
    return TicketOpenedV1(
        ticket_id=ticket_id,
        number=f"OP-{ticket_id}",
        channel=Channel.CHAT,
        customer=CustomerRef(customer_id=f"cus-{ticket_id}"),
        request_type=request_type,
        language="ru",
        source_message_id=f"msg-{ticket_id}",
        skills={"general": 1},  # what the default rule asks of an agent
    )


def solved(ticket_id: str, agent_id: str) -> TicketStatusChangedV1:
    return TicketStatusChangedV1(
        ticket_id=ticket_id,
        status=TicketStatus.SOLVED,
        previous_status=TicketStatus.OPEN,
        agent_id=agent_id,
    )


def accepting(offer: TicketOfferedV1) -> OfferAcceptedV1:
    return OfferAcceptedV1(
        ticket_id=offer.ticket_id, agent_id=offer.agent_id, offer_id=offer.offer_id
    )


def declining(offer: TicketOfferedV1) -> OfferDeclinedV1:
    return OfferDeclinedV1(
        ticket_id=offer.ticket_id, agent_id=offer.agent_id, offer_id=offer.offer_id
    )


def distinct(events: Iterable[Event]) -> list[Event]:
    """Events without their redeliveries (a repeat carries the same event id)."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            kept.append(event)
    return kept


async def await_events(
    tail: KafkaTail, event_type: type[E], ticket_id: str, *, count: int = 1, timeout_s: float = 20
) -> list[E]:
    """The first ``count`` distinct events of ``event_type`` about ``ticket_id``, in order."""

    def about(seen: Seen) -> bool:
        return isinstance(seen.event, event_type) and seen.event.ticket_id == ticket_id

    def found() -> list[E]:
        return distinct(s.event for s in tail.seen if about(s))  # type: ignore[misc]

    deadline = time.monotonic() + timeout_s
    while len(found()) < count:
        so_far = sum(1 for s in tail.seen if about(s))
        await tail.wait_for(about, count=so_far + 1, timeout_s=deadline - time.monotonic())
    return found()[:count]


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


async def test_an_unanswered_offer_times_out_and_goes_to_the_next_agent(
    settings_for, publish, repo, infra
) -> None:
    run = ids()
    ticket = f"t-{run}"
    async with KafkaTail(infra.bootstrap_servers, ROUTING.name) as tail, running(settings_for()):
        await online(publish, repo, agent(f"anna-{run}"), agent(f"boris-{run}"))
        await publish(opened(ticket))
        [first, second] = await await_events(tail, TicketOfferedV1, ticket, count=2)
        [revoked] = await await_events(tail, TicketOfferRevokedV1, ticket)

    assert (revoked.cause, revoked.offer_id) == ("timed_out", first.offer_id)
    assert 2.0 <= seconds(revoked.occurred_at, first.occurred_at) < 3.5
    assert second.agent_id != first.agent_id


async def test_a_declined_offer_goes_to_the_next_agent_and_never_back(
    settings_for, publish, repo, infra
) -> None:
    run = ids()
    ticket, later = f"t-{run}-1", f"t-{run}-2"
    settings = settings_for(offer_timeout_s=LONG_OFFER_S)
    async with KafkaTail(infra.bootstrap_servers, ROUTING.name) as tail, running(settings):
        await online(publish, repo, agent(f"anna-{run}"), agent(f"boris-{run}"))
        await publish(opened(ticket))
        [first] = await await_events(tail, TicketOfferedV1, ticket)
        await publish(declining(first))
        [_, second] = await await_events(tail, TicketOfferedV1, ticket, count=2)
        await publish(declining(second))
        await await_events(tail, TicketQueuedV1, ticket, count=2)  # after each decline
        # Both agents are free again: a new ticket makes routing serve the whole queue.
        await publish(opened(later))
        await await_events(tail, TicketOfferedV1, later)

    causes = [r.cause for r in tail.events(TicketOfferRevokedV1) if r.ticket_id == ticket]
    assert causes == ["declined", "declined"]
    assert second.agent_id != first.agent_id
    stored = await repo.get(ticket)
    assert stored is not None
    assert stored.state is RoutingState.WAITING
    assert stored.ticket.declined_by == {first.agent_id, second.agent_id}
    offers = distinct(e for e in tail.events(TicketOfferedV1) if e.ticket_id == ticket)
    assert offers == [first, second]


async def test_an_agent_going_offline_hands_back_an_unaccepted_offer(
    settings_for, publish, repo, infra
) -> None:
    run = ids()
    ticket = f"t-{run}"
    settings = settings_for(offer_timeout_s=LONG_OFFER_S)
    async with KafkaTail(infra.bootstrap_servers, ROUTING.name) as tail, running(settings):
        await online(publish, repo, agent(f"anna-{run}"), agent(f"boris-{run}"))
        await publish(opened(ticket))
        [first] = await await_events(tail, TicketOfferedV1, ticket)
        await publish(AgentPresenceChangedV1(agent_id=first.agent_id, presence=Presence.OFFLINE))
        [revoked] = await await_events(tail, TicketOfferRevokedV1, ticket)
        [_, second] = await await_events(tail, TicketOfferedV1, ticket, count=2)

    assert (revoked.cause, revoked.offer_id) == ("agent_unavailable", first.offer_id)
    assert second.agent_id != first.agent_id
    gone = {a.agent_id: a for a in await repo.agents()}[first.agent_id]
    assert (gone.presence, gone.load.get(Channel.CHAT), gone.active) == (
        Presence.OFFLINE,
        0,
        frozenset(),
    )


async def test_a_waiting_ticket_is_offered_the_moment_capacity_frees(
    settings_for, publish, repo, infra
) -> None:
    run = ids()
    anna, first, waiting = f"anna-{run}", f"t-{run}-1", f"t-{run}-2"
    settings = settings_for(offer_timeout_s=LONG_OFFER_S)
    async with KafkaTail(infra.bootstrap_servers, ROUTING.name) as tail, running(settings):
        await online(publish, repo, agent(anna, chat=1))
        await publish(opened(first))
        [offer] = await await_events(tail, TicketOfferedV1, first)
        await publish(accepting(offer))
        await await_events(tail, TicketAssignedV1, first)
        await publish(opened(waiting))
        [queued] = await await_events(tail, TicketQueuedV1, waiting)
        done = solved(first, anna)
        await publish(done)
        [drained] = await await_events(tail, TicketOfferedV1, waiting)

    assert queued.reason == "no eligible agent is free"
    assert drained.agent_id == anna
    assert seconds(drained.occurred_at, done.occurred_at) < 3


async def test_a_waiting_ticket_relaxes_to_its_next_step_when_due_and_is_offered(
    settings_for, publish, repo, infra
) -> None:
    run = ids()
    ticket, vera = f"t-{run}", f"vera-{run}"
    async with KafkaTail(infra.bootstrap_servers, ROUTING.name) as tail, running(settings_for()):
        # Not the expert step 0 asks for (warranty 4), but enough for step 1 (warranty 2).
        await online(publish, repo, agent(vera, skills={"warranty": 2}))
        arrival = opened(ticket, RequestType.WARRANTY)
        await publish(arrival)
        [queued] = await await_events(tail, TicketQueuedV1, ticket)
        [offer] = await await_events(tail, TicketOfferedV1, ticket)

    assert (queued.step, queued.required_skills) == (0, {"warranty": 4})
    assert offer.agent_id == vera
    assert offer.reason is not None
    assert offer.reason.step == 1
    # MongoDB keeps milliseconds: the due time counts from the arrival cut to the millisecond.
    assert 2.0 - 0.001 <= seconds(offer.occurred_at, arrival.occurred_at) < 3.0


# --- three replicas, one killed mid-stream ----------------------------------------------------


class Workspace:
    """The agents' side of the test: accepts every offer at once and solves the tickets in
    ``solving`` right after their assignment, recording what it published."""

    def __init__(self, tail: KafkaTail, publish: Publish, ours: str, solving: set[str]) -> None:
        self.tail = tail
        self.publish = publish
        self.ours = ours
        self.solving = solving
        self.accepted: set[str] = set()
        self.assigned: dict[str, str] = {}
        self.solved: dict[str, TicketStatusChangedV1] = {}

    async def run(self) -> None:
        handled = 0
        while True:
            await self.tail.wait_for(lambda _: True, count=handled + 1, timeout_s=3600)
            fresh, handled = self.tail.seen[handled:], len(self.tail.seen)
            for seen in fresh:
                if getattr(seen.event, "ticket_id", "").startswith(self.ours):
                    await self.answer(seen.event)

    async def answer(self, event: Event | None) -> None:
        if isinstance(event, TicketOfferedV1) and event.offer_id not in self.accepted:
            self.accepted.add(event.offer_id)
            await self.publish(accepting(event))
        elif isinstance(event, TicketAssignedV1) and event.ticket_id not in self.assigned:
            self.assigned[event.ticket_id] = event.agent_id
            if event.ticket_id in self.solving:
                done = solved(event.ticket_id, event.agent_id)
                self.solved[event.ticket_id] = done
                await self.publish(done)


async def until(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


async def settle(
    repo: MongoRepository, tickets: list[str], expected: Counter[RoutingState], timeout_s: float
) -> Counter[RoutingState]:
    """The tickets' states once they are ``expected``, or as they are after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = Counter(r.state for r in (await repo.find(tickets)).values())
        if states == expected or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.25)


def most_held(events: list[Event], solved: dict[str, TicketStatusChangedV1]) -> dict[str, int]:
    """Per agent, the most tickets it held at once: each offer holds a slot from its offer
    until its revocation or, once accepted, its ticket's solving. Both ends are stamped no
    later than routing freed the slot, and a new offer is stamped after its slot was taken."""
    offers = distinct(e for e in events if isinstance(e, TicketOfferedV1))
    revoked = {e.offer_id: e.occurred_at for e in events if isinstance(e, TicketOfferRevokedV1)}
    accepted = {e.offer_id for e in events if isinstance(e, TicketAssignedV1)}
    changes: list[tuple[datetime, int, str]] = []
    for offer in offers:
        end = revoked.get(offer.offer_id)
        if end is None and offer.offer_id in accepted and offer.ticket_id in solved:
            end = solved[offer.ticket_id].occurred_at
        changes.append((offer.occurred_at, +1, offer.agent_id))
        if end is not None:
            changes.append((end, -1, offer.agent_id))
    held: Counter[str] = Counter()
    most: Counter[str] = Counter()
    for _, delta, agent_id in sorted(changes):  # at the same instant, a release comes first
        held[agent_id] += delta
        most[agent_id] = max(most[agent_id], held[agent_id])
    return dict(most)


def double_offers(events: list[Event]) -> dict[str, list[str]]:
    """Tickets that were on offer to two agents at once, in their partition's order."""
    open_offers: dict[str, set[str]] = defaultdict(set)
    doubled: dict[str, list[str]] = {}
    for event in distinct(events):
        if isinstance(event, TicketOfferedV1):
            open_offers[event.ticket_id].add(event.offer_id)
            if len(open_offers[event.ticket_id]) > 1:
                doubled[event.ticket_id] = sorted(open_offers[event.ticket_id])
        elif isinstance(event, TicketOfferRevokedV1 | TicketAssignedV1) and event.offer_id:
            open_offers[event.ticket_id].discard(event.offer_id)
    return doubled


async def test_three_replicas_one_killed_mid_stream_never_overbook_nor_lose_a_ticket(
    settings_for, publish, repo, infra, tmp_path
) -> None:
    run = ids()
    capacity = 2
    agents = [agent(f"agent-{run}-{n}", chat=capacity) for n in range(5)]
    tickets = [f"t-{run}-{n:02d}" for n in range(40)]
    kept = set(tickets[3::4])  # 10 tickets stay with their agents: in the end every slot is held
    served = Counter({RoutingState.CLOSED: 30, RoutingState.ASSIGNED: 10})
    settings = settings_for(offer_timeout_s=15)
    async with (
        KafkaTail(infra.bootstrap_servers, ROUTING.name) as tail,
        processes(settings, tmp_path, count=3) as replicas,
    ):
        await online(publish, repo, *agents)
        workspace = Workspace(tail, publish, f"t-{run}-", set(tickets) - kept)
        answering = asyncio.create_task(workspace.run())
        try:
            for ticket in tickets:
                await publish(opened(ticket))
            await until(lambda: len(workspace.assigned) >= 12, "12 assignments", 30)
            replicas[1].kill()
            replicas[1].start()
            await replicas[1].ready()
            states = await settle(repo, tickets, served, timeout_s=30)
        finally:
            answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering  # raises what made the workspace stop, if anything did

    stored = await repo.find(tickets)
    events = [s.event for s in tail.seen if getattr(s.event, "ticket_id", None) in stored]
    assert sorted(stored) == tickets  # routing knows every ticket
    queued = {e.ticket_id for e in events if isinstance(e, TicketQueuedV1)}
    unannounced = [
        t for t, r in stored.items() if r.state is RoutingState.WAITING and t not in queued
    ]
    assert unannounced == []

    overbooked = {a: n for a, n in most_held(events, workspace.solved).items() if n > capacity}
    assert overbooked == {}
    assert double_offers(events) == {}
    assignments: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if isinstance(event, TicketAssignedV1):
            assignments[event.ticket_id].add(event.event_id)
    assert {t: ids for t, ids in assignments.items() if len(ids) > 1} == {}

    holding: dict[str, set[str]] = {a.agent_id: set() for a in agents}
    for routing in stored.values():
        if routing.state in (RoutingState.OFFERED, RoutingState.ASSIGNED):
            holding[str(routing.agent_id)].add(routing.ticket.ticket_id)
    slots = {a.agent_id: (a.load.get(Channel.CHAT, 0), set(a.active)) for a in await repo.agents()}
    assert slots == {a: (len(held), held) for a, held in holding.items()}
    assert states == served
