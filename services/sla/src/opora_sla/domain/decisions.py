"""From a measured ticket to what sla announces: new ledger entries, events and outcomes.

:func:`decide` compares an :class:`Evaluation` with what the record says was announced and
returns the record to write with what is new to announce. It is pure and deterministic, so a
redelivered event or a retried timer decides the same entries under the same ids.

- Every happening not yet announced becomes a ledger entry; warnings, breaches, escalations
  and fulfilments are announced with ``SlaWarningV1``, ``SlaBreachedV1``, ``SlaEscalatedV1`` and
  ``SlaFulfilledV1``. Nothing announced is taken back: a re-scored ticket whose breach no longer
  holds keeps its breach in the ledger, and its outcome is measured again.
- ``SlaAppliedV1`` announces the targets when a policy applies and whenever their terms change:
  another policy, calendar (a new team) or priority, a new version of the policies. It lists
  every target the policy sets, with the due time of the ones running (routing orders its queue
  by the nearest); pauses, resumes and new cycles are in the ledger and the metric events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from opora_shared.contracts.base import Event
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaFulfilledV1,
    SlaWarningV1,
    Target,
)

from opora_sla.domain.metrics import Evaluation, Happening, Happens, Phase
from opora_sla.domain.model import (
    AppliedTargets,
    Decision,
    EntryKind,
    LedgerEntry,
    Outcome,
    TicketRecord,
    derived_id,
)
from opora_sla.domain.policies import SlaConfig
from opora_sla.domain.timeline import Fact

_ENTRY_OF = {
    Happens.STARTED: EntryKind.STARTED,
    Happens.PAUSED: EntryKind.PAUSED,
    Happens.RESUMED: EntryKind.RESUMED,
    Happens.WARNED: EntryKind.WARNED,
    Happens.BREACHED: EntryKind.BREACHED,
    Happens.ESCALATED: EntryKind.ESCALATED,
    Happens.FULFILLED: EntryKind.FULFILLED,
}


def decide(
    record: TicketRecord,
    facts: Sequence[Fact],
    evaluation: Evaluation,
    config: SlaConfig,
    *,
    now: datetime,
    at: datetime,
    cause: str,
) -> Decision | None:
    """The record to write after measuring ``facts`` (the record's, plus a new one), and the
    ledger entries and outcomes that are new; None when nothing changed. ``at`` is when the
    cause happened (a new fact's time, or now), and ``cause`` says what it was, for
    ``SlaAppliedV1.reason``."""
    policy = evaluation.policy
    policy_id = policy.policy_id if policy is not None else None
    stamp = _Stamp(record.ticket_id, policy_id, config.version, now)
    pending: list[tuple[datetime, int, Callable[[int], LedgerEntry]]] = []
    announced = set(record.announced)
    for happening in evaluation.happenings:
        if happening.key in announced:
            continue
        announced.add(happening.key)
        pending.append((happening.at, 1, partial(stamp.entry_of, happening)))

    applied = _applied(evaluation, config.version)
    applications = record.applications
    if _terms(applied) != _terms(record.applied):
        applications += 1
        pending.append(
            (at, 0, partial(stamp.applied_entry, evaluation, applied, applications, at, cause))
        )
    else:
        applied = record.applied

    outcomes, reported = _outcomes(record, evaluation, config.version)
    pending.sort(key=lambda item: (item[0], item[1]))
    entries = [build(record.ledger_size + seq) for seq, (_, _, build) in enumerate(pending)]
    updated = replace(
        record,
        facts=tuple(facts),
        version=config.version,
        applied=applied,
        applications=applications,
        announced=frozenset(announced),
        ledger_size=record.ledger_size + len(entries),
        reported=reported,
        next_due=evaluation.next_due,
        tracking=evaluation.tracking,
        opened_at=evaluation.opened_at,
    )
    if updated == record:
        return None
    return Decision(updated, tuple(entries), tuple(outcomes))


def _applied(evaluation: Evaluation, version: int) -> AppliedTargets | None:
    """Every target the policy sets the ticket, with the due time of its running cycle."""
    policy = evaluation.policy
    if policy is None:
        return None
    due = {c.metric: c.due_at for c in evaluation.active if c.phase is Phase.RUNNING}
    return AppliedTargets(
        policy_id=policy.policy_id,
        calendar_id=policy.calendar_id,
        version=version,
        targets=tuple(
            (metric, rule.target_s, rule.business_hours, due.get(metric))
            for metric, rule in policy.targets.items()
        ),
    )


def _terms(applied: AppliedTargets | None) -> tuple[object, ...] | None:
    return applied.terms if applied is not None else None


def _outcomes(
    record: TicketRecord, evaluation: Evaluation, version: int
) -> tuple[list[Outcome], dict[str, str]]:
    """Outcomes that changed since they were last written, and what is written after them."""
    profile = evaluation.profile
    policy_id = evaluation.policy.policy_id if evaluation.policy else None
    current: dict[str, Outcome] = {}
    for cycle in evaluation.cycles:
        if not cycle.measured:
            continue
        outcome = Outcome(
            ticket_id=record.ticket_id,
            metric=cycle.metric,
            cycle=cycle.cycle,
            measured=True,
            met=not cycle.breached,
            done=cycle.done_at is not None,
            measured_at=cycle.done_at if cycle.done_at is not None else cycle.due_at,
            target_s=cycle.target_s,
            used_s=cycle.used_s,
            business_hours=cycle.business_hours,
            policy_id=policy_id,
            policy_version=version,
            team=profile.team,
            agent_id=profile.agent_id,
            channel=profile.channel.value if profile.channel else None,
            request_type=profile.request_type.value,
            priority=profile.priority.value,
        )
        current[outcome.key] = outcome
    changed: list[Outcome] = []
    reported: dict[str, str] = {}
    for key, outcome in current.items():
        digest = outcome.digest()
        reported[key] = digest
        if record.reported.get(key) != digest:
            changed.append(outcome)
    for key in record.reported.keys() - current.keys():
        ticket_id, metric, number = key.rsplit(":", 2)
        changed.append(Outcome(ticket_id, Metric(metric), int(number), measured=False))
    return changed, reported


class _Stamp:
    """Builds entries and events with what they all carry."""

    def __init__(self, ticket_id: str, policy_id: str | None, version: int, now: datetime) -> None:
        self.ticket_id = ticket_id
        self.policy_id = policy_id
        self.version = version
        self.now = now

    def entry_of(self, happening: Happening, seq: int) -> LedgerEntry:
        entry_id = derived_id(self.ticket_id, happening.key)
        event = self._event(happening, entry_id)
        detail: dict[str, Any] = {
            "used_s": happening.used_s,
            "remaining_s": happening.remaining_s,
            "target_s": happening.target_s,
            "business_hours": happening.business_hours,
            "due_at": happening.due_at.isoformat(),
        }
        if happening.label:
            detail["label"] = happening.label
        if happening.kind is Happens.FULFILLED:
            detail["breached"] = happening.breached
        return LedgerEntry(
            id=entry_id,
            ticket_id=self.ticket_id,
            seq=seq,
            kind=_ENTRY_OF[happening.kind],
            at=happening.at,
            recorded_at=self.now,
            policy_id=self.policy_id,
            policy_version=self.version,
            metric=happening.metric,
            cycle=happening.cycle,
            detail=detail,
            event_type=event.ce_type if event else None,
            event=event.model_dump(mode="json") if event else None,
            built=event,
        )

    def _event(self, happening: Happening, event_id: str) -> Event | None:
        if self.policy_id is None or happening.kind not in (
            Happens.WARNED,
            Happens.BREACHED,
            Happens.ESCALATED,
            Happens.FULFILLED,
        ):
            return None
        measured: dict[str, Any] = {
            "event_id": event_id,
            "occurred_at": happening.at,
            "ticket_id": self.ticket_id,
            "policy_id": self.policy_id,
            "policy_version": self.version,
            "metric": happening.metric,
            "due_at": happening.due_at,
            "elapsed_s": max(happening.used_s, 0),
            "remaining_s": happening.remaining_s,
            "cycle": happening.cycle,
            "target_s": happening.target_s,
            "business_hours": happening.business_hours,
        }
        if happening.kind is Happens.WARNED:
            return SlaWarningV1(threshold=happening.label, **measured)
        if happening.kind is Happens.BREACHED:
            return SlaBreachedV1(**measured)
        if happening.kind is Happens.ESCALATED:
            return SlaEscalatedV1(level=happening.level, **measured)
        return SlaFulfilledV1(breached=happening.breached, fulfilled_by=happening.label, **measured)

    def applied_entry(
        self,
        evaluation: Evaluation,
        applied: AppliedTargets | None,
        ordinal: int,
        at: datetime,
        cause: str,
        seq: int,
    ) -> LedgerEntry:
        entry_id = derived_id(self.ticket_id, "applied", str(ordinal))
        if applied is None:
            return LedgerEntry(
                id=entry_id,
                ticket_id=self.ticket_id,
                seq=seq,
                kind=EntryKind.UNAPPLIED,
                at=at,
                recorded_at=self.now,
                policy_id=None,
                policy_version=self.version,
                detail={"reason": cause, "why": "no policy matches the ticket"},
            )
        assert evaluation.policy is not None
        event = SlaAppliedV1(
            event_id=entry_id,
            occurred_at=at,
            ticket_id=self.ticket_id,
            policy_id=applied.policy_id,
            policy_version=self.version,
            calendar_id=applied.calendar_id,
            targets=tuple(
                Target(metric=metric, target_s=target_s, business_hours=business, due_at=due)
                for metric, target_s, business, due in applied.targets
            ),
            reason=cause,
        )
        return LedgerEntry(
            id=entry_id,
            ticket_id=self.ticket_id,
            seq=seq,
            kind=EntryKind.APPLIED,
            at=at,
            recorded_at=self.now,
            policy_id=applied.policy_id,
            policy_version=self.version,
            detail={
                "reason": cause,
                "why": evaluation.policy.why,
                "calendar_id": applied.calendar_id,
                "targets": [
                    {
                        "metric": metric.value,
                        "target_s": target_s,
                        "business_hours": business,
                        "due_at": due.isoformat() if due else None,
                    }
                    for metric, target_s, business, due in applied.targets
                ],
            },
            event_type=SlaAppliedV1.ce_type,
            event=event.model_dump(mode="json"),
            built=event,
        )
