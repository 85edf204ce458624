"""The routing rules file: which rule a ticket follows, how its steps relax, escalation, offers,
capacity, validation of the file, and reloading it while the service runs."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from opora_routing.adapters.rules_file import RulesSource
from opora_routing.domain.model import CapacityPolicy, Ticket
from opora_routing.domain.rules import (
    RoutingRules,
    RulesError,
    SelectionStrategy,
    capacity_policy,
    escalate,
    escalated,
    load_rules,
    match,
    offer_timeout_s,
    parse_rules,
    requirement_at,
)
from opora_shared.contracts.common import Channel, Priority, RequestType

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

BASE: dict[str, Any] = {
    "version": "test-1",
    "offers": {"timeout_s": 60, "timeout_by_channel": {"phone": 20, "chat": 30}},
    "capacity": {"max_total": 5, "exclusive_channels": ["phone"]},
    "escalation": {
        "on_warning_raise_by": 1,
        "on_breach": {"priority": "urgent", "queue": "escalations", "team": "supervisors"},
    },
    "rules": [
        {
            "id": "vip",
            "when": {"tier": ["VIP"]},
            "queue": "vip",
            "steps": [{"after_s": 0, "use_ticket_skills": True, "team": "vip-desk"}],
        },
        {
            "id": "technical",
            "when": {"request_type": ["technical_support"]},
            "queue": "technical",
            "steps": [
                {"after_s": 0, "skills": {"technical": 4, "product:phones": 1}},
                {"after_s": 30, "skills": {"technical": 2}},
                {"after_s": 300, "any_agent": True, "team": "tech-team"},
                {"after_s": 900, "queue": "overflow", "team": None},
            ],
        },
        {
            "id": "phones",
            "when": {"product": ["\\biphone", "\\bgalaxy"]},
            "queue": "phones",
            "language_agnostic": True,
            "steps": [{"after_s": 0, "skills": {"product:phones": 2}}],
        },
        {
            "id": "default",
            "queue": "general",
            "steps": [
                {"after_s": 0, "use_ticket_skills": True},
                {"after_s": 60, "min_proficiency_cap": 1},
            ],
        },
    ],
}


def rules_with(**changes: Any) -> RoutingRules:
    return parse_rules(yaml.safe_dump({**BASE, **changes}))


def rule(rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in BASE["rules"] if r["id"] == rule_id)
    return found


def ticket(**changes: Any) -> Ticket:
    values: dict[str, Any] = {
        "ticket_id": "t-1",
        "channel": Channel.CHAT,
        "request_type": RequestType.WARRANTY,
        "priority": Priority.NORMAL,
        "language": "ru",
        "opened_at": T0,
    }
    values.update(changes)
    return Ticket(**values)


RULES = rules_with()


# --- which rule -----------------------------------------------------------------------------


def test_the_first_rule_that_holds_wins() -> None:
    vip_technical = ticket(tier="vip", request_type=RequestType.TECHNICAL_SUPPORT)

    found = match(vip_technical, RULES)

    assert found.rule_id == "vip"
    assert found.version == "test-1"
    assert "tier vip" in found.why


def test_a_ticket_no_rule_names_falls_to_the_catch_all() -> None:
    found = match(ticket(request_type=RequestType.LOYALTY), RULES)

    assert found.rule_id == "default"
    assert "catch-all" in found.why


def test_product_patterns_match_case_insensitively() -> None:
    found = match(ticket(product="Apple IPHONE 15 Pro"), RULES)

    assert found.rule_id == "phones"
    assert "\\biphone" in found.why


def test_the_last_rule_must_be_a_catch_all() -> None:
    with pytest.raises(RulesError, match=r"rules: .*last rule \('phones'\) must be a catch-all"):
        rules_with(rules=BASE["rules"][:3])


def test_a_catch_all_before_the_last_rule_is_rejected() -> None:
    with pytest.raises(RulesError, match="only the last rule may be a catch-all"):
        rules_with(rules=[rule("default"), *BASE["rules"]])


# --- steps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited_s", "step", "skills", "next_after"),
    [
        (0, 0, {"product:phones": 1, "technical": 4}, 30.0),
        (29.9, 0, {"product:phones": 1, "technical": 4}, 30.0),
        (30, 1, {"technical": 2}, 300.0),
        (299, 1, {"technical": 2}, 300.0),
    ],
)
def test_steps_relax_over_time_and_say_when_the_next_is_due(
    waited_s: float, step: int, skills: dict[str, int], next_after: float
) -> None:
    technical = ticket(request_type=RequestType.TECHNICAL_SUPPORT)

    decision = requirement_at(technical, match(technical, RULES), waited_s)

    assert decision.step == step
    assert dict(decision.requirement.skills) == skills
    assert decision.next_step_after_s == next_after
    assert decision.requirement.queue == "technical"
    assert decision.requirement.language == "ru"
    assert f"rule 'technical' step {step}" in decision.why


def test_the_last_step_moves_to_the_overflow_queue_with_no_next_step() -> None:
    technical = ticket(request_type=RequestType.TECHNICAL_SUPPORT)

    decision = requirement_at(technical, match(technical, RULES), 3600)

    assert decision.step == 3
    assert decision.requirement.queue == "overflow"
    assert decision.requirement.team is None
    assert decision.next_step_after_s is None


def test_a_team_step_offers_the_ticket_only_to_that_team() -> None:
    technical = ticket(request_type=RequestType.TECHNICAL_SUPPORT)

    decision = requirement_at(technical, match(technical, RULES), 300)

    assert decision.requirement.team == "tech-team"
    assert "team tech-team" in decision.why


def test_an_any_agent_step_drops_every_skill() -> None:
    technical = ticket(request_type=RequestType.TECHNICAL_SUPPORT)

    decision = requirement_at(technical, match(technical, RULES), 300)

    assert decision.requirement.skills == {}


def test_use_ticket_skills_requires_what_intake_asked_for_but_the_language_skill() -> None:
    vip = ticket(tier="vip", skills={"warranty": 2, "product:phones": 1, "lang:ru": 1})

    decision = requirement_at(vip, match(vip, RULES), 0)

    assert decision.requirement.skills == {"product:phones": 1, "warranty": 2}
    assert decision.requirement.language == "ru"


def test_a_step_naming_only_a_cap_keeps_the_skills_and_lowers_them() -> None:
    other = ticket(request_type=RequestType.OTHER, skills={"general": 3, "product:network": 2})

    decision = requirement_at(other, match(other, RULES), 60)

    assert decision.requirement.skills == {"general": 1, "product:network": 1}


def test_a_language_agnostic_rule_accepts_any_language() -> None:
    phone = ticket(product="Galaxy S24")

    decision = requirement_at(phone, match(phone, RULES), 0)

    assert decision.requirement.language is None


def test_a_step_cannot_ask_for_a_skill_the_step_before_did_not() -> None:
    tightening = {
        **rule("technical"),
        "steps": [
            {"after_s": 0, "skills": {"technical": 2}},
            {"after_s": 30, "skills": {"technical": 2, "warranty": 1}},
        ],
    }
    with pytest.raises(RulesError, match=r"rules\.0 \(rule 'technical'\).*adds skill 'warranty'"):
        rules_with(rules=[tightening, rule("default")])


def test_a_step_cannot_raise_a_skill_level() -> None:
    tightening = {
        **rule("technical"),
        "steps": [
            {"after_s": 0, "skills": {"technical": 2}},
            {"after_s": 30, "skills": {"technical": 3}},
        ],
    }
    with pytest.raises(RulesError, match="raises skill 'technical' to 3 from 2"):
        rules_with(rules=[tightening, rule("default")])


# --- escalation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (Priority.LOW, Priority.NORMAL),
        (Priority.NORMAL, Priority.HIGH),
        (Priority.HIGH, Priority.URGENT),
        (Priority.URGENT, Priority.URGENT),
    ],
)
def test_an_sla_warning_raises_priority_one_level_up_to_urgent(
    before: Priority, after: Priority
) -> None:
    decision = escalate(ticket(priority=before), "warning", RULES)

    assert decision.priority is after
    assert decision.queue is None
    assert decision.team is None


def test_an_sla_breach_moves_the_ticket_to_the_escalation_queue() -> None:
    technical = ticket(request_type=RequestType.TECHNICAL_SUPPORT)
    waiting = requirement_at(technical, match(technical, RULES), 0).requirement

    decision = escalate(technical, "breach", RULES)
    moved = escalated(waiting, decision)

    assert decision.priority is Priority.URGENT
    assert (moved.queue, moved.team) == ("escalations", "supervisors")
    assert moved.skills == waiting.skills
    assert "queue escalations" in decision.why


# --- offers and capacity --------------------------------------------------------------------


def test_offer_timeout_is_per_channel_with_a_default() -> None:
    assert offer_timeout_s(Channel.PHONE, RULES) == 20
    assert offer_timeout_s(Channel.CHAT, RULES) == 30
    assert offer_timeout_s(Channel.EMAIL, RULES) == 60


def test_offers_default_to_sixty_seconds_and_most_spare_capacity() -> None:
    bare = rules_with(offers={})

    assert offer_timeout_s(Channel.CHAT, bare) == 60
    assert bare.offers.strategy is SelectionStrategy.MOST_SPARE
    assert bare.offers.return_open_tickets_on_offline is False


def test_capacity_section_maps_to_the_cross_channel_policy() -> None:
    assert capacity_policy(RULES) == CapacityPolicy(
        max_total=5, exclusive=frozenset({Channel.PHONE})
    )
    assert capacity_policy(rules_with(capacity={})) == CapacityPolicy()


# --- the file -------------------------------------------------------------------------------


def test_the_packaged_rules_load_and_route_every_request_type() -> None:
    packaged = load_rules()

    routed = {rt: match(ticket(request_type=rt), packaged).rule_id for rt in RequestType}

    assert routed[RequestType.WARRANTY] == "warranty"
    assert routed[RequestType.OTHER] == "default"
    assert offer_timeout_s(Channel.PHONE, packaged) == 20
    assert Channel.PHONE in capacity_policy(packaged).exclusive


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "rules": [
                    {**rule("technical"), "steps": [{"after_s": 0, "skills": {"technical": 7}}]}
                ]
            },
            r"rules\.0 \(rule 'technical'\)\.steps\.0\.skills\.technical: .*less than or equal",
        ),
        (
            {"offers": {"timeout_by_channel": {"fax": 10}}},
            r"offers\.timeout_by_channel\.fax\.\[key\]: Input should be",
        ),
        (
            {"rules": [{**rule("default"), "steps": [{"after_s": 10, "any_agent": True}]}]},
            r"rules\.0 \(rule 'default'\)\.steps: .*step 0: 'after_s' must be 0",
        ),
        (
            {
                "rules": [
                    {
                        **rule("default"),
                        "steps": [{"after_s": 0, "any_agent": True}, {"after_s": 0}],
                    }
                ]
            },
            r"step 1: 'after_s' 0 must be greater than step 0's 0",
        ),
        (
            {"rules": [{**rule("phones"), "when": {"product": ["(unclosed"]}}, rule("default")]},
            r"rules\.0 \(rule 'phones'\)\.when\.product: .*entry 0: invalid regular expression",
        ),
        (
            {"rules": [{**rule("default"), "wen": {}}]},
            r"rules\.0 \(rule 'default'\)\.wen: Extra inputs are not permitted",
        ),
        (
            {"rules": [rule("default"), rule("default")]},
            r"rules: .*only the last rule may be a catch-all",
        ),
        (
            {"rules": [rule("technical"), rule("technical"), rule("default")]},
            r"rules: .*duplicate rule id 'technical'",
        ),
        ({"escalation": {"on_breach": {"priority": "asap"}}}, r"escalation\.on_breach\.priority"),
        ({"version": ""}, r"version: String should have at least 1 character"),
    ],
)
def test_a_malformed_file_fails_to_load_naming_the_field(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RulesError, match=expected):
        rules_with(**changes)


def test_text_that_is_not_yaml_fails_to_load() -> None:
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("rules: [", source="routing.yaml")


# --- reloading ------------------------------------------------------------------------------


def write(path: Path, **changes: Any) -> None:
    path.write_text(yaml.safe_dump({**BASE, **changes}), encoding="utf-8")


def test_reload_picks_up_a_valid_change(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    write(path)
    source = RulesSource(path)

    write(path, version="test-2")
    reloaded = source.reload()

    assert reloaded is not None
    assert source.current.version == "test-2"


def test_reload_keeps_the_rules_in_force_when_the_change_is_invalid(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "routing.yaml"
    write(path)
    source = RulesSource(path)

    write(path, version="test-2", rules=[rule("technical")])
    with caplog.at_level(logging.ERROR):
        reloaded = source.reload()

    assert reloaded is None
    assert source.current.version == "test-1"
    assert "must be a catch-all" in caplog.text


def test_an_invalid_file_at_start_fails(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    write(path, offers={"timeout_s": -1})

    with pytest.raises(RulesError, match=r"offers\.timeout_s"):
        RulesSource(path)


async def test_the_packaged_rules_are_not_watched() -> None:
    source = RulesSource()

    await asyncio.wait_for(source.watch(), timeout=1)

    assert source.current.version == load_rules().version


async def test_watch_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    write(path)
    source = RulesSource(path)
    seen: asyncio.Queue[RoutingRules] = asyncio.Queue()
    stop = asyncio.Event()

    async def on_change(rules: RoutingRules) -> None:
        await seen.put(rules)

    watching = asyncio.create_task(source.watch(on_change, stop_event=stop, debounce_ms=50))
    try:
        await asyncio.sleep(0.3)  # let the watcher start
        write(path, version="test-2")
        changed = await asyncio.wait_for(seen.get(), timeout=4)
    finally:
        stop.set()
        await asyncio.wait_for(watching, timeout=1)

    assert changed.version == "test-2"
    assert source.current.version == "test-2"


# --- properties -----------------------------------------------------------------------------

PACKAGED = load_rules()

skill_names = st.sampled_from(
    (
        *("technical", "warranty", "repair", "sales", "complaints", "general", "orders"),
        *("lang:ru", "lang:en", "product:phones", "product:appliances", "x"),
    )
)
tickets = st.builds(
    Ticket,
    ticket_id=st.just("t-1"),
    channel=st.sampled_from(Channel),
    request_type=st.sampled_from(RequestType),
    priority=st.sampled_from(Priority),
    language=st.sampled_from(["ru", "en", "ru-RU", "de"]),
    opened_at=st.just(T0),
    tier=st.sampled_from(["standard", "vip", "Gold", "silver"]) | st.text(max_size=8),
    product=st.none() | st.text(max_size=20) | st.sampled_from(["iPhone 15", "Galaxy S24"]),
    skills=st.dictionaries(skill_names, st.integers(1, 5), max_size=5),
)


def asks_no_more(later: Mapping[str, int], earlier: Mapping[str, int]) -> bool:
    return all(skill in earlier and level <= earlier[skill] for skill, level in later.items())


@settings(max_examples=300, deadline=None)
@given(
    ticket=tickets,
    rules=st.sampled_from([PACKAGED, RULES]),
    waits=st.lists(st.floats(-10, 4000, allow_nan=False), min_size=2, max_size=6),
)
def test_every_ticket_has_a_rule_whose_steps_only_relax(
    ticket: Ticket, rules: RoutingRules, waits: list[float]
) -> None:
    found = match(ticket, rules)
    decisions = [requirement_at(ticket, found, waited) for waited in sorted(waits)]

    for earlier, later in itertools.pairwise(decisions):
        assert later.step >= earlier.step
        assert asks_no_more(later.requirement.skills, earlier.requirement.skills)


def test_a_recovery_ticket_goes_to_the_team_leads() -> None:
    rules = load_rules()
    ticket = Ticket(
        ticket_id="r-1",
        channel=Channel.WORKSPACE,
        request_type=RequestType.COMPLAINT,
        priority=Priority.HIGH,
        language="ru",
        opened_at=datetime(2026, 11, 2, tzinfo=UTC),
        skills={"team_lead": 1},
    )

    decision = requirement_at(ticket, match(ticket, rules), 0)

    assert (decision.rule_id, decision.requirement.team) == ("detractor-recovery", "team-leads")
    assert decision.requirement.skills == {"team_lead": 1}


def test_an_impossible_date_in_the_file_is_a_rules_error() -> None:
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("version: 2026-02-30\n")


def test_the_queues_are_every_rules_its_overflow_and_the_escalation_queue() -> None:
    queues = load_rules().queues

    assert {"general", "complaints", "overflow", "escalations", "recovery"} <= queues
