"""Routing's decision latency at desk scale: one Board with 10,000 agents and 100,000 waiting.

Measures the two decisions the service makes, on the same code it runs
(``opora_routing.domain.selection.Board``):

- ``best_agent``: a new ticket arrives, which agent gets it (with the ranking it reports);
- ``best_ticket``: an agent frees a slot, which waiting ticket it gets.

First on a board left as built (the decision alone, ``static``), then in a live loop that
applies every decision (``live``: a ticket is assigned or starts to wait, a freed agent takes
its ticket), timing the updates too. Each sample is one call timed with ``perf_counter_ns``
after a warm-up. The target is p99 ≤ 1 ms for both decisions.

Run: ``uv run --frozen python tests/bench/routing_decisions.py [--agents N --tickets N ...]``.
Prints a table and writes ``.local/bench/routing-decisions-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from opora_routing.domain.model import Agent, CapacityPolicy, Requirement, Ticket
from opora_routing.domain.selection import Board, Strategy, plan
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import Presence

T = TypeVar("T")
TARGET_P99_MS = 1.0
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
OUT_DIR = Path(".local/bench")

SKILLS = [rt.value for rt in RequestType if rt is not RequestType.OTHER] + [
    "general",
    "billing",
    "returns",
    "b2b",
]
# Queues as a desk's routing rules would define them: skills with a minimum proficiency, a
# team for the specialised ones, a language where the queue is staffed per language.
QUEUES: list[tuple[str, dict[str, int], str | None, str | None, float]] = [
    ("warranty-ru", {"warranty": 2}, None, "ru", 12),
    ("warranty-en", {"warranty": 2}, None, "en", 3),
    ("tech-l1-ru", {"technical_support": 1}, None, "ru", 14),
    ("tech-l1-en", {"technical_support": 1}, None, "en", 4),
    ("tech-l2", {"technical_support": 4}, "tier2", None, 4),
    ("post-warranty", {"post_warranty": 2, "billing": 1}, None, "ru", 4),
    ("consultation-ru", {"consultation": 1}, None, "ru", 9),
    ("consultation-en", {"consultation": 1}, None, "en", 2),
    ("complaints", {"complaint": 3}, None, "ru", 6),
    ("complaints-vip", {"complaint": 4}, "vip", None, 1),
    ("orders-ru", {"order_status": 1}, None, "ru", 12),
    ("orders-en", {"order_status": 1}, None, "en", 3),
    ("loyalty", {"loyalty": 2}, None, "ru", 3),
    ("feedback", {"feedback": 1}, None, None, 2),
    ("billing", {"billing": 3}, None, "ru", 4),
    ("returns", {"returns": 2}, None, "ru", 5),
    ("b2b", {"b2b": 3}, "b2b", None, 2),
    ("field-service", {"technical_support": 3, "warranty": 3}, "field", "ru", 2),
    ("vip", {"general": 2}, "vip", None, 1),
    ("general", {"general": 1}, None, None, 6),
]
CHANNELS = [Channel.EMAIL, Channel.CHAT, Channel.MESSENGER, Channel.PHONE, Channel.WEB_FORM]
CHANNEL_WEIGHTS = [35, 30, 15, 10, 10]
PRIORITIES = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
PRIORITY_WEIGHTS = [20, 60, 15, 5]
DUE_IN = {
    Priority.LOW: timedelta(hours=72),
    Priority.NORMAL: timedelta(hours=24),
    Priority.HIGH: timedelta(hours=4),
    Priority.URGENT: timedelta(hours=1),
}
POLICY = CapacityPolicy(max_total=10, exclusive=frozenset({Channel.PHONE}))


@dataclass
class World:
    agents: list[Agent]
    waiting: list[Ticket]
    held: dict[str, list[Ticket]] = field(default_factory=dict)
    """What each agent is working on: the tickets its load stands for."""


class Desk:
    """A seeded generator of agents and tickets shaped like a mid-size Russian/English desk."""

    def __init__(self, seed: int, agent_count: int) -> None:
        self.rng = random.Random(seed)
        self.agent_ids = [f"agent-{i:05d}" for i in range(agent_count)]
        self.serial = 0

    def agent(self, agent_id: str) -> tuple[Agent, list[Ticket]]:
        rng = self.rng
        presence = rng.choices(list(Presence), weights=[70, 10, 20])[0]
        count = rng.randint(2, 5)
        skills = {
            skill: round(rng.triangular(1, 5, 3))
            for skill in rng.sample(SKILLS, count) + (["general"] if rng.random() < 0.4 else [])
        }
        languages = rng.choices([("ru",), ("ru", "en"), ("en",), ()], weights=[55, 30, 12, 3])[0]
        teams = ["tier1" if rng.random() < 0.8 else "tier2"]
        for team, share in (("vip", 0.05), ("b2b", 0.04), ("field", 0.03)):
            if rng.random() < share:
                teams.append(team)
        capacity: dict[Channel, int] = {}
        for channel, share, low, high in (
            (Channel.CHAT, 0.8, 3, 6),
            (Channel.EMAIL, 0.7, 5, 10),
            (Channel.MESSENGER, 0.5, 2, 5),
            (Channel.PHONE, 0.4, 1, 1),
            (Channel.WEB_FORM, 0.3, 3, 5),
        ):
            if rng.random() < share:
                capacity[channel] = rng.randint(low, high)
        held: list[Ticket] = []
        load: dict[Channel, int] = {}
        if presence is not Presence.OFFLINE:
            on_phone = Channel.PHONE in capacity and rng.random() < 0.2
            for channel, slots in capacity.items():
                if on_phone != (channel is Channel.PHONE):
                    continue
                taken = min(rng.randint(0, slots), 10 - sum(load.values()))
                load[channel] = taken
                held += [self.ticket(channel=channel) for _ in range(taken)]
        idle = None if rng.random() < 0.05 else NOW - timedelta(seconds=rng.randint(0, 8 * 3600))
        agent = Agent(
            agent_id,
            presence=presence,
            skills=skills,
            languages=languages,
            teams=tuple(teams),
            capacity=capacity,
            load=load,
            active=frozenset(t.ticket_id for t in held),
            last_assigned_at=idle,
        )
        return agent, held

    def ticket(self, channel: Channel | None = None) -> Ticket:
        rng = self.rng
        self.serial += 1
        priority = rng.choices(PRIORITIES, weights=PRIORITY_WEIGHTS)[0]
        opened = NOW - timedelta(seconds=rng.randint(0, 72 * 3600))
        language = rng.choices(["ru", "en"], weights=[78, 22])[0]
        requirement = None
        rule_id = None
        if rng.random() < 0.9:
            queue, skills, team, queue_language, _ = rng.choices(
                QUEUES, weights=[q[4] for q in QUEUES]
            )[0]
            language = queue_language or language
            requirement = Requirement(queue, skills, team, queue_language)
            rule_id = queue
        return Ticket(
            ticket_id=f"ticket-{self.serial:07d}",
            channel=channel or rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
            request_type=rng.choice(list(RequestType)),
            priority=priority,
            language=language,
            opened_at=opened,
            deadline=opened + DUE_IN[priority] if rng.random() < 0.85 else None,
            requirement=requirement,
            preferred_agent=rng.choice(self.agent_ids) if rng.random() < 0.03 else None,
            declined_by=frozenset(rng.sample(self.agent_ids, rng.randint(1, 3)))
            if rng.random() < 0.05
            else frozenset(),
            rule_id=rule_id,
            step=rng.randint(0, 2) if rule_id else 0,
        )

    def world(self, ticket_count: int) -> World:
        agents: list[Agent] = []
        held: dict[str, list[Ticket]] = {}
        for agent_id in self.agent_ids:
            agent, tickets = self.agent(agent_id)
            agents.append(agent)
            held[agent_id] = tickets
        return World(agents, [self.ticket() for _ in range(ticket_count)], held)


@dataclass
class Timings:
    name: str
    samples: list[int] = field(default_factory=list)

    def time(self, call: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter_ns()
        result = call(*args)
        self.samples.append(time.perf_counter_ns() - start)
        return result

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.samples)

        def at(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1000 if ordered else 0.0

        return {
            "samples": len(ordered),
            "p50_us": at(0.50),
            "p90_us": at(0.90),
            "p99_us": at(0.99),
            "max_us": ordered[-1] / 1000 if ordered else 0.0,
            "mean_us": sum(ordered) / len(ordered) / 1000 if ordered else 0.0,
        }


def rss_bytes() -> int:
    """Resident memory now (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(args: argparse.Namespace) -> dict[str, Any]:
    desk = Desk(args.seed, args.agents)
    rss_start = rss_bytes()
    started = time.perf_counter()
    world = desk.world(args.tickets)
    generated_s = time.perf_counter() - started
    rss_world = rss_bytes()

    board = Board(POLICY, Strategy(args.strategy))
    started = time.perf_counter()
    board.put_agents(world.agents)
    agents_s = time.perf_counter() - started
    started = time.perf_counter()
    board.put_tickets(world.waiting)
    tickets_s = time.perf_counter() - started
    rss_board = rss_bytes()
    if args.gc_freeze:
        gc.collect()
        gc.freeze()

    rng = random.Random(args.seed + 1)
    online = [a.agent_id for a in world.agents if a.presence is Presence.ONLINE]
    fresh = [desk.ticket() for _ in range(args.warmup + args.samples)]
    timings: dict[str, Timings] = {}

    def timer(name: str) -> Timings:
        return timings.setdefault(name, Timings(name))

    # Static: the decision alone, on the board as built.
    chosen = candidates = 0
    for i, ticket in enumerate(fresh):
        if i < args.warmup:
            board.best_agent(ticket)
            continue
        choice = timer("static best_agent").time(board.best_agent, ticket)
        if choice is not None:
            chosen += 1
            candidates += choice.candidates
    found = 0
    for i in range(args.warmup + args.samples):
        agent_id = rng.choice(online)
        if i < args.warmup:
            board.best_ticket(agent_id)
            continue
        offered = timer("static best_ticket").time(board.best_ticket, agent_id)
        found += offered is not None

    # Live: every decision applied, as the service would.
    at = NOW
    for i, ticket in enumerate(desk.ticket() for _ in range(args.samples)):
        at += timedelta(milliseconds=50)
        choice = timer("live best_agent").time(board.best_agent, ticket)
        if choice is None:
            timer("live put_ticket").time(board.put_ticket, ticket)
            continue
        agent_id = choice.agent.agent_id
        timer("live assign").time(board.assign, ticket, agent_id, at)
        world.held[agent_id].append(ticket)
        if i % 2:  # someone somewhere finishes a ticket and takes the next one
            busy = rng.choice(online)
            if world.held[busy]:
                done = world.held[busy].pop(rng.randrange(len(world.held[busy])))
                timer("live release").time(board.release, busy, done)
                taken = timer("live best_ticket").time(board.best_ticket, busy)
                if taken is not None:
                    timer("live assign").time(board.assign, taken, busy, at)
                    world.held[busy].append(taken)

    # The service's dispatch today builds a board per call: what that costs at this scale.
    started = time.perf_counter()
    matches = plan(list(board.waiting()), list(board.agents()), POLICY, NOW, args.strategy)
    plan_s = time.perf_counter() - started
    if args.gc_freeze:
        gc.unfreeze()

    results = {name: t.summary() for name, t in timings.items()}
    decisions = ["static best_agent", "static best_ticket", "live best_agent", "live best_ticket"]
    worst_p99_ms = max(results[name]["p99_us"] for name in decisions if name in results) / 1000
    return {
        "benchmark": "routing-decisions",
        "at": datetime.now(UTC).isoformat(),
        "environment": {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
        },
        "config": {
            "agents": args.agents,
            "waiting_tickets": args.tickets,
            "queues": len(QUEUES),
            "samples": args.samples,
            "warmup": args.warmup,
            "seed": args.seed,
            "strategy": args.strategy,
            "policy": {"max_total": POLICY.max_total, "exclusive": sorted(POLICY.exclusive)},
            "gc_freeze": args.gc_freeze,
            "online_agents": len(online),
        },
        "build": {
            "generate_s": round(generated_s, 3),
            "agents_s": round(agents_s, 3),
            "tickets_s": round(tickets_s, 3),
        },
        "memory": {
            "world_rss_mb": round((rss_world - rss_start) / 2**20, 1),
            "board_rss_mb": round((rss_board - rss_world) / 2**20, 1),
        },
        "outcomes": {
            "static_best_agent_found": chosen,
            "mean_candidates": round(candidates / chosen, 1) if chosen else 0,
            "static_best_ticket_found": found,
            "waiting_after_live": len(board.waiting()),
        },
        "plan_over_everything": {
            "waiting": len(board.waiting()),
            "agents": args.agents,
            "matches": len(matches),
            "seconds": round(plan_s, 3),
        },
        "results": results,
        "target": {"decision_p99_ms": TARGET_P99_MS},
        "worst_decision_p99_ms": round(worst_p99_ms, 4),
        "verdict": "PASS" if worst_p99_ms <= TARGET_P99_MS else "FAIL",
    }


def render(report: dict[str, Any]) -> str:
    config, build, memory = report["config"], report["build"], report["memory"]
    lines = [
        f"routing decisions: {config['agents']:,} agents ({config['online_agents']:,} online), "
        f"{config['waiting_tickets']:,} waiting in {config['queues']} queues, "
        f"strategy {config['strategy']}, gc freeze {config['gc_freeze']}",
        f"build: agents {build['agents_s']:.2f} s, tickets {build['tickets_s']:.2f} s; "
        f"memory: world {memory['world_rss_mb']} MB, board index {memory['board_rss_mb']} MB",
        "",
        f"{'operation':<22}{'samples':>9}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'max µs':>11}",
    ]
    for name, row in report["results"].items():
        lines.append(
            f"{name:<22}{row['samples']:>9}{row['p50_us']:>10.1f}{row['p90_us']:>10.1f}"
            f"{row['p99_us']:>10.1f}{row['max_us']:>11.1f}"
        )
    outcomes, whole = report["outcomes"], report["plan_over_everything"]
    lines += [
        "",
        f"best_agent found an agent for {outcomes['static_best_agent_found']:,} tickets "
        f"(mean {outcomes['mean_candidates']} eligible); best_ticket found a ticket for "
        f"{outcomes['static_best_ticket_found']:,} agents",
        f"plan() over everything ({whole['waiting']:,} waiting, {whole['agents']:,} agents): "
        f"{whole['matches']:,} matches in {whole['seconds']:.2f} s",
        f"target: decision p99 ≤ {report['target']['decision_p99_ms']} ms; worst p99 "
        f"{report['worst_decision_p99_ms']} ms: {report['verdict']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20261102)
    parser.add_argument("--strategy", choices=[s.value for s in Strategy], default="most_spare")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="move the built board out of the cyclic collector's sight (gc.freeze)",
    )
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)

    report = measure(args)
    print(render(report))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out_dir / f"routing-decisions-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"written: {path}")
    return 0 if report["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
