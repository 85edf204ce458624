"""The routing rules file, and the decisions taken from it: which rule, which step, what then.

Rules are data so that a support lead can change routing without a release. The file is
validated when it is loaded: a field that does not fit fails the load with its path
(``rules.2.steps.1.skills.technical: Input should be less than or equal to 5``), never later on
a live ticket.

- **Rules** are ordered and the first whose ``when`` holds wins; the last one must be a
  catch-all (no conditions), so that every ticket has a rule.
- **Steps** relax a rule's requirement as the ticket waits (Amazon Connect's expiring
  proficiency steps, TaskRouter's target timeouts): each applies from ``after_s`` seconds after
  the ticket entered the rule. Skills, their cap, the team and the queue carry over to later
  steps until a step changes them (``team: null`` lifts a team restriction).
- **A later step never asks for more.** A file whose step adds or raises a skill is rejected;
  what depends on the ticket (``use_ticket_skills``) is clamped when the requirement is worked
  out, so a skill is never required above the level of the step before.

Everything here is pure: the functions take a ticket and the rules and return a decision that
carries a human-readable ``why`` for the events.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.datafile import Patterns, fold, parse_yaml, read_source
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from opora_routing.domain.model import CapacityPolicy, Requirement, Ticket

DEFAULT_RULES = ("opora_routing", "rules/routing.yaml")
MAX_PROFICIENCY = 5

T = TypeVar("T")

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]
"""Rule ids, queues and teams: they travel in events, so no spaces and at most 128 characters."""
SkillName = Annotated[str, StringConstraints(pattern=r"^\S{1,128}$")]
Proficiency = Annotated[int, Field(ge=1, le=MAX_PROFICIENCY)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonEmpty = Annotated[tuple[T, ...], Field(min_length=1)]
"""A list that must name at least one entry: an empty condition could never hold."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectionStrategy(StrEnum):
    MOST_SPARE = "most_spare"
    """Most spare capacity on the ticket's channel, then the longest idle (Zendesk, Connect)."""
    ROUND_ROBIN = "round_robin"
    """Whoever was offered a ticket longest ago, regardless of load (Chatwoot)."""


class OfferRules(_Strict):
    """An assignment is an offer the agent accepts; unanswered, it lapses and is re-offered."""

    timeout_s: Seconds = 60.0
    timeout_by_channel: dict[Channel, Seconds] = Field(default_factory=dict)
    return_open_tickets_on_offline: bool = Field(
        default=False,
        description="Also return an agent's accepted open tickets to their queue when the agent "
        "goes offline (unaccepted offers always return)",
    )
    strategy: SelectionStrategy = SelectionStrategy.MOST_SPARE


class CapacityRules(_Strict):
    """How an agent's per-channel capacities combine (see model.CapacityPolicy)."""

    max_total: int | None = Field(default=None, ge=1)
    exclusive_channels: tuple[Channel, ...] = ()

    @field_validator("exclusive_channels")
    @classmethod
    def _unique(cls, channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if len(set(channels)) != len(channels):
            raise ValueError("a channel is listed twice")
        return channels


class BreachRules(_Strict):
    priority: Priority = Field(
        default=Priority.URGENT, description="The priority a breached ticket gets at least"
    )
    queue: Identifier | None = Field(default=None, description="The escalation queue, if any")
    team: Identifier | None = Field(default=None, description="Only this team, if set")


class EscalationRules(_Strict):
    on_warning_raise_by: int = Field(
        default=1, ge=0, le=3, description="Priority levels an SLA warning adds, up to urgent"
    )
    on_breach: BreachRules = BreachRules()


class Conditions(_Strict):
    """What a ticket must show for a rule to apply: every condition given must hold, and a list
    holds when any of its entries does. No conditions at all: the catch-all."""

    request_type: NonEmpty[RequestType] | None = None
    channel: NonEmpty[Channel] | None = None
    language: NonEmpty[LanguageCode] | None = Field(
        default=None, description="Compared with the primary subtag: 'ru' holds for 'ru-RU'"
    )
    tier: NonEmpty[Name] | None = Field(default=None, description="Compared case-insensitively")
    priority: NonEmpty[Priority] | None = None
    product: Patterns | None = Field(
        default=None, description="Searched in the ticket's product; no product: does not hold"
    )

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


class Step(_Strict):
    """What a ticket needs from ``after_s`` seconds after it entered its rule."""

    after_s: float = Field(ge=0, allow_inf_nan=False)
    skills: dict[SkillName, Proficiency] | None = Field(
        default=None, min_length=1, description="Skill → minimum proficiency 1-5, all required"
    )
    use_ticket_skills: bool = Field(
        default=False,
        description="Require the skills intake asked for (ticket.skills); 'skills' adds to "
        "them or overrides their levels",
    )
    min_proficiency_cap: Proficiency | None = Field(
        default=None, description="No skill is required above this level"
    )
    any_agent: bool = Field(default=False, description="No skill is required at all")
    team: Identifier | None = Field(
        default=None, description="Only this team's members; 'null' lifts an earlier restriction"
    )
    queue: Identifier | None = Field(
        default=None, description="Move to this queue (an overflow queue) from this step on"
    )

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.any_agent and (
            self.skills is not None or self.use_ticket_skills or self.min_proficiency_cap
        ):
            raise ValueError(
                "'any_agent' drops every skill: do not combine it with 'skills', "
                "'use_ticket_skills' or 'min_proficiency_cap'"
            )
        return self

    @property
    def sets_skills(self) -> bool:
        return self.skills is not None or self.use_ticket_skills or self.any_agent


@dataclass(frozen=True)
class _Resolved:
    """A step with everything it inherits filled in; ticket-independent."""

    after_s: float
    skills: Mapping[str, int]
    use_ticket_skills: bool
    any_agent: bool
    cap: int | None
    team: str | None
    queue: str


def _resolve(queue: str, steps: tuple[Step, ...]) -> list[_Resolved]:
    resolved: list[_Resolved] = []
    current = _Resolved(0.0, {}, False, False, None, None, queue)
    for step in steps:
        if step.sets_skills:
            current = replace(
                current,
                skills=dict(step.skills or {}),
                use_ticket_skills=step.use_ticket_skills,
                any_agent=step.any_agent,
                cap=step.min_proficiency_cap,
            )
        elif step.min_proficiency_cap is not None:
            current = replace(current, cap=step.min_proficiency_cap)
        if "team" in step.model_fields_set:
            current = replace(current, team=step.team)
        if step.queue is not None:
            current = replace(current, queue=step.queue)
        current = replace(current, after_s=step.after_s)
        resolved.append(current)
    return resolved


def _capped(level: int, cap: int | None) -> int:
    return level if cap is None else min(level, cap)


def _tightening(before: _Resolved, after: _Resolved) -> str | None:
    """What ``after`` asks for beyond ``before`` that a file can be blamed for, if anything."""
    if after.any_agent:
        return None
    if before.any_agent:
        return "asks for skills again after an 'any_agent' step"
    if after.use_ticket_skills and not before.use_ticket_skills:
        return "turns on 'use_ticket_skills' after a step without it"
    if after.use_ticket_skills and _capped(MAX_PROFICIENCY, after.cap) > _capped(
        MAX_PROFICIENCY, before.cap
    ):
        return f"raises 'min_proficiency_cap' to {after.cap} from {before.cap}"
    for skill, level in after.skills.items():
        wanted = _capped(level, after.cap)
        if skill in before.skills:
            had = _capped(before.skills[skill], before.cap)
            if wanted > had:
                return f"raises skill {skill!r} to {wanted} from {had}"
        elif not before.use_ticket_skills:
            return f"adds skill {skill!r}"
    return None


class Rule(_Strict):
    id: Identifier
    when: Conditions = Conditions()
    queue: Identifier
    language_agnostic: bool = Field(
        default=False, description="Any agent language will do (otherwise the ticket's)"
    )
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _relax_over_time(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        if steps[0].after_s != 0:
            raise ValueError(f"step 0: 'after_s' must be 0, not {steps[0].after_s:g}")
        for index in range(1, len(steps)):
            before, after = steps[index - 1].after_s, steps[index].after_s
            if after <= before:
                raise ValueError(
                    f"step {index}: 'after_s' {after:g} must be greater than step "
                    f"{index - 1}'s {before:g}"
                )
        return steps

    @model_validator(mode="after")
    def _only_relax(self) -> Self:
        resolved = _resolve(self.queue, self.steps)
        for index in range(1, len(resolved)):
            problem = _tightening(resolved[index - 1], resolved[index])
            if problem is not None:
                raise ValueError(f"step {index} {problem}: a later step may only relax")
        return self


class RoutingRules(_Strict):
    """The whole rules file."""

    version: Name = Field(description="Carried in routing's events as rule_version")
    offers: OfferRules = OfferRules()
    capacity: CapacityRules = CapacityRules()
    escalation: EscalationRules = EscalationRules()
    ignore_ticket_skills: tuple[Name, ...] = Field(
        default=("lang:*",),
        description="Glob patterns of ticket skills 'use_ticket_skills' leaves out: the "
        "language is already required through the agent's languages",
    )
    rules: tuple[Rule, ...]

    @property
    def queues(self) -> frozenset[str]:
        """Every queue a ticket can wait in under these rules: each rule's, its steps' overflow
        queues, and the escalation queue."""
        named = {rule.queue for rule in self.rules}
        named |= {step.queue for rule in self.rules for step in rule.steps if step.queue}
        if self.escalation.on_breach.queue:
            named.add(self.escalation.on_breach.queue)
        return frozenset(named)

    @field_validator("rules")
    @classmethod
    def _ordered_with_catch_all(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        if not rules:
            raise ValueError("at least one rule is needed: the catch-all")
        seen: set[str] = set()
        for index, rule in enumerate(rules):
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
            if rule.when.is_empty and index < len(rules) - 1:
                raise ValueError(
                    f"rule {index} ({rule.id!r}) has no conditions, so the rules after it "
                    "could never apply: only the last rule may be a catch-all"
                )
        if not rules[-1].when.is_empty:
            raise ValueError(
                f"the last rule ({rules[-1].id!r}) must be a catch-all with an empty 'when', "
                "so that every ticket matches a rule"
            )
        return rules


class RulesError(ValueError):
    """The rules file cannot be read, is not YAML, or does not fit the schema."""


def load_rules(path: Path | None = None) -> RoutingRules:
    """Read and validate a rules file; without a path, the one shipped with routing."""
    raw, source = read_source(path, DEFAULT_RULES, what="routing rules", error=RulesError)
    return parse_rules(raw, source=source)


def parse_rules(raw: str, *, source: str = "<string>") -> RoutingRules:
    """Validate the YAML text of a rules file."""
    return parse_yaml(
        raw, RoutingRules, source=source, what="routing rules", error=RulesError, where=_where
    )


def _where(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """The failing field's path, naming the rule by id too: ``rules.2 (id 'vip').steps.1``."""
    parts = [str(part) for part in loc]
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            rule_id = rules[loc[1]].get("id")
            if rule_id is not None:
                parts[1] += f" (rule {rule_id!r})"
    return ".".join(parts) or "(top level)"


# --- decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleMatch:
    """The rule a ticket follows, and the version of the rules it came from."""

    rule: Rule
    version: str
    why: str
    ignore_ticket_skills: tuple[str, ...] = ()
    """The file's ``ignore_ticket_skills``, which the rule's steps apply to ticket.skills."""

    @property
    def rule_id(self) -> str:
        return self.rule.id


@dataclass(frozen=True)
class StepDecision:
    """What an agent needs to be offered the ticket now, and when that relaxes next."""

    requirement: Requirement
    rule_id: str
    rule_version: str
    step: int
    next_step_after_s: float | None
    """Seconds after the ticket entered the rule at which the next step applies (None: this is
    the last step). Arm a timer for it rather than sweeping."""
    why: str


@dataclass(frozen=True)
class EscalationDecision:
    """What an SLA warning or breach changes: the priority, and maybe the queue and team."""

    kind: Literal["warning", "breach"]
    priority: Priority
    queue: str | None = None
    """Move the ticket to this queue (None: it stays where it is)."""
    team: str | None = None
    """Offer it only to this team (None: no change)."""
    why: str = ""


def match(ticket: Ticket, rules: RoutingRules) -> RuleMatch:
    """The first rule whose conditions hold for ``ticket``; the catch-all when none does."""
    for rule in rules.rules:
        reasons = _holds(rule.when, ticket)
        if reasons is not None:
            what = ", ".join(reasons) if reasons else "catch-all"
            why = f"rule {rule.id!r} ({rules.version}): {what}"
            return RuleMatch(rule, rules.version, why, rules.ignore_ticket_skills)
    raise AssertionError("validated rules end with a catch-all")  # pragma: no cover


def requirement_at(ticket: Ticket, rule_match: RuleMatch, waited_s: float) -> StepDecision:
    """The requirement of the step in force ``waited_s`` seconds after the ticket entered the
    rule (a negative wait counts as 0)."""
    rule = rule_match.rule
    resolved = _resolve(rule.queue, rule.steps)
    starts = [step.after_s for step in resolved]
    index = max(bisect_right(starts, max(waited_s, 0.0)) - 1, 0)
    skills = _skills_up_to(ticket, resolved, index, rule_match)
    step = resolved[index]
    language = None if rule.language_agnostic else ticket.language
    requirement = Requirement(queue=step.queue, skills=skills, team=step.team, language=language)
    next_after = starts[index + 1] if index + 1 < len(starts) else None
    return StepDecision(
        requirement=requirement,
        rule_id=rule.id,
        rule_version=rule_match.version,
        step=index,
        next_step_after_s=next_after,
        why=_explain_step(rule.id, index, step, requirement, next_after),
    )


def escalate(
    ticket: Ticket, kind: Literal["warning", "breach"], rules: RoutingRules
) -> EscalationDecision:
    """How an SLA warning or breach changes the ticket; the priority never goes down.

    A warning raises ``ticket.priority`` by ``on_warning_raise_by`` levels (at most urgent):
    apply it once per warning event, not on a redelivery.
    """
    policy = rules.escalation
    before = ticket.priority
    if kind == "warning":
        after = _raised(before, policy.on_warning_raise_by)
        return EscalationDecision(
            kind,
            after,
            why=f"sla warning: priority {before} → {after} "
            f"(raise by {policy.on_warning_raise_by}, at most urgent)",
        )
    breach = policy.on_breach
    after = max(before, breach.priority, key=lambda p: p.rank)
    parts = [f"sla breach: priority {before} → {after}"]
    if breach.queue is not None:
        parts.append(f"queue {breach.queue}")
    if breach.team is not None:
        parts.append(f"team {breach.team}")
    return EscalationDecision(kind, after, breach.queue, breach.team, why=", ".join(parts))


def escalated(requirement: Requirement, decision: EscalationDecision) -> Requirement:
    """``requirement`` moved to the escalation's queue and team, where it names them."""
    return replace(
        requirement,
        queue=decision.queue or requirement.queue,
        team=decision.team if decision.team is not None else requirement.team,
    )


def offer_timeout_s(channel: Channel, rules: RoutingRules) -> float:
    """How long an agent has to accept an offer on ``channel`` before it lapses."""
    return rules.offers.timeout_by_channel.get(channel, rules.offers.timeout_s)


def capacity_policy(rules: RoutingRules) -> CapacityPolicy:
    return CapacityPolicy(
        max_total=rules.capacity.max_total,
        exclusive=frozenset(rules.capacity.exclusive_channels),
    )


def _holds(when: Conditions, ticket: Ticket) -> list[str] | None:
    """What matched, one phrase per condition; None when a condition does not hold."""
    reasons: list[str] = []
    if when.request_type is not None:
        if ticket.request_type not in when.request_type:
            return None
        reasons.append(f"request_type {ticket.request_type}")
    if when.channel is not None:
        if ticket.channel not in when.channel:
            return None
        reasons.append(f"channel {ticket.channel}")
    if when.language is not None:
        if ticket.language.split("-")[0].lower() not in when.language:
            return None
        reasons.append(f"language {ticket.language}")
    if when.tier is not None:
        if ticket.tier.casefold() not in {tier.casefold() for tier in when.tier}:
            return None
        reasons.append(f"tier {ticket.tier}")
    if when.priority is not None:
        if ticket.priority not in when.priority:
            return None
        reasons.append(f"priority {ticket.priority}")
    if when.product is not None:
        if ticket.product is None:
            return None
        product = fold(ticket.product)
        pattern = next((p for p in when.product if p.search(product)), None)
        if pattern is None:
            return None
        reasons.append(f"product {ticket.product[:80]!r} matched {pattern.pattern[:80]!r}")
    return reasons


def _skills_up_to(
    ticket: Ticket, resolved: list[_Resolved], index: int, rule_match: RuleMatch
) -> dict[str, int]:
    """The step's skills for this ticket, each clamped to what the step before asked."""
    ignored = rule_match.ignore_ticket_skills
    previous: dict[str, int] | None = None
    for step in resolved[: index + 1]:
        wanted = _skills_for(ticket, step, ignored)
        if previous is not None:
            wanted = {s: min(level, previous[s]) for s, level in wanted.items() if s in previous}
        previous = wanted
    return previous or {}


def _skills_for(ticket: Ticket, step: _Resolved, ignored: tuple[str, ...]) -> dict[str, int]:
    if step.any_agent:
        return {}
    wanted: dict[str, int] = {}
    if step.use_ticket_skills:
        wanted.update(
            (skill, level)
            for skill, level in ticket.skills.items()
            if not any(fnmatchcase(skill, pattern) for pattern in ignored)
        )
    wanted.update(step.skills)
    return {skill: _capped(level, step.cap) for skill, level in sorted(wanted.items())}


def _raised(priority: Priority, levels: int) -> Priority:
    by_rank = sorted(Priority, key=lambda p: p.rank)
    return by_rank[min(priority.rank + levels, len(by_rank) - 1)]


def _explain_step(
    rule_id: str,
    index: int,
    step: _Resolved,
    requirement: Requirement,
    next_after: float | None,
) -> str:
    if requirement.skills:
        needs = ", ".join(f"{skill} ≥ {level}" for skill, level in requirement.skills.items())
    else:
        needs = "any skills"
    parts = [f"rule {rule_id!r} step {index} (from {step.after_s:g} s): {needs}"]
    if requirement.team is not None:
        parts.append(f"team {requirement.team}")
    parts.append(f"language {requirement.language or 'any'}")
    parts.append(f"queue {requirement.queue}")
    parts.append("last step" if next_after is None else f"relaxes at {next_after:g} s")
    return "; ".join(parts)
