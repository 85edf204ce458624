"""Which agent takes a ticket: qualification, the fallback skill, and the order of preference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opora_routing.domain.model import (
    Agent,
    Ticket,
    choose_agent,
    plan,
    qualifies,
    queue_order,
    required_skill,
)
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import Presence

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def agent(agent_id: str, **changes: object) -> Agent:
    values: dict[str, object] = {
        "presence": Presence.ONLINE,
        "skills": {"warranty": 2},
        "languages": ("ru",),
        "capacity": {Channel.CHAT: 2},
    }
    values.update(changes)
    return Agent(agent_id, **values)  # type: ignore[arg-type]


def ticket(ticket_id: str = "t-1", **changes: object) -> Ticket:
    values: dict[str, object] = {
        "channel": Channel.CHAT,
        "request_type": RequestType.WARRANTY,
        "priority": Priority.NORMAL,
        "language": "ru",
        "opened_at": T0,
    }
    values.update(changes)
    return Ticket(ticket_id, **values)  # type: ignore[arg-type]


def test_an_online_skilled_agent_with_room_qualifies() -> None:
    assert qualifies(agent("a"), ticket(), "warranty")


def test_an_agent_who_is_not_online_does_not_qualify() -> None:
    assert not qualifies(agent("a", presence=Presence.AWAY), ticket(), "warranty")


def test_an_agent_without_the_required_skill_does_not_qualify() -> None:
    assert not qualifies(agent("a", skills={"complaint": 5}), ticket(), "warranty")


def test_an_agent_not_speaking_the_language_does_not_qualify() -> None:
    assert not qualifies(agent("a", languages=("en",)), ticket(language="ru"), "warranty")


def test_an_agent_listing_no_languages_speaks_any() -> None:
    assert qualifies(agent("a", languages=()), ticket(language="ru"), "warranty")


def test_languages_match_on_the_primary_subtag() -> None:
    assert qualifies(agent("a", languages=("ru-RU",)), ticket(language="ru"), "warranty")


def test_a_channel_missing_from_the_capacity_means_no_room_on_it() -> None:
    assert not qualifies(agent("a", capacity={Channel.EMAIL: 5}), ticket(), "warranty")


def test_an_empty_capacity_means_one_slot_on_every_channel() -> None:
    free = agent("a", capacity={})
    busy = agent("b", capacity={}, load={Channel.PHONE: 1})

    assert free.capacity_for(Channel.PHONE) == 1
    assert qualifies(free, ticket(channel=Channel.PHONE), "warranty")
    assert not qualifies(busy, ticket(channel=Channel.PHONE), "warranty")


def test_an_agent_at_capacity_does_not_qualify() -> None:
    assert not qualifies(agent("a", load={Channel.CHAT: 2}), ticket(), "warranty")


def test_the_required_skill_is_the_request_type_when_someone_has_it() -> None:
    offline_expert = agent("a", presence=Presence.OFFLINE)

    assert required_skill(ticket(), [offline_expert]) == "warranty"


def test_the_required_skill_falls_back_to_general_when_nobody_has_it() -> None:
    generalist = agent("a", skills={"general": 1})

    assert required_skill(ticket(), [generalist]) == "general"
    assert choose_agent(ticket(), [generalist]) == generalist


def test_no_fallback_while_a_skilled_agent_exists_even_if_busy() -> None:
    busy_expert = agent("a", load={Channel.CHAT: 2})
    generalist = agent("b", skills={"general": 1})

    assert choose_agent(ticket(), [busy_expert, generalist]) is None


def test_the_agent_with_most_spare_capacity_is_chosen() -> None:
    fuller = agent("a", load={Channel.CHAT: 1})
    emptier = agent("b", capacity={Channel.CHAT: 3}, load={Channel.CHAT: 1})

    assert choose_agent(ticket(), [fuller, emptier]) == emptier


def test_on_equal_spare_capacity_the_longest_idle_agent_is_chosen() -> None:
    recent = agent("a", last_assigned_at=T0)
    earlier = agent("b", last_assigned_at=T0 - timedelta(hours=1))

    assert choose_agent(ticket(), [recent, earlier]) == earlier


def test_an_agent_never_assigned_counts_as_longest_idle() -> None:
    assigned = agent("a", last_assigned_at=T0 - timedelta(days=30))
    never = agent("b")

    assert choose_agent(ticket(), [assigned, never]) == never


def test_nobody_is_chosen_when_no_agent_qualifies() -> None:
    assert choose_agent(ticket(), [agent("a", presence=Presence.OFFLINE)]) is None


def test_the_queue_serves_higher_priority_first() -> None:
    normal = ticket("normal", priority=Priority.NORMAL, opened_at=T0)
    urgent = ticket("urgent", priority=Priority.URGENT, opened_at=T0 + timedelta(minutes=5))

    assert [t.ticket_id for t in queue_order([normal, urgent])] == ["urgent", "normal"]


def test_the_queue_serves_the_oldest_first_within_a_priority() -> None:
    newer = ticket("newer", opened_at=T0 + timedelta(minutes=1))
    older = ticket("older", opened_at=T0)

    assert [t.ticket_id for t in queue_order([newer, older])] == ["older", "newer"]


def test_a_plan_does_not_promise_an_agents_last_slot_twice() -> None:
    one_slot = agent("a", capacity={Channel.CHAT: 1})

    matches = plan(
        [ticket("t-1"), ticket("t-2", opened_at=T0 + timedelta(minutes=1))], [one_slot], T0
    )

    assert [(m.ticket.ticket_id, m.agent.agent_id) for m in matches] == [("t-1", "a")]


def test_a_plan_spreads_tickets_by_spare_capacity() -> None:
    matches = plan(
        [ticket("t-1"), ticket("t-2", opened_at=T0 + timedelta(minutes=1))],
        [agent("a"), agent("b")],
        T0,
    )

    assert [m.agent.agent_id for m in matches] == ["a", "b"]


def test_a_plan_skips_a_ticket_nobody_can_take_and_serves_the_next() -> None:
    english = ticket("english", language="en", priority=Priority.URGENT)
    russian = ticket("russian")

    matches = plan([english, russian], [agent("a")], T0)

    assert [m.ticket.ticket_id for m in matches] == ["russian"]
