"""SLA events, published by sla on ``sla.events.v1`` and keyed by ticket id.

Their ``event_id`` is derived from (ticket, metric, kind, level, cycle) so a timer that fires
twice after a restart produces the same id and consumers drop the second one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, Model, ShortText
from opora_shared.contracts.topics import SLA


class Metric(StrEnum):
    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    PERIODIC_UPDATE = "periodic_update"
    REQUESTER_WAIT = "requester_wait"
    AGENT_WORK = "agent_work"
    RESOLUTION = "resolution"


class Target(Model):
    metric: Metric
    target_s: int = Field(gt=0, description="The target, in seconds of the metric's clock")
    business_hours: bool = True
    due_at: AwareDatetime | None = Field(default=None, description="None while paused")


class SlaEvent(Event):
    topic: ClassVar = SLA

    ticket_id: Id
    policy_id: Id
    policy_version: int = Field(ge=1)


class SlaAppliedV1(SlaEvent):
    ce_type: ClassVar[str] = "opora.sla.applied.v1"

    calendar_id: Id
    targets: tuple[Target, ...]
    reason: ShortText | None = Field(
        default=None,
        description="What made sla announce the targets (again): the ticket opened, a new "
        "policy version, a priority or team change, a status that paused or resumed a clock",
    )


class SlaMetricEvent(SlaEvent):
    metric: Metric
    due_at: AwareDatetime
    elapsed_s: int = Field(ge=0, description="Time used on the metric's clock")
    remaining_s: int = Field(description="Time left; negative after a breach")
    cycle: int | None = Field(
        default=None,
        ge=1,
        description="Which occurrence of the metric: next reply and periodic update start "
        "again at every customer message or agent reply",
    )
    target_s: int | None = Field(default=None, gt=0, description="The target, in seconds")
    business_hours: bool | None = Field(
        default=None, description="Counted in business hours (False: calendar hours)"
    )


class SlaWarningV1(SlaMetricEvent):
    ce_type: ClassVar[str] = "opora.sla.warning.v1"

    threshold: ShortText = Field(description="Which warning fired, e.g. '75%' or '15m'")


class SlaBreachedV1(SlaMetricEvent):
    ce_type: ClassVar[str] = "opora.sla.breached.v1"


class SlaEscalatedV1(SlaMetricEvent):
    ce_type: ClassVar[str] = "opora.sla.escalated.v1"

    level: int = Field(ge=1, le=4)


class SlaFulfilledV1(SlaMetricEvent):
    ce_type: ClassVar[str] = "opora.sla.fulfilled.v1"

    breached: bool = False
    fulfilled_by: ShortText | None = Field(
        default=None, description="What fulfilled it: 'reply <id>', 'solved' or 'closed'"
    )


SLA_EVENTS: tuple[type[SlaEvent], ...] = (
    SlaAppliedV1,
    SlaWarningV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaFulfilledV1,
)
