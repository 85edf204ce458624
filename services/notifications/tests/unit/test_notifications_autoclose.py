"""The warning before a pending ticket is solved for want of an answer: timed and dated from the
``auto_change_at`` intake publishes on the change into pending (its automation decides, not a
second copy of the number here), written in the reader's language and time zone, and not sent
at all when intake's automation is off."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources

import pytest
import yaml
from opora_notifications.domain.model import CUSTOMER, notification_id
from opora_notifications.domain.rules import RulesError, load_rules, parse_rules
from opora_shared.contracts.common import TicketStatus

WARNING = "pending.autoclose_warning"


def _warning_id(pending) -> str:
    return notification_id(WARNING, "t-1", CUSTOMER, pending.event_id)


async def test_the_warning_is_due_a_day_before_intake_solves_the_ticket(
    desk, ticket_opened, status
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING, auto_change_after=timedelta(days=7))

    await desk.notifier.on_status_changed(pending)

    assert pending.auto_change_at is not None
    warning = desk.store.records[_warning_id(pending)]
    assert warning.due_at == pending.auto_change_at - timedelta(hours=24)


async def test_the_warning_follows_the_date_intake_gives_not_a_fixed_delay(
    desk, ticket_opened, status, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING, auto_change_after=timedelta(days=3))

    await desk.notifier.on_status_changed(pending)

    assert desk.store.records[_warning_id(pending)].due_at == clock() + timedelta(days=2)


async def test_no_warning_when_intake_will_not_solve_the_ticket(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING, auto_change_after=None)

    await desk.notifier.on_status_changed(pending)
    await desk.advance(timedelta(days=10))

    assert _warning_id(pending) not in desk.store.records
    sent = [m.intent for m in desk.mail.sent]
    assert WARNING not in sent
    assert "pending.reminder_2" in sent  # the reminders do not depend on it


async def test_the_russian_warning_names_the_moment_in_moscow_time(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(ticket_opened(language="ru"))
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))

    await desk.advance(timedelta(days=6))

    mail = next(m for m in desk.mail.sent if m.intent == WARNING)
    assert mail.content.subject == "[OP-000123] Обращение будет закрыто 7 марта 2026"
    assert "Если ответа не будет до 7 марта 2026, 12:30" in mail.content.text
    assert "до <strong>7 марта 2026, 12:30</strong>" in (mail.content.html or "")


async def test_the_english_warning_names_the_moment_in_london_time(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(ticket_opened(language="en", name="Ivan Petrov"))
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))

    await desk.advance(timedelta(days=6))

    mail = next(m for m in desk.mail.sent if m.intent == WARNING)
    assert mail.content.subject == "[OP-000123] Your request will be closed on 7 March 2026"
    assert "If we do not hear from you by 7 March 2026, 09:30" in mail.content.text


async def test_the_warning_by_sms_fits_and_names_the_moment(make_desk, ticket_opened, status):
    desk = make_desk()
    opened = ticket_opened(email=None, phone="+79161234567", language="ru")
    await desk.notifier.on_ticket_opened(opened)
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))

    await desk.advance(timedelta(days=6))

    sms = next(m for m in desk.sms.sent if m.intent == WARNING)
    assert sms.content.text.startswith("Заявка OP-000123 будет закрыта 7 марта 2026, 12:30")


async def test_the_reminder_tells_the_closing_date_only_when_there_is_one(
    make_desk, ticket_opened, status
):
    dated, undated = make_desk(), make_desk()
    for desk, after in ((dated, timedelta(days=7)), (undated, None)):
        await desk.notifier.on_ticket_opened(ticket_opened(language="en", name="Ivan"))
        await desk.notifier.on_status_changed(status(TicketStatus.PENDING, auto_change_after=after))
        await desk.advance(timedelta(days=1))

    [with_date] = [m for m in dated.mail.sent if m.intent == "pending.reminder_1"]
    [without] = [m for m in undated.mail.sent if m.intent == "pending.reminder_1"]
    assert "we will close the request on 7 March 2026" in with_date.content.text
    assert "close the request" not in without.content.text


# --- the rules ----------------------------------------------------------------------------------


def test_the_packaged_warning_is_anchored_on_intakes_date() -> None:
    rule = load_rules().rule(WARNING)

    assert rule is not None
    assert (rule.anchor.value, rule.after) == ("auto_change_at", timedelta(hours=-24))


def _packaged() -> dict:
    text = resources.files("opora_notifications").joinpath("rules/notifications.yaml").read_text()
    return yaml.safe_load(text)


def test_the_anchor_is_refused_on_a_fact_that_carries_no_such_date() -> None:
    data = _packaged()
    ack = next(r for r in data["notifications"] if r["intent"] == "ticket.acknowledged")
    ack.update(anchor="auto_change_at", after="-1h")

    with pytest.raises(RulesError, match="anchor 'auto_change_at' exists only for"):
        parse_rules(yaml.safe_dump(data, allow_unicode=True))


def test_a_rules_file_still_holding_pending_closes_after_fails_saying_why() -> None:
    data = _packaged() | {"pending": {"closes_after": "7d"}}

    with pytest.raises(RulesError, match="intake decides when a pending ticket is solved"):
        parse_rules(yaml.safe_dump(data, allow_unicode=True))
