"""The skeleton SLA policy: first-reply targets by priority, due and warning times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opora_shared.contracts.common import Priority
from opora_shared.contracts.sla import Metric
from opora_sla.domain.model import TimerState
from opora_sla.domain.policy import apply_policy

OPENED = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("priority", "hours"),
    [(Priority.URGENT, 1), (Priority.HIGH, 4), (Priority.NORMAL, 8), (Priority.LOW, 24)],
)
def test_the_first_reply_target_depends_on_priority(priority: Priority, hours: int) -> None:
    [timer] = apply_policy("t-1", priority, OPENED, OPENED).timers

    assert timer.metric is Metric.FIRST_REPLY
    assert timer.target_s == hours * 3600


def test_the_due_time_counts_calendar_time_from_the_opening() -> None:
    [timer] = apply_policy("t-1", Priority.HIGH, OPENED, OPENED).timers

    assert timer.started_at == OPENED
    assert timer.due_at == datetime(2026, 11, 3, 3, 30, tzinfo=UTC)  # across midnight


def test_the_warning_comes_at_three_quarters_of_the_target() -> None:
    [timer] = apply_policy("t-1", Priority.URGENT, OPENED, OPENED).timers

    assert timer.warn_at == OPENED + timedelta(minutes=45)
    assert timer.warning_threshold == "75%"


def test_the_default_policy_names_itself_and_its_calendar() -> None:
    applied = apply_policy("t-1", Priority.NORMAL, OPENED, OPENED)

    assert (applied.policy_id, applied.policy_version, applied.calendar_id) == (
        "default",
        1,
        "24x7",
    )


def test_a_new_timer_is_armed_and_keyed_by_ticket_and_metric() -> None:
    [timer] = apply_policy("t-1", Priority.NORMAL, OPENED, OPENED).timers

    assert timer.state is TimerState.ARMED
    assert timer.key == "t-1:first_reply"


def test_a_reply_on_the_due_time_still_meets_the_target() -> None:
    [timer] = apply_policy("t-1", Priority.URGENT, OPENED, OPENED).timers

    assert timer.met_by(timer.due_at)
    assert not timer.met_by(timer.due_at + timedelta(seconds=1))


def test_remaining_time_turns_negative_after_the_due_time() -> None:
    [timer] = apply_policy("t-1", Priority.URGENT, OPENED, OPENED).timers

    assert timer.remaining_s(timer.due_at + timedelta(minutes=5)) == -300
    assert timer.elapsed_s(OPENED + timedelta(minutes=10)) == 600
