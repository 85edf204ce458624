"""Alerts to staff by escalation level, detractor alerts, and the warranty follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opora_notifications.domain.model import CUSTOMER, DeliveryState, notification_id
from opora_shared.contracts.common import RequestType, TicketStatus
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyType
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.sla import Metric, SlaBreachedV1, SlaEscalatedV1, SlaWarningV1
from opora_shared.contracts.workspace import AgentProfileChangedV1

LEAD = "warranty.lead@desk.example.com"
SUPERVISOR = "duty.supervisor@desk.example.com"


@pytest.fixture
async def assigned(desk, ticket_opened, clock):
    """A warranty ticket held by Мария of the warranty desk."""
    await desk.notifier.on_agent_profile(
        AgentProfileChangedV1(
            agent_id="a-1",
            name="Мария Соколова",
            email="maria@desk.example.com",
            languages=("ru", "en"),
            teams=("warranty-desk",),
        )
    )
    await desk.notifier.on_ticket_opened(ticket_opened(request_type=RequestType.WARRANTY))
    await desk.notifier.on_assigned(
        TicketAssignedV1(
            occurred_at=clock(), ticket_id="t-1", queue="warranty", agent_id="a-1", team=None
        )
    )
    await desk.advance(timedelta(seconds=10))
    desk.mail.sent.clear()


def _sla(kind, clock, **extra):
    return kind(
        event_id=f"{kind.__name__}-{extra.get('level', 0)}",
        occurred_at=clock(),
        ticket_id="t-1",
        policy_id="standard",
        policy_version=1,
        metric=Metric.FIRST_REPLY,
        due_at=clock() + timedelta(minutes=15),
        elapsed_s=2700,
        remaining_s=900 if kind is SlaWarningV1 else -600,
        **extra,
    )


async def test_an_sla_warning_goes_to_the_assigned_agent(desk, assigned, clock):
    await desk.notifier.on_sla_alert(_sla(SlaWarningV1, clock, threshold="75%"))
    await desk.settle()

    (mail,) = desk.mail.sent
    assert mail.address == "maria@desk.example.com"
    assert mail.content.subject == "[OP-000123] SLA: первый ответ — осталось 15 минут"
    assert "Добрый день, Мария!" in mail.content.text


async def test_a_breach_goes_to_the_agent_and_the_team_lead_even_at_night(desk, assigned, clock):
    clock.now = clock.now.replace(hour=23)  # 02:00 in Moscow
    await desk.notifier.on_sla_alert(_sla(SlaBreachedV1, clock))
    await desk.settle()

    assert sorted(m.address for m in desk.mail.sent) == sorted(["maria@desk.example.com", LEAD])
    assert "просрочено на 10 минут" in desk.mail.sent[0].content.text


async def test_escalation_level_one_alerts_the_team_lead(desk, assigned, clock):
    await desk.notifier.on_sla_alert(_sla(SlaEscalatedV1, clock, level=1))
    await desk.settle()

    assert [m.address for m in desk.mail.sent] == [LEAD]


async def test_escalation_level_two_alerts_the_supervisor_too(desk, assigned, clock):
    await desk.notifier.on_sla_alert(_sla(SlaEscalatedV1, clock, level=2))
    await desk.settle()

    assert sorted(m.address for m in desk.mail.sent) == sorted([LEAD, SUPERVISOR])
    assert "уровень 2" in desk.mail.sent[0].content.subject


async def test_an_alert_for_an_unassigned_ticket_goes_to_the_default_teams_lead(
    desk, ticket_opened, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_sla_alert(_sla(SlaWarningV1, clock, threshold="75%"))
    await desk.settle()

    warning = [m for m in desk.mail.sent if m.intent == "staff.sla_warning"]
    assert [m.address for m in warning] == ["tier1.lead@desk.example.com"]


async def test_the_same_alert_redelivered_is_sent_once(desk, assigned, clock):
    breach = _sla(SlaBreachedV1, clock)
    await desk.notifier.on_sla_alert(breach)
    await desk.notifier.on_sla_alert(breach)
    await desk.settle()

    assert len(desk.mail.sent) == 2  # the agent and the lead, once each


async def test_an_alert_before_the_ticket_s_opening_waits_without_failing(desk, clock):
    await desk.notifier.on_sla_alert(_sla(SlaBreachedV1, clock))
    await desk.settle()

    assert desk.mail.sent == []


async def test_an_alert_that_came_before_the_opening_is_sent_when_the_opening_arrives(
    desk, ticket_opened, clock
):
    await desk.notifier.on_sla_alert(_sla(SlaBreachedV1, clock))

    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()

    assert [m for m in desk.mail.sent if m.intent == "staff.sla_breached"]


async def test_an_early_alert_is_sent_once_however_often_it_was_delivered(
    desk, ticket_opened, clock
):
    breach = _sla(SlaBreachedV1, clock)
    await desk.notifier.on_sla_alert(breach)
    await desk.notifier.on_sla_alert(breach)

    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()

    breached = [m for m in desk.mail.sent if m.intent == "staff.sla_breached"]
    assert len(breached) == len({m.address for m in breached}) > 0


async def test_a_detractor_alerts_the_team_lead(desk, assigned, clock):
    await desk.notifier.on_detractor_found(
        DetractorFoundV1(
            occurred_at=clock(),
            ticket_id="t-1",
            survey_id="t-1:csat",
            survey_type=SurveyType.CSAT,
            agent_id="a-1",
            team="warranty-desk",
            channel="email",
            request_type=RequestType.WARRANTY,
            score=1,
        )
    )
    await desk.settle()

    (mail,) = desk.mail.sent
    assert mail.address == LEAD
    assert mail.content.subject == "[OP-000123] Низкая оценка: 1 (csat)"
    assert "Иван Петров" in mail.content.text


# --- warranty ---------------------------------------------------------------------------------


async def test_a_solved_warranty_case_gets_a_follow_up_three_days_later(desk, assigned, status):
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.advance(timedelta(days=2, hours=23))
    assert "warranty.repair_follow_up" not in [m.intent for m in desk.mail.sent]

    await desk.advance(timedelta(hours=1))

    follow_up = next(m for m in desk.mail.sent if m.intent == "warranty.repair_follow_up")
    assert follow_up.content.subject == "[OP-000123] Как работает Bosch WAN28281 после ремонта?"


async def test_the_warranty_reminder_is_due_thirty_days_before_the_assumed_end(
    desk, assigned, status, clock
):
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))

    reminder = desk.store.records[notification_id("warranty.ending_reminder", "t-1", CUSTOMER)]
    assert reminder.due_at == clock() - timedelta(seconds=10) + timedelta(days=365 - 30)


async def test_the_warranty_end_named_in_the_request_wins(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(
        ticket_opened(
            request_type=RequestType.WARRANTY, references={"warranty_until": ("2026-05-17",)}
        )
    )
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.advance(timedelta(days=49))

    reminder = desk.store.records[notification_id("warranty.ending_reminder", "t-1", CUSTOMER)]
    assert reminder.due_at == datetime(2026, 4, 17, 12, tzinfo=UTC)
    assert reminder.state is DeliveryState.SENT
    mail = next(m for m in desk.mail.sent if m.intent == "warranty.ending_reminder")
    assert "17 мая 2026" in mail.content.subject


async def test_no_warranty_reminder_for_a_warranty_already_over(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(
        ticket_opened(
            request_type=RequestType.WARRANTY, references={"warranty_until": ("2026-01-01",)}
        )
    )
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))

    planned = {r.intent for r in desk.store.records.values()}
    assert "warranty.ending_reminder" not in planned


async def test_a_technical_ticket_gets_no_warranty_follow_ups(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))

    planned = {r.intent for r in desk.store.records.values()}
    assert not {"warranty.repair_follow_up", "warranty.ending_reminder"} & planned
