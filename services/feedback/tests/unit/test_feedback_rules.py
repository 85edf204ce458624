"""The survey rules file: validated at load, first match wins, lifetimes that cannot race."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opora_feedback.domain.rules import RulesError, load_rules, parse_rules
from opora_shared.contracts.common import Channel, RequestType
from opora_shared.contracts.feedback import SurveyType

MINIMAL = """\
version: 1
rules:
  - id: everything
    ask: [csat]
"""


def test_the_packaged_rules_load() -> None:
    rules = load_rules()

    assert rules.questions_for(RequestType.LOYALTY, Channel.EMAIL)[0] is SurveyType.NPS
    assert rules.policy.edit_window == timedelta(days=14)


def test_the_first_matching_rule_decides(rules) -> None:
    assert rules.questions_for(RequestType.LOYALTY, Channel.SMS) == (SurveyType.CSAT,)
    assert rules.questions_for(RequestType.LOYALTY, Channel.EMAIL) == (
        SurveyType.NPS,
        SurveyType.CSAT,
    )


def test_a_rule_may_ask_nothing(rules) -> None:
    assert rules.questions_for(RequestType.FEEDBACK, Channel.EMAIL) == ()


def test_defaults_fill_what_the_file_leaves_out() -> None:
    rules = parse_rules(MINIMAL)

    assert (rules.links.expire_after_days, rules.answers.edit_window_days) == (28, 14)
    assert rules.reports.timezone == "UTC"


def test_an_invitation_is_due_a_day_after_the_solve_unless_the_file_says_otherwise() -> None:
    assert parse_rules(MINIMAL).policy.invitation_delay == timedelta(hours=24)
    assert load_rules().policy.invitation_delay == timedelta(hours=24)


def test_a_negative_invitation_delay_fails_the_load_naming_its_path() -> None:
    with pytest.raises(RulesError, match=r"invitations\.delay_hours"):
        parse_rules(MINIMAL + "invitations: {delay_hours: -1}\n")


def test_an_unknown_question_fails_the_load_naming_its_path() -> None:
    with pytest.raises(RulesError, match=r"rules\.0\.ask\.0"):
        parse_rules(MINIMAL.replace("[csat]", "[happiness]"))


def test_the_last_rule_must_match_everything() -> None:
    broken = MINIMAL.replace("    ask: [csat]", "    when: {channel: [email]}\n    ask: [csat]")

    with pytest.raises(RulesError, match="last rule"):
        parse_rules(broken)


def test_a_question_is_asked_once_per_rule() -> None:
    with pytest.raises(RulesError, match="at most once"):
        parse_rules(MINIMAL.replace("[csat]", "[csat, csat]"))


def test_comments_must_outlive_the_edit_window() -> None:
    short = MINIMAL + "answers: {edit_window_days: 14}\ncomments: {retention_days: 7}\n"

    with pytest.raises(RulesError, match="retention_days"):
        parse_rules(short)


def test_an_unknown_time_zone_fails_the_load() -> None:
    with pytest.raises(RulesError, match="time zone"):
        parse_rules(MINIMAL + "reports: {timezone: Mars/Olympus}\n")


def test_a_misspelt_setting_fails_the_load() -> None:
    with pytest.raises(RulesError, match="edit_windw_days"):
        parse_rules(MINIMAL + "answers: {edit_windw_days: 3}\n")


def test_a_reason_needs_both_languages() -> None:
    with pytest.raises(RulesError, match=r"csat\.reasons\.0\.ru"):
        parse_rules(MINIMAL + "csat:\n  reasons:\n    - {id: slow, en: Too slow}\n")
