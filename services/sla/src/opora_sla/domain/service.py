"""sla's use cases as plain functions over the ports: apply a policy, take a reply, fire timers.

Kafka redelivery repeats the ticket-driven steps; the clock-driven ones (warning, breach) are
made at-least-once by the timer document itself: the state change is recorded first, the
publication after, and a timer whose event is not yet published stays pending, so start-up
arms it again and it publishes under the same id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from opora_shared.contracts.base import utc_now
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaFulfilledV1,
    SlaWarningV1,
    Target,
)
from opora_shared.contracts.tickets import TicketOpenedV1, TicketRepliedV1
from opora_shared.ports import Clock, Publisher

from opora_sla.domain.model import Timer, TimerState, sla_event_id, timer_key
from opora_sla.domain.policy import apply_policy
from opora_sla.domain.ports import Repository, Scheduler

log = logging.getLogger(__name__)


async def apply_sla(
    opened: TicketOpenedV1,
    repo: Repository,
    publisher: Publisher,
    scheduler: Scheduler,
    now: Clock = utc_now,
) -> SlaAppliedV1:
    """Arm the ticket's timers (an existing timer is never moved) and announce the targets."""
    policy = apply_policy(opened.ticket_id, opened.priority, opened.occurred_at, now())
    timers = [await repo.arm(timer) for timer in policy.timers]
    for timer in timers:
        arm(timer, repo, publisher, scheduler)
    event = applied_event(timers)
    await publisher.publish(event)
    return event


async def record_reply(
    reply: TicketRepliedV1, repo: Repository, publisher: Publisher, scheduler: Scheduler
) -> None:
    """A public reply fulfils an armed first-reply timer, or breaches it when it came too late."""
    if not reply.public:
        return
    key = timer_key(reply.ticket_id, Metric.FIRST_REPLY)
    timer = await repo.get(key)
    if timer is None:
        log.info("reply to a ticket without SLA timers", extra={"ticket": reply.ticket_id})
        return
    if timer.state is TimerState.ARMED:
        if not timer.met_by(reply.occurred_at):
            await fire_breach(key, repo, publisher)
            return
        timer = await repo.mark_fulfilled(key, reply.occurred_at, reply.reply_id) or timer
    if timer.state is TimerState.FULFILLED and timer.fulfilled_by == reply.reply_id:
        scheduler.cancel(f"{key}:warning")
        scheduler.cancel(f"{key}:breach")
        await publisher.publish(fulfilled_event(timer))


async def fire_warning(key: str, repo: Repository, publisher: Publisher) -> None:
    timer = await repo.mark_warned(key) or await repo.get(key)
    if timer is None or not timer.warned or timer.warning_published:
        return
    await publisher.publish(warning_event(timer))
    await repo.mark_published(key, "warning")


async def fire_breach(key: str, repo: Repository, publisher: Publisher) -> None:
    timer = await repo.mark_breached(key) or await repo.get(key)
    if timer is None or timer.state is not TimerState.BREACHED or timer.breach_published:
        return
    await publisher.publish(breached_event(timer))
    await repo.mark_published(key, "breach")


def arm(timer: Timer, repo: Repository, publisher: Publisher, scheduler: Scheduler) -> None:
    """Plan the timer's pending warning and breach on the scheduler."""
    if timer.warning_pending:
        scheduler.schedule(
            f"{timer.key}:warning", timer.warn_at, partial(fire_warning, timer.key, repo, publisher)
        )
    if timer.breach_pending:
        scheduler.schedule(
            f"{timer.key}:breach", timer.due_at, partial(fire_breach, timer.key, repo, publisher)
        )


async def recover(repo: Repository, publisher: Publisher, scheduler: Scheduler) -> int:
    """Start-up: arm every timer with something still to fire or to publish."""
    timers = await repo.pending()
    for timer in timers:
        arm(timer, repo, publisher, scheduler)
    log.info("re-armed SLA timers", extra={"timers": len(timers)})
    return len(timers)


def applied_event(timers: list[Timer]) -> SlaAppliedV1:
    first = timers[0]
    return SlaAppliedV1(
        event_id=sla_event_id(first.ticket_id, None, "applied"),
        occurred_at=first.applied_at,
        ticket_id=first.ticket_id,
        policy_id=first.policy_id,
        policy_version=first.policy_version,
        calendar_id=first.calendar_id,
        targets=tuple(
            Target(metric=t.metric, target_s=t.target_s, business_hours=False, due_at=t.due_at)
            for t in timers
        ),
    )


def warning_event(timer: Timer) -> SlaWarningV1:
    return SlaWarningV1(
        event_id=sla_event_id(timer.ticket_id, timer.metric, "warning", timer.warning_threshold),
        threshold=timer.warning_threshold,
        **_measured(timer, at=timer.warn_at),
    )


def breached_event(timer: Timer) -> SlaBreachedV1:
    return SlaBreachedV1(
        event_id=sla_event_id(timer.ticket_id, timer.metric, "breached"),
        **_measured(timer, at=timer.due_at),
    )


def fulfilled_event(timer: Timer) -> SlaFulfilledV1:
    assert timer.fulfilled_at is not None, "only a fulfilled timer has a fulfilment"
    return SlaFulfilledV1(
        event_id=sla_event_id(timer.ticket_id, timer.metric, "fulfilled"),
        breached=False,
        **_measured(timer, at=timer.fulfilled_at),
    )


def _measured(timer: Timer, *, at: datetime) -> dict[str, Any]:
    """What every metric event says of its timer as of ``at``, the moment it reports."""
    return {
        "occurred_at": at,
        "ticket_id": timer.ticket_id,
        "policy_id": timer.policy_id,
        "policy_version": timer.policy_version,
        "metric": timer.metric,
        "due_at": timer.due_at,
        "elapsed_s": timer.elapsed_s(at),
        "remaining_s": timer.remaining_s(at),
    }
