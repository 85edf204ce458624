"""Routing's selection engine: which agent takes a ticket, and which ticket a freed agent takes.

Pure and in memory. :func:`eligible` states the rule for one agent and one ticket;
:class:`Board` indexes every agent and waiting ticket so that both questions are answered
without scanning everyone; :func:`plan` and :func:`choose` are built on the board, so the
service and the benchmark run the same code.

- Tickets are served by higher priority, then the nearest SLA deadline, then the oldest.
- An agent is eligible when online, speaking the language, skilled enough, in the team the
  requirement names, not among the ticket's decliners, and with spare capacity on the channel
  under the cross-channel policy.
- Among eligible agents the ticket's preferred (previous) agent comes first; then either the
  most spare capacity on the channel and the longest idle, or the longest idle alone (round
  robin).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import TypeAlias

from opora_shared.contracts.common import Channel
from opora_shared.contracts.routing import CandidateScore
from opora_shared.contracts.workspace import Presence
from sortedcontainers import SortedList

from opora_routing.domain.model import (
    FALLBACK_SKILL,
    MIN_PROFICIENCY,
    NO_CROSS_CHANNEL_LIMIT,
    Agent,
    CapacityPolicy,
    Ticket,
)

RANKED = 5
"""How many of the best candidates a choice reports with their scores."""

TOP_LEVEL = 5
"""The highest proficiency the index keeps a bucket for (the contract allows 1-5)."""

SORT_LIMIT = 128
"""Up to this many eligible agents are ranked by sorting them; above it, by walking the
channel's ranking from the top, which then meets an eligible agent every few steps."""

WALK_LIMIT = 2048
"""Steps of that walk before giving up on it and sorting the eligible agents after all."""

MAX_PROFILES = 4096
"""Requirement profiles whose agents the board keeps up to date; past it, it starts afresh."""

RankKey: TypeAlias = tuple[int, float, str]
"""(-spare or 0, last assignment as a timestamp or -inf, agent id): smaller is better."""

QueueKey: TypeAlias = tuple[int, float, float, str]
"""(-priority rank, deadline timestamp or +inf, opened timestamp, ticket id): smaller first."""

Profile: TypeAlias = tuple[tuple[tuple[str, int], ...], str | None, str | None]
"""What a ticket asks of an agent, whatever the channel: (skill, minimum level) pairs after
the fallback rule, team, primary language. Tickets of one queue and step share one."""

Signature: TypeAlias = tuple[tuple[tuple[str, int], ...] | None, str, str | None, str | None]
"""What decides which agents may take a ticket on a channel: required skills (None: the
request-type rule), request type, team, language. Tickets sharing one wait in one bucket."""


class Strategy(StrEnum):
    MOST_SPARE = "most_spare"
    """Most spare capacity on the ticket's channel, then the longest idle (Zendesk)."""
    ROUND_ROBIN = "round_robin"
    """The longest idle, whatever the spare capacity (TaskRouter, Chatwoot)."""


@dataclass(frozen=True, slots=True)
class Score:
    """One candidate as the choice ranked it."""

    agent_id: str
    spare: int
    idle_since: datetime | None
    """The agent's last assignment; None: never assigned (idle the longest)."""
    key: str
    """The rank key as text, smallest first, as the strategy compares it."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The agent chosen for a ticket and why: what an offer or assignment event explains."""

    agent: Agent
    candidates: int
    """How many agents were eligible."""
    ranked: tuple[Score, ...]
    """The best candidates, the chosen one first (at most :data:`RANKED`)."""
    why: str
    """What was needed, how many qualified and what decided (the rule and step are the
    ticket's own, ``rule_id`` and ``step``)."""

    @property
    def scores(self) -> tuple[CandidateScore, ...]:
        """The ranking as the contract's scores (``RoutingReason.scores``)."""
        return tuple(
            CandidateScore(
                agent_id=score.agent_id,
                spare=score.spare,
                idle_since=score.idle_since,
                rank=score.key,
            )
            for score in self.ranked
        )


@dataclass(frozen=True, slots=True)
class Match:
    ticket: Ticket
    agent: Agent
    """The agent as the plan saw it just before this ticket: what a reservation checks against."""
    choice: Choice


def primary_language(tag: str) -> str:
    return tag.split("-")[0].lower()


def known_skills(agents: Iterable[Agent]) -> frozenset[str]:
    """Skills at least one agent has (whatever the presence): what the fallback rule looks at."""
    return frozenset(
        skill for agent in agents for skill, level in agent.skills.items() if level >= 1
    )


def required_skills(ticket: Ticket, known: Container[str] | None = None) -> Mapping[str, int]:
    """Skill → minimum proficiency an agent needs for ``ticket``.

    A ticket no routing rule matched yet needs its request type as a skill, or the ``general``
    skill when no agent in ``known`` has that one (None: assume someone has it).
    """
    if ticket.requirement is not None:
        return ticket.requirement.skills
    skill = ticket.request_type.value
    if known is not None and skill not in known:
        skill = FALLBACK_SKILL
    return {skill: MIN_PROFICIENCY}


def required_language(ticket: Ticket) -> str | None:
    """The language an agent must speak (None: any will do)."""
    if ticket.requirement is not None:
        return ticket.requirement.language
    return ticket.language


def eligible(
    agent: Agent,
    ticket: Ticket,
    policy: CapacityPolicy = NO_CROSS_CHANNEL_LIMIT,
    *,
    known: Container[str] | None = None,
) -> bool:
    """Whether ``agent`` may be offered ``ticket`` now; ``known`` as in :func:`required_skills`."""
    if agent.presence is not Presence.ONLINE:
        return False
    if agent.agent_id in ticket.declined_by or ticket.ticket_id in agent.active:
        return False
    language = required_language(ticket)
    if language is not None and not agent.speaks(language):
        return False
    requirement = ticket.requirement
    if (
        requirement is not None
        and requirement.team is not None
        and requirement.team not in agent.teams
    ):
        return False
    for skill, level in required_skills(ticket, known).items():
        if agent.skills.get(skill, 0) < level:
            return False
    return agent.spare(ticket.channel, policy) > 0


def queue_key(ticket: Ticket) -> QueueKey:
    """Serving order: higher priority, then the nearest deadline (none: last), then the oldest."""
    deadline = ticket.deadline.timestamp() if ticket.deadline is not None else math.inf
    return (-ticket.priority.rank, deadline, ticket.opened_at.timestamp(), ticket.ticket_id)


def queue_order(tickets: Iterable[Ticket]) -> list[Ticket]:
    return sorted(tickets, key=queue_key)


def choose(
    ticket: Ticket,
    agents: Iterable[Agent],
    policy: CapacityPolicy = NO_CROSS_CHANNEL_LIMIT,
    strategy: Strategy | str = Strategy.MOST_SPARE,
) -> Choice | None:
    """The best eligible agent for ``ticket``, or None when nobody can take it now."""
    board = Board(policy, strategy)
    board.put_agents(agents)
    return board.best_agent(ticket)


def plan(
    waiting: Iterable[Ticket],
    agents: Iterable[Agent],
    policy: CapacityPolicy,
    now: datetime,
    strategy: Strategy | str = Strategy.MOST_SPARE,
) -> list[Match]:
    """Serve the queue in order against the agents' spare capacity, as far as it goes.

    Each match takes its slot on the board before the next ticket is chosen, so that no slot
    is promised twice and the next choice sees who was just made busy.
    """
    board = Board(policy, strategy)
    board.put_agents(agents)
    matches: list[Match] = []
    for ticket in queue_order(waiting):
        if not board.has_room():
            break
        if not board.has_room(ticket.channel):
            continue
        choice = board.best_agent(ticket)
        if choice is None:
            continue
        matches.append(Match(ticket, choice.agent, choice))
        board.assign(ticket, choice.agent.agent_id, now)
    return matches


class Board:
    """Agents and waiting tickets, indexed for both routing decisions.

    Online agents with room on a channel are kept in a per-channel set and in a per-channel
    ranking by the strategy's key. Every :data:`Profile` a ticket has asked for keeps the set
    of agents who fit it and, per channel, of those with room, updated as agents change, so
    that a ticket's eligible agents are at hand (less its decliners and holders). A profile
    seen for the first time is built by intersecting, smallest first, sets per skill and
    minimum level, per team and per language. The best eligible agents come from sorting them
    when few, else from walking the channel's ranking from the top.

    Waiting tickets are kept in sorted buckets, one per channel and :data:`Signature`, by
    :func:`queue_key`. Whether an agent may take the tickets of a bucket is one check per
    bucket; within an eligible bucket the first ticket the agent neither declined nor holds
    wins, so a walk passes at most the agent's own declined or held tickets.

    Worst cases: ``best_agent`` for a profile never seen is linear in its smallest index set;
    otherwise it walks at most :data:`WALK_LIMIT` steps and then sorts the eligible agents,
    which happens only when many are eligible but nearly all of them rank below the rest.
    ``best_ticket`` is linear in the buckets on the agent's channels plus the agent's own
    declined or held tickets among them. Updating an agent costs one ranking update per
    channel and one set update per profile it fits.
    """

    def __init__(
        self,
        policy: CapacityPolicy = NO_CROSS_CHANNEL_LIMIT,
        strategy: Strategy | str = Strategy.MOST_SPARE,
    ) -> None:
        self.policy = policy
        self.strategy = Strategy(strategy)
        self._agents: dict[str, Agent] = {}
        self._languages: dict[str, frozenset[str]] = {}
        self._skill_count: dict[str, int] = {}
        self._at_least: dict[tuple[str, int], set[str]] = {}
        self._members: dict[str, set[str]] = {}
        self._speakers: dict[str, set[str]] = {}
        self._universal: set[str] = set()
        """Agents who list no language, and so speak any: members of every speakers' set."""
        self._profiles: dict[Profile, set[str]] = {}
        self._profiles_of: dict[str, set[Profile]] = {}
        self._live: dict[tuple[Profile, Channel], set[str]] = {}
        self._room: dict[Channel, set[str]] = {channel: set() for channel in Channel}
        self._ranking: dict[Channel, SortedList[RankKey]] = {c: SortedList() for c in Channel}
        self._rank: dict[Channel, dict[str, RankKey]] = {channel: {} for channel in Channel}
        self._holders: dict[str, set[str]] = {}
        self._tickets: dict[str, Ticket] = {}
        self._placed: dict[str, tuple[Channel, Signature, QueueKey]] = {}
        self._buckets: dict[Channel, dict[Signature, SortedList[QueueKey]]] = {
            channel: {} for channel in Channel
        }

    # --- agents ---

    def put_agent(self, agent: Agent) -> None:
        """Add an agent or replace what the board knows of it (profile, presence, load)."""
        old = self._agents.get(agent.agent_id)
        if old is None:
            self._index_profile(agent)
        else:
            self._unindex_slots(old)
            if (old.skills, old.languages, old.teams) != (
                agent.skills,
                agent.languages,
                agent.teams,
            ):
                self._unindex_profile(old)
                self._index_profile(agent)
        self._agents[agent.agent_id] = agent
        self._index_slots(agent)

    def put_agents(self, agents: Iterable[Agent]) -> None:
        for agent in agents:
            self.put_agent(agent)

    def remove_agent(self, agent_id: str) -> Agent | None:
        agent = self._agents.pop(agent_id, None)
        if agent is not None:
            self._unindex_slots(agent)
            self._unindex_profile(agent)
        return agent

    def agent(self, agent_id: str) -> Agent | None:
        return self._agents.get(agent_id)

    def agents(self) -> Iterator[Agent]:
        return iter(self._agents.values())

    def has_room(self, channel: Channel | None = None) -> bool:
        """Whether any online agent has spare capacity on ``channel`` (None: on any channel)."""
        if channel is not None:
            return bool(self._room[channel])
        return any(self._room.values())

    # --- tickets ---

    def put_ticket(self, ticket: Ticket) -> None:
        """Add a waiting ticket or replace it (a new step, a decline, a new deadline)."""
        self.remove_ticket(ticket.ticket_id)
        key = queue_key(ticket)
        signature = _signature(ticket)
        buckets = self._buckets[ticket.channel]
        bucket = buckets.get(signature)
        if bucket is None:
            bucket = buckets[signature] = SortedList()
        bucket.add(key)
        self._tickets[ticket.ticket_id] = ticket
        self._placed[ticket.ticket_id] = (ticket.channel, signature, key)

    def put_tickets(self, tickets: Iterable[Ticket]) -> None:
        for ticket in tickets:
            self.put_ticket(ticket)

    def remove_ticket(self, ticket_id: str) -> Ticket | None:
        placed = self._placed.pop(ticket_id, None)
        if placed is None:
            return None
        channel, signature, key = placed
        buckets = self._buckets[channel]
        bucket = buckets[signature]
        bucket.remove(key)
        if not bucket:
            del buckets[signature]
        return self._tickets.pop(ticket_id)

    def ticket(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def waiting(self) -> list[Ticket]:
        """Every waiting ticket, in serving order."""
        buckets = [
            bucket for by_channel in self._buckets.values() for bucket in by_channel.values()
        ]
        return [self._tickets[key[-1]] for key in heapq.merge(*buckets)]

    # --- changes ---

    def assign(self, ticket: Ticket, agent_id: str, at: datetime) -> Agent:
        """Give ``ticket`` to the agent: one slot taken, the ticket no longer waits."""
        agent = self._agents[agent_id]
        if agent.presence is not Presence.ONLINE or agent.spare(ticket.channel, self.policy) <= 0:
            raise ValueError(f"agent {agent_id} has no room for {ticket.ticket_id}")
        if ticket.ticket_id in agent.active:
            raise ValueError(f"agent {agent_id} already holds {ticket.ticket_id}")
        taken = agent.with_ticket(ticket.ticket_id, ticket.channel, at)
        self.put_agent(taken)
        self.remove_ticket(ticket.ticket_id)
        return taken

    def release(self, agent_id: str, ticket: Ticket) -> Agent:
        """The agent is done with ``ticket``: its slot is free for the queue."""
        agent = self._agents[agent_id]
        if ticket.ticket_id not in agent.active:
            return agent
        load = dict(agent.load)
        load[ticket.channel] = max(0, load.get(ticket.channel, 0) - 1)
        freed = replace(agent, load=load, active=agent.active - {ticket.ticket_id})
        self.put_agent(freed)
        return freed

    # --- decisions ---

    def best_agent(self, ticket: Ticket) -> Choice | None:
        """The eligible agent who should take ``ticket`` now, with the ranking, or None."""
        channel = ticket.channel
        if not self._room[channel]:
            return None
        profile = self._profile(ticket)
        ids = self._live_set(profile, channel)
        if not ids:
            return None
        holders = self._holders.get(ticket.ticket_id)
        excluded = ticket.declined_by | holders if holders else ticket.declined_by
        candidates = len(ids) - sum(1 for agent_id in excluded if agent_id in ids)
        if candidates <= 0:
            return None
        preferred = ticket.preferred_agent
        first: list[str] = []
        if preferred is not None and preferred in ids and preferred not in excluded:
            first.append(preferred)
            excluded = excluded | {preferred}
        wanted = min(RANKED, candidates) - len(first)
        best = self._top(ids, excluded, wanted, candidates, channel) if wanted > 0 else []
        chosen = first + [key[2] for key in best]
        ranked = tuple(self._score(agent_id, channel, agent_id in first) for agent_id in chosen)
        why = self._why(ticket, profile, chosen[0], candidates, bool(first))
        return Choice(self._agents[chosen[0]], candidates, ranked, why)

    def best_ticket(self, agent_id: str) -> Ticket | None:
        """The first waiting ticket in serving order that the agent may take now, or None."""
        agent = self._agents.get(agent_id)
        if agent is None or agent.presence is not Presence.ONLINE:
            return None
        languages = self._languages[agent_id]
        active = agent.active
        best: QueueKey | None = None
        for channel, buckets in self._buckets.items():
            if not buckets or agent_id not in self._room[channel]:
                continue
            for signature, bucket in buckets.items():
                if best is not None and bucket[0] >= best:
                    continue
                if not self._serves(agent, languages, signature):
                    continue
                for key in bucket:
                    if best is not None and key >= best:
                        break
                    ticket_id = key[3]
                    if ticket_id in active or agent_id in self._tickets[ticket_id].declined_by:
                        continue
                    best = key
                    break
        return None if best is None else self._tickets[best[3]]

    # --- internals ---

    def _profile(self, ticket: Ticket) -> Profile:
        requirement = ticket.requirement
        if requirement is None:
            skill = ticket.request_type.value
            if not self._skill_count.get(skill):
                skill = FALLBACK_SKILL
            return (((skill, MIN_PROFICIENCY),), None, primary_language(ticket.language))
        skills = tuple(sorted((s, m) for s, m in requirement.skills.items() if m > 0))
        language = primary_language(requirement.language) if requirement.language else None
        return (skills, requirement.team, language)

    def _live_set(self, profile: Profile, channel: Channel) -> set[str]:
        """Agents who fit ``profile`` and have room on ``channel`` (read only)."""
        live = self._live.get((profile, channel))
        if live is None:
            members = self._profiles.get(profile)
            if members is None:
                members = self._add_profile(profile)
            live = self._live[(profile, channel)] = members & self._room[channel]
        return live

    def _add_profile(self, profile: Profile) -> set[str]:
        if len(self._profiles) >= MAX_PROFILES:
            self._profiles.clear()
            self._profiles_of.clear()
            self._live.clear()
        skills, team, language = profile
        pools: list[set[str]] = []
        for skill, level in skills:
            pools.append(self._at_least.get((skill, min(level, TOP_LEVEL)), set()))
        if team is not None:
            pools.append(self._members.get(team, set()))
        if language is not None:
            pools.append(self._speakers.get(language, self._universal))
        pools.sort(key=len)
        if not pools:
            members = set(self._agents)
        elif len(pools) == 1:
            members = set(pools[0])
        else:
            members = pools[0].intersection(*pools[1:])
        if any(level > TOP_LEVEL for _, level in skills):
            members = {
                agent_id
                for agent_id in members
                if _fits(self._agents[agent_id], self._languages[agent_id], profile)
            }
        self._profiles[profile] = members
        for agent_id in members:
            self._profiles_of.setdefault(agent_id, set()).add(profile)
        return members

    def _top(
        self, ids: set[str], excluded: AbstractSet[str], wanted: int, count: int, channel: Channel
    ) -> list[RankKey]:
        """The ``wanted`` best rank keys of ``ids`` less ``excluded`` (``count`` of them)."""
        rank = self._rank[channel]
        if count > SORT_LIMIT:
            found: list[RankKey] = []
            ranking = self._ranking[channel]
            for key in islice(ranking, WALK_LIMIT):
                if key[2] in ids and key[2] not in excluded:
                    found.append(key)
                    if len(found) == wanted:
                        return found
            if len(ranking) <= WALK_LIMIT:
                return found
        return heapq.nsmallest(wanted, [rank[a] for a in ids if a not in excluded])

    def _serves(self, agent: Agent, languages: frozenset[str], signature: Signature) -> bool:
        skills, request_type, team, language = signature
        if team is not None and team not in agent.teams:
            return False
        if language is not None and languages and language not in languages:
            return False
        if skills is None:
            skill = request_type if self._skill_count.get(request_type) else FALLBACK_SKILL
            return agent.skills.get(skill, 0) >= MIN_PROFICIENCY
        return all(agent.skills.get(skill, 0) >= level for skill, level in skills)

    def _rank_key(self, agent: Agent, spare: int) -> RankKey:
        idle = agent.last_assigned_at.timestamp() if agent.last_assigned_at else -math.inf
        first = -spare if self.strategy is Strategy.MOST_SPARE else 0
        return (first, idle, agent.agent_id)

    def _index_profile(self, agent: Agent) -> None:
        agent_id = agent.agent_id
        for skill, level in agent.skills.items():
            if level >= 1:
                self._skill_count[skill] = self._skill_count.get(skill, 0) + 1
            for at_least in range(1, min(level, TOP_LEVEL) + 1):
                self._at_least.setdefault((skill, at_least), set()).add(agent_id)
        for team in agent.teams:
            self._members.setdefault(team, set()).add(agent_id)
        languages = frozenset(primary_language(tag) for tag in agent.languages)
        self._languages[agent_id] = languages
        if not languages:
            self._universal.add(agent_id)
            for speakers in self._speakers.values():
                speakers.add(agent_id)
        for language in languages:
            if language not in self._speakers:
                self._speakers[language] = set(self._universal)
            self._speakers[language].add(agent_id)
        fitted = {p for p in self._profiles if _fits(agent, languages, p)}
        for profile in fitted:
            self._profiles[profile].add(agent_id)
        if fitted:
            self._profiles_of[agent_id] = fitted

    def _unindex_profile(self, agent: Agent) -> None:
        agent_id = agent.agent_id
        for skill, level in agent.skills.items():
            if level >= 1:
                self._skill_count[skill] -= 1
                if not self._skill_count[skill]:
                    del self._skill_count[skill]
            for at_least in range(1, min(level, TOP_LEVEL) + 1):
                self._at_least[(skill, at_least)].discard(agent_id)
        for team in agent.teams:
            self._members[team].discard(agent_id)
        languages = self._languages.pop(agent_id)
        if not languages:
            self._universal.discard(agent_id)
            for speakers in self._speakers.values():
                speakers.discard(agent_id)
        for language in languages:
            self._speakers[language].discard(agent_id)
        for profile in self._profiles_of.pop(agent_id, ()):
            self._profiles[profile].discard(agent_id)

    def _index_slots(self, agent: Agent) -> None:
        agent_id = agent.agent_id
        for ticket_id in agent.active:
            self._holders.setdefault(ticket_id, set()).add(agent_id)
        if agent.presence is not Presence.ONLINE:
            return
        profiles = self._profiles_of.get(agent_id, ())
        for channel in _channels(agent):
            spare = agent.spare(channel, self.policy)
            if spare > 0:
                key = self._rank_key(agent, spare)
                self._room[channel].add(agent_id)
                self._ranking[channel].add(key)
                self._rank[channel][agent_id] = key
                for profile in profiles:
                    live = self._live.get((profile, channel))
                    if live is not None:
                        live.add(agent_id)

    def _unindex_slots(self, agent: Agent) -> None:
        agent_id = agent.agent_id
        for ticket_id in agent.active:
            holders = self._holders[ticket_id]
            holders.discard(agent_id)
            if not holders:
                del self._holders[ticket_id]
        profiles = self._profiles_of.get(agent_id, ())
        for channel in _channels(agent):
            key = self._rank[channel].pop(agent_id, None)
            if key is not None:
                self._ranking[channel].remove(key)
                self._room[channel].discard(agent_id)
                for profile in profiles:
                    live = self._live.get((profile, channel))
                    if live is not None:
                        live.discard(agent_id)

    def _score(self, agent_id: str, channel: Channel, preferred: bool) -> Score:
        agent = self._agents[agent_id]
        idle = agent.last_assigned_at
        since = idle.isoformat() if idle is not None else "never"
        spare = agent.spare(channel, self.policy)
        if self.strategy is Strategy.MOST_SPARE:
            key = f"({-spare}, {since}, {agent_id})"
        else:
            key = f"({since}, {agent_id})"
        if preferred:
            key = f"preferred {key}"
        return Score(agent_id, spare, idle, key)

    def _why(
        self,
        ticket: Ticket,
        profile: Profile,
        agent_id: str,
        candidates: int,
        preferred: bool,
    ) -> str:
        needs = [f"{skill}≥{level}" for skill, level in profile[0]]
        if ticket.requirement is None and profile[0][0][0] != ticket.request_type.value:
            needs[0] += f" (no agent has {ticket.request_type.value})"
        requirement = ticket.requirement
        if requirement is not None and requirement.team is not None:
            needs.append(f"team {requirement.team}")
        language = required_language(ticket)
        if language is not None:
            needs.append(f"language {language}")
        needs.append(f"room on {ticket.channel.value}")
        if preferred:
            basis = "the preferred agent (who handled it before)"
        elif self.strategy is Strategy.MOST_SPARE:
            basis = f"most spare capacity on {ticket.channel.value}, then longest idle"
        else:
            basis = "longest idle (round robin)"
        return (
            f"queue {ticket.queue} needs {', '.join(needs)}; "
            f"{candidates} of {len(self._agents)} agents eligible; {agent_id} by {basis}"
        )


def _signature(ticket: Ticket) -> Signature:
    requirement = ticket.requirement
    if requirement is None:
        return (None, ticket.request_type.value, None, primary_language(ticket.language))
    language = primary_language(requirement.language) if requirement.language else None
    skills = tuple(sorted(requirement.skills.items()))
    return (skills, "", requirement.team, language)


def _fits(agent: Agent, languages: frozenset[str], profile: Profile) -> bool:
    """Whether the agent (whose primary ``languages`` are given) fits ``profile``."""
    skills, team, language = profile
    if team is not None and team not in agent.teams:
        return False
    if language is not None and languages and language not in languages:
        return False
    return all(agent.skills.get(skill, 0) >= level for skill, level in skills)


def _channels(agent: Agent) -> Sequence[Channel]:
    """Channels the agent may have capacity on (an empty capacity means one slot on each)."""
    return tuple(agent.capacity) if agent.capacity else _ALL_CHANNELS


_ALL_CHANNELS: tuple[Channel, ...] = tuple(Channel)
