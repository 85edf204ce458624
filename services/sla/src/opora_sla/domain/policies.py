"""The SLA policies file: which targets a ticket gets, in which hours, warned and escalated when.

Policies are data so that a support lead can change them without a release. The file is
validated when it is loaded: a field that does not fit fails the load with its path
(``policies.1 (policy 'vip').targets.first_reply.within.urgent: ...``), never later on a live
ticket.

- **Policies are ordered**; the first whose ``when`` holds for the ticket applies (priority,
  channel, request type, customer tier, team, product). A ticket no policy matches has no
  targets. Matching uses the ticket as it is now: a new priority or team re-applies the
  policies and the targets are measured again from the ticket's start, as Zendesk does.
- **Targets** are per metric and priority; a priority left out has no target for that metric.
  Each target counts in ``business`` hours (the calendar: the ticket's team's, or one named) or
  ``calendar`` hours (24x7).
- **Warnings** fire at a share of the target (``"75%"``) or a time before it is due
  (``"15m"``); **escalations** at levels 1-4, a delay after the breach, on the same clock.
- **Pauses** name the metrics each waiting status (``pending``, ``on_hold``) stops.

``defaults`` give every policy its hours, calendar, warnings, escalations and pauses unless the
policy (or a target, for hours, warnings and escalations) says otherwise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, TypeVar

from opora_shared.contracts.common import Channel, Priority, RequestType, TicketStatus
from opora_shared.contracts.sla import Metric
from opora_shared.datafile import Patterns, fold, parse_yaml, read_source
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from opora_sla.domain.calendars import CALENDAR_HOURS, Calendar, CalendarBook

T = TypeVar("T")

DEFAULT_POLICIES = ("opora_sla", "rules/policies.yaml")
WHAT = "SLA policies"
TEAM_CALENDAR: Final = "team"
"""``calendar: team``: business hours are those of the ticket's team (the calendars file)."""
MAX_ESCALATION_LEVEL: Final = 4
WAITING_STATUSES: Final = (TicketStatus.PENDING, TicketStatus.ON_HOLD)

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]
"""Policy, team and calendar ids travel in events: no spaces, at most 128 characters."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]

# --- durations -------------------------------------------------------------------------------

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (86_400, 3_600, 60, 1)


def parse_duration(value: Any) -> int:
    """``"1h30m"``, ``"2d"``, ``"45s"`` or a number of seconds → whole seconds. A day is 24 hours
    of the clock the target counts in (in business hours: 24 open hours, not a working day)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30m', '4h', '1h30m', '2d' or seconds")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (found := _DURATION.match(value.strip())) and value.strip():
        parts = zip(found.groups(), _UNITS, strict=True)
        seconds = sum(int(part) * unit for part, unit in parts if part)
    else:
        raise ValueError(
            f"{value!r} is not a duration: write '30m', '4h', '1h30m', '2d', '45s' or seconds"
        )
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds}")
    return seconds


def format_duration(seconds: int) -> str:
    """Whole seconds → the shortest text ``parse_duration`` reads back: 5400 → ``"1h30m"``."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit, name in zip(_UNITS, "dhms", strict=True):
        count, seconds = divmod(seconds, unit)
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts)


Duration = Annotated[
    int,
    PlainValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": ["string", "integer"], "examples": ["30m", "4h", "1h30m", "2d"]}),
]
MAX_TARGET_S = 366 * 86_400
"""No target or delay is longer than a year: a longer one is a typo (``8760d`` for ``8760h``),
and measuring it would walk a calendar day by day for years."""
Positive = Annotated[Duration, Field(gt=0, le=MAX_TARGET_S)]


class Hours(StrEnum):
    BUSINESS = "business"
    """Counted while the calendar is open."""
    CALENDAR = "calendar"
    """Counted round the clock (24x7)."""


# --- warnings and escalations ----------------------------------------------------------------


@dataclass(frozen=True)
class WarningRule:
    """A warning at ``percent`` of the target, or ``before_s`` seconds before it is due."""

    label: str
    percent: int | None = None
    before_s: int | None = None

    @classmethod
    def parse(cls, value: Any) -> WarningRule:
        if isinstance(value, WarningRule):
            return value
        text = str(value).strip() if isinstance(value, str | int) else ""
        if text.endswith("%"):
            number = text[:-1].strip()
            if not number.isdigit() or not 0 < int(number) < 100:
                raise ValueError(f"{value!r}: a share of the target is 1% to 99%")
            return cls(label=f"{int(number)}%", percent=int(number))
        try:
            before = parse_duration(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a warning: write a share of the target ('75%') or a time "
                "before it is due ('15m')"
            ) from None
        if before == 0:
            raise ValueError(f"{value!r}: a warning 0 s before the due time is the breach")
        return cls(label=format_duration(before), before_s=before)

    def used_at(self, target_s: int) -> int | None:
        """Seconds of the metric's clock at which the warning fires; None when it would fire
        at the start or after the due time (a 15-minute warning on a 10-minute target)."""
        if self.percent is not None:
            point = target_s * self.percent // 100
        else:
            assert self.before_s is not None
            point = target_s - self.before_s
        return point if 0 < point < target_s else None

    def __str__(self) -> str:
        return self.label


def _warnings(value: Any) -> tuple[WarningRule, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("expected a list of warnings such as ['75%', '15m']")
    rules = [WarningRule.parse(item) for item in value]
    labels = [rule.label for rule in rules]
    if len(set(labels)) != len(labels):
        raise ValueError(f"a warning is listed twice: {labels}")
    return tuple(rules)


Warnings = Annotated[
    tuple[WarningRule, ...],
    PlainValidator(_warnings),
    PlainSerializer(lambda rules: [rule.label for rule in rules], return_type=list[str]),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": r"^(\d{1,2}%|[0-9dhms]+)$"}}
    ),
]


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: int = Field(ge=1, le=MAX_ESCALATION_LEVEL)
    after: Duration = Field(le=MAX_TARGET_S, description="After the breach, on the target's clock")


Escalations = Annotated[tuple[Escalation, ...], Field(max_length=MAX_ESCALATION_LEVEL)]


def _ordered_escalations(escalations: tuple[Escalation, ...] | None) -> None:
    if not escalations:
        return
    for index in range(1, len(escalations)):
        before, after = escalations[index - 1], escalations[index]
        if after.level <= before.level:
            raise ValueError(
                f"escalation {index}: level {after.level} must be above level {before.level}"
            )
        if after.after < before.after:
            raise ValueError(
                f"escalation {index}: level {after.level} cannot come before level "
                f"{before.level} ({format_duration(after.after)} < "
                f"{format_duration(before.after)} after the breach)"
            )


# --- the file --------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """What a ticket must show for a policy to apply: every condition given must hold, and a
    list holds when any of its entries does. No conditions: every ticket."""

    priority: tuple[Priority, ...] | None = Field(default=None, min_length=1)
    channel: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    request_type: tuple[RequestType, ...] | None = Field(default=None, min_length=1)
    tier: tuple[Name, ...] | None = Field(
        default=None, min_length=1, description="Compared case-insensitively"
    )
    team: tuple[Identifier, ...] | None = Field(
        default=None, min_length=1, description="The team routing assigned; none yet: no match"
    )
    product: Patterns | None = Field(
        default=None, description="Searched in the ticket's product; no product: does not hold"
    )

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


class Pauses(_Strict):
    """The metrics each waiting status stops; the others keep running in it."""

    pending: tuple[Metric, ...] = ()
    on_hold: tuple[Metric, ...] = ()

    def of(self, status: TicketStatus) -> frozenset[Metric]:
        if status is TicketStatus.PENDING:
            return frozenset(self.pending)
        if status is TicketStatus.ON_HOLD:
            return frozenset(self.on_hold)
        return frozenset()


class TargetSpec(_Strict):
    """One metric's targets by priority, and how they count, warn and escalate."""

    within: dict[Priority, Positive] = Field(min_length=1, description="Priority → target")
    hours: Hours | None = None
    warnings: Warnings | None = None
    escalations: Escalations | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """``first_reply: {urgent: 1h, high: 4h}`` is short for ``{within: {...}}``."""
        if isinstance(value, dict) and value and set(value) <= set(Priority):
            return {"within": value}
        return value

    @field_validator("escalations")
    @classmethod
    def _escalations_in_order(cls, value: tuple[Escalation, ...] | None) -> Any:
        _ordered_escalations(value)
        return value


class Defaults(_Strict):
    hours: Hours = Hours.BUSINESS
    calendar: Identifier = Field(
        default=TEAM_CALENDAR, description="'team' (the ticket's team's calendar) or a calendar id"
    )
    warnings: Warnings = (WarningRule.parse("75%"),)
    escalations: Escalations = ()
    pauses: Pauses = Pauses()

    @field_validator("escalations")
    @classmethod
    def _escalations_in_order(cls, value: tuple[Escalation, ...]) -> Any:
        _ordered_escalations(value)
        return value


class PolicySpec(_Strict):
    id: Identifier
    description: str = ""
    when: Conditions = Conditions()
    hours: Hours | None = None
    calendar: Identifier | None = None
    warnings: Warnings | None = None
    escalations: Escalations | None = None
    pauses: Pauses | None = None
    targets: dict[Metric, TargetSpec] = Field(min_length=1)

    @field_validator("escalations")
    @classmethod
    def _escalations_in_order(cls, value: tuple[Escalation, ...] | None) -> Any:
        _ordered_escalations(value)
        return value


class PoliciesFile(_Strict):
    """The whole policies file."""

    defaults: Defaults = Defaults()
    policies: tuple[PolicySpec, ...]

    @field_validator("policies")
    @classmethod
    def _ordered(cls, policies: tuple[PolicySpec, ...]) -> tuple[PolicySpec, ...]:
        if not policies:
            raise ValueError("name at least one policy")
        seen: set[str] = set()
        for index, policy in enumerate(policies):
            if policy.id in seen:
                raise ValueError(f"policy {index}: duplicate policy id {policy.id!r}")
            seen.add(policy.id)
            if policy.when.is_empty and index < len(policies) - 1:
                raise ValueError(
                    f"policy {index} ({policy.id!r}) has no conditions, so the policies after "
                    "it could never apply: only the last policy may match every ticket"
                )
        return policies


class PolicyError(ValueError):
    """The policies file cannot be read, is not YAML, does not fit, or names an unknown
    calendar."""


def load_policies(path: Path | None = None) -> PoliciesFile:
    """Read and validate a policies file; without a path, the one shipped with sla."""
    raw, source = read_source(path, DEFAULT_POLICIES, what=WHAT, error=PolicyError)
    return parse_policies(raw, source=source)


def parse_policies(raw: str, *, source: str = "<string>") -> PoliciesFile:
    """Validate the YAML text of a policies file."""
    return parse_yaml(raw, PoliciesFile, source=source, what=WHAT, error=PolicyError, where=_where)


def _where(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """The failing field's path, naming the policy by id: ``policies.2 (policy 'vip')``."""
    parts = [str(part) for part in loc]
    if len(loc) >= 2 and loc[0] == "policies" and isinstance(loc[1], int):
        policies = data.get("policies")
        if (
            isinstance(policies, list)
            and loc[1] < len(policies)
            and isinstance(policies[loc[1]], dict)
            and policies[loc[1]].get("id") is not None
        ):
            parts[1] += f" (policy {policies[loc[1]]['id']!r})"
    return ".".join(parts) or "(top level)"


# --- policies and calendars together -----------------------------------------------------------


@dataclass(frozen=True)
class SlaConfig:
    """The policies and calendars in force, and the version events carry.

    The version is a number a registry gives each distinct ``fingerprint`` (the meaning of both
    files, not their layout), so every replica loading the same files names them alike and any
    change makes a new version.
    """

    policies: PoliciesFile
    calendars: CalendarBook
    version: int = 1
    fingerprint: str = ""

    @classmethod
    def build(cls, policies: PoliciesFile, calendars: CalendarBook, version: int = 1) -> SlaConfig:
        """Check that the policies name calendars that exist, and fingerprint both files."""
        known = set(calendars.calendars) | {TEAM_CALENDAR}
        problems = []
        if policies.defaults.calendar not in known:
            problems.append(f"defaults.calendar: no calendar {policies.defaults.calendar!r}")
        for index, policy in enumerate(policies.policies):
            if policy.calendar is not None and policy.calendar not in known:
                problems.append(
                    f"policies.{index} (policy {policy.id!r}).calendar: no calendar "
                    f"{policy.calendar!r}"
                )
        if problems:
            raise PolicyError(
                f"the SLA policies name calendars the calendars file does not have "
                f"(known: {sorted(known)}):\n  " + "\n  ".join(problems)
            )
        return cls(policies, calendars, version, fingerprint(policies, calendars))

    def with_version(self, version: int) -> SlaConfig:
        return SlaConfig(self.policies, self.calendars, version, self.fingerprint)


def fingerprint(policies: PoliciesFile, calendars: CalendarBook) -> str:
    """A digest of what the two files mean; comments and key order do not change it."""
    digest = hashlib.sha256(policies.model_dump_json().encode("utf-8"))
    digest.update(b"\x1f")
    digest.update(calendars.fingerprint.encode("utf-8"))
    return digest.hexdigest()


# --- what applies to a ticket --------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What policies match on: the ticket as it is now."""

    priority: Priority = Priority.NORMAL
    channel: Channel | None = None
    request_type: RequestType = RequestType.OTHER
    tier: str = "standard"
    team: str | None = None
    agent_id: str | None = None
    product: str | None = None


Kind = Literal["warning", "breach", "escalation"]


@dataclass(frozen=True)
class Point:
    """An instant on a metric's clock at which something is announced."""

    kind: Kind
    label: str
    used_s: int
    level: int = 0


@dataclass(frozen=True)
class TargetRule:
    metric: Metric
    target_s: int
    business_hours: bool
    warnings: tuple[WarningRule, ...]
    escalations: tuple[Escalation, ...]

    def points(self) -> tuple[Point, ...]:
        """Warnings, the breach and the escalations, in the order the clock reaches them."""
        points = [
            Point("warning", rule.label, used)
            for rule in self.warnings
            if (used := rule.used_at(self.target_s)) is not None
        ]
        points.append(Point("breach", "", self.target_s))
        points += [
            Point("escalation", str(e.level), self.target_s + e.after, e.level)
            for e in self.escalations
        ]
        order = {"warning": 0, "breach": 1, "escalation": 2}
        return tuple(sorted(points, key=lambda p: (p.used_s, order[p.kind], p.level)))


@dataclass(frozen=True)
class AppliedPolicy:
    """The policy a ticket is under, resolved for its priority and team."""

    policy_id: str
    calendar: Calendar
    """The business-hours calendar of the ticket (its team's, or the one the policy names)."""
    targets: Mapping[Metric, TargetRule]
    pauses: Pauses
    why: str

    @property
    def calendar_id(self) -> str:
        return self.calendar.id

    def clock_of(self, metric: Metric) -> Calendar:
        """The calendar a metric's target counts in."""
        return self.calendar if self.targets[metric].business_hours else CALENDAR_HOURS


def match(profile: Profile, policies: PoliciesFile) -> tuple[PolicySpec, str] | None:
    """The first policy whose conditions hold for the ticket, and why; None when none does."""
    for policy in policies.policies:
        reasons = _holds(policy.when, profile)
        if reasons is not None:
            return policy, ", ".join(reasons) if reasons else "every ticket"
    return None


def applied_policy(profile: Profile, config: SlaConfig) -> AppliedPolicy | None:
    """The policy that applies to the ticket, with its targets for the ticket's priority."""
    found = match(profile, config.policies)
    if found is None:
        return None
    policy, why = found
    defaults = config.policies.defaults
    calendar_id = policy.calendar or defaults.calendar
    if calendar_id == TEAM_CALENDAR:
        calendar = config.calendars.for_team(profile.team)
    else:
        calendar = config.calendars.get(calendar_id)
    targets: dict[Metric, TargetRule] = {}
    for metric in Metric:  # in the contract's order, whatever the file's
        spec = policy.targets.get(metric)
        target_s = spec.within.get(profile.priority) if spec is not None else None
        if spec is None or target_s is None:
            continue
        hours = spec.hours or policy.hours or defaults.hours
        targets[metric] = TargetRule(
            metric=metric,
            target_s=target_s,
            business_hours=hours is Hours.BUSINESS and calendar.id != CALENDAR_HOURS.id,
            warnings=_first(spec.warnings, policy.warnings, defaults.warnings),
            escalations=_first(spec.escalations, policy.escalations, defaults.escalations),
        )
    return AppliedPolicy(
        policy_id=policy.id,
        calendar=calendar,
        targets=MappingProxyType(targets),
        pauses=policy.pauses or defaults.pauses,
        why=f"policy {policy.id!r}: {why}",
    )


def _first(*choices: T | None) -> T:
    for choice in choices:
        if choice is not None:
            return choice
    raise AssertionError("the defaults always give a value")  # pragma: no cover


def _holds(when: Conditions, profile: Profile) -> list[str] | None:
    """What matched, one phrase per condition; None when a condition does not hold."""
    reasons: list[str] = []
    if when.priority is not None:
        if profile.priority not in when.priority:
            return None
        reasons.append(f"priority {profile.priority}")
    if when.channel is not None:
        if profile.channel not in when.channel:
            return None
        reasons.append(f"channel {profile.channel}")
    if when.request_type is not None:
        if profile.request_type not in when.request_type:
            return None
        reasons.append(f"request_type {profile.request_type}")
    if when.tier is not None:
        if profile.tier.casefold() not in {tier.casefold() for tier in when.tier}:
            return None
        reasons.append(f"tier {profile.tier}")
    if when.team is not None:
        if profile.team is None or profile.team not in when.team:
            return None
        reasons.append(f"team {profile.team}")
    if when.product is not None:
        product = fold(profile.product or "")
        if not product or not any(p.search(product) for p in when.product):
            return None
        reasons.append(f"product {profile.product}")
    return reasons
