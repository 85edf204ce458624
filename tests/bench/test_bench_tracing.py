"""The tracing benchmark's arithmetic and bookkeeping, without infrastructure."""

from __future__ import annotations

import math

import pytest
from opora_shared.contracts.common import Channel
from opora_shared.contracts.notifications import NotificationFailedV1, NotificationSentV1
from opora_shared.contracts.sla import SlaAppliedV1

from tests.bench.bench_tracing import Cost, TicketPath, note, phase_plan


def _failed(intent: str, *, will_retry: bool) -> bytes:
    return (
        NotificationFailedV1(
            ticket_id="t-1",
            notification_id=f"n-{intent}",
            intent=intent,
            channel=Channel.EMAIL,
            recipient_masked="a***@example.com",
            template="ticket_acknowledged",
            reason="451 greylisted",
            attempts=1,
            will_retry=will_retry,
        )
        .model_dump_json()
        .encode()
    )


def _sent(intent: str) -> bytes:
    return (
        NotificationSentV1(
            ticket_id="t-1",
            notification_id=f"n-{intent}",
            intent=intent,
            channel=Channel.EMAIL,
            recipient_masked="a***@example.com",
            template="ticket_acknowledged",
        )
        .model_dump_json()
        .encode()
    )


def test_phases_alternate_off_then_on_for_each_pair() -> None:
    assert phase_plan(2) == [False, True, False, True]


def test_cost_pools_each_side_and_compares_each_pair_in_order() -> None:
    cost = Cost.of([(False, 100, 10.0), (True, 90, 10.0), (False, 100, 20.0), (True, 80, 20.0)])

    assert (cost.off_per_s, cost.on_per_s) == pytest.approx((200 / 30, 170 / 30))
    assert cost.ratio == pytest.approx(0.85)
    assert cost.cost == pytest.approx(0.15)
    assert cost.pair_ratios == pytest.approx((0.9, 0.8))


def test_cost_without_an_off_phase_is_undefined() -> None:
    assert math.isnan(Cost.of([(True, 90, 10.0)]).ratio)


def test_a_ticket_ends_when_both_sla_and_the_acknowledgement_are_done() -> None:
    path = TicketPath()
    note(path, SlaAppliedV1.ce_type, b"{}", 12.0)
    assert path.ended is None

    note(path, NotificationSentV1.ce_type, _sent("ticket.acknowledged"), 11.5)

    assert path.ended == 12.0
    assert path.outcome == "sent"


def test_a_failed_attempt_that_will_be_retried_is_not_the_acknowledgements_outcome() -> None:
    path = TicketPath()
    note(path, NotificationFailedV1.ce_type, _failed("ticket.acknowledged", will_retry=True), 3.0)
    note(path, NotificationFailedV1.ce_type, _failed("ticket.acknowledged", will_retry=False), 9.0)

    assert (path.acknowledged, path.outcome) == (9.0, "failed")


def test_other_notifications_of_the_ticket_are_not_its_acknowledgement() -> None:
    path = TicketPath()
    note(path, NotificationSentV1.ce_type, _sent("sla.breached.staff"), 5.0)

    assert path.acknowledged is None
