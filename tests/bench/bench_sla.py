"""sla's timers at scale: memory for a million armed timers, firing lateness at 1,000 timers/s,
and recovering 100,000 timers from the store after a restart.

- **memory**: a child process arms N timers (1,000,000; quick 100,000) in sla's heap scheduler,
  keyed by ticket ids like intake's, due over the next day; its resident set size is the number
  (target: 1 GiB). For comparison, the same with the shared one-task-per-timer scheduler
  (``opora_shared.timers``) at a tenth of the size, per timer.
- **lateness**: a child process with that many timers armed hours ahead fires 1,000 more per
  second for 20 s (quick 4 s) through sla's own firing path: measure the ticket, decide, write
  the ledger and outcomes to the in-memory store, publish the breach to a recorder. Lateness
  is measured from each breach's due instant to the action starting, and to the event reaching
  the publisher (target: p99 ≤ 1 s). MongoDB and Kafka are left out here on purpose: this is
  the scheduler and sla's CPU; the end-to-end section adds them.
- **end to end**: the ``opora-sla`` process on real Kafka and FerretDB takes over a database
  preloaded with tickets whose first-reply targets run out at 20/s for 10 s (quick 3 s);
  lateness is measured to each breach's Kafka record (its create time, set by sla's producer)
  and to this process reading it. The rate is what FerretDB on SQLite sustains here, not
  1,000/s: it finds a document by ``_id`` by scanning the collection (its ``_id`` index is on
  another expression than its queries use), so every write costs time in proportion to the
  collection (≈ 13 µs per stored document on this machine) and a fired timer writes four
  times. MongoDB looks ``_id`` up in its index.
- **recovery**: 100,000 timers (quick 10,000) in FerretDB; the time sla's ``adopt`` takes to
  read and arm them all in this process, and the time a freshly started ``opora-sla`` process
  takes until it reports them all armed (``GET /v1/timers``), from its start and from the
  moment it answers ready (target: ≤ 10 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from opora_localstack import procs
from opora_localstack.services import ServiceEnv, service_env
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerRef
from opora_shared.contracts.sla import SlaBreachedV1
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.contracts.topics import SLA
from opora_shared.testing import drop_database
from opora_shared.timers import TimerScheduler
from opora_sla.adapters.memory import MemoryRepository
from opora_sla.adapters.repository import (
    TICKETS,
    TIMERS,
    VERSIONS,
    MongoRepository,
    document_of,
    timer_document,
)
from opora_sla.adapters.scheduler import HeapScheduler
from opora_sla.domain import service
from opora_sla.domain.calendars import load_calendars
from opora_sla.domain.model import TimerRow
from opora_sla.domain.policies import SlaConfig, parse_policies
from opora_sla.domain.service import Desk
from opora_sla.domain.timeline import fact_of
from pymongo import AsyncMongoClient

from tests.bench.infra import ServiceProcess, kafka_and_mongodb
from tests.bench.measure import percentile, process_cpu_s
from tests.bench.options import Options
from tests.bench.report import Metric, Section, fmt, table

REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 6
MIB = 1024 * 1024
TARGET_RSS_MIB = 1024
TARGET_P99_S = 1.0
TARGET_RECOVERY_S = 10.0
E2E_RATE = 20
"""What FerretDB on SQLite keeps up with here: every write by _id scans its collection (see the
module docstring), and a timer that fires writes four times."""
TARGET_S = 600
"""Every bench ticket's first-reply target: 10 minutes, nothing else, no warning."""
BENCH_POLICIES = f"""\
defaults: {{hours: calendar, calendar: 24x7, warnings: [], escalations: []}}
policies:
  - id: bench
    targets:
      first_reply: {{normal: {TARGET_S}s}}
"""


@dataclass(frozen=True)
class Sizes:
    timers: int  # armed for the memory measure, and in the background while firing
    rate: float  # timers/s fired in process
    seconds: float
    e2e_rate: float  # timers/s fired through the sla process, on FerretDB
    e2e_seconds: float
    recover: int

    @classmethod
    def of(cls, options: Options) -> Sizes:
        if options.quick:
            return cls(100_000, 1000, 4, E2E_RATE, 3, 10_000)
        return cls(1_000_000, 1000, 20, E2E_RATE, 10, 100_000)


# --- shared pieces --------------------------------------------------------------------------------


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def ticket_id(prefix: str, number: int) -> str:
    """Like intake's ticket ids: a uuid, here with a readable prefix."""
    return f"{prefix}-{uuid.UUID(int=number)}"


def bench_config() -> SlaConfig:
    return SlaConfig.build(parse_policies(BENCH_POLICIES), load_calendars())


class Static:
    def __init__(self, current: SlaConfig) -> None:
        self.current = current


class NoTimers:
    def arm(self, key: str, when: datetime, group: int = 0) -> None:
        pass

    def disarm(self, key: str) -> None:
        pass


class Discarding:
    async def publish(self, event: Event) -> None:
        pass


async def prepare(
    repo: MemoryRepository, config: SlaConfig, prefix: str, count: int, start: datetime, rate: float
) -> None:
    """Tickets opened so that the i-th one's first reply runs out at ``start + i / rate``, each
    recorded through sla's own path (at its opening time) into ``repo``."""
    opened_at = start
    desk = Desk(repo, Discarding(), NoTimers(), Static(config), now=lambda: opened_at)
    for number in range(count):
        opened_at = start + timedelta(seconds=number / rate - TARGET_S)
        event = TicketOpenedV1(
            occurred_at=opened_at,
            ticket_id=ticket_id(prefix, number),
            number=f"B{number:08d}",
            channel=Channel.EMAIL,
            customer=CustomerRef(customer_id=f"{prefix}-c{number}"),
            source_message_id=f"{prefix}-m{number}",
        )
        await service.record_fact(
            fact_of(event), event.ticket_id, desk, partition=number % PARTITIONS
        )


def latencies(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": 1000 * percentile(ordered, 50),
        "p99_ms": 1000 * percentile(ordered, 99),
        "max_ms": 1000 * (ordered[-1] if ordered else math.nan),
        "count": len(ordered),
    }


def child(mode: str, *args: object) -> dict[str, Any]:
    """Run a measure in a fresh interpreter, so its memory is its own."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_sla", mode, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sla bench child {mode} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- memory ---------------------------------------------------------------------------------------


async def memory_child(count: int, kind: str) -> dict[str, Any]:
    before = rss_bytes()
    soon = datetime.now(UTC) + timedelta(hours=1)
    spread_us = 86_400_000_000 // max(count, 1)

    async def never(key: str, group: int) -> None:
        raise AssertionError("no timer is due during the measure")

    async def never_task() -> None:
        raise AssertionError("no timer is due during the measure")

    started = time.perf_counter()
    if kind == "heap":
        heap = HeapScheduler(never)
        for number in range(count):
            heap.arm(
                ticket_id("t", number),
                soon + timedelta(microseconds=number * spread_us),
                number % PARTITIONS,
            )
        await asyncio.sleep(0)
        armed, stop = len(heap), heap.shutdown
    else:
        tasks = TimerScheduler()
        for number in range(count):
            tasks.schedule(
                ticket_id("t", number),
                soon + timedelta(microseconds=number * spread_us),
                never_task,
            )
        await asyncio.sleep(0)
        armed, stop = len(tasks.planned), tasks.shutdown
    arm_s = time.perf_counter() - started
    after = rss_bytes()
    await stop()
    return {"timers": armed, "rss_before": before, "rss_after": after, "arm_s": arm_s}


# --- lateness in process --------------------------------------------------------------------------


class Recorder:
    """Keeps, for each breach published, how late after its due instant it came."""

    def __init__(self, expected: int) -> None:
        self.late_s: list[float] = []
        self.expected = expected
        self.all_in = asyncio.Event()

    async def publish(self, event: Event) -> None:
        if isinstance(event, SlaBreachedV1):
            self.late_s.append(time.time() - event.occurred_at.timestamp())
            if len(self.late_s) >= self.expected:
                self.all_in.set()


async def until_set(event: asyncio.Event, deadline: datetime) -> None:
    """Wait for ``event``, or until ``deadline`` passes."""
    timeout = max((deadline - datetime.now(UTC)).total_seconds(), 0.0)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


async def lateness_child(rate: float, seconds: float, background: int) -> dict[str, Any]:
    config = bench_config()
    repo = MemoryRepository()
    count = int(rate * seconds)
    recorder = Recorder(count)
    fired_late: list[float] = []
    scheduler = HeapScheduler(concurrency=64)
    desk = Desk(repo, recorder, scheduler, Static(config))
    due: dict[str, float] = {}

    async def fire(key: str, partition: int) -> None:
        fired_late.append(time.time() - due[key])
        await service.fire(key, desk, partition)

    scheduler.bind(fire)
    far = datetime.now(UTC) + timedelta(hours=2)
    for number in range(background):
        scheduler.arm(ticket_id("bg", number), far + timedelta(microseconds=number), number % 6)

    calibrate = MemoryRepository()
    began = time.perf_counter()
    await prepare(calibrate, config, "cal", 200, datetime.now(UTC) + timedelta(hours=1), rate)
    per_ticket = (time.perf_counter() - began) / 200
    start = datetime.now(UTC) + timedelta(seconds=2 * per_ticket * count + 3)
    await prepare(repo, config, "late", count, start, rate)
    ready_in_s = (start - datetime.now(UTC)).total_seconds()
    for row in await repo.timers(range(PARTITIONS)):
        assert row.due_at is not None
        due[row.ticket_id] = row.due_at.timestamp()
        scheduler.arm(row.ticket_id, row.due_at, row.partition)
    await asyncio.sleep(max((start - datetime.now(UTC)).total_seconds(), 0.0))
    cpu, wall = time.process_time(), time.perf_counter()
    await until_set(recorder.all_in, start + timedelta(seconds=seconds + 60))
    window_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    await scheduler.shutdown()
    return {
        "fired": len(recorder.late_s),
        "expected": count,
        "background": background,
        "margin_s": ready_in_s,
        "to_action": latencies(fired_late),
        "to_publish": latencies(recorder.late_s),
        "cpu_share": cpu_s / window_s if window_s else math.nan,
        "rss_mib": rss_bytes() / MIB,
    }


# --- end to end and recovery, through the sla process ---------------------------------------------


async def preload(
    mongodb_uri: str, database: str, repo: MemoryRepository, config: SlaConfig
) -> None:
    """Write what sla would have stored (records, timers, the version) into MongoDB."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        db = client[database]
        await db[VERSIONS].replace_one(
            {"_id": config.version},
            {"fingerprint": config.fingerprint, "description": "bench", "registered_at": None},
            upsert=True,
        )
        batches: dict[str, list[dict[str, Any]]] = {
            TICKETS: [document_of(r) for r in repo.tickets.values()]
        }
        for row in repo.timer_store.values():
            batches.setdefault(f"{TIMERS}_{row.partition}", []).append(timer_document(row))
        for name, docs in batches.items():
            for offset in range(0, len(docs), 5000):
                await db[name].insert_many(docs[offset : offset + 5000], ordered=False)
    finally:
        await client.close()


async def insert_timers(mongodb_uri: str, database: str, count: int, config: SlaConfig) -> None:
    far = datetime.now(UTC) + timedelta(days=1)
    repo = MemoryRepository()
    for number in range(count):
        row = TimerRow(
            ticket_id("rec", number),
            number % PARTITIONS,
            far + timedelta(seconds=number),
            config.version,
        )
        repo.timer_store[row.ticket_id] = row
    await preload(mongodb_uri, database, repo, config)


async def adopt_in_process(mongodb_uri: str, database: str, count: int) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)

    async def nothing(key: str, group: int) -> None:
        pass

    scheduler = HeapScheduler(nothing)
    try:
        desk = Desk(
            MongoRepository(client[database]), Discarding(), scheduler, Static(bench_config())
        )
        began = time.perf_counter()
        stale = await service.adopt(range(PARTITIONS), desk)
        seconds = time.perf_counter() - began
        armed = len(scheduler)
    finally:
        await scheduler.shutdown()
        await client.close()
    if armed != count or stale:
        raise RuntimeError(f"adopt armed {armed} of {count} timers ({len(stale)} stale)")
    return {"adopt_s": seconds, "armed": armed}


class BreachReader:
    """Reads sla.events.v1 from its end; for each bench breach, when sla's producer created the
    record and when this process read it, after the due instant."""

    def __init__(self, bootstrap: str, prefix: str, expected: int) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.expected = expected
        self.all_in = asyncio.Event()
        self.to_record: list[float] = []
        self.to_read: list[float] = []
        self.duplicates = 0
        self._seen: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )

    async def start(self) -> None:
        await self._consumer.start()
        partitions = [TopicPartition(SLA.name, p) for p in range(PARTITIONS)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    if headers.get("ce_type") != SlaBreachedV1.ce_type:
                        continue
                    body = json.loads(record.value)
                    if not body["ticket_id"].startswith(self.prefix):
                        continue
                    if body["event_id"] in self._seen:
                        self.duplicates += 1
                        continue
                    self._seen.add(body["event_id"])
                    due = datetime.fromisoformat(body["occurred_at"]).timestamp()
                    self.to_record.append(record.timestamp / 1000 - due)
                    self.to_read.append(now - due)
                    if len(self.to_record) >= self.expected:
                        self.all_in.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


def sla_env(
    port: int, bootstrap: str, mongodb_uri: str, database: str, policies: Path
) -> dict[str, str]:
    return service_env(
        "sla",
        port,
        ServiceEnv(
            kafka_bootstrap_servers=bootstrap, mongodb_uri=mongodb_uri, mongodb_database=database
        ),
    ) | {"OPORA_SLA_POLICIES_FILE": str(policies), "OTEL_TRACES_EXPORTER": "none"}


async def end_to_end(
    options: Options, bootstrap: str, mongodb_uri: str, policies: Path, sizes: Sizes
) -> dict[str, Any]:
    config = bench_config()
    database = f"opora_bench_sla_e2e_{options.run_id}".replace("-", "_")
    count = int(sizes.e2e_rate * sizes.e2e_seconds)
    prefix = f"e2e-{options.run_id}"
    began = time.perf_counter()
    calibrate = MemoryRepository()
    await prepare(calibrate, config, "cal", 300, datetime.now(UTC) + timedelta(hours=1), 1000)
    await preload(mongodb_uri, f"{database}_calibration", calibrate, config)
    per_ticket = (time.perf_counter() - began) / 300
    await asyncio.to_thread(drop_database, mongodb_uri, f"{database}_calibration")
    start = datetime.now(UTC) + timedelta(seconds=1.5 * per_ticket * count + 25)
    repo = MemoryRepository()
    await prepare(repo, config, prefix, count, start, sizes.e2e_rate)
    await preload(mongodb_uri, database, repo, config)
    reader = BreachReader(bootstrap, prefix, count)
    await reader.start()
    port = procs.free_port()
    log_file = options.work_dir / "logs/sla-e2e.log"
    try:
        with ServiceProcess(
            "sla", port, sla_env(port, bootstrap, mongodb_uri, database, policies), log_file
        ) as sla:
            margin_s = (start - datetime.now(UTC)).total_seconds()
            cpu_before = process_cpu_s(sla.pid)
            await until_set(reader.all_in, start + timedelta(seconds=sizes.e2e_seconds + 120))
            cpu_after = process_cpu_s(sla.pid)
            finished = datetime.now(UTC)
    finally:
        await reader.stop()
        await asyncio.to_thread(drop_database, mongodb_uri, database)
    window = max((finished - start).total_seconds(), 1e-9)
    cpu = sum(cpu_after) - sum(cpu_before) if cpu_after and cpu_before else math.nan
    return {
        "expected": count,
        "fired": len(reader.to_record),
        "duplicates": reader.duplicates,
        "margin_s": margin_s,
        "to_record": latencies(reader.to_record),
        "to_read": latencies(reader.to_read),
        "sla_cores": cpu / window,
    }


async def recovery(
    options: Options, bootstrap: str, mongodb_uri: str, policies: Path, count: int
) -> dict[str, Any]:
    database = f"opora_bench_sla_recovery_{options.run_id}".replace("-", "_")
    config = bench_config()
    began = time.perf_counter()
    await insert_timers(mongodb_uri, database, count, config)
    inserted_s = time.perf_counter() - began
    try:
        in_process = await adopt_in_process(mongodb_uri, database, count)
        port = procs.free_port()
        log_file = options.work_dir / "logs/sla-recovery.log"
        spawned = time.perf_counter()
        with ServiceProcess(
            "sla", port, sla_env(port, bootstrap, mongodb_uri, database, policies), log_file
        ) as sla:
            ready = time.perf_counter()
            async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
                armed, deadline = 0, time.perf_counter() + 120
                while armed < count and time.perf_counter() < deadline:
                    armed = (await http.get("/v1/timers")).json()["armed"]
                    if armed < count:
                        await asyncio.sleep(0.05)
            all_armed = time.perf_counter()
        adopted_s = _logged_adoption_s(log_file)
    finally:
        await asyncio.to_thread(drop_database, mongodb_uri, database)
    return {
        "timers": count,
        "inserted_in_s": inserted_s,
        **in_process,
        "process_armed": armed,
        "process_start_to_armed_s": all_armed - spawned,
        "process_ready_to_armed_s": all_armed - ready,
        "process_adoption_s": adopted_s,
    }


def _logged_adoption_s(log_file: Path) -> float:
    """How long the process's own adoption took (read and arm), from its log."""
    for line in log_file.read_text(errors="replace").splitlines():
        if '"armed SLA timers"' in line:
            return float(json.loads(line).get("seconds", math.nan))
    return math.nan


# --- the benchmark ------------------------------------------------------------------------------


def run(options: Options) -> Section:
    sizes = Sizes.of(options)
    memory = child("memory", sizes.timers, "heap")
    tasks = child("memory", max(sizes.timers // 10, 1), "tasks")
    lateness = child("lateness", sizes.rate, sizes.seconds, sizes.timers)
    policies = options.work_dir / "sla-bench-policies.yaml"
    policies.parent.mkdir(parents=True, exist_ok=True)
    policies.write_text(BENCH_POLICIES)
    with kafka_and_mongodb(options.work_dir / "sla") as infra:
        e2e = asyncio.run(
            end_to_end(options, infra.bootstrap_servers, infra.mongodb_uri, policies, sizes)
        )
        recovered = asyncio.run(
            recovery(options, infra.bootstrap_servers, infra.mongodb_uri, policies, sizes.recover)
        )
    return _section(sizes, memory, tasks, lateness, e2e, recovered, infra.source)


def _per_timer(result: dict[str, Any]) -> float:
    return float(result["rss_after"] - result["rss_before"]) / max(result["timers"], 1)


def _section(
    sizes: Sizes,
    memory: dict[str, Any],
    tasks: dict[str, Any],
    lateness: dict[str, Any],
    e2e: dict[str, Any],
    recovered: dict[str, Any],
    infra_source: str,
) -> Section:
    rss_mib = memory["rss_after"] / MIB
    heap_bytes, task_bytes = _per_timer(memory), _per_timer(tasks)
    in_proc, e2e_record = lateness["to_publish"], e2e["to_record"]
    lines = [
        f"  memory: {memory['timers']:,} timers armed in the heap scheduler in "
        f"{memory['arm_s']:.1f} s: RSS {rss_mib:,.0f} MiB (target ≤ {TARGET_RSS_MIB} MiB, "
        f"{rss_mib / TARGET_RSS_MIB:.2f} of it), {heap_bytes:,.0f} B per timer; one asyncio task "
        f"per timer (opora_shared.timers) at {tasks['timers']:,}: {task_bytes:,.0f} B per timer "
        f"(≈ {task_bytes * memory['timers'] / MIB / 1024:,.1f} GiB for {memory['timers']:,})",
        "",
        f"  lateness in process: {lateness['fired']:,} of {lateness['expected']:,} breaches at "
        f"{sizes.rate:g}/s for {sizes.seconds:g} s, {lateness['background']:,} more timers armed, "
        f"sla's firing path on the in-memory store ({lateness['cpu_share']:.0%} of a core)",
        *table(
            ["from the due instant to", "p50", "p99", "max"],
            [
                [
                    name,
                    f"{fmt(stats['p50_ms'])} ms",
                    f"{fmt(stats['p99_ms'])} ms",
                    f"{fmt(stats['max_ms'])} ms",
                ]
                for name, stats in (
                    ("the action starting", lateness["to_action"]),
                    ("the event published", in_proc),
                )
            ],
        ),
        "",
        f"  end to end: opora-sla on {infra_source}; {e2e['fired']:,} of {e2e['expected']:,} "
        f"breaches at {sizes.e2e_rate:g}/s for {sizes.e2e_seconds:g} s from a preloaded database "
        f"({e2e['duplicates']} repeated; sla used {e2e['sla_cores']:.2f} cores)",
        *table(
            ["from the due instant to", "p50", "p99", "max"],
            [
                [
                    name,
                    f"{fmt(stats['p50_ms'])} ms",
                    f"{fmt(stats['p99_ms'])} ms",
                    f"{fmt(stats['max_ms'])} ms",
                ]
                for name, stats in (
                    ("sla's Kafka record", e2e_record),
                    ("read back here", e2e["to_read"]),
                )
            ],
        ),
        "",
        f"  recovery: {recovered['timers']:,} timers in FerretDB (target ≤ "
        f"{TARGET_RECOVERY_S:g} s): adopt() read and armed them in {recovered['adopt_s']:.2f} s "
        f"in this process; a new opora-sla process took {recovered['process_adoption_s']:.2f} s "
        f"to adopt them once its partitions were assigned, and had them all armed "
        f"{recovered['process_start_to_armed_s']:.1f} s after it was started (Python and "
        f"Kafka start-up included; {recovered['process_ready_to_armed_s']:.1f} s after it "
        f"answered ready)",
    ]
    metrics = [
        Metric("sla.memory_rss_mib", "sla RSS with timers armed", rss_mib, "MiB", "lower"),
        Metric("sla.memory_bytes_per_timer", "sla bytes per armed timer", heap_bytes, "B", "lower"),
        Metric(
            "sla.lateness_p99_ms",
            "sla firing lateness p99 (in process)",
            in_proc["p99_ms"],
            "ms",
            "lower",
        ),
        Metric(
            "sla.lateness_max_ms",
            "sla firing lateness max (in process)",
            in_proc["max_ms"],
            "ms",
            "lower",
        ),
        Metric(
            "sla.e2e_lateness_p99_ms",
            "sla lateness p99 to the Kafka record",
            e2e_record["p99_ms"],
            "ms",
            "lower",
        ),
        Metric("sla.e2e_fired", "sla breaches fired end to end", e2e["fired"], "", "higher"),
        Metric(
            "sla.recovery_adopt_s", "sla adopt of stored timers", recovered["adopt_s"], "s", "lower"
        ),
        Metric(
            "sla.recovery_process_adoption_s",
            "sla process adoption of stored timers",
            recovered["process_adoption_s"],
            "s",
            "lower",
        ),
        Metric(
            "sla.recovery_process_s",
            "sla process start to all timers armed",
            recovered["process_start_to_armed_s"],
            "s",
            "lower",
        ),
    ]
    details = {
        "sizes": asdict(sizes),
        "memory": memory,
        "tasks": tasks,
        "lateness": lateness,
        "end_to_end": e2e,
        "recovery": recovered,
        "targets": {
            "rss_mib": TARGET_RSS_MIB,
            "p99_s": TARGET_P99_S,
            "recovery_s": TARGET_RECOVERY_S,
        },
    }
    return Section("sla", "sla: timers at scale", lines, metrics, details)


def _main(argv: Sequence[str]) -> None:
    mode, *args = argv
    if mode == "memory":
        result = asyncio.run(memory_child(int(args[0]), args[1]))
    elif mode == "lateness":
        result = asyncio.run(lateness_child(float(args[0]), float(args[1]), int(args[2])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    _main(sys.argv[1:])
    os._exit(0)  # the million plans need no orderly teardown
