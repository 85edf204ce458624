"""The policies file: validation that names the failing field, durations, warnings, escalations,
matching in order, targets per priority and hours, and versions that follow the meaning."""

from __future__ import annotations

import pytest
from opora_shared.contracts.common import Channel, Priority
from opora_shared.contracts.sla import Metric
from opora_sla.domain.calendars import load_calendars
from opora_sla.domain.policies import (
    PolicyError,
    Profile,
    SlaConfig,
    WarningRule,
    applied_policy,
    format_duration,
    load_policies,
    parse_duration,
    parse_policies,
)

from ..conftest import CALENDARS, POLICIES, config


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("30m", 1800), ("4h", 14400), ("1h30m", 5400), ("2d", 172800), (90, 90)],
)
def test_durations_read_as_seconds_and_back(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "4 hours", "1.5h", "h", "-5m", True])
def test_a_malformed_duration_is_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_percentage_warning_fires_at_that_share_of_the_target() -> None:
    assert WarningRule.parse("75%").used_at(3600) == 2700


def test_a_minutes_before_warning_counts_back_from_the_due_time() -> None:
    rule = WarningRule.parse("15m")
    assert (rule.label, rule.used_at(3600)) == ("15m", 2700)


def test_a_warning_that_would_fire_before_the_start_is_skipped() -> None:
    assert WarningRule.parse("15m").used_at(600) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0%", "1% to 99%"),
        ("100%", "1% to 99%"),
        ("soon", "not a warning"),
        ("0m", "is the breach"),
    ],
)
def test_a_malformed_warning_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        WarningRule.parse(text)


def test_the_shipped_policies_load_with_the_shipped_calendars() -> None:
    shipped = SlaConfig.build(load_policies(), load_calendars())

    assert shipped.policies.policies[-1].when.is_empty
    assert len(shipped.fingerprint) == 64


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("urgent: 1h,", "urgent: soon,"), "policies.1 (policy 'office').targets.first_reply"),
        (("urgent: 1h,", "urgent: 8760d,"), "less than or equal to 31622400"),
        (("tier: [vip]", "tier: []"), "policies.0 (policy 'vip').when.tier"),
        (("- id: vip", "- id: standard"), "policies: Value error, policy 2: duplicate policy id"),
        (("on_hold: [agent_work]", "on_hold: [lunch]"), "defaults.pauses.on_hold.0"),
        (("{level: 2, after: 30m}", "{level: 1, after: 30m}"), "escalation 1: level 1"),
        (('warnings: ["50%", "5m"]', 'warnings: ["50%", "50%"]'), "listed twice"),
        (("    when: {team: [office-team]}\n", ""), "policy 1 ('office') has no conditions"),
    ],
)
def test_a_malformed_policies_file_names_the_failing_field(
    change: tuple[str, str], field: str
) -> None:
    old, new = change
    assert old in POLICIES

    with pytest.raises(PolicyError) as failure:
        parse_policies(POLICIES.replace(old, new, 1), source="policies.yaml")

    assert field in str(failure.value)
    assert "policies.yaml" in str(failure.value)


def test_a_policy_naming_an_unknown_calendar_is_refused() -> None:
    unknown = POLICIES.replace("hours: business", "hours: business\n    calendar: mars-office")

    with pytest.raises(PolicyError, match=r"policies.1 \(policy 'office'\).calendar"):
        config(unknown)


def test_the_short_form_of_a_target_is_its_targets_by_priority() -> None:
    standard = parse_policies(POLICIES).policies[2]

    assert standard.targets[Metric.FIRST_REPLY].within[Priority.URGENT] == 3600


def test_the_first_policy_whose_conditions_all_hold_applies() -> None:
    vip = applied_policy(Profile(tier="VIP", channel=Channel.CHAT), config())

    assert vip is not None
    assert vip.policy_id == "vip"
    assert "tier VIP" in vip.why


def test_a_team_condition_needs_the_ticket_to_have_that_team() -> None:
    unassigned = applied_policy(Profile(), config())
    office = applied_policy(Profile(team="office-team"), config())

    assert (unassigned and unassigned.policy_id, office and office.policy_id) == (
        "standard",
        "office",
    )


def test_business_hours_use_the_team_calendar_and_calendar_hours_run_24x7() -> None:
    office = applied_policy(Profile(team="office-team"), config())
    standard = applied_policy(Profile(team="elsewhere"), config())

    assert office is not None
    assert standard is not None
    assert (office.calendar_id, office.targets[Metric.FIRST_REPLY].business_hours) == (
        "office",
        True,
    )
    assert standard.targets[Metric.FIRST_REPLY].business_hours is False


def test_a_target_takes_the_policy_warnings_and_the_default_escalations() -> None:
    vip = applied_policy(Profile(tier="vip", priority=Priority.URGENT), config())

    assert vip is not None
    rule = vip.targets[Metric.FIRST_REPLY]
    assert [(p.kind, p.label, p.used_s) for p in rule.points()] == [
        ("warning", "50%", 300),
        ("warning", "5m", 300),
        ("breach", "", 600),
    ]


def test_escalations_come_after_the_breach_on_the_same_clock() -> None:
    standard = applied_policy(Profile(priority=Priority.URGENT), config())

    assert standard is not None
    points = standard.targets[Metric.FIRST_REPLY].points()
    assert [(p.kind, p.level, p.used_s) for p in points if p.kind != "warning"] == [
        ("breach", 0, 3600),
        ("escalation", 1, 3600),
        ("escalation", 2, 5400),
    ]


def test_a_comment_does_not_make_a_new_version() -> None:
    assert config(POLICIES + "# a note\n").fingerprint == config().fingerprint


def test_a_changed_target_makes_a_new_version() -> None:
    changed = POLICIES.replace("urgent: 1h,", "urgent: 2h,", 1)

    assert config(changed).fingerprint != config().fingerprint


def test_a_changed_calendar_makes_a_new_version() -> None:
    changed = CALENDARS.replace('fri: ["09:00-13:00", "14:00-18:00"]', 'fri: ["09:00-13:00"]')

    assert config(calendars=changed).fingerprint != config().fingerprint
