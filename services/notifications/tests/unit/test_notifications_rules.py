"""The rules file and the staff directory: what they accept, and how a mistake is reported."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources

import pytest
import yaml
from opora_notifications.domain.directory import DirectoryError, parse_directory
from opora_notifications.domain.model import notification_id, template_language
from opora_notifications.domain.rules import RulesError, parse_duration, parse_rules

PACKAGED = resources.files("opora_notifications").joinpath("rules/notifications.yaml").read_text()
STAFF = resources.files("opora_notifications").joinpath("rules/staff.yaml").read_text()


def edited(change) -> str:
    data = yaml.safe_load(PACKAGED)
    change(data)
    return yaml.safe_dump(data, allow_unicode=True)


def rule(data, intent):
    return next(r for r in data["notifications"] if r["intent"] == intent)


def test_the_packaged_rules_load() -> None:
    rules = parse_rules(PACKAGED)

    assert rules.rule("ticket.acknowledged") is not None
    assert rules.rule("pending.reminder_2").after == timedelta(days=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", 30),
        ("10m", 600),
        ("24h", 86_400),
        ("5d", 432_000),
        ("2w", 1_209_600),
        ("-30d", -2_592_000),
        (90, 90),
    ],
)
def test_durations_are_written_with_a_unit(text, expected) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)


def test_a_misspelt_duration_names_the_field() -> None:
    text = edited(lambda d: rule(d, "pending.reminder_1").update(after="24 hours"))

    with pytest.raises(RulesError, match=r"notifications\.2\.after: .*invalid duration"):
        parse_rules(text)


def test_an_unknown_field_is_refused() -> None:
    text = edited(lambda d: rule(d, "ticket.solved").update(delay="1h"))

    with pytest.raises(RulesError, match=r"notifications\.5\.delay: Extra inputs"):
        parse_rules(text)


def test_an_unknown_trigger_is_refused() -> None:
    text = edited(lambda d: rule(d, "ticket.solved").update(trigger="ticket_fixed"))

    with pytest.raises(RulesError, match=r"notifications\.5\.trigger"):
        parse_rules(text)


def test_an_intent_defined_twice_is_refused() -> None:
    text = edited(lambda d: rule(d, "ticket.solved").update(intent="ticket.acknowledged"))

    with pytest.raises(RulesError, match="defined twice"):
        parse_rules(text)


def test_a_customer_cannot_receive_a_staff_alert() -> None:
    text = edited(lambda d: rule(d, "staff.detractor").update(to=["customer"]))

    with pytest.raises(RulesError, match="alerts staff"):
        parse_rules(text)


def test_a_negative_delay_needs_a_later_anchor() -> None:
    text = edited(lambda d: rule(d, "ticket.solved").update(after="-1h"))

    with pytest.raises(RulesError, match="negative"):
        parse_rules(text)


def test_surveys_need_a_fatigue_limit() -> None:
    text = edited(lambda d: d["customers"].pop("survey_fatigue"))

    with pytest.raises(RulesError, match="survey_fatigue"):
        parse_rules(text)


def test_an_unknown_time_zone_is_refused() -> None:
    text = edited(lambda d: d["customers"].update(default_time_zone="Europe/Moskva"))

    with pytest.raises(RulesError, match="unknown time zone"):
        parse_rules(text)


def test_every_channel_needs_reply_channels() -> None:
    text = edited(lambda d: d["customers"]["reply_channels"].pop("phone"))

    with pytest.raises(RulesError, match=r"no reply channels for \['phone'\]"):
        parse_rules(text)


def test_a_notification_cannot_go_on_a_channel_nobody_sends_on() -> None:
    text = edited(lambda d: rule(d, "ticket.assigned").update(channels=["phone"]))

    with pytest.raises(RulesError, match="cannot send on"):
        parse_rules(text)


def test_yaml_that_is_not_yaml_is_reported() -> None:
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("version: [unclosed")


def test_the_packaged_staff_directory_loads() -> None:
    directory = parse_directory(STAFF)

    assert directory.team("warranty-desk")[1].lead.email == "warranty.lead@desk.example.com"
    assert directory.team("no-such-team")[0] == directory.default_team


def test_a_queue_of_an_unknown_team_is_refused() -> None:
    data = yaml.safe_load(STAFF)
    data["queues"]["warranty"] = "warranty-team"

    with pytest.raises(DirectoryError, match="unknown teams"):
        parse_directory(yaml.safe_dump(data, allow_unicode=True))


def test_a_lead_without_a_valid_address_is_refused() -> None:
    data = yaml.safe_load(STAFF)
    data["teams"]["tier1"]["lead"]["email"] = "anna"

    with pytest.raises(DirectoryError, match=r"teams\.tier1\.lead\.email"):
        parse_directory(yaml.safe_dump(data, allow_unicode=True))


# --- identities -------------------------------------------------------------------------------


def test_a_notification_id_is_stable_for_the_same_intent_ticket_and_recipient() -> None:
    assert notification_id("x", "t-1", "staff:anna@example.com") == notification_id(
        "x", "t-1", " Staff:Anna@Example.com "
    )


def test_a_notification_id_differs_per_intent_ticket_recipient_and_occurrence() -> None:
    ids = {
        notification_id("a", "t-1", "customer"),
        notification_id("b", "t-1", "customer"),
        notification_id("a", "t-2", "customer"),
        notification_id("a", "t-1", "staff:anna@example.com"),
        notification_id("a", "t-1", "customer", "event-1"),
    }

    assert len(ids) == 5


def test_regional_russian_uses_the_russian_templates_and_others_english() -> None:
    assert template_language("ru-RU") == "ru"
    assert template_language("de") == "en"
    assert template_language(None) == "en"
