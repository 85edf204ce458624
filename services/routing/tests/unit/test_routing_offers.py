"""routing's use cases over fakes: offers, acceptance, declines, timeouts, presence, steps,
reopening, transfers, SLA escalation, idempotency and repair."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from opora_routing.domain.model import ORPHAN_GRACE, RoutingState
from opora_routing.domain.service import (
    accept_offer,
    decline_offer,
    dispatch,
    on_sla_alert,
    on_sla_applied,
    on_status_changed,
    recover,
    route_ticket,
    transfer,
    update_presence,
    update_profile,
)
from opora_shared.contracts.common import Channel, Priority, RequestType, TicketStatus
from opora_shared.contracts.routing import (
    TicketAssignedV1,
    TicketEscalatedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketQueuedV1,
)
from opora_shared.contracts.sla import Metric, SlaAppliedV1, SlaBreachedV1, SlaWarningV1, Target
from opora_shared.contracts.tickets import TicketStatusChangedV1
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    Presence,
    TicketTransferRequestedV1,
)

from ..conftest import T0, StaticRules, opened, profile


async def online(desk, agent_id: str, **profile_fields) -> None:
    await update_profile(profile(agent_id, **profile_fields), desk)
    await presence(desk, agent_id, Presence.ONLINE)


async def presence(desk, agent_id: str, state: Presence) -> None:
    await update_presence(AgentPresenceChangedV1(agent_id=agent_id, presence=state), desk)


def published(desk, event_type):
    return [e for e in desk.publisher.published if isinstance(e, event_type)]


def last_offer(desk) -> TicketOfferedV1:
    return published(desk, TicketOfferedV1)[-1]


async def accept(desk, offer: TicketOfferedV1) -> None:
    await accept_offer(
        OfferAcceptedV1(
            ticket_id=offer.ticket_id, agent_id=offer.agent_id, offer_id=offer.offer_id
        ),
        desk,
    )


def status(ticket_id: str, new: TicketStatus, *, reopened: bool = False) -> TicketStatusChangedV1:
    return TicketStatusChangedV1(
        ticket_id=ticket_id, status=new, reopened=reopened, occurred_at=T0 + timedelta(hours=1)
    )


async def test_a_new_ticket_is_offered_to_a_qualified_agent(desk) -> None:
    await online(desk, "anna")

    await route_ticket(opened("t-1"), desk)

    offer = last_offer(desk)
    assert (offer.ticket_id, offer.agent_id) == ("t-1", "anna")
    assert offer.expires_at == T0 + timedelta(seconds=60)


async def test_an_offer_holds_the_agents_slot(desk) -> None:
    await online(desk, "anna")

    await route_ticket(opened("t-1"), desk)

    assert desk.repo.agent_state["anna"].load == {Channel.CHAT: 1}


async def test_an_offer_says_why_it_went_to_its_agent(desk) -> None:
    await online(desk, "anna")
    await online(desk, "boris")

    await route_ticket(opened("t-1"), desk)

    reason = last_offer(desk).reason
    assert reason is not None
    assert reason.candidates == 2
    assert reason.scores[0].agent_id == last_offer(desk).agent_id


async def test_an_accepted_offer_becomes_an_assignment(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)

    await accept(desk, last_offer(desk))

    [assigned] = published(desk, TicketAssignedV1)
    assert (assigned.agent_id, assigned.offer_id) == ("anna", last_offer(desk).offer_id)
    assert desk.repo.routings["t-1"].state is RoutingState.ASSIGNED


async def test_a_redelivered_acceptance_republishes_the_same_assignment(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))

    await accept(desk, last_offer(desk))

    first, again = published(desk, TicketAssignedV1)
    assert first.event_id == again.event_id


async def test_a_declined_offer_goes_to_the_next_agent(desk) -> None:
    await online(desk, "anna")
    await online(desk, "boris")
    await route_ticket(opened("t-1"), desk)
    first = last_offer(desk)

    await decline_offer(
        OfferDeclinedV1(ticket_id="t-1", agent_id=first.agent_id, offer_id=first.offer_id), desk
    )

    assert last_offer(desk).agent_id != first.agent_id
    [revoked] = published(desk, TicketOfferRevokedV1)
    assert revoked.cause == "declined"


async def test_a_decliner_is_not_offered_the_ticket_again(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)
    first = last_offer(desk)

    await decline_offer(
        OfferDeclinedV1(ticket_id="t-1", agent_id="anna", offer_id=first.offer_id), desk
    )

    assert len(published(desk, TicketOfferedV1)) == 1
    assert desk.repo.routings["t-1"].state is RoutingState.WAITING
    assert desk.repo.agent_state["anna"].load == {Channel.CHAT: 0}


async def test_an_offer_that_lapses_goes_to_the_next_agent(desk) -> None:
    await online(desk, "anna")
    await online(desk, "boris")
    await route_ticket(opened("t-1"), desk)
    first = last_offer(desk)

    await desk.timers.fire("offer:t-1")

    assert last_offer(desk).agent_id != first.agent_id
    assert published(desk, TicketOfferRevokedV1)[0].cause == "timed_out"


async def test_the_offer_timer_is_armed_at_the_expiry(desk) -> None:
    await online(desk, "anna")

    await route_ticket(opened("t-1"), desk)

    when, _ = desk.timers.planned["offer:t-1"]
    assert when == last_offer(desk).expires_at


async def test_an_agent_going_away_hands_back_unaccepted_offers(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)

    await presence(desk, "anna", Presence.AWAY)

    assert desk.repo.routings["t-1"].state is RoutingState.WAITING
    assert published(desk, TicketOfferRevokedV1)[0].cause == "agent_unavailable"


async def test_an_agent_going_offline_keeps_accepted_tickets_by_default(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))

    await presence(desk, "anna", Presence.OFFLINE)

    assert desk.repo.routings["t-1"].state is RoutingState.ASSIGNED


async def test_offline_can_return_open_tickets_to_the_queue(desk) -> None:
    desk.rules = StaticRules(return_open_tickets_on_offline=True)
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))

    await presence(desk, "anna", Presence.OFFLINE)

    assert desk.repo.routings["t-1"].state is RoutingState.WAITING
    assert desk.repo.agent_state["anna"].load == {Channel.CHAT: 0}


async def test_a_ticket_nobody_can_take_is_queued_with_its_step(desk) -> None:
    await online(desk, "anna", skills={"complaint": 3})

    await route_ticket(opened("t-1"), desk)

    [queued] = published(desk, TicketQueuedV1)
    assert (queued.queue, queued.step, queued.required_skills) == ("warranty", 0, {"warranty": 1})


async def test_a_waiting_ticket_relaxes_to_the_next_step_when_due(desk) -> None:
    desk.rules = StaticRules(relax_after=timedelta(seconds=30))
    await online(desk, "anna", skills={"complaint": 3})
    await route_ticket(opened("t-1"), desk)
    when, _ = desk.timers.planned["step:t-1"]
    desk.now.advance(when - T0)

    await desk.timers.fire("step:t-1")

    assert last_offer(desk).agent_id == "anna"
    assert when == T0 + timedelta(seconds=30)


async def test_solving_a_ticket_frees_the_slot_for_the_oldest_waiting_ticket(desk) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 1})
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))
    await route_ticket(opened("t-3", minutes=3), desk)
    await route_ticket(opened("t-2", minutes=2), desk)

    await on_status_changed(status("t-1", TicketStatus.SOLVED), desk)

    assert last_offer(desk).ticket_id == "t-2"


async def test_a_ticket_that_keeps_changing_while_closing_keeps_its_slot_for_the_retry(
    desk,
) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 1})
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))
    desk.repo.overtaken = 10

    with pytest.raises(RuntimeError):
        await on_status_changed(status("t-1", TicketStatus.SOLVED), desk)

    assert desk.repo.agent_state["anna"].active == {"t-1"}


async def test_higher_priority_is_served_before_age(desk) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 1})
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))
    await route_ticket(opened("t-old", minutes=1), desk)
    await route_ticket(opened("t-urgent", minutes=5, priority=Priority.URGENT), desk)

    await on_status_changed(status("t-1", TicketStatus.SOLVED), desk)

    assert last_offer(desk).ticket_id == "t-urgent"


async def test_the_nearer_sla_deadline_is_served_first(desk) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 1})
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))
    await route_ticket(opened("t-late", minutes=1), desk)
    await route_ticket(opened("t-due", minutes=2), desk)
    await on_sla_applied(applied("t-late", T0 + timedelta(hours=8)), desk)
    await on_sla_applied(applied("t-due", T0 + timedelta(hours=1)), desk)

    await on_status_changed(status("t-1", TicketStatus.SOLVED), desk)

    assert last_offer(desk).ticket_id == "t-due"


def applied(ticket_id: str, due) -> SlaAppliedV1:
    return SlaAppliedV1(
        ticket_id=ticket_id,
        policy_id="p",
        policy_version=1,
        calendar_id="c",
        targets=(Target(metric=Metric.FIRST_REPLY, target_s=3600, due_at=due),),
    )


async def test_a_reopened_ticket_prefers_its_previous_agent(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)
    await accept(desk, last_offer(desk))
    await on_status_changed(status("t-1", TicketStatus.SOLVED), desk)
    await online(desk, "boris", capacity={Channel.CHAT: 5})

    await on_status_changed(status("t-1", TicketStatus.OPEN, reopened=True), desk)

    assert last_offer(desk).agent_id == "anna"


async def test_a_transfer_moves_the_ticket_to_the_other_queues_team(desk) -> None:
    await online(desk, "anna")
    await online(desk, "olga", teams=("tier2",), skills={})
    await route_ticket(opened("t-1"), desk)
    offer = last_offer(desk)
    await accept(desk, offer)

    await transfer(
        TicketTransferRequestedV1(
            ticket_id="t-1", agent_id=offer.agent_id, to_queue="tier2", kind="escalate"
        ),
        desk,
    )

    assert last_offer(desk).agent_id == "olga"
    assert [h["what"] for h in desk.repo.histories["t-1"]][-2:] == ["escalate", "offered"]
    assert published(desk, TicketEscalatedV1)[0].from_queue == "warranty"


async def test_an_sla_breach_makes_the_ticket_urgent_and_escalates_it(desk) -> None:
    await route_ticket(opened("t-1"), desk)

    await on_sla_alert(breach("t-1"), desk)

    assert desk.repo.routings["t-1"].ticket.priority is Priority.URGENT
    assert published(desk, TicketEscalatedV1)[0].queue == "escalations"


def warning(ticket_id: str, threshold: str, cycle: int = 1) -> SlaWarningV1:
    return SlaWarningV1(
        ticket_id=ticket_id,
        policy_id="p",
        policy_version=1,
        metric=Metric.NEXT_REPLY,
        due_at=T0,
        elapsed_s=2700,
        remaining_s=900,
        threshold=threshold,
        cycle=cycle,
    )


async def test_two_warnings_of_one_deadline_raise_the_priority_once(desk) -> None:
    await route_ticket(opened("t-1"), desk)

    await on_sla_alert(warning("t-1", "75%"), desk)
    await on_sla_alert(warning("t-1", "15m"), desk)

    assert desk.repo.routings["t-1"].ticket.priority is Priority.HIGH


async def test_a_warning_of_the_next_cycle_raises_the_priority_again(desk) -> None:
    await route_ticket(opened("t-1"), desk)

    await on_sla_alert(warning("t-1", "75%", cycle=1), desk)
    await on_sla_alert(warning("t-1", "75%", cycle=2), desk)

    assert desk.repo.routings["t-1"].ticket.priority is Priority.URGENT


def breach(ticket_id: str) -> SlaBreachedV1:
    return SlaBreachedV1(
        ticket_id=ticket_id,
        policy_id="p",
        policy_version=1,
        metric=Metric.FIRST_REPLY,
        due_at=T0,
        elapsed_s=3600,
        remaining_s=0,
    )


async def test_a_redelivered_opening_of_a_waiting_ticket_republishes_the_same_queued_event(
    desk,
) -> None:
    await route_ticket(opened("t-1"), desk)
    await route_ticket(opened("t-1"), desk)

    first, again = published(desk, TicketQueuedV1)
    assert first.event_id == again.event_id


async def test_an_offer_whose_publication_failed_is_published_by_the_next_trigger(desk) -> None:
    await online(desk, "anna")
    desk.publisher.failures = 1
    with contextlib.suppress(ConnectionError):
        await route_ticket(opened("t-1"), desk)

    await dispatch(desk)

    assert last_offer(desk).ticket_id == "t-1"
    assert desk.repo.routings["t-1"].announced


async def test_a_slot_left_by_a_crash_before_the_offer_is_freed(desk) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 1})
    desk.repo.fail_changes = True
    with contextlib.suppress(ConnectionError):
        await route_ticket(opened("t-1"), desk)
    desk.repo.fail_changes = False
    desk.now.advance(ORPHAN_GRACE)

    await dispatch(desk)

    assert last_offer(desk).ticket_id == "t-1"
    assert desk.repo.agent_state["anna"].load == {Channel.CHAT: 1}


async def test_a_restart_rearms_pending_offer_timers(desk) -> None:
    await online(desk, "anna")
    await route_ticket(opened("t-1"), desk)
    desk.timers.planned.clear()

    count = await recover(desk)

    assert count == 1
    assert "offer:t-1" in desk.timers.planned


async def test_an_agent_is_never_offered_more_than_capacity(desk) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 2})

    for n in range(5):
        await route_ticket(opened(f"t-{n}", minutes=n), desk)

    assert desk.repo.agent_state["anna"].load == {Channel.CHAT: 2}
    assert len(published(desk, TicketOfferedV1)) == 2


async def test_a_request_type_nobody_has_waits(desk) -> None:
    await online(desk, "anna")

    await route_ticket(opened("t-1", request_type=RequestType.LOYALTY), desk)

    assert desk.repo.routings["t-1"].state is RoutingState.WAITING


async def test_a_slot_reserved_moments_ago_is_left_to_the_dispatch_that_took_it(desk) -> None:
    await online(desk, "anna", capacity={Channel.CHAT: 1})
    desk.repo.fail_changes = True
    with contextlib.suppress(ConnectionError):
        await route_ticket(opened("t-1"), desk)  # reserved, not yet offered: still in flight
    desk.repo.fail_changes = False

    await dispatch(desk)  # another trigger, on this or another replica, meanwhile

    assert desk.repo.agent_state["anna"].load == {Channel.CHAT: 1}
    assert not published(desk, TicketOfferedV1)


async def test_a_dispatch_that_loses_every_race_serves_again_shortly(desk, monkeypatch) -> None:
    await online(desk, "anna")

    async def always_taken(*_: object) -> bool:
        return False  # another replica changed the agent's load first, every time

    monkeypatch.setattr(desk.repo, "reserve", always_taken)
    await route_ticket(opened("t-1"), desk)

    assert "dispatch:retry" in desk.timers.planned
