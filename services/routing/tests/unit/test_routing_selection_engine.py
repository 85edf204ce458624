"""The selection engine: eligibility, ticket order, agent ranking, plans and the board's index."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opora_routing.domain import selection
from opora_routing.domain.model import (
    NO_CROSS_CHANNEL_LIMIT,
    Agent,
    CapacityPolicy,
    Requirement,
    Ticket,
)
from opora_routing.domain.selection import (
    Board,
    Match,
    Strategy,
    choose,
    eligible,
    plan,
    queue_order,
)
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.routing import CandidateScore
from opora_shared.contracts.workspace import Presence

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NEVER = datetime.min.replace(tzinfo=UTC)
FOREVER = datetime.max.replace(tzinfo=UTC)


def agent(agent_id: str, **changes: object) -> Agent:
    values: dict[str, object] = {
        "presence": Presence.ONLINE,
        "skills": {"warranty": 3},
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


def needs(**skills: int) -> Requirement:
    return Requirement(queue="q", skills=skills)


def chosen(t: Ticket, agents: Sequence[Agent], **options: object) -> str | None:
    choice = choose(t, agents, **options)  # type: ignore[arg-type]
    return None if choice is None else choice.agent.agent_id


def ids(tickets: Sequence[Ticket]) -> list[str]:
    return [t.ticket_id for t in tickets]


# --- the order of tickets ---


def test_higher_priority_is_served_before_a_nearer_deadline() -> None:
    due_soon = ticket("due-soon", priority=Priority.NORMAL, deadline=T0)
    high = ticket("high", priority=Priority.HIGH, deadline=T0 + timedelta(days=1))

    assert ids(queue_order([due_soon, high])) == ["high", "due-soon"]


def test_within_a_priority_the_nearest_deadline_is_served_before_the_oldest() -> None:
    older = ticket("older", opened_at=T0, deadline=T0 + timedelta(hours=8))
    due_sooner = ticket("due-sooner", opened_at=T0 + timedelta(hours=1), deadline=T0)

    assert ids(queue_order([older, due_sooner])) == ["due-sooner", "older"]


def test_a_ticket_without_a_deadline_waits_behind_those_with_one() -> None:
    no_deadline = ticket("none", opened_at=T0)
    late_deadline = ticket(
        "late", opened_at=T0 + timedelta(hours=1), deadline=T0 + timedelta(days=30)
    )

    assert ids(queue_order([no_deadline, late_deadline])) == ["late", "none"]


def test_on_equal_priority_and_deadline_the_oldest_is_served_first() -> None:
    newer = ticket("newer", opened_at=T0 + timedelta(minutes=1))
    older = ticket("older", opened_at=T0)

    assert ids(queue_order([newer, older])) == ["older", "newer"]


# --- eligibility ---


def test_an_online_skilled_speaking_agent_with_room_is_eligible() -> None:
    assert eligible(agent("a"), ticket())


def test_away_and_offline_agents_get_no_offers() -> None:
    away = agent("away", presence=Presence.AWAY)
    offline = agent("offline", presence=Presence.OFFLINE)

    assert not eligible(away, ticket())
    assert chosen(ticket(), [away, offline]) is None


def test_an_agent_who_declined_the_ticket_is_not_offered_it_again() -> None:
    decliner = agent("decliner", capacity={Channel.CHAT: 9})
    other = agent("other")

    assert chosen(ticket(declined_by=frozenset({"decliner"})), [decliner, other]) == "other"


def test_an_agent_already_holding_the_ticket_is_not_offered_it() -> None:
    holder = agent("holder", active=frozenset({"t-1"}), load={Channel.CHAT: 1})

    assert not eligible(holder, ticket("t-1"))


def test_a_team_requirement_admits_only_its_members() -> None:
    outsider = agent("outsider", teams=("tier1",), capacity={Channel.CHAT: 9})
    member = agent("member", teams=("tier1", "vip"))
    vip = ticket(requirement=Requirement(queue="vip", skills={"warranty": 1}, team="vip"))

    assert chosen(vip, [outsider, member]) == "member"


def test_a_minimum_proficiency_excludes_less_skilled_agents() -> None:
    novice = agent("novice", skills={"warranty": 2}, capacity={Channel.CHAT: 9})
    expert = agent("expert", skills={"warranty": 4})

    assert chosen(ticket(requirement=needs(warranty=3)), [novice, expert]) == "expert"


def test_every_required_skill_is_needed() -> None:
    one_skill = agent("one", skills={"warranty": 5})

    assert not eligible(one_skill, ticket(requirement=needs(warranty=1, complaint=1)))


def test_the_requirements_language_applies_and_none_means_any() -> None:
    english = agent("en", languages=("en-GB",))

    assert eligible(english, ticket(language="ru", requirement=Requirement("q", {}, None, None)))
    assert eligible(english, ticket(language="ru", requirement=Requirement("q", {}, None, "en")))
    assert not eligible(
        english, ticket(language="en", requirement=Requirement("q", {}, None, "ru"))
    )


def test_without_a_requirement_the_request_type_falls_back_to_general_when_nobody_has_it() -> None:
    generalist = agent("generalist", skills={"general": 1})

    assert chosen(ticket(request_type=RequestType.LOYALTY), [generalist]) == "generalist"
    assert not eligible(generalist, ticket(request_type=RequestType.LOYALTY))


def test_no_fallback_while_someone_has_the_request_types_skill_even_if_offline() -> None:
    offline_expert = agent("expert", skills={"loyalty": 5}, presence=Presence.OFFLINE)
    generalist = agent("generalist", skills={"general": 1})

    assert chosen(ticket(request_type=RequestType.LOYALTY), [offline_expert, generalist]) is None


# --- capacity ---


def test_an_exclusive_channel_is_taken_only_by_an_agent_with_nothing_open() -> None:
    phone_only = CapacityPolicy(exclusive=frozenset({Channel.PHONE}))
    capacity = {Channel.CHAT: 3, Channel.PHONE: 1}
    chatting = agent("chatting", capacity=capacity, load={Channel.CHAT: 1})
    free = agent("free", capacity=capacity)
    call = ticket(channel=Channel.PHONE)

    assert not eligible(chatting, call, phone_only)
    assert chosen(call, [chatting, free], policy=phone_only) == "free"


def test_a_held_exclusive_channel_blocks_every_other_channel() -> None:
    phone_only = CapacityPolicy(exclusive=frozenset({Channel.PHONE}))
    on_a_call = agent("a", capacity={Channel.CHAT: 3, Channel.PHONE: 1}, load={Channel.PHONE: 1})

    assert not eligible(on_a_call, ticket(channel=Channel.CHAT), phone_only)


def test_max_total_caps_the_items_across_channels() -> None:
    at_most_two = CapacityPolicy(max_total=2)
    busy = agent("a", capacity={Channel.CHAT: 5, Channel.EMAIL: 5}, load={Channel.EMAIL: 2})

    assert eligible(busy, ticket())
    assert not eligible(busy, ticket(), at_most_two)


def test_a_plan_never_promises_an_agents_last_slot_twice() -> None:
    one_slot = agent("a", capacity={Channel.CHAT: 1})
    tickets = [ticket("t-1"), ticket("t-2", opened_at=T0 + timedelta(minutes=1))]

    matches = plan(tickets, [one_slot], NO_CROSS_CHANNEL_LIMIT, T0)

    assert [(m.ticket.ticket_id, m.agent.agent_id) for m in matches] == [("t-1", "a")]


def test_a_plan_stops_at_max_total_across_channels() -> None:
    tickets = [
        ticket("chat", opened_at=T0),
        ticket("mail", channel=Channel.EMAIL, opened_at=T0 + timedelta(minutes=1)),
    ]
    roomy = agent("a", capacity={Channel.CHAT: 5, Channel.EMAIL: 5})

    matches = plan(tickets, [roomy], CapacityPolicy(max_total=1), T0)

    assert [m.ticket.ticket_id for m in matches] == ["chat"]


# --- ranking ---


def test_the_preferred_agent_comes_first_when_eligible() -> None:
    emptier = agent("emptier", capacity={Channel.CHAT: 9})
    previous = agent("previous", load={Channel.CHAT: 1})

    assert chosen(ticket(preferred_agent="previous"), [emptier, previous]) == "previous"


def test_a_preferred_agent_who_is_not_eligible_is_passed_over() -> None:
    previous = agent("previous", presence=Presence.AWAY)

    assert chosen(ticket(preferred_agent="previous"), [previous, agent("b")]) == "b"


def test_most_spare_prefers_room_over_idleness_and_round_robin_the_reverse() -> None:
    roomy_but_recent = agent("roomy", capacity={Channel.CHAT: 5}, last_assigned_at=T0)
    idle_but_full = agent("idle", load={Channel.CHAT: 1}, last_assigned_at=T0 - timedelta(hours=1))
    both = [roomy_but_recent, idle_but_full]

    assert chosen(ticket(), both, strategy=Strategy.MOST_SPARE) == "roomy"
    assert chosen(ticket(), both, strategy=Strategy.ROUND_ROBIN) == "idle"


def test_on_equal_room_the_agent_never_assigned_counts_as_longest_idle() -> None:
    assigned = agent("a", last_assigned_at=T0 - timedelta(days=30))
    never = agent("b")

    assert chosen(ticket(), [assigned, never]) == "b"


def test_a_choice_explains_itself() -> None:
    agents = [agent(f"a{i}", last_assigned_at=T0 - timedelta(minutes=i)) for i in range(7)]
    agents.append(agent("away", presence=Presence.AWAY))

    choice = choose(ticket(rule_id="r-1", step=1), agents)

    assert choice is not None
    assert choice.candidates == 7
    assert [s.agent_id for s in choice.ranked] == ["a6", "a5", "a4", "a3", "a2"]
    assert choice.ranked[0].spare == 2
    assert choice.ranked[0].idle_since == T0 - timedelta(minutes=6)
    assert choice.ranked[0].key == f"(-2, {(T0 - timedelta(minutes=6)).isoformat()}, a6)"
    assert "warranty≥1" in choice.why
    assert "7 of 8 agents eligible" in choice.why
    assert "a6 by most spare capacity on chat" in choice.why


def test_a_choice_gives_the_contracts_scores() -> None:
    choice = choose(ticket(), [agent("a")], strategy="round_robin")

    assert choice is not None
    assert choice.scores == (CandidateScore(agent_id="a", spare=2, rank="(never, a)"),)


# --- the board ---


def test_a_freed_agent_is_given_the_first_waiting_ticket_it_may_take() -> None:
    board = Board()
    board.put_agent(agent("a", load={Channel.CHAT: 2}, active=frozenset({"old"})))
    board.put_tickets(
        [
            ticket("english", language="en", priority=Priority.URGENT),
            ticket("normal"),
            ticket("high", priority=Priority.HIGH, opened_at=T0 + timedelta(hours=1)),
        ]
    )
    assert board.best_ticket("a") is None

    board.release("a", ticket("old"))

    assert board.best_ticket("a") == board.ticket("high")


def test_assigning_takes_a_slot_and_the_ticket_stops_waiting() -> None:
    board = Board()
    board.put_agent(agent("a", capacity={Channel.CHAT: 1}))
    board.put_tickets([ticket("t-1"), ticket("t-2")])

    taken = board.assign(ticket("t-1"), "a", T0)

    assert taken.load == {Channel.CHAT: 1}
    assert taken.last_assigned_at == T0
    assert ids(board.waiting()) == ["t-2"]
    assert board.best_agent(ticket("t-2")) is None
    with pytest.raises(ValueError, match="no room"):
        board.assign(ticket("t-2"), "a", T0)


def test_a_profile_change_moves_the_agent_in_the_index() -> None:
    board = Board()
    board.put_agent(agent("a", skills={"complaint": 5}))
    assert board.best_agent(ticket()) is None

    board.put_agent(agent("a", skills={"warranty": 1}))

    assert chosen(ticket(), list(board.agents())) == "a"
    choice = board.best_agent(ticket())
    assert choice is not None
    assert choice.agent.agent_id == "a"


def test_a_profile_change_counts_for_requirements_seen_before_on_every_channel() -> None:
    board = Board()
    both = {Channel.CHAT: 1, Channel.EMAIL: 1}
    board.put_agent(agent("a", skills={"warranty": 1}, capacity=both))
    board.put_agent(agent("b", skills={"warranty": 5}, capacity=both))
    expert_chat = ticket(requirement=needs(warranty=4))
    expert_mail = ticket(channel=Channel.EMAIL, requirement=needs(warranty=4))
    assert chosen_on(board, expert_chat) == "b"

    board.put_agent(agent("a", skills={"warranty": 5}, capacity=both, last_assigned_at=NEVER))
    board.put_agent(agent("b", skills={"warranty": 1}, capacity=both))

    assert chosen_on(board, expert_mail) == "a"
    assert chosen_on(board, expert_chat) == "a"


def test_a_board_that_forgets_its_profiles_still_answers_right() -> None:
    board = Board()
    board.put_agent(agent("a", skills={"warranty": 5, "complaint": 5}, capacity={Channel.CHAT: 1}))
    board.put_agent(agent("unskilled", skills={}))
    warranty = ticket("w", requirement=needs(warranty=1))
    complaint = ticket("c", requirement=needs(complaint=1))
    with patch.object(selection, "MAX_PROFILES", 1):
        assert chosen_on(board, warranty) == "a"
        assert chosen_on(board, complaint) == "a"

        board.assign(complaint, "a", T0)

        assert chosen_on(board, warranty) is None


def chosen_on(board: Board, t: Ticket) -> str | None:
    choice = board.best_agent(t)
    return None if choice is None else choice.agent.agent_id


# --- properties, against brute force over everyone ---

AGENT_IDS = [f"a{i}" for i in range(8)]
TICKET_IDS = [f"t{i}" for i in range(12)]
SKILLS = ["warranty", "complaint", "general", "billing"]
CHANNELS = [Channel.CHAT, Channel.EMAIL, Channel.PHONE]
TEAMS = ["tier1", "vip"]
LANGUAGES = ["ru", "en", "ru-RU"]
REQUEST_TYPES = [RequestType.WARRANTY, RequestType.COMPLAINT, RequestType.LOYALTY]

minutes = st.integers(0, 240).map(lambda m: T0 + timedelta(minutes=m))
skills = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3)
per_channel = st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3), max_size=3)


@st.composite
def agent_lists(draw: st.DrawFn) -> list[Agent]:
    count = draw(st.integers(0, len(AGENT_IDS)))
    return [
        Agent(
            agent_id,
            presence=draw(st.sampled_from(Presence)),
            skills=draw(skills),
            languages=tuple(draw(st.lists(st.sampled_from(LANGUAGES), max_size=2))),
            teams=tuple(draw(st.lists(st.sampled_from(TEAMS), max_size=2, unique=True))),
            capacity=draw(per_channel),
            load=draw(per_channel),
            active=draw(st.frozensets(st.sampled_from(TICKET_IDS), max_size=2)),
            last_assigned_at=draw(st.none() | minutes),
        )
        for agent_id in AGENT_IDS[:count]
    ]


requirements = st.builds(
    Requirement,
    queue=st.sampled_from(["q1", "q2"]),
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2),
    team=st.none() | st.sampled_from(TEAMS),
    language=st.none() | st.sampled_from(LANGUAGES),
)


@st.composite
def ticket_lists(draw: st.DrawFn) -> list[Ticket]:
    count = draw(st.integers(0, len(TICKET_IDS)))
    return [
        Ticket(
            ticket_id,
            channel=draw(st.sampled_from(CHANNELS)),
            request_type=draw(st.sampled_from(REQUEST_TYPES)),
            priority=draw(st.sampled_from(Priority)),
            language=draw(st.sampled_from(LANGUAGES)),
            opened_at=draw(minutes),
            deadline=draw(st.none() | minutes),
            requirement=draw(st.none() | requirements),
            preferred_agent=draw(st.none() | st.sampled_from(AGENT_IDS)),
            declined_by=draw(st.frozensets(st.sampled_from(AGENT_IDS), max_size=2)),
        )
        for ticket_id in TICKET_IDS[:count]
    ]


policies = st.builds(
    CapacityPolicy,
    max_total=st.none() | st.integers(1, 4),
    exclusive=st.frozensets(st.sampled_from([Channel.PHONE]), max_size=1),
)
strategies = st.sampled_from(Strategy)
limits = st.fixed_dictionaries(
    {
        "SORT_LIMIT": st.sampled_from([0, 2, selection.SORT_LIMIT]),
        "WALK_LIMIT": st.sampled_from([1, 3, selection.WALK_LIMIT]),
        "MAX_PROFILES": st.sampled_from([1, 2, selection.MAX_PROFILES]),
    }
)
"""Small limits make the board walk its ranking, give up walking, and forget its profiles,
which cases this small would never make it do."""


def known(agents: Sequence[Agent]) -> set[str]:
    return {skill for a in agents for skill, level in a.skills.items() if level >= 1}


def reference_ranking(
    t: Ticket, agents: Sequence[Agent], policy: CapacityPolicy, strategy: Strategy
) -> list[Agent]:
    skills = known(agents)
    candidates = [a for a in agents if eligible(a, t, policy, known=skills)]

    def key(a: Agent) -> tuple[bool, int, datetime, str]:
        room = -a.spare(t.channel, policy) if strategy is Strategy.MOST_SPARE else 0
        return (a.agent_id != t.preferred_agent, room, a.last_assigned_at or NEVER, a.agent_id)

    return sorted(candidates, key=key)


def reference_queue_key(t: Ticket) -> tuple[int, datetime, datetime, str]:
    return (-t.priority.rank, t.deadline or FOREVER, t.opened_at, t.ticket_id)


def reference_plan(
    waiting: Sequence[Ticket], agents: Sequence[Agent], policy: CapacityPolicy, strategy: Strategy
) -> list[tuple[str, str]]:
    team = {a.agent_id: a for a in agents}
    matched = []
    for t in sorted(waiting, key=reference_queue_key):
        ranking = reference_ranking(t, list(team.values()), policy, strategy)
        if ranking:
            best = ranking[0]
            matched.append((t.ticket_id, best.agent_id))
            team[best.agent_id] = best.with_ticket(t.ticket_id, t.channel, T0)
    return matched


@given(agent_lists(), ticket_lists(), policies, strategies)
def test_a_plan_never_exceeds_capacity_nor_matches_an_ineligible_pair(
    agents: list[Agent], waiting: list[Ticket], policy: CapacityPolicy, strategy: Strategy
) -> None:
    matches = plan(waiting, agents, policy, T0, strategy)

    skills = known(agents)
    state = {a.agent_id: a for a in agents}
    for match in matches:
        before = state[match.agent.agent_id]
        assert match.agent == before
        assert eligible(before, match.ticket, policy, known=skills)
        assert before.spare(match.ticket.channel, policy) > 0
        state[before.agent_id] = before.with_ticket(
            match.ticket.ticket_id, match.ticket.channel, T0
        )
    for original in agents:
        after = state[original.agent_id]
        for channel, load in after.load.items():
            if load > original.load.get(channel, 0):
                assert load <= after.capacity_for(channel)
        if policy.max_total is not None and after.load != original.load:
            assert sum(after.load.values()) <= policy.max_total


@given(agent_lists(), ticket_lists(), policies, strategies)
def test_a_plan_matches_a_ticket_at_most_once(
    agents: list[Agent], waiting: list[Ticket], policy: CapacityPolicy, strategy: Strategy
) -> None:
    matched = [m.ticket.ticket_id for m in plan(waiting, agents, policy, T0, strategy)]

    assert len(matched) == len(set(matched))


@given(agent_lists(), ticket_lists(), policies, strategies)
def test_a_plan_never_passes_over_an_earlier_ticket_the_same_agent_could_take(
    agents: list[Agent], waiting: list[Ticket], policy: CapacityPolicy, strategy: Strategy
) -> None:
    matches = plan(waiting, agents, policy, T0, strategy)

    skills = known(agents)
    matched = {m.ticket.ticket_id for m in matches}
    left = [t for t in waiting if t.ticket_id not in matched]
    state = {a.agent_id: a for a in agents}
    for match in matches:
        before = state[match.agent.agent_id]
        for earlier in left:
            if reference_queue_key(earlier) < reference_queue_key(match.ticket):
                assert not eligible(before, earlier, policy, known=skills)
        state[before.agent_id] = before.with_ticket(
            match.ticket.ticket_id, match.ticket.channel, T0
        )


@given(agent_lists(), ticket_lists(), policies, strategies, limits)
def test_a_plan_is_the_greedy_plan_over_everyone(
    agents: list[Agent],
    waiting: list[Ticket],
    policy: CapacityPolicy,
    strategy: Strategy,
    limit: dict[str, Any],
) -> None:
    with patch.multiple(selection, **limit):
        matches = plan(waiting, agents, policy, T0, strategy)

    expected = reference_plan(waiting, agents, policy, strategy)
    assert [(m.ticket.ticket_id, m.agent.agent_id) for m in matches] == expected


Operation = tuple[str, int, int, Presence, dict[str, int]]
operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["assign", "release", "presence", "profile", "remove_agent", "remove_ticket"]
        ),
        st.integers(0, len(TICKET_IDS) - 1),
        st.integers(0, len(AGENT_IDS) - 1),
        st.sampled_from(Presence),
        skills,
    ),
    max_size=10,
)


def can_take(a: Agent, t: Ticket, policy: CapacityPolicy) -> bool:
    """Room and presence only: the board assigns what the service reserved, eligible or not."""
    return (
        a.presence is Presence.ONLINE
        and t.ticket_id not in a.active
        and a.spare(t.channel, policy) > 0
    )


def apply_operation(
    board: Board, tickets: Sequence[Ticket], waiting: dict[str, Ticket], operation: Operation
) -> None:
    """Change the board as the service would, keeping ``waiting`` as the truth to compare to."""
    op, ticket_index, agent_index, presence, new_skills = operation
    agent_id = AGENT_IDS[agent_index]
    a = board.agent(agent_id)
    t = tickets[ticket_index] if ticket_index < len(tickets) else None
    if op == "remove_agent":
        board.remove_agent(agent_id)
    elif op == "remove_ticket" and t is not None:
        board.remove_ticket(t.ticket_id)
        waiting.pop(t.ticket_id, None)
    elif op == "profile":
        board.put_agent(replace(a or Agent(agent_id), skills=new_skills))
    elif a is None or t is None:
        return
    elif op == "presence":
        board.put_agent(replace(a, presence=presence))
    elif op == "release":
        board.release(a.agent_id, t)
    elif op == "assign" and t.ticket_id in waiting and can_take(a, t, board.policy):
        board.assign(t, a.agent_id, T0 + timedelta(minutes=ticket_index))
        waiting.pop(t.ticket_id)


def assert_best_agents_are_the_best_over_everyone(board: Board, tickets: list[Ticket]) -> None:
    everyone = list(board.agents())
    for t in tickets:
        choice = board.best_agent(t)
        ranking = reference_ranking(t, everyone, board.policy, board.strategy)
        if not ranking:
            assert choice is None
            continue
        assert choice is not None
        assert choice.agent == ranking[0]
        assert choice.candidates == len(ranking)
        assert [s.agent_id for s in choice.ranked] == [a.agent_id for a in ranking[:5]]


def assert_best_tickets_are_the_first_eligible(board: Board, waiting: dict[str, Ticket]) -> None:
    everyone = list(board.agents())
    skills = known(everyone)
    assert board.waiting() == sorted(waiting.values(), key=reference_queue_key)
    for a in everyone:
        takeable = [t for t in waiting.values() if eligible(a, t, board.policy, known=skills)]
        expected = min(takeable, key=reference_queue_key, default=None)
        assert board.best_ticket(a.agent_id) == expected


@settings(max_examples=150)
@given(agent_lists(), ticket_lists(), policies, strategies, operations, limits)
def test_the_boards_best_agent_stays_the_best_over_everyone_as_things_change(
    agents: list[Agent],
    tickets: list[Ticket],
    policy: CapacityPolicy,
    strategy: Strategy,
    ops: list[Operation],
    limit: dict[str, Any],
) -> None:
    board = Board(policy, strategy)
    board.put_agents(agents)
    waiting = {t.ticket_id: t for t in tickets}
    board.put_tickets(tickets)

    with patch.multiple(selection, **limit):
        assert_best_agents_are_the_best_over_everyone(board, tickets)
        for operation in ops:
            apply_operation(board, tickets, waiting, operation)
            assert_best_agents_are_the_best_over_everyone(board, tickets)


@settings(max_examples=150)
@given(agent_lists(), ticket_lists(), policies, strategies, operations)
def test_the_boards_best_ticket_stays_the_first_eligible_as_things_change(
    agents: list[Agent],
    tickets: list[Ticket],
    policy: CapacityPolicy,
    strategy: Strategy,
    ops: list[Operation],
) -> None:
    board = Board(policy, strategy)
    board.put_agents(agents)
    waiting = {t.ticket_id: t for t in tickets}
    board.put_tickets(tickets)

    assert_best_tickets_are_the_first_eligible(board, waiting)
    for operation in ops:
        apply_operation(board, tickets, waiting, operation)
        assert_best_tickets_are_the_first_eligible(board, waiting)


@pytest.mark.parametrize(
    ("sort_limit", "walk_limit"),
    [(0, selection.WALK_LIMIT), (16, 40), (selection.SORT_LIMIT, selection.WALK_LIMIT)],
)
@pytest.mark.parametrize("strategy", list(Strategy))
def test_the_board_agrees_with_brute_force_at_scale_while_assigning(
    strategy: Strategy, sort_limit: int, walk_limit: int
) -> None:
    rng = random.Random(20261102)
    agents = [
        Agent(
            f"a{i}",
            presence=rng.choice([Presence.ONLINE] * 8 + [Presence.AWAY, Presence.OFFLINE]),
            skills={s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))},
            languages=tuple(rng.sample(LANGUAGES, rng.randint(0, 2))),
            teams=tuple(rng.sample(TEAMS, rng.randint(0, 2))),
            capacity={c: rng.randint(0, 4) for c in CHANNELS},
            load={c: rng.randint(0, 2) for c in CHANNELS},
            last_assigned_at=rng.choice([None, T0 - timedelta(seconds=rng.randint(0, 9999))]),
        )
        for i in range(900)
    ]
    tickets = [
        Ticket(
            f"t{i}",
            channel=rng.choice(CHANNELS),
            request_type=rng.choice(REQUEST_TYPES),
            priority=rng.choice(list(Priority)),
            language=rng.choice(LANGUAGES),
            opened_at=T0 + timedelta(seconds=rng.randint(0, 9999)),
            requirement=rng.choice(
                [None, Requirement("q", {rng.choice(SKILLS): rng.randint(1, 5)}, None, None)]
            ),
        )
        for i in range(150)
    ]
    policy = CapacityPolicy(max_total=5)
    board = Board(policy, strategy)
    board.put_agents(agents)

    for minute, plain in enumerate(tickets):
        everyone = list(board.agents())
        # Decline the best few, prefer someone further down: both must be honoured at scale.
        top = [a.agent_id for a in reference_ranking(plain, everyone, policy, strategy)[:12]]
        t = replace(
            plain,
            declined_by=frozenset(rng.sample(top, min(len(top), rng.randint(0, 3)))),
            preferred_agent=rng.choice([None, *top]),
        )
        with patch.multiple(selection, SORT_LIMIT=sort_limit, WALK_LIMIT=walk_limit):
            choice = board.best_agent(t)
        ranking = reference_ranking(t, everyone, policy, strategy)
        assert (choice.agent.agent_id if choice else None) == (
            ranking[0].agent_id if ranking else None
        )
        if choice is not None:
            assert choice.candidates == len(ranking)
            assert [s.agent_id for s in choice.ranked] == [a.agent_id for a in ranking[:5]]
            board.assign(t, choice.agent.agent_id, T0 + timedelta(minutes=minute))


def test_plans_return_matches_with_their_choices() -> None:
    matches = plan([ticket()], [agent("a")], NO_CROSS_CHANNEL_LIMIT, T0)

    assert matches == [Match(ticket(), agent("a"), matches[0].choice)]
    assert matches[0].choice.agent == agent("a")
