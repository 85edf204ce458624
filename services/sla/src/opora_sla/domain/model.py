"""What sla stores per ticket: its timeline and the keys of what it announced.

A :class:`TicketRecord` is one document, written whole and only from the revision it was read
at. Everything announced is an append-only :class:`LedgerEntry` whose id is derived from the
ticket and what happened (``first_reply:1:breach``), so a redelivery, a retry or a timer firing
again after a restart produces the same ids, and consumers drop repeats.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from opora_shared.contracts.base import Event
from opora_shared.contracts.sla import Metric

from opora_sla.domain.timeline import Fact

_NAMESPACE = uuid.UUID("9a4e2f61-8c0b-4d7a-b3e5-1f6d2c8a0e97")


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


class EntryKind(StrEnum):
    """What a ledger entry records."""

    APPLIED = "applied"
    """A policy's targets, as announced in ``SlaAppliedV1`` (first, re-applied or re-timed)."""
    UNAPPLIED = "unapplied"
    """No policy applies any more (the ticket changed or the policies did)."""
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    WARNED = "warned"
    BREACHED = "breached"
    ESCALATED = "escalated"
    FULFILLED = "fulfilled"


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a copy; a read-only view is kept as it is (copied records share)."""
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class LedgerEntry:
    """One line of a ticket's SLA ledger, and the event it was announced with, if any."""

    id: str
    ticket_id: str
    seq: int
    """Its place in the ticket's ledger (0, 1, 2, …)."""
    kind: EntryKind
    at: datetime
    """When it happened (a breach: the instant the target was used up)."""
    recorded_at: datetime
    policy_id: str | None
    policy_version: int
    metric: Metric | None = None
    cycle: int | None = None
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """JSON-ready facts: threshold, level, used and remaining seconds, due time, targets, …"""
    event_type: str | None = None
    """The ``ce_type`` of the event announcing it (none for pauses, resumes and starts)."""
    event: Mapping[str, Any] | None = None
    """That event as JSON, published exactly so again when a publication is retried."""
    built: Event | None = field(default=None, compare=False, repr=False)
    """The event itself, while the entry is fresh (not stored: ``event`` is)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", _frozen(self.detail))
        if self.event is not None:
            object.__setattr__(self, "event", _frozen(self.event))


@dataclass(frozen=True)
class Outcome:
    """Whether one metric cycle met its target, with what reports group it by."""

    ticket_id: str
    metric: Metric
    cycle: int
    measured: bool
    """False withdraws an outcome reported earlier (a re-scored ticket no longer missed it)."""
    met: bool = False
    done: bool = False
    """Finished (True) or missed while still running (False)."""
    measured_at: datetime | None = None
    """When it was decided: fulfilled, or breached."""
    target_s: int = 0
    used_s: int = 0
    business_hours: bool = True
    policy_id: str | None = None
    policy_version: int = 0
    team: str | None = None
    agent_id: str | None = None
    channel: str | None = None
    request_type: str | None = None
    priority: str | None = None

    @property
    def key(self) -> str:
        return f"{self.ticket_id}:{self.metric.value}:{self.cycle}"

    def digest(self) -> str:
        """What the stored outcome must equal; a change is written again."""
        text = repr(
            (
                self.measured,
                self.met,
                self.done,
                self.measured_at,
                self.target_s,
                self.used_s if self.done else None,
                self.policy_id,
                self.policy_version,
                self.team,
                self.agent_id,
                self.priority,
            )
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AppliedTargets:
    """The targets last announced in ``SlaAppliedV1``. A change of their terms (policy,
    calendar, version, a target) announces them again; due times moving (a pause, a new
    cycle) do not: those are in the ledger and the metric events."""

    policy_id: str
    calendar_id: str
    version: int
    targets: tuple[tuple[Metric, int, bool, datetime | None], ...]
    """(metric, target seconds, business hours, due time of its running cycle or None)."""

    @property
    def terms(self) -> tuple[object, ...]:
        return (
            self.policy_id,
            self.calendar_id,
            self.version,
            tuple((metric, target_s, business) for metric, target_s, business, _ in self.targets),
        )


@dataclass(frozen=True)
class TicketRecord:
    ticket_id: str
    partition: int | None = None
    """The Kafka partition of the ticket's events: the replica owning it owns its timers."""
    facts: tuple[Fact, ...] = ()
    revision: int = 0
    """Bumped by every write; a write succeeds only from the revision it read."""
    version: int | None = None
    """The version of the policies and calendars it was last measured under."""
    applied: AppliedTargets | None = None
    applications: int = 0
    """How many ``SlaAppliedV1`` were announced (the next one's ordinal)."""
    announced: frozenset[str] = frozenset()
    """The keys of the happenings already in the ledger."""
    ledger_size: int = 0
    reported: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Outcome key → digest of the outcome written for it."""
    next_due: datetime | None = None
    tracking: bool = False
    """A metric is still measured: the ticket has a timer document."""
    opened_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reported", _frozen(self.reported))

    @property
    def fact_ids(self) -> frozenset[str]:
        return frozenset(fact.id for fact in self.facts)


@dataclass(frozen=True)
class Decision:
    """What settling a ticket decided: the record to write, and what to announce first."""

    record: TicketRecord
    entries: tuple[LedgerEntry, ...] = ()
    outcomes: tuple[Outcome, ...] = ()


@dataclass(frozen=True)
class TimerRow:
    """A ticket's timer as stored: when its clocks next reach a point (None: all paused), in
    which partition, measured under which version."""

    ticket_id: str
    partition: int
    due_at: datetime | None
    version: int
