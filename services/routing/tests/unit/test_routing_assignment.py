"""Routing's use cases over fakes: assign or queue, release, dispatch, idempotency, repair."""

from __future__ import annotations

import pytest
from opora_routing.domain.model import RoutingState, assigned_event_id, queued_event_id
from opora_routing.domain.service import (
    dispatch,
    release_ticket,
    route_ticket,
    update_presence,
    update_profile,
)
from opora_shared.contracts.common import Channel, Priority, RequestType, TicketStatus
from opora_shared.contracts.routing import TicketAssignedV1, TicketQueuedV1
from opora_shared.contracts.tickets import TicketStatusChangedV1
from opora_shared.contracts.workspace import AgentPresenceChangedV1, Presence

from ..conftest import T0, opened, profile


def now():
    return T0


async def online(repo, publisher, agent_id: str, **profile_fields) -> None:
    await update_profile(profile(agent_id, **profile_fields), repo, publisher, now)
    await update_presence(
        AgentPresenceChangedV1(agent_id=agent_id, presence=Presence.ONLINE), repo, publisher, now
    )


def solved(ticket_id: str) -> TicketStatusChangedV1:
    return TicketStatusChangedV1(
        ticket_id=ticket_id, status=TicketStatus.SOLVED, previous_status=TicketStatus.OPEN
    )


async def test_a_new_ticket_is_assigned_to_a_qualified_agent(repo, publisher) -> None:
    await online(repo, publisher, "anna", teams=("tier1-appliances",))

    await route_ticket(opened("t-1"), repo, publisher, now)

    [event] = publisher.published
    assert isinstance(event, TicketAssignedV1)
    assert (event.ticket_id, event.agent_id, event.queue) == ("t-1", "anna", "warranty")
    assert event.team == "tier1-appliances"
    assert event.event_id == assigned_event_id("t-1", "anna")
    assert repo.agent_state["anna"].load == {Channel.CHAT: 1}


async def test_a_ticket_nobody_can_take_is_queued_with_its_required_skill(repo, publisher) -> None:
    routing = await route_ticket(opened("t-1"), repo, publisher, now)

    [event] = publisher.published
    assert isinstance(event, TicketQueuedV1)
    assert event.queue == "warranty"
    assert event.required_skills == {"warranty": 1}
    assert event.position == 0
    assert event.event_id == queued_event_id("t-1")
    assert routing.state is RoutingState.WAITING


async def test_a_redelivered_opening_republishes_the_same_assignment_and_changes_nothing(
    repo, publisher
) -> None:
    await online(repo, publisher, "anna")
    await route_ticket(opened("t-1"), repo, publisher, now)
    state_after_first = dict(repo.agent_state)

    await route_ticket(opened("t-1"), repo, publisher, now)

    first, again = publisher.published
    assert again == first
    assert repo.agent_state == state_after_first


async def test_a_redelivered_opening_of_a_waiting_ticket_republishes_the_same_queued_event(
    repo, publisher
) -> None:
    await route_ticket(opened("t-1"), repo, publisher, now)
    await route_ticket(opened("t-1"), repo, publisher, now)

    first, again = publisher.published
    assert again.event_id == first.event_id


async def test_an_agent_coming_online_takes_the_best_waiting_ticket(repo, publisher) -> None:
    await route_ticket(opened("old-normal", minutes=0), repo, publisher, now)
    await route_ticket(opened("new-high", minutes=5, priority=Priority.HIGH), repo, publisher, now)
    publisher.published.clear()

    await online(repo, publisher, "anna", capacity={Channel.CHAT: 1})

    [event] = publisher.published
    assert isinstance(event, TicketAssignedV1)
    assert event.ticket_id == "new-high"
    assert repo.routings["old-normal"].state is RoutingState.WAITING


async def test_a_profile_change_adding_capacity_serves_the_queue(repo, publisher) -> None:
    await online(repo, publisher, "anna", capacity={Channel.EMAIL: 1})
    await route_ticket(opened("t-1"), repo, publisher, now)
    publisher.published.clear()

    await update_profile(profile("anna", capacity={Channel.CHAT: 1}), repo, publisher, now)

    [event] = publisher.published
    assert isinstance(event, TicketAssignedV1)
    assert event.agent_id == "anna"


async def test_solving_a_ticket_frees_the_slot_for_the_oldest_waiting_ticket(
    repo, publisher
) -> None:
    await online(repo, publisher, "anna", capacity={Channel.CHAT: 1})
    await route_ticket(opened("t-1"), repo, publisher, now)
    await route_ticket(opened("t-2", minutes=1), repo, publisher, now)
    await route_ticket(opened("t-3", minutes=2), repo, publisher, now)
    publisher.published.clear()

    await release_ticket(solved("t-1"), repo, publisher, now)

    [event] = publisher.published
    assert isinstance(event, TicketAssignedV1)
    assert (event.ticket_id, event.agent_id) == ("t-2", "anna")
    assert repo.agent_state["anna"].active == frozenset({"t-2"})
    assert repo.routings["t-1"].state is RoutingState.CLOSED


async def test_a_redelivered_release_frees_the_slot_only_once(repo, publisher) -> None:
    await online(repo, publisher, "anna", capacity={Channel.CHAT: 2})
    await route_ticket(opened("t-1"), repo, publisher, now)
    await route_ticket(opened("t-2"), repo, publisher, now)

    await release_ticket(solved("t-1"), repo, publisher, now)
    await release_ticket(solved("t-1"), repo, publisher, now)

    assert repo.agent_state["anna"].load == {Channel.CHAT: 1}


async def test_a_status_other_than_solved_or_closed_keeps_the_slot(repo, publisher) -> None:
    await online(repo, publisher, "anna")
    await route_ticket(opened("t-1"), repo, publisher, now)

    await release_ticket(
        TicketStatusChangedV1(ticket_id="t-1", status=TicketStatus.PENDING), repo, publisher, now
    )

    assert repo.agent_state["anna"].active == frozenset({"t-1"})


async def test_a_waiting_ticket_that_is_closed_is_never_assigned(repo, publisher) -> None:
    await route_ticket(opened("t-1"), repo, publisher, now)
    await release_ticket(solved("t-1"), repo, publisher, now)
    publisher.published.clear()

    await online(repo, publisher, "anna")

    assert publisher.published == []


async def test_an_assignment_whose_publication_failed_is_published_by_the_next_trigger(
    repo, publisher
) -> None:
    await route_ticket(opened("t-1"), repo, publisher, now)
    await update_profile(profile("anna"), repo, publisher, now)
    publisher.failures = 1
    with pytest.raises(ConnectionError):
        await update_presence(
            AgentPresenceChangedV1(agent_id="anna", presence=Presence.ONLINE), repo, publisher, now
        )
    publisher.published.clear()

    await update_presence(
        AgentPresenceChangedV1(agent_id="anna", presence=Presence.ONLINE), repo, publisher, now
    )

    [event] = publisher.published
    assert event.event_id == assigned_event_id("t-1", "anna")
    assert repo.routings["t-1"].announced


async def test_a_slot_reserved_before_a_crash_is_adopted_not_leaked(repo, publisher) -> None:
    await online(repo, publisher, "anna", capacity={Channel.CHAT: 1})
    await online(repo, publisher, "boris", capacity={Channel.CHAT: 1})
    repo.fail_claims = True
    with pytest.raises(ConnectionError):
        await route_ticket(opened("t-1"), repo, publisher, now)
    repo.fail_claims = False

    await route_ticket(opened("t-1"), repo, publisher, now)

    [event] = publisher.published
    held = {a.agent_id: a.active for a in await repo.agents()}
    assert held[event.agent_id] == frozenset({"t-1"})
    assert sum(len(tickets) for tickets in held.values()) == 1


async def test_the_fallback_skill_routes_a_request_type_nobody_has(repo, publisher) -> None:
    await online(repo, publisher, "gena", skills={"general": 1})

    await route_ticket(opened("t-1", request_type=RequestType.LOYALTY), repo, publisher, now)

    [event] = publisher.published
    assert isinstance(event, TicketAssignedV1)
    assert (event.agent_id, event.queue) == ("gena", "loyalty")


async def test_dispatch_without_online_agents_assigns_nothing(repo, publisher) -> None:
    await route_ticket(opened("t-1"), repo, publisher, now)
    publisher.published.clear()

    assert await dispatch(repo, publisher, now) == []
    assert publisher.published == []
