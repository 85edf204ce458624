"""sla's use cases over fakes and a hand-moved clock: apply, fulfil, warn, breach, recover."""

from __future__ import annotations

from datetime import timedelta

from opora_shared.contracts.common import Priority
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaFulfilledV1,
    SlaWarningV1,
)
from opora_shared.timers import TimerScheduler
from opora_sla.domain.model import TimerState
from opora_sla.domain.service import apply_sla, record_reply, recover

from ..conftest import T0, FakeClock, opened, replied, settle

KEY = "t-1:first_reply"


def kinds(publisher) -> list[type]:
    return [type(event) for event in publisher.published]


async def apply(repo, publisher, scheduler, clock, **ticket) -> SlaAppliedV1:
    return await apply_sla(opened(**ticket), repo, publisher, scheduler, now=clock.now)


async def test_a_new_ticket_gets_its_targets_announced(repo, publisher, scheduler, clock) -> None:
    event = await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)

    assert publisher.published == [event]
    assert (event.policy_id, event.policy_version, event.calendar_id) == ("default", 1, "24x7")
    [target] = event.targets
    assert target.metric is Metric.FIRST_REPLY
    assert target.target_s == 3600
    assert target.due_at == T0 + timedelta(hours=1)
    assert event.partition_key == "t-1"


async def test_a_redelivered_opening_never_moves_the_timer_and_repeats_the_event(
    repo, publisher, scheduler, clock
) -> None:
    first = await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)
    again = await apply(
        repo, publisher, scheduler, clock, priority=Priority.LOW, at=T0 + timedelta(hours=1)
    )

    assert again == first
    assert repo.timers[KEY].due_at == T0 + timedelta(hours=1)


async def test_a_timer_is_planned_for_its_warning_and_its_due_time(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)

    assert scheduler.planned == {
        f"{KEY}:warning": T0 + timedelta(minutes=45),
        f"{KEY}:breach": T0 + timedelta(hours=1),
    }


async def test_a_public_reply_in_time_fulfils_the_first_reply_timer(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)

    await record_reply(replied(at=T0 + timedelta(minutes=10)), repo, publisher, scheduler)

    fulfilled = publisher.published[-1]
    assert isinstance(fulfilled, SlaFulfilledV1)
    assert (fulfilled.elapsed_s, fulfilled.remaining_s, fulfilled.breached) == (600, 3000, False)
    assert repo.timers[KEY].state is TimerState.FULFILLED
    assert scheduler.planned == {}


async def test_a_redelivered_reply_republishes_the_same_fulfilment(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock)
    reply = replied(at=T0 + timedelta(minutes=10))

    await record_reply(reply, repo, publisher, scheduler)
    await record_reply(reply, repo, publisher, scheduler)

    first, again = publisher.published[1:]
    assert again == first


async def test_a_later_second_reply_does_not_fulfil_again(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock)
    await record_reply(replied(at=T0 + timedelta(minutes=10)), repo, publisher, scheduler)

    await record_reply(
        replied(at=T0 + timedelta(minutes=20), reply_id="r-2"), repo, publisher, scheduler
    )

    assert kinds(publisher) == [SlaAppliedV1, SlaFulfilledV1]


async def test_an_internal_note_does_not_fulfil_the_timer(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock)

    await record_reply(replied(public=False), repo, publisher, scheduler)

    assert repo.timers[KEY].state is TimerState.ARMED
    assert kinds(publisher) == [SlaAppliedV1]


async def test_the_warning_fires_at_three_quarters_of_the_target(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)

    await clock.advance(timedelta(minutes=44))
    assert kinds(publisher) == [SlaAppliedV1]

    await clock.advance(timedelta(minutes=1))
    warning = publisher.published[-1]
    assert isinstance(warning, SlaWarningV1)
    assert (warning.threshold, warning.elapsed_s, warning.remaining_s) == ("75%", 2700, 900)


async def test_an_unanswered_ticket_breaches_at_its_due_time(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)

    await clock.advance(timedelta(hours=1))

    assert kinds(publisher) == [SlaAppliedV1, SlaWarningV1, SlaBreachedV1]
    breached = publisher.published[-1]
    assert (breached.elapsed_s, breached.remaining_s) == (3600, 0)
    assert repo.timers[KEY].state is TimerState.BREACHED


async def test_a_fulfilled_timer_neither_warns_nor_breaches(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)
    await record_reply(replied(at=T0 + timedelta(minutes=5)), repo, publisher, scheduler)

    await clock.advance(timedelta(hours=2))

    assert kinds(publisher) == [SlaAppliedV1, SlaFulfilledV1]


async def test_a_reply_after_the_due_time_breaches_instead_of_fulfilling(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)

    await record_reply(replied(at=T0 + timedelta(hours=2)), repo, publisher, scheduler)

    assert kinds(publisher) == [SlaAppliedV1, SlaBreachedV1]
    assert repo.timers[KEY].state is TimerState.BREACHED


async def test_a_breach_whose_publication_failed_is_retried_under_the_same_id(
    repo, publisher, scheduler, clock
) -> None:
    await apply(repo, publisher, scheduler, clock, priority=Priority.URGENT)
    await clock.advance(timedelta(minutes=45))
    publisher.failures = 1

    await clock.advance(timedelta(minutes=15))
    assert kinds(publisher)[-1] is SlaWarningV1
    await clock.advance(timedelta(seconds=1))

    assert kinds(publisher)[-1] is SlaBreachedV1
    assert repo.timers[KEY].breach_published


async def test_start_up_rearms_armed_timers_from_the_store(repo, publisher, clock) -> None:
    before_restart = TimerScheduler(clock)
    await apply(repo, publisher, before_restart, clock, priority=Priority.URGENT)
    await before_restart.shutdown()

    after_restart = TimerScheduler(clock)
    assert await recover(repo, publisher, after_restart) == 1
    await clock.advance(timedelta(hours=1))

    assert kinds(publisher) == [SlaAppliedV1, SlaWarningV1, SlaBreachedV1]
    await after_restart.shutdown()


async def test_start_up_publishes_a_breach_recorded_but_not_published(repo, publisher) -> None:
    clock = FakeClock()
    crashed = TimerScheduler(clock)
    await apply(repo, publisher, crashed, clock, priority=Priority.URGENT)
    await crashed.shutdown()
    await clock.advance(timedelta(hours=1))
    await repo.mark_breached(KEY)  # at the due time; the process died before publishing

    restarted = TimerScheduler(clock)
    await recover(repo, publisher, restarted)
    await settle()

    assert kinds(publisher) == [SlaAppliedV1, SlaBreachedV1]
    assert repo.timers[KEY].breach_published
    await restarted.shutdown()
