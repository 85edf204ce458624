"""sla's use cases over the in-memory repository, a recording publisher and the heap scheduler on
a hand-moved clock: announcing targets, warnings, breaches and escalations on time, pauses,
redelivery, failed publications, restarts and re-scoring."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from opora_shared.contracts.common import Priority, TicketStatus
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaFulfilledV1,
    SlaWarningV1,
)
from opora_sla.adapters.scheduler import HeapScheduler
from opora_sla.domain import service
from opora_sla.domain.model import EntryKind
from opora_sla.domain.service import Desk
from opora_sla.domain.timeline import TicketFactEvent, fact_of

from ..conftest import POLICIES, T0, assigned, config, opened, replied, settle, status

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


async def record(desk: Desk, event: TicketFactEvent, partition: int = 3) -> None:
    await service.record_fact(fact_of(event), event.ticket_id, desk, partition=partition)


def of_type(publisher, event_type):
    return [e for e in publisher.published if isinstance(e, event_type)]


def first_reply_events(publisher) -> list[tuple[str, object]]:
    return [
        (type(e).__name__, e.occurred_at - T0)
        for e in publisher.published
        if getattr(e, "metric", None) is Metric.FIRST_REPLY
    ]


async def test_a_new_ticket_gets_its_targets_announced(desk, publisher) -> None:
    await record(desk, opened(priority=Priority.URGENT))

    [applied] = publisher.published
    assert isinstance(applied, SlaAppliedV1)
    assert (applied.policy_id, applied.policy_version, applied.calendar_id) == (
        "standard",
        1,
        "24x7",
    )
    assert applied.reason == "ticket opened"
    assert applied.partition_key == "t-1"
    due = {t.metric: (t.target_s, t.due_at) for t in applied.targets}
    assert due == {
        Metric.FIRST_REPLY: (3600, T0 + HOUR),
        Metric.NEXT_REPLY: (1800, None),  # not running: no customer message yet
        Metric.PERIODIC_UPDATE: (2 * 3600, None),
        Metric.REQUESTER_WAIT: (4 * 3600, T0 + 4 * HOUR),
        Metric.AGENT_WORK: (2 * 3600, T0 + 2 * HOUR),
        Metric.RESOLUTION: (8 * 3600, T0 + 8 * HOUR),
    }


async def test_warning_breach_and_escalations_are_published_at_their_instants(
    desk, publisher, clock
) -> None:
    await record(desk, opened(priority=Priority.URGENT))

    await clock.advance(44 * MIN)
    assert first_reply_events(publisher) == []
    await clock.advance(MIN)
    assert first_reply_events(publisher) == [("SlaWarningV1", 45 * MIN)]
    await clock.advance(45 * MIN)

    assert first_reply_events(publisher) == [
        ("SlaWarningV1", 45 * MIN),
        ("SlaBreachedV1", HOUR),
        ("SlaEscalatedV1", HOUR),
        ("SlaEscalatedV1", 90 * MIN),
    ]


async def test_every_clock_event_says_where_the_metric_stands(desk, publisher, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))

    await clock.advance(HOUR)

    [warning] = [e for e in of_type(publisher, SlaWarningV1) if e.metric is Metric.FIRST_REPLY]
    assert (warning.threshold, warning.elapsed_s, warning.remaining_s) == ("75%", 2700, 900)
    assert (warning.due_at, warning.target_s, warning.cycle) == (T0 + HOUR, 3600, 1)
    assert (warning.policy_id, warning.policy_version, warning.business_hours) == (
        "standard",
        1,
        False,
    )
    [breach] = [e for e in of_type(publisher, SlaBreachedV1) if e.metric is Metric.FIRST_REPLY]
    assert (breach.elapsed_s, breach.remaining_s, breach.occurred_at) == (3600, 0, T0 + HOUR)
    [level_1] = of_type(publisher, SlaEscalatedV1)
    assert level_1.level == 1


async def test_a_reply_in_time_fulfils_the_first_reply(desk, publisher, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))

    await record(desk, replied(at=T0 + 10 * MIN))

    [fulfilled] = of_type(publisher, SlaFulfilledV1)
    assert (fulfilled.metric, fulfilled.breached, fulfilled.elapsed_s) == (
        Metric.FIRST_REPLY,
        False,
        600,
    )
    assert fulfilled.fulfilled_by == "reply r-1"
    await clock.advance(2 * HOUR)
    assert first_reply_events(publisher) == [("SlaFulfilledV1", 10 * MIN)]


async def test_the_targets_are_announced_again_only_when_their_terms_change(
    desk, publisher
) -> None:
    await record(desk, opened(priority=Priority.NORMAL))
    await record(desk, replied(at=T0 + 10 * MIN))  # due times move: no new announcement

    await record(desk, assigned(at=T0 + 20 * MIN, team="office-team"))  # another policy

    applied = of_type(publisher, SlaAppliedV1)
    assert [(a.policy_id, a.reason) for a in applied] == [
        ("standard", "ticket opened"),
        ("office", "assigned: team office-team, agent_id anna"),
    ]


async def test_a_redelivered_event_announces_nothing_again(desk, publisher) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await record(desk, replied(at=T0 + 10 * MIN))
    before = list(publisher.published)

    await record(desk, opened(priority=Priority.URGENT))
    await record(desk, replied(at=T0 + 10 * MIN))

    assert publisher.published == before


async def test_a_pause_moves_the_due_time_by_its_length(desk, publisher, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await clock.advance(HOUR)
    await record(desk, status(at=clock.now(), to=TicketStatus.PENDING))
    await clock.advance(2 * HOUR)
    _, paused = await service.measure("t-1", desk)
    await record(desk, status(at=clock.now(), to=TicketStatus.OPEN))
    _, resumed = await service.measure("t-1", desk)

    def wait_due(evaluation):
        return next(c.due_at for c in evaluation.cycles if c.metric is Metric.REQUESTER_WAIT)

    assert wait_due(paused) is None
    assert wait_due(resumed) == T0 + 6 * HOUR  # 4 h target + 2 h pending
    await clock.advance(3 * HOUR - MIN)
    assert Metric.REQUESTER_WAIT not in {e.metric for e in of_type(publisher, SlaBreachedV1)}
    await clock.advance(MIN)
    wait = [e for e in of_type(publisher, SlaBreachedV1) if e.metric is Metric.REQUESTER_WAIT]
    assert [(e.occurred_at, e.elapsed_s) for e in wait] == [(T0 + 6 * HOUR, 4 * 3600)]


async def test_a_breach_whose_publication_failed_is_retried_under_the_same_id(
    desk, publisher, clock, repo
) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await clock.advance(59 * MIN)
    publisher.failures = 1

    await clock.advance(MIN)
    assert not of_type(publisher, SlaBreachedV1)
    await clock.advance(2 * timedelta(seconds=1))

    [breach] = [e for e in of_type(publisher, SlaBreachedV1) if e.metric is Metric.FIRST_REPLY]
    ledger = await repo.ledger("t-1")
    assert [e.id for e in ledger if e.event_type == SlaBreachedV1.ce_type] == [breach.event_id]


async def test_a_crash_before_publishing_is_made_good_by_the_redelivery(
    desk, publisher, repo
) -> None:
    publisher.failures = 1
    with contextlib.suppress(ConnectionError):  # the handler failed: Kafka delivers it again
        await record(desk, opened(priority=Priority.URGENT))
    assert publisher.published == []
    assert await repo.load("t-1") is None

    await record(desk, opened(priority=Priority.URGENT))

    [applied] = publisher.published
    [entry] = [e for e in await repo.ledger("t-1") if e.kind is EntryKind.APPLIED]
    assert entry.id == applied.event_id


async def test_a_crash_after_publishing_announces_again_under_the_same_id(
    desk, publisher, repo
) -> None:
    saving = repo.save

    async def crash_once(record, *, expected_revision):
        repo.save = saving
        raise ConnectionError("MongoDB went away before the record was written")

    repo.save = crash_once
    with contextlib.suppress(ConnectionError):
        await record(desk, opened(priority=Priority.URGENT))

    await record(desk, opened(priority=Priority.URGENT))

    first, again = publisher.published
    assert again.event_id == first.event_id
    assert [e.kind for e in await repo.ledger("t-1")].count(EntryKind.APPLIED) == 1
    assert (await repo.load("t-1")).announced


async def test_after_a_restart_the_stored_timers_fire_once(
    repo, publisher, policies, clock
) -> None:
    before = HeapScheduler(clock=clock)
    desk = Desk(repo, publisher, before, policies, now=clock.now)
    await record(desk, opened(priority=Priority.URGENT), partition=3)
    await before.shutdown()  # the process stops
    await clock.jump(50 * MIN)

    after = HeapScheduler(clock=clock)
    restarted = Desk(repo, publisher, after, policies, now=clock.now)

    async def fire(ticket_id: str, partition: int) -> None:
        await service.fire(ticket_id, restarted, partition)

    after.bind(fire)
    assert await service.adopt({3}, restarted) == []
    await settle()
    await clock.advance(10 * MIN)

    assert first_reply_events(publisher) == [
        ("SlaWarningV1", 45 * MIN),  # overdue while down: announced at once, as it happened
        ("SlaBreachedV1", HOUR),
        ("SlaEscalatedV1", HOUR),
    ]
    await after.shutdown()


async def test_a_replica_adopts_only_the_partitions_it_owns(desk, repo, publisher, policies, clock):
    await record(desk, opened("in-3"), partition=3)
    await record(desk, opened("in-4"), partition=4)
    scheduler = HeapScheduler(clock=clock)

    await service.adopt({4}, Desk(repo, publisher, scheduler, policies, now=clock.now))

    assert set(scheduler.planned) == {"in-4"}
    await scheduler.shutdown()


async def test_new_policies_re_score_a_ticket_under_their_version(
    desk, publisher, policies, clock
) -> None:
    await record(desk, opened(priority=Priority.URGENT), partition=3)
    faster = POLICIES.replace("first_reply:     {urgent: 1h,", "first_reply:     {urgent: 20m,")
    policies.current = config(faster, version=2)

    stale = await service.stale({3}, desk)
    assert stale == [("t-1", 3)]
    await service.fire("t-1", desk)

    applied = of_type(publisher, SlaAppliedV1)[-1]
    assert (applied.policy_version, applied.reason) == (2, "policies and calendars v2")
    assert {t.metric: t.due_at for t in applied.targets}[Metric.FIRST_REPLY] == T0 + 20 * MIN
    assert await service.stale({3}, desk) == []


async def test_the_ledger_records_each_step_once_in_order(desk, repo, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await clock.advance(30 * MIN)
    await record(desk, status(at=clock.now(), to=TicketStatus.PENDING))
    await record(desk, status(at=clock.now() + MIN, to=TicketStatus.OPEN))
    await clock.advance(30 * MIN)

    ledger = await repo.ledger("t-1")
    assert [e.seq for e in ledger] == list(range(len(ledger)))
    first_reply = [e.kind for e in ledger if e.metric is Metric.FIRST_REPLY]
    assert first_reply == [
        EntryKind.STARTED,
        EntryKind.WARNED,
        EntryKind.BREACHED,
        EntryKind.ESCALATED,
    ]
    waits = [e.kind for e in ledger if e.metric is Metric.REQUESTER_WAIT]
    assert waits == [EntryKind.STARTED, EntryKind.PAUSED, EntryKind.RESUMED]
    assert ledger[0].kind is EntryKind.APPLIED


async def test_outcomes_are_stored_for_the_reports(desk, repo, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await record(desk, replied(at=T0 + 10 * MIN))
    await clock.advance(3 * HOUR)

    outcomes = {(o.metric, o.met) for o in await repo.outcomes(since=None, until=None, metric=None)}
    assert (Metric.FIRST_REPLY, True) in outcomes
    assert (Metric.AGENT_WORK, False) in outcomes  # 2 h, never solved


async def test_a_solved_ticket_has_no_timer_left(desk, repo, scheduler) -> None:
    await record(desk, opened(priority=Priority.URGENT))

    await record(desk, status(at=T0 + MIN, to=TicketStatus.SOLVED))

    assert "t-1" not in repo.timer_store
    assert "t-1" not in scheduler


async def test_a_timer_of_a_ticket_sla_no_longer_has_is_dropped(desk, repo, scheduler) -> None:
    scheduler.arm("ghost", T0)

    await service.fire("ghost", desk)

    assert "ghost" not in scheduler
    assert "ghost" not in repo.timer_store


async def test_a_ticket_under_no_policy_yet_keeps_its_facts(desk, repo, publisher) -> None:
    await record(desk, replied(at=T0 + MIN))

    stored = await repo.load("t-1")
    assert stored is not None
    assert len(stored.facts) == 1
    assert publisher.published == []


async def test_policies_applied_later_use_every_fact_kept(desk, publisher) -> None:
    await record(desk, replied(at=T0 + 10 * MIN))  # overtook the opening

    await record(desk, opened(priority=Priority.URGENT))

    assert [type(e) for e in publisher.published][:2] == [SlaAppliedV1, SlaFulfilledV1]


async def test_the_version_is_the_one_in_force(desk, publisher, policies) -> None:
    policies.current = config(version=7)

    await record(desk, opened())

    assert publisher.published[0].policy_version == 7
