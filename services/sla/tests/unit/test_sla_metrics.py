"""The clock semantics of the six metrics, measured over a ticket's timeline (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

from opora_shared.contracts.common import Priority, RequestType, TicketStatus
from opora_shared.contracts.sla import Metric
from opora_shared.contracts.tickets import TicketUpdatedV1
from opora_sla.domain.metrics import CycleView, Evaluation, Happens, Phase, evaluate
from opora_sla.domain.policies import SlaConfig
from opora_sla.domain.timeline import TicketFactEvent, fact_of

from ..conftest import T0, assigned, config, message, opened, replied, status

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def measure(*events: TicketFactEvent, until: datetime, policies=None) -> Evaluation:
    facts = [fact_of(event) for event in events]
    return evaluate(facts, policies or config(), until)


def cycle(evaluation: Evaluation, metric: Metric, number: int = 1) -> CycleView:
    return next(c for c in evaluation.cycles if c.metric is metric and c.cycle == number)


def kinds(evaluation: Evaluation, metric: Metric) -> list[tuple[Happens, str]]:
    return [(h.kind, h.label) for h in evaluation.happenings if h.metric is metric]


URGENT = opened(priority=Priority.URGENT)
"""Standard policy, calendar hours: first reply 1 h, next reply 30 min, periodic update 2 h,
requester wait 4 h, agent work 2 h, resolution 8 h; warnings at 75 %; escalations at the breach
and 30 minutes after."""


# --- first reply ---------------------------------------------------------------------------------


def test_a_public_reply_fulfils_the_first_reply_within_its_target() -> None:
    evaluation = measure(URGENT, replied(at=T0 + 20 * MIN), until=T0 + 2 * HOUR)

    first = cycle(evaluation, Metric.FIRST_REPLY)
    assert (first.phase, first.used_s, first.breached) == (Phase.DONE, 1200, False)
    assert first.done_by == "reply r-1"


def test_an_internal_note_leaves_the_first_reply_running() -> None:
    evaluation = measure(URGENT, replied(at=T0 + 20 * MIN, public=False), until=T0 + 30 * MIN)

    first = cycle(evaluation, Metric.FIRST_REPLY)
    assert first.phase is Phase.RUNNING
    assert first.due_at == T0 + HOUR


def test_a_reply_on_the_due_time_still_meets_the_target() -> None:
    evaluation = measure(URGENT, replied(at=T0 + HOUR), until=T0 + 2 * HOUR)

    assert not cycle(evaluation, Metric.FIRST_REPLY).breached
    assert (Happens.BREACHED, "") not in kinds(evaluation, Metric.FIRST_REPLY)


def test_a_late_reply_fulfils_a_breached_target_and_says_so() -> None:
    evaluation = measure(URGENT, replied(at=T0 + 90 * MIN), until=T0 + 2 * HOUR)

    assert kinds(evaluation, Metric.FIRST_REPLY) == [
        (Happens.STARTED, "ticket opened"),
        (Happens.WARNED, "75%"),
        (Happens.BREACHED, ""),
        (Happens.ESCALATED, "1"),
        (Happens.FULFILLED, "reply r-1"),
    ]
    [fulfilled] = [h for h in evaluation.happenings if h.key == "first_reply:1:fulfilled:1"]
    assert (fulfilled.breached, fulfilled.used_s, fulfilled.remaining_s) == (True, 5400, -1800)


def test_warnings_breach_and_escalations_fall_on_their_points_of_the_clock() -> None:
    evaluation = measure(URGENT, until=T0 + 2 * HOUR)

    points = {
        (h.kind, h.label): h.at
        for h in evaluation.happenings
        if h.metric is Metric.FIRST_REPLY and h.kind is not Happens.STARTED
    }
    assert points == {
        (Happens.WARNED, "75%"): T0 + 45 * MIN,
        (Happens.BREACHED, ""): T0 + HOUR,
        (Happens.ESCALATED, "1"): T0 + HOUR,
        (Happens.ESCALATED, "2"): T0 + 90 * MIN,
    }


def test_a_warning_some_minutes_before_the_due_time_counts_back_from_it() -> None:
    vip = opened(priority=Priority.NORMAL, tier="vip")  # first reply 30 min; 50 % and "5m"

    evaluation = measure(vip, until=T0 + HOUR)

    warnings = [(h.label, h.at) for h in evaluation.happenings if h.kind is Happens.WARNED]
    assert warnings == [("50%", T0 + 15 * MIN), ("5m", T0 + 25 * MIN)]


# --- next reply and periodic update ------------------------------------------------------------


def test_a_customer_message_after_the_first_reply_starts_a_next_reply_clock() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN),
        message(at=T0 + 20 * MIN),
        until=T0 + 30 * MIN,
    )

    next_reply = cycle(evaluation, Metric.NEXT_REPLY)
    assert (next_reply.started_at, next_reply.due_at) == (T0 + 20 * MIN, T0 + 50 * MIN)


def test_a_message_before_the_first_reply_starts_no_next_reply_clock() -> None:
    evaluation = measure(URGENT, message(at=T0 + 5 * MIN), until=T0 + 30 * MIN)

    assert not [c for c in evaluation.cycles if c.metric is Metric.NEXT_REPLY]


def test_the_next_reply_clock_counts_from_the_oldest_unanswered_message() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN),
        message(at=T0 + 20 * MIN, message_id="m-1"),
        message(at=T0 + 25 * MIN, message_id="m-2"),
        replied(at=T0 + 40 * MIN, reply_id="r-2"),
        until=T0 + HOUR,
    )

    [next_reply] = [c for c in evaluation.cycles if c.metric is Metric.NEXT_REPLY]
    assert (next_reply.used_s, next_reply.done_by) == (20 * 60, "reply r-2")


def test_every_unanswered_stretch_is_a_new_next_reply_cycle() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN),
        message(at=T0 + 20 * MIN, message_id="m-1"),
        replied(at=T0 + 30 * MIN, reply_id="r-2"),
        message(at=T0 + 40 * MIN, message_id="m-2"),
        until=T0 + HOUR,
    )

    cycles = [(c.cycle, c.phase) for c in evaluation.cycles if c.metric is Metric.NEXT_REPLY]
    assert cycles == [(1, Phase.DONE), (2, Phase.RUNNING)]


def test_each_agent_reply_fulfils_the_periodic_update_and_starts_the_next() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN, reply_id="r-1"),
        replied(at=T0 + 70 * MIN, reply_id="r-2"),
        until=T0 + 2 * HOUR,
    )

    updates = [
        (c.cycle, c.started_at, c.phase, c.used_s)
        for c in evaluation.cycles
        if c.metric is Metric.PERIODIC_UPDATE
    ]
    assert updates == [
        (1, T0 + 10 * MIN, Phase.DONE, 3600),
        (2, T0 + 70 * MIN, Phase.RUNNING, 50 * 60),
    ]


# --- pauses, solve and reopen ------------------------------------------------------------------


def test_pending_pauses_the_requester_wait_and_its_remaining_time_survives() -> None:
    evaluation = measure(
        URGENT,
        status(at=T0 + HOUR, to=TicketStatus.PENDING),
        status(at=T0 + 3 * HOUR, to=TicketStatus.OPEN),
        until=T0 + 4 * HOUR,
    )

    wait = cycle(evaluation, Metric.REQUESTER_WAIT)
    assert (wait.used_s, wait.remaining_s) == (2 * 3600, 2 * 3600)
    assert wait.due_at == T0 + 6 * HOUR  # 4 h target + 2 h pending
    assert cycle(evaluation, Metric.RESOLUTION).due_at == T0 + 8 * HOUR  # not paused


def test_a_paused_clock_has_no_due_time() -> None:
    evaluation = measure(URGENT, status(at=T0 + HOUR, to=TicketStatus.PENDING), until=T0 + 2 * HOUR)

    wait = cycle(evaluation, Metric.REQUESTER_WAIT)
    assert (wait.phase, wait.due_at, wait.used_s) == (Phase.PAUSED, None, 3600)


def test_a_clock_paused_exactly_on_its_due_time_has_not_breached() -> None:
    evaluation = measure(
        URGENT, status(at=T0 + 4 * HOUR, to=TicketStatus.PENDING), until=T0 + 5 * HOUR
    )

    wait = cycle(evaluation, Metric.REQUESTER_WAIT)  # 4 h target
    assert (wait.used_s, wait.breached) == (4 * 3600, False)


def test_a_clock_paused_on_its_due_time_breaches_the_moment_it_runs_again() -> None:
    evaluation = measure(
        URGENT,
        status(at=T0 + 4 * HOUR, to=TicketStatus.PENDING),
        status(at=T0 + 5 * HOUR, to=TicketStatus.OPEN),
        until=T0 + 6 * HOUR,
    )

    [breach] = [
        h
        for h in evaluation.happenings
        if h.metric is Metric.REQUESTER_WAIT and h.kind is Happens.BREACHED
    ]
    assert breach.at == T0 + 5 * HOUR


def test_on_hold_pauses_agent_work_but_not_the_requester_wait() -> None:
    evaluation = measure(URGENT, status(at=T0 + HOUR, to=TicketStatus.ON_HOLD), until=T0 + 90 * MIN)

    assert cycle(evaluation, Metric.AGENT_WORK).phase is Phase.PAUSED
    assert cycle(evaluation, Metric.REQUESTER_WAIT).phase is Phase.RUNNING


def test_moving_from_on_hold_to_pending_swaps_what_is_paused() -> None:
    evaluation = measure(
        URGENT,
        status(at=T0 + 10 * MIN, to=TicketStatus.ON_HOLD),
        status(at=T0 + 20 * MIN, to=TicketStatus.PENDING),
        until=T0 + 30 * MIN,
    )

    assert cycle(evaluation, Metric.AGENT_WORK).phase is Phase.PAUSED
    wait = cycle(evaluation, Metric.REQUESTER_WAIT)
    assert (wait.phase, wait.used_s) == (Phase.PAUSED, 20 * 60)


def test_a_paused_clock_announces_nothing_however_long_it_waits() -> None:
    evaluation = measure(
        URGENT, status(at=T0 + 10 * MIN, to=TicketStatus.PENDING), until=T0 + 3 * 24 * HOUR
    )

    missed = {c.metric for c in evaluation.cycles if c.breached}
    assert Metric.REQUESTER_WAIT not in missed
    assert Metric.AGENT_WORK not in missed


def test_solved_stops_every_clock_including_an_unanswered_next_reply() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN),
        message(at=T0 + 20 * MIN),
        status(at=T0 + 25 * MIN, to=TicketStatus.SOLVED),
        until=T0 + 3 * 24 * HOUR,
    )

    assert all(c.phase is Phase.DONE for c in evaluation.cycles)
    assert not any(c.breached for c in evaluation.cycles)
    assert evaluation.next_due is None
    assert cycle(evaluation, Metric.NEXT_REPLY).done_by == "solved"


def test_a_reopened_ticket_resumes_its_resolution_with_the_time_already_used() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN),
        status(at=T0 + 2 * HOUR, to=TicketStatus.SOLVED),
        status(at=T0 + 26 * HOUR, to=TicketStatus.OPEN, reopened=True),
        until=T0 + 27 * HOUR,
    )

    resolution = cycle(evaluation, Metric.RESOLUTION)
    assert (resolution.phase, resolution.used_s) == (Phase.RUNNING, 3 * 3600)
    assert resolution.due_at == T0 + 26 * HOUR + 6 * HOUR
    assert (Happens.RESUMED, "reopened") in kinds(evaluation, Metric.RESOLUTION)


def test_reopening_does_not_restart_a_fulfilled_first_reply() -> None:
    evaluation = measure(
        URGENT,
        replied(at=T0 + 10 * MIN),
        status(at=T0 + 2 * HOUR, to=TicketStatus.SOLVED),
        status(at=T0 + 3 * HOUR, to=TicketStatus.OPEN, reopened=True),
        until=T0 + 5 * HOUR,
    )

    assert cycle(evaluation, Metric.FIRST_REPLY).phase is Phase.DONE


def test_closed_is_final() -> None:
    evaluation = measure(
        URGENT,
        status(at=T0 + HOUR / 2, to=TicketStatus.CLOSED),
        status(at=T0 + HOUR, to=TicketStatus.OPEN, reopened=True),
        until=T0 + 3 * 24 * HOUR,
    )

    assert all(c.phase is Phase.DONE for c in evaluation.cycles)
    assert not evaluation.tracking


# --- policies, business hours, timing ------------------------------------------------------------


def test_business_hours_skip_the_lunch_break_and_the_night() -> None:
    # 12:00 Moscow on a Monday; the office team's calendar: 09-13, 14-18.
    evaluation = measure(opened(), assigned(at=T0 + MIN, team="office-team"), until=T0 + 10 * MIN)

    assert evaluation.policy is not None
    assert evaluation.policy.policy_id == "office"
    first = cycle(evaluation, Metric.FIRST_REPLY)  # 2 h: 12-13 and 14-15
    assert first.due_at == T0 + 3 * HOUR
    resolution = cycle(evaluation, Metric.RESOLUTION)  # 8 h: 5 today, 3 on Tuesday
    assert resolution.due_at == datetime.fromisoformat("2026-11-03T12:00:00+03:00")


def test_a_new_priority_re_measures_the_targets_from_the_opening() -> None:
    raised = TicketUpdatedV1(
        event_id="upd-1", occurred_at=T0 + 30 * MIN, ticket_id="t-1", priority=Priority.URGENT
    )

    evaluation = measure(opened(priority=Priority.NORMAL), raised, until=T0 + 40 * MIN)

    assert cycle(evaluation, Metric.FIRST_REPLY).due_at == T0 + HOUR


def test_the_first_policy_whose_conditions_hold_applies() -> None:
    vip_complaint = opened(tier="vip", request_type=RequestType.COMPLAINT)

    evaluation = measure(vip_complaint, until=T0)

    assert evaluation.policy is not None
    assert evaluation.policy.policy_id == "vip"
    assert [c.metric for c in evaluation.cycles] == [Metric.FIRST_REPLY]


def test_a_ticket_no_policy_matches_has_no_targets() -> None:
    only_vip = config().policies.model_copy(update={"policies": config().policies.policies[:1]})

    evaluation = measure(opened(), until=T0, policies=SlaConfig.build(only_vip, config().calendars))

    assert (evaluation.policy, evaluation.cycles, evaluation.next_due) == (None, (), None)


def test_a_priority_without_a_target_gets_no_clock_for_that_metric() -> None:
    low = opened(priority=Priority.LOW)  # the standard policy lists low only for none

    evaluation = measure(low, until=T0)

    assert evaluation.cycles == ()


def test_the_next_due_time_is_the_nearest_point_of_any_running_clock() -> None:
    evaluation = measure(URGENT, until=T0 + 50 * MIN)

    assert evaluation.next_due == T0 + HOUR  # first reply's breach, after its 45 min warning


def test_an_assignment_that_overtook_the_opening_still_counts() -> None:
    evaluation = measure(assigned(at=T0 + MIN, team="office-team"), opened(), until=T0)

    assert evaluation.policy is not None
    assert evaluation.policy.policy_id == "office"


def test_the_same_timeline_gives_the_same_keys_whenever_it_is_measured() -> None:
    events = (URGENT, replied(at=T0 + 10 * MIN), status(at=T0 + HOUR, to=TicketStatus.PENDING))

    early = measure(*events, until=T0 + 2 * HOUR)
    late = measure(*events, until=T0 + 3 * 24 * HOUR)

    early_keys = [h.key for h in early.happenings]
    assert [h.key for h in late.happenings][: len(early_keys)] == early_keys
    assert len(set(early_keys)) == len(early_keys)
