"""Routing end to end: assignments/s and offer latency over real Kafka, with a scripted workspace.

routing runs as its own process from its console script, against real Kafka and a MongoDB-wire
server (see ``infra.py``), with a fresh database and a rules file written for the run. This
process plays everyone else: it publishes agent profiles and presence (as the workspace does)
and ``TicketOpenedV1`` (as intake does), accepts every offer the moment it reads it
(``OfferAcceptedV1``, an agent clicking accept) and, in the drain phase, solves each ticket a
moment after it was assigned (``TicketStatusChangedV1``). Every time is taken on this process's
clock: when a ticket went to the producer, when its offer and its assignment were read back
from ``routing.events.v1``; so the latencies include Kafka both ways, as an agent sees them.

- **capacity**: N agents with more free slots on every channel and language than the M tickets
  published at full speed (or at ``--routing-rate``), after a small warm-up: nothing should
  wait. The rate runs from the first publish to the M-th assignment.
- **drain**: a small team, whose slots the first phase's agents cannot take, gets several times
  its capacity at once; each ticket is solved a moment after its assignment, which frees the
  slot for the next waiting one. The first phase's agents keep their tickets meanwhile, as a
  desk's agents hold their open work.

The sizes are small (100 agents, 150 tickets; ``--routing-agents``, ``--routing-tickets`` and
``--routing-rate`` change them) because routing's dispatch, run on every trigger, reads every
agent, every unannounced, held and waiting ticket, and FerretDB on SQLite answers each of those
queries by scanning the whole collection, closed tickets included: the time per assignment
grows with every ticket routing has seen. The report shows it per quarter of the assignments
and times one dispatch's reads after each phase.

With ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` set, routing resumes its consumer group
(``routing``) on that Kafka: records published since it last ran there are replayed into the
bench database, and foreign tickets may take some of the bench agents' slots.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence, Sized
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opora_localstack import procs
from opora_localstack.services import ServiceEnv, service_env
from opora_routing.adapters.repository import MongoRepository
from opora_routing.domain.rules import load_rules
from opora_shared.contracts.base import Event, cloudevent_headers
from opora_shared.contracts.common import (
    Channel,
    CustomerRef,
    Priority,
    RequestType,
    TicketStatus,
)
from opora_shared.contracts.routing import (
    TicketAssignedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketQueuedV1,
)
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import ROUTING
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    Presence,
)
from opora_shared.testing import drop_database
from pymongo import AsyncMongoClient

from tests.bench.infra import Infra, ServiceProcess, kafka_and_mongodb
from tests.bench.measure import CpuMeter, CpuUse, percentile, process_cpu_s
from tests.bench.options import Options
from tests.bench.report import Metric, Section, fmt, table

DEFAULT_AGENTS = 100
DEFAULT_TICKETS = 150
SOURCE = "opora/bench"
WORKSPACE = "scripted workspace (this process)"
PERCENTILES = (50.0, 90.0, 99.0)
QUARTERS = 4

# The desk: every agent has every skill (so only language and capacity decide), three chats and
# ten e-mails at a time; a quarter of them speak Russian only.
CAPACITY: dict[Channel, int] = {Channel.CHAT: 3, Channel.EMAIL: 10}
RUSSIAN_ONLY_EVERY = 4  # every 4th agent
SKILL_OF: dict[RequestType, str] = {
    RequestType.TECHNICAL_SUPPORT: "technical",
    RequestType.WARRANTY: "warranty",
    RequestType.POST_WARRANTY: "repair",
    RequestType.CONSULTATION: "sales",
    RequestType.COMPLAINT: "complaints",
    RequestType.ORDER_STATUS: "orders",
    RequestType.LOYALTY: "loyalty",
    RequestType.FEEDBACK: "feedback",
    RequestType.OTHER: "general",
}
PRODUCT_SKILLS = ("product:phones", "product:computers", "product:appliances", "product:network")
DRAIN_TEAM = "bench-drain-desk"
DRAIN_TIER = "bench-drain"

# The traffic: weights, as intake's classification would spread a desk's requests.
CHANNEL_MIX: dict[Channel, int] = {Channel.EMAIL: 75, Channel.CHAT: 25}
LANGUAGE_MIX: dict[str, int] = {"ru": 75, "en": 25}
PRIORITY_MIX: dict[Priority, int] = {
    Priority.LOW: 20,
    Priority.NORMAL: 60,
    Priority.HIGH: 15,
    Priority.URGENT: 5,
}
REQUEST_MIX: dict[RequestType, int] = {
    RequestType.TECHNICAL_SUPPORT: 30,
    RequestType.WARRANTY: 15,
    RequestType.POST_WARRANTY: 5,
    RequestType.CONSULTATION: 15,
    RequestType.COMPLAINT: 5,
    RequestType.ORDER_STATUS: 20,
    RequestType.LOYALTY: 3,
    RequestType.FEEDBACK: 2,
    RequestType.OTHER: 5,
}
PRODUCT_SHARE = 0.4

# One rule for the drain team's tickets, one catch-all: the ticket's own skills at level 1 or
# more (so every agent qualifies on skill), a single step (no step timers), one offer timeout.
RULES_YAML = f"""\
version: "bench-1"
offers:
  timeout_s: 60
  return_open_tickets_on_offline: false
  strategy: most_spare
capacity:
  exclusive_channels: []
ignore_ticket_skills: ["lang:*"]
rules:
  - id: bench-drain
    when: {{tier: [{DRAIN_TIER}]}}
    queue: bench-drain
    steps:
      - {{after_s: 0, use_ticket_skills: true, min_proficiency_cap: 1, team: {DRAIN_TEAM}}}
  - id: bench-catch-all
    queue: bench
    steps:
      - {{after_s: 0, use_ticket_skills: true, min_proficiency_cap: 1}}
"""


@dataclass(frozen=True)
class Sizes:
    agents: int
    tickets: int
    warmup: int
    rate: float  # tickets/s; 0: as fast as the producer takes them
    drain_agents: int
    drain_tickets: int
    hold_s: float  # from an assignment read to the ticket's solved event
    stall_s: float  # no event from routing for this long ends a phase

    @classmethod
    def of(cls, options: Options) -> Sizes:
        # Small on purpose: every dispatch reads the whole assignments collection on FerretDB,
        # so a phase's time grows with the square of the tickets routing has seen (see the
        # module docstring).
        quick = options.quick
        return cls(
            agents=options.routing_agents or (20 if quick else DEFAULT_AGENTS),
            tickets=options.routing_tickets or (40 if quick else DEFAULT_TICKETS),
            warmup=5 if quick else 10,
            rate=options.routing_rate,
            drain_agents=1 if quick else 2,
            drain_tickets=25 if quick else 60,
            hold_s=0.5 if quick else 1.0,
            stall_s=60.0,
        )


# --- the desk and its traffic ---------------------------------------------------------------


def agent_profiles(
    rng: random.Random, prefix: str, count: int, teams: tuple[str, ...] = ()
) -> list[AgentProfileChangedV1]:
    skills = [*sorted(set(SKILL_OF.values())), *PRODUCT_SKILLS]
    return [
        AgentProfileChangedV1(
            agent_id=f"{prefix}-{number:04d}",
            name=f"Bench agent {number}",
            skills={skill: rng.randint(1, 5) for skill in skills},
            languages=("ru",)
            if number % RUSSIAN_ONLY_EVERY == RUSSIAN_ONLY_EVERY - 1
            else ("ru", "en"),
            teams=teams,
            capacity=dict(CAPACITY),
        )
        for number in range(count)
    ]


@dataclass(frozen=True)
class TicketSpec:
    """A ticket to open, decided before the clock starts; the event is made when it is sent."""

    ticket_id: str
    channel: Channel
    language: str
    priority: Priority
    request_type: RequestType
    skills: Mapping[str, int]
    tier: str

    def opened(self) -> TicketOpenedV1:
        return TicketOpenedV1(
            ticket_id=self.ticket_id,
            number=self.ticket_id[-12:].upper(),
            channel=self.channel,
            customer=CustomerRef(
                customer_id=f"{self.ticket_id}-customer", language=self.language, tier=self.tier
            ),
            subject="Bench request",
            request_type=self.request_type,
            priority=self.priority,
            language=self.language,
            source_message_id=f"{self.ticket_id}-message",
            skills=dict(self.skills),
        )


def _pick(rng: random.Random, mix: Mapping[Any, int]) -> Any:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def ticket_specs(
    rng: random.Random, prefix: str, count: int, tier: str = "standard"
) -> list[TicketSpec]:
    specs = []
    for number in range(count):
        request_type: RequestType = _pick(rng, REQUEST_MIX)
        skills = {SKILL_OF[request_type]: rng.randint(1, 4)}
        if rng.random() < PRODUCT_SHARE:
            skills[rng.choice(PRODUCT_SKILLS)] = rng.randint(1, 3)
        specs.append(
            TicketSpec(
                ticket_id=f"{prefix}-{number:06d}",
                channel=_pick(rng, CHANNEL_MIX),
                language=_pick(rng, LANGUAGE_MIX),
                priority=_pick(rng, PRIORITY_MIX),
                request_type=request_type,
                skills=skills,
                tier=tier,
            )
        )
    return specs


def capacity_shortfall(
    agents: Sequence[AgentProfileChangedV1], tickets: Sequence[TicketSpec]
) -> str | None:
    """Why these agents could not hold all these tickets at once, if they could not.

    Checked per channel, and per channel for English (which only some agents speak) with room to
    spare: the most-spare strategy spreads Russian tickets over bilingual agents too.
    """
    for channel in CAPACITY:
        slots = sum(a.capacity.get(channel, 0) for a in agents)
        english_slots = sum(a.capacity.get(channel, 0) for a in agents if "en" in a.languages)
        demand = sum(1 for t in tickets if t.channel is channel)
        english = sum(1 for t in tickets if t.channel is channel and t.language == "en")
        bilingual_share = english_slots / slots if slots else 0.0
        expected_on_bilingual = english + (demand - english) * bilingual_share
        if demand > slots or expected_on_bilingual > english_slots:
            return (
                f"{demand} {channel} tickets ({english} in English) for {slots} {channel} slots "
                f"({english_slots} with English): use more agents or fewer tickets"
            )
    return None


@dataclass(frozen=True)
class Traffic:
    """Everything the run publishes, drawn from the seed before anything starts."""

    prefix: str  # of every agent and ticket id: this run's
    agents: list[AgentProfileChangedV1]
    warmup: list[TicketSpec]
    tickets: list[TicketSpec]
    drain_agents: list[AgentProfileChangedV1]
    drain: list[TicketSpec]

    @classmethod
    def of(cls, sizes: Sizes, options: Options) -> Traffic:
        rng = random.Random(options.seed)
        prefix = f"bench-{options.run_id}"
        return cls(
            prefix=prefix,
            agents=agent_profiles(rng, f"{prefix}-agent", sizes.agents),
            warmup=ticket_specs(rng, f"{prefix}-warmup", sizes.warmup),
            tickets=ticket_specs(rng, f"{prefix}-ticket", sizes.tickets),
            drain_agents=agent_profiles(
                rng, f"{prefix}-drain-agent", sizes.drain_agents, (DRAIN_TEAM,)
            ),
            drain=ticket_specs(rng, f"{prefix}-drain", sizes.drain_tickets, DRAIN_TIER),
        )


# --- Kafka: publishing, and the workspace reading routing's events ---------------------------


class Bus:
    """Publishes contract events as the services do: JSON, key, CloudEvents headers."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._pending: list[asyncio.Future[Any]] = []

    async def send(self, event: Event) -> None:
        headers = cloudevent_headers(event, source=SOURCE)
        self._pending.append(
            await self.producer.send(
                event.topic.name,
                json.dumps(event.model_dump(mode="json")).encode(),
                key=event.partition_key.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        )

    async def flush(self) -> None:
        """Wait for every acknowledgement so far; a failed send fails the benchmark."""
        pending, self._pending = self._pending, []
        await self.producer.flush()
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result


@dataclass
class Timeline:
    """One ticket's life as the workspace saw it, in ``perf_counter`` seconds."""

    opened: float
    offered: float | None = None
    assigned: float | None = None
    offers: int = 0
    queued: int = 0  # times routing said it waits
    assignments: int = 0  # TicketAssignedV1 read: more than one is a repeated announcement


@dataclass
class Workspace:
    """Accepts every offer of a bench ticket at once; solves drain tickets after a hold."""

    bus: Bus
    prefix: str
    hold_s: float
    timelines: dict[str, Timeline] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)  # routing's events of bench tickets
    foreign: int = 0  # routing's events of other tickets: records replayed from a shared Kafka
    revoked: Counter[str] = field(default_factory=Counter)  # by cause
    solve_after_assignment: set[str] = field(default_factory=set)
    _reading: asyncio.Task[None] | None = None
    _later: set[asyncio.Task[None]] = field(default_factory=set)

    def opened(self, ticket_id: str, at: float) -> None:
        self.timelines[ticket_id] = Timeline(at)

    @property
    def events(self) -> int:
        return sum(self.seen.values())

    def assigned(self, ids: Iterable[str]) -> int:
        return sum(1 for i in ids if (t := self.timelines.get(i)) and t.assigned is not None)

    def start(self, consumer: AIOKafkaConsumer) -> None:
        self._reading = asyncio.create_task(self._read(consumer))

    def check(self) -> None:
        """Raise what stopped the reading, if something did."""
        if self._reading is not None and self._reading.done():
            self._reading.result()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    await self._handle(record.value, dict(record.headers), now)

    async def _handle(self, value: bytes, headers: dict[str, bytes], now: float) -> None:
        kind = headers.get("ce_type", b"").decode()
        subject = headers.get("ce_subject", b"").decode()
        if not subject.startswith(self.prefix):
            self.foreign += 1
            return
        self.seen[kind] += 1
        timeline = self.timelines.get(subject)
        if timeline is None:
            return
        if kind == TicketOfferedV1.ce_type:
            offer = json.loads(value)
            timeline.offers += 1
            if timeline.offered is None:
                timeline.offered = now
            await self.bus.send(
                OfferAcceptedV1(
                    ticket_id=subject, agent_id=offer["agent_id"], offer_id=offer["offer_id"]
                )
            )
        elif kind == TicketAssignedV1.ce_type:
            timeline.assignments += 1
            if timeline.assigned is not None:
                return
            timeline.assigned = now
            if subject in self.solve_after_assignment:
                agent_id = json.loads(value)["agent_id"]
                task = asyncio.create_task(self._solve(subject, agent_id))
                self._later.add(task)
                task.add_done_callback(self._later.discard)
        elif kind == TicketQueuedV1.ce_type:
            timeline.queued += 1
        elif kind == TicketOfferRevokedV1.ce_type:
            self.revoked[json.loads(value)["cause"]] += 1

    async def _solve(self, ticket_id: str, agent_id: str) -> None:
        await asyncio.sleep(self.hold_s)
        await self.bus.send(
            TicketStatusChangedV1(
                ticket_id=ticket_id,
                status=TicketStatus.SOLVED,
                previous_status=TicketStatus.OPEN,
                agent_id=agent_id,
            )
        )

    async def stop(self) -> None:
        """Stop reading, and drop the solved events not sent yet."""
        tasks = [*self._later, *([self._reading] if self._reading else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _workspace_consumer(
    bootstrap_servers: str, partitions: Iterable[int]
) -> AIOKafkaConsumer:
    """A consumer of every partition of routing's topic from its current end, without a group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(ROUTING.name, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for partition in assigned:  # resolves the offsets before anything is published
            await consumer.position(partition)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


# --- the phases -------------------------------------------------------------------------------


@dataclass
class Phase:
    """One phase's tickets and what became of them."""

    ids: list[str]
    started: float = 0.0
    published_in_s: float = 0.0
    waited_s: float = 0.0  # from the first publish until all were assigned, or the stall
    cpu: CpuUse | None = None
    # (assigned so far, seconds since the start, CPU seconds per process) at each quarter
    checkpoints: list[tuple[int, float, dict[str, float]]] = field(default_factory=list)


async def _bring_online(
    bus: Bus, http: httpx.AsyncClient, profiles: Sequence[AgentProfileChangedV1], timeout_s: float
) -> float:
    """Publish the profiles and presence, then wait until routing lists them all as online."""
    started = time.perf_counter()
    for profile in profiles:
        await bus.send(profile)
        await bus.send(AgentPresenceChangedV1(agent_id=profile.agent_id, presence=Presence.ONLINE))
    await bus.flush()
    wanted = {p.agent_id for p in profiles}
    deadline = time.monotonic() + timeout_s
    online = 0
    while time.monotonic() < deadline:
        agents = (await http.get("/v1/agents")).json()
        online = sum(1 for a in agents if a["agent_id"] in wanted and a["presence"] == "online")
        if online == len(wanted):
            return time.perf_counter() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"routing lists {online} of {len(wanted)} bench agents online")


async def _until_free(http: httpx.AsyncClient, agent_ids: Sequence[str], timeout_s: float) -> None:
    """Wait until routing shows these agents holding nothing: it has read every solved event."""
    wanted = set(agent_ids)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        agents = (await http.get("/v1/agents")).json()
        if not any(a["active_tickets"] for a in agents if a["agent_id"] in wanted):
            return
        await asyncio.sleep(0.5)


async def _run_phase(
    bus: Bus,
    workspace: Workspace,
    specs: Sequence[TicketSpec],
    *,
    rate: float,
    stall_s: float,
    pids: Mapping[str, int],
) -> Phase:
    """Publish the tickets, then wait for every assignment or for progress to stop."""
    phase = Phase([s.ticket_id for s in specs])
    meter = CpuMeter(pids)
    meter.start()
    phase.started = time.perf_counter()
    phase.checkpoints.append((0, 0.0, _cpu_s(pids)))
    marks = [len(specs) * q // QUARTERS for q in range(1, QUARTERS + 1)]
    for number, spec in enumerate(specs):
        if rate > 0:
            delay = phase.started + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        event = spec.opened()
        workspace.opened(spec.ticket_id, time.perf_counter())
        await bus.send(event)
    await bus.flush()
    phase.published_in_s = time.perf_counter() - phase.started
    # Progress is any event of a bench ticket: while a queue builds, routing announces queued
    # tickets for a while before the next assignment.
    last_events, last_progress = -1, time.monotonic()
    while True:
        workspace.check()
        count = workspace.assigned(phase.ids)
        while marks and count >= marks[0]:
            marks.pop(0)
            phase.checkpoints.append((count, time.perf_counter() - phase.started, _cpu_s(pids)))
        if count == len(specs):
            break
        if workspace.events != last_events:
            last_events, last_progress = workspace.events, time.monotonic()
        elif time.monotonic() - last_progress > stall_s:
            break
        await asyncio.sleep(0.02)
    phase.waited_s = time.perf_counter() - phase.started
    phase.cpu = meter.stop()
    return phase


def _cpu_s(pids: Mapping[str, int]) -> dict[str, float]:
    return {name: sum(cpu) for name, pid in pids.items() if (cpu := process_cpu_s(pid))}


@dataclass(frozen=True)
class Reads:
    """What one dispatch reads from MongoDB before it decides anything, timed while routing is
    idle: ``_repair`` reads the unannounced tickets, every agent and every ticket an agent
    holds; each planning round reads every agent again and every waiting ticket."""

    known_tickets: int  # the assignments collection, closed tickets included
    ms: dict[str, float]  # read → milliseconds (the better of two)
    rows: dict[str, int]  # read → documents returned

    @property
    def per_dispatch_ms(self) -> float:
        return sum(self.ms.values()) + self.ms["agents"]  # agents are read twice


async def dispatch_reads(mongodb_uri: str, database: str) -> Reads:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        repo = MongoRepository(client[database])
        held = {ticket_id for agent in await repo.agents() for ticket_id in agent.active}
        reads: dict[str, Callable[[], Awaitable[Sized]]] = {
            "unannounced": repo.unannounced,
            "agents": repo.agents,
            "held tickets": lambda: repo.find(held),
            "waiting": repo.waiting,
        }
        ms: dict[str, float] = {}
        rows: dict[str, int] = {}
        for name, read in reads.items():
            best = math.inf
            for _ in range(2):
                began = time.perf_counter()
                rows[name] = len(await read())
                best = min(best, time.perf_counter() - began)
            ms[name] = 1000 * best
        known = await client[database]["assignments"].count_documents({})
    finally:
        await client.close()
    return Reads(known, ms, rows)


@dataclass
class Outcome:
    capacity: Phase
    drain: Phase | None
    agents_online_in_s: float
    drain_agents_online_in_s: float
    workspace: Workspace
    reads_after_capacity: Reads
    reads_after_drain: Reads | None


async def drive(
    infra: Infra,
    database: str,
    routing_url: str,
    sizes: Sizes,
    traffic: Traffic,
    pids: Mapping[str, int],
) -> Outcome:
    bootstrap_servers = infra.bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=2)
    await producer.start()
    consumer: AIOKafkaConsumer | None = None
    bus = Bus(producer)
    workspace = Workspace(bus, traffic.prefix, sizes.hold_s)
    try:
        partitions = await producer.partitions_for(ROUTING.name)
        consumer = await _workspace_consumer(bootstrap_servers, partitions)
        workspace.start(consumer)
        online_timeout = 120 + sizes.agents / 5
        async with httpx.AsyncClient(base_url=routing_url, timeout=30) as http:
            agents_online = await _bring_online(bus, http, traffic.agents, online_timeout)
            await _run_phase(
                bus, workspace, traffic.warmup, rate=0, stall_s=sizes.stall_s, pids=pids
            )
            capacity = await _run_phase(
                bus, workspace, traffic.tickets, rate=sizes.rate, stall_s=sizes.stall_s, pids=pids
            )
            reads_after_capacity = await dispatch_reads(infra.mongodb_uri, database)
            drain_phase, drain_online, reads_after_drain = None, 0.0, None
            if sizes.drain_tickets:
                drain_online = await _bring_online(bus, http, traffic.drain_agents, online_timeout)
                workspace.solve_after_assignment.update(s.ticket_id for s in traffic.drain)
                drain_phase = await _run_phase(
                    bus, workspace, traffic.drain, rate=0, stall_s=sizes.stall_s, pids=pids
                )
                drain_team = [a.agent_id for a in traffic.drain_agents]
                await _until_free(http, drain_team, sizes.stall_s)
                reads_after_drain = await dispatch_reads(infra.mongodb_uri, database)
        await bus.flush()
    finally:
        await workspace.stop()
        if consumer is not None:
            await consumer.stop()
        await producer.stop()
    return Outcome(
        capacity,
        drain_phase,
        agents_online,
        drain_online,
        workspace,
        reads_after_capacity,
        reads_after_drain,
    )


def run(options: Options) -> Section:
    sizes = Sizes.of(options)
    traffic = Traffic.of(sizes, options)
    shortfall = capacity_shortfall(traffic.agents, [*traffic.warmup, *traffic.tickets])
    if shortfall:
        raise ValueError(f"routing bench: the capacity phase would queue: {shortfall}")
    rules_file = options.work_dir / "routing-bench.yaml"
    rules_file.parent.mkdir(parents=True, exist_ok=True)
    rules_file.write_text(RULES_YAML)
    load_rules(rules_file)  # a mistake here fails now, not as a routing that never starts
    database = f"opora_bench_routing_{options.run_id}".replace("-", "_")
    log_file = options.work_dir / "logs/routing.log"
    with ExitStack() as stack:
        # A stack of its own: another benchmark's records would be replayed to routing.
        infra = stack.enter_context(kafka_and_mongodb(options.work_dir / "routing"))
        if not infra.pids:  # someone else's servers: leave them as they were
            stack.callback(drop_database, infra.mongodb_uri, database)
        port = procs.free_port()
        env = service_env(
            "routing",
            port,
            ServiceEnv(
                kafka_bootstrap_servers=infra.bootstrap_servers,
                mongodb_uri=infra.mongodb_uri,
                mongodb_database=database,
            ),
        ) | {"OPORA_ROUTING_RULES_FILE": str(rules_file)}
        started = time.monotonic()
        routing = stack.enter_context(ServiceProcess("routing", port, env, log_file))
        routing_ready_s = time.monotonic() - started
        pids = {"routing": routing.pid, WORKSPACE: os.getpid(), **infra.pids}
        outcome = asyncio.run(drive(infra, database, routing.url, sizes, traffic, pids))
        if routing.service.process is not None and routing.service.process.poll() is not None:
            raise procs.ProcessFailedError(
                "routing exited during the run:\n" + procs.tail(log_file)
            )
    kept_log = None
    unassigned = _unassigned(outcome.capacity, outcome.workspace) + (
        _unassigned(outcome.drain, outcome.workspace) if outcome.drain else 0
    )
    if unassigned:  # the scratch directory goes; the evidence stays
        kept_log = options.out_dir / f"routing-{options.run_id}.log"
        shutil.copyfile(log_file, kept_log)
    setup = {
        "infra": infra.source,
        "infra_started_in_s": round(infra.started_in_s, 1),
        "routing_ready_in_s": round(routing_ready_s, 1),
        "agents_online_in_s": round(outcome.agents_online_in_s, 1),
        "drain_agents_online_in_s": round(outcome.drain_agents_online_in_s, 1),
        "sizes": asdict(sizes),
        "capacity_per_agent": {str(c): n for c, n in CAPACITY.items()},
        "channel_mix": {str(c): w for c, w in CHANNEL_MIX.items()},
        "language_mix": LANGUAGE_MIX,
        "routing_log": str(kept_log) if kept_log else None,
    }
    return _section(outcome, sizes, setup)


# --- the report -------------------------------------------------------------------------------


def _unassigned(phase: Phase, workspace: Workspace) -> int:
    return len(phase.ids) - workspace.assigned(phase.ids)


def _times(
    phase: Phase, workspace: Workspace, stage: Callable[[Timeline], float | None]
) -> list[float]:
    """When each ticket reached ``stage``, in seconds from the phase's start, sorted."""
    found = (stage(workspace.timelines[i]) for i in phase.ids)
    return sorted(t - phase.started for t in found if t is not None)


def _latencies_ms(
    phase: Phase,
    workspace: Workspace,
    start: Callable[[Timeline], float | None],
    end: Callable[[Timeline], float | None],
) -> dict[str, float]:
    spans = []
    for ticket_id in phase.ids:
        timeline = workspace.timelines[ticket_id]
        a, b = start(timeline), end(timeline)
        if a is not None and b is not None:
            spans.append(1000 * (b - a))
    spans.sort()
    latency = {f"p{q:g}": percentile(spans, q) for q in PERCENTILES}
    latency["max"] = spans[-1] if spans else float("nan")
    return latency


def _rate(times: Sequence[float]) -> float:
    """Items per second from the phase's start to the last of them."""
    return len(times) / times[-1] if times and times[-1] > 0 else float("nan")


def _opened(t: Timeline) -> float:
    return t.opened


def _offered(t: Timeline) -> float | None:
    return t.offered


def _assigned(t: Timeline) -> float | None:
    return t.assigned


STAGES = (
    ("open → offered", _opened, _offered),
    ("offered → assigned", _offered, _assigned),
    ("open → assigned", _opened, _assigned),
)


@dataclass(frozen=True)
class PhaseNumbers:
    tickets: int
    assignments_per_s: float
    offers_per_s: float
    latency_ms: dict[str, dict[str, float]]  # stage → percentile → ms
    unassigned: int
    reoffered: int
    queued: int  # tickets routing said wait, at least once
    repeated: int  # TicketAssignedV1 read again for a ticket already assigned
    quarters: list[dict[str, float]]  # assignments/s and CPU ms per assignment by quarter

    @property
    def assigned(self) -> int:
        return self.tickets - self.unassigned


def _numbers(phase: Phase, workspace: Workspace) -> PhaseNumbers:
    assigned = _times(phase, workspace, _assigned)
    offered = _times(phase, workspace, _offered)
    latency = {name: _latencies_ms(phase, workspace, a, b) for name, a, b in STAGES}
    reoffered = sum(1 for i in phase.ids if workspace.timelines[i].offers > 1)
    queued = sum(1 for i in phase.ids if workspace.timelines[i].queued)
    repeated = sum(max(0, workspace.timelines[i].assignments - 1) for i in phase.ids)
    quarters = []
    for (done, since, cpu_before), (count, at, cpu) in zip(
        phase.checkpoints, phase.checkpoints[1:], strict=False
    ):
        if count > done and at > since:
            quarters.append(
                {
                    "assignments_per_s": (count - done) / (at - since),
                    **{
                        f"{name}_cpu_ms_per_assignment": 1000
                        * (cpu.get(name, 0.0) - cpu_before.get(name, 0.0))
                        / (count - done)
                        for name in cpu
                    },
                }
            )
    return PhaseNumbers(
        len(phase.ids),
        _rate(assigned),
        _rate(offered),
        latency,
        _unassigned(phase, workspace),
        reoffered,
        queued,
        repeated,
        quarters,
    )


def _cpu_lines(cpu: CpuUse | None) -> list[str]:
    if cpu is None:
        return []
    return [
        f"  CPU meanwhile, in cores of {os.cpu_count()} (machine {cpu.machine_busy:.0%} busy; "
        "kernel share in brackets):",
        "    "
        + ", ".join(
            f"{name} {cores:.2f} ({cpu.system_share.get(name, 0):.0%})"
            for name, cores in cpu.cores_by_process.items()
        )
        + f", other processes on the machine {cpu.other_cores:.2f}",
    ]


def _outcome_lines(numbers: PhaseNumbers, phase: Phase) -> list[str]:
    columns = [*[f"p{q:g}" for q in PERCENTILES], "max"]
    routing_ms = _routing_ms_per_assignment(phase, numbers.assigned)
    return [
        *table(
            ["assignments/s", "offers/s", "assigned", "not assigned", "queued", "re-offered"],
            [
                [
                    fmt(numbers.assignments_per_s),
                    fmt(numbers.offers_per_s),
                    str(numbers.assigned),
                    str(numbers.unassigned),
                    str(numbers.queued),
                    str(numbers.reoffered),
                ]
            ],
        ),
        "",
        *table(
            ["latency, ms", *columns],
            [
                [stage, *[fmt(numbers.latency_ms[stage][c]) for c in columns]]
                for stage, _, _ in STAGES
            ],
        ),
        *_cpu_lines(phase.cpu),
        f"  routing CPU per assignment: {fmt(routing_ms)} ms → at most ~{fmt(1000 / routing_ms)} "
        "assignments/s per core given to routing",
        *(
            [
                f"  TicketAssignedV1 read {numbers.repeated} more times than tickets were "
                "assigned (the same event id announced again)"
            ]
            if numbers.repeated
            else []
        ),
    ]


def _quarter_lines(numbers: PhaseNumbers) -> list[str]:
    if not numbers.quarters:
        return []
    return [
        "  by quarter of the assignments (the agents hold every earlier ticket):",
        *table(
            ["quarter", "assignments/s", "routing CPU ms/assignment", "database CPU ms/assignment"],
            [
                [
                    str(index + 1),
                    fmt(q["assignments_per_s"]),
                    fmt(q.get("routing_cpu_ms_per_assignment", math.nan)),
                    fmt(q.get("ferretdb_cpu_ms_per_assignment", math.nan)),
                ]
                for index, q in enumerate(numbers.quarters)
            ],
            indent="    ",
        ),
    ]


def _reads_lines(reads: Reads, when: str) -> list[str]:
    parts = ", ".join(
        f"{name} {fmt(ms)} ms ({reads.rows[name]} docs)" for name, ms in reads.ms.items()
    )
    return [
        f"  one dispatch's reads {when} ({reads.known_tickets} tickets in the collection): "
        f"{parts}; ≈ {fmt(reads.per_dispatch_ms)} ms per trigger with agents read twice"
    ]


def _routing_ms_per_assignment(phase: Phase, assigned: int) -> float:
    if phase.cpu is None or not assigned:
        return math.nan
    return 1000 * phase.cpu.cores_by_process.get("routing", 0.0) * phase.cpu.wall_s / assigned


def _latency_metrics(prefix: str, label: str, numbers: PhaseNumbers) -> list[Metric]:
    return [
        Metric(f"{prefix}.{key}_{column}_ms", f"{label} {stage} {column}", value, "ms", "lower")
        for stage, key in (
            ("open → offered", "open_to_offered"),
            ("offered → assigned", "offered_to_assigned"),
            ("open → assigned", "open_to_assigned"),
        )
        for column, value in numbers.latency_ms[stage].items()
    ]


def _section(outcome: Outcome, sizes: Sizes, setup: dict[str, Any]) -> Section:
    workspace = outcome.workspace
    capacity = _numbers(outcome.capacity, workspace)
    slots = sizes.agents * sum(CAPACITY.values())
    lines = [
        "  routing process and a scripted workspace (this process) that accepts every offer at "
        f"once; {sizes.agents} agents ({', '.join(f'{n} {c}' for c, n in CAPACITY.items())} "
        f"each: {slots} slots), every skill, a quarter Russian-only",
        f"  infrastructure: {setup['infra']}"
        + (f", started in {setup['infra_started_in_s']} s" if setup["infra_started_in_s"] else "")
        + f"; routing ready in {setup['routing_ready_in_s']} s; agents online in "
        f"{setup['agents_online_in_s']} s",
        "",
        f"  capacity: {sizes.tickets} tickets after {sizes.warmup} warm-up ones, published "
        + (f"at {sizes.rate:g}/s" if sizes.rate else "at full speed")
        + f" in {outcome.capacity.published_in_s:.2f} s; "
        + "/".join(f"{c} {w}%" for c, w in CHANNEL_MIX.items())
        + ", "
        + "/".join(f"{lang} {w}%" for lang, w in LANGUAGE_MIX.items()),
        "",
        *_outcome_lines(capacity, outcome.capacity),
        *_quarter_lines(capacity),
        *_reads_lines(outcome.reads_after_capacity, "after it"),
    ]
    routing_ms = _routing_ms_per_assignment(outcome.capacity, capacity.assigned)
    metrics = [
        Metric(
            "routing.assignments_per_s", "routing assignments", capacity.assignments_per_s, "/s"
        ),
        Metric("routing.offers_per_s", "routing offers", capacity.offers_per_s, "/s"),
        *_latency_metrics("routing", "routing", capacity),
        Metric(
            "routing.unassigned", "routing tickets not assigned", capacity.unassigned, "", "lower"
        ),
        Metric(
            "routing.cpu_ms_per_assignment", "routing CPU per assignment", routing_ms, "ms", "lower"
        ),
        Metric(
            "routing.dispatch_reads_ms",
            "routing reads per dispatch",
            outcome.reads_after_capacity.per_dispatch_ms,
            "ms",
            "lower",
        ),
    ]
    if len(capacity.quarters) >= 2 and capacity.quarters[0]["assignments_per_s"]:
        first, last = capacity.quarters[0], capacity.quarters[-1]
        metrics.append(
            Metric(
                "routing.drift",
                "routing assignments/s last ÷ first quarter",
                last["assignments_per_s"] / first["assignments_per_s"],
                "x",
                better=None,
            )
        )
    details: dict[str, Any] = {
        **setup,
        "capacity": _phase_details(outcome.capacity, capacity, outcome.reads_after_capacity),
    }
    if outcome.drain is not None:
        drain = _numbers(outcome.drain, workspace)
        drain_slots = sizes.drain_agents * sum(CAPACITY.values())
        lines += [
            "",
            f"  drain: {sizes.drain_tickets} tickets at once for a team of {sizes.drain_agents} "
            f"({drain_slots} slots, online in {setup['drain_agents_online_in_s']} s), each "
            f"solved {sizes.hold_s:g} s after its assignment (at most "
            f"~{fmt(drain_slots / sizes.hold_s)} assignments/s if routing took no time), while "
            f"the first {sizes.agents} agents hold {capacity.assigned + sizes.warmup} tickets",
            "",
            *_outcome_lines(drain, outcome.drain),
            *(
                _reads_lines(outcome.reads_after_drain, "after it")
                if outcome.reads_after_drain
                else []
            ),
        ]
        metrics += [
            Metric(
                "routing.drain.assignments_per_s",
                "routing drain assignments",
                drain.assignments_per_s,
                "/s",
            ),
            *_latency_metrics("routing.drain", "routing drain", drain),
            Metric(
                "routing.drain.unassigned",
                "routing drain tickets not assigned",
                drain.unassigned,
                "",
                "lower",
            ),
        ]
        details["drain"] = _phase_details(outcome.drain, drain, outcome.reads_after_drain)
    events = ", ".join(
        f"{kind.rsplit('.', 2)[-2]} × {n}" for kind, n in sorted(workspace.seen.items())
    )
    lines += ["", f"  routing's events of bench tickets: {events}"]
    if workspace.foreign:
        lines.append(
            f"  and {workspace.foreign} of other tickets, replayed from the shared Kafka: they "
            "took some of the agents' time and slots"
        )
    if workspace.revoked:
        causes = ", ".join(f"{k} × {v}" for k, v in workspace.revoked.items())
        lines.append(f"  offers revoked: {causes}")
    if setup["routing_log"]:
        lines.append(
            f"  tickets were left unassigned; routing's log is kept: {setup['routing_log']}"
        )
    details["routing_events_seen"] = dict(workspace.seen)
    details["routing_events_of_other_tickets"] = workspace.foreign
    details["revoked_by_cause"] = dict(workspace.revoked)
    return Section(
        "routing",
        "Routing end to end: TicketOpenedV1 → offer → acceptance → TicketAssignedV1 over Kafka",
        lines,
        metrics,
        details,
    )


def _phase_details(phase: Phase, numbers: PhaseNumbers, reads: Reads | None) -> dict[str, Any]:
    return {
        "tickets": numbers.tickets,
        "published_in_s": phase.published_in_s,
        "waited_s": phase.waited_s,
        "assignments_per_s": numbers.assignments_per_s,
        "offers_per_s": numbers.offers_per_s,
        "latency_ms": numbers.latency_ms,
        "unassigned": numbers.unassigned,
        "reoffered": numbers.reoffered,
        "queued": numbers.queued,
        "repeated_assignment_events": numbers.repeated,
        "quarters": numbers.quarters,
        "dispatch_reads": None
        if reads is None
        else {"known_tickets": reads.known_tickets, "ms": reads.ms, "rows": reads.rows},
        "cpu_cores_by_process": phase.cpu.cores_by_process if phase.cpu else {},
        "cpu_kernel_share_by_process": phase.cpu.system_share if phase.cpu else {},
        "cpu_cores_other_processes": phase.cpu.other_cores if phase.cpu else None,
        "machine_busy": phase.cpu.machine_busy if phase.cpu else None,
    }
