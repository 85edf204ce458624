"""What tracing costs end to end: customer requests per second through the five services with
tracing off and on (target: on is at most 15 % slower).

The five services run as separate processes from their console scripts (see ``infra.py``) on the
bench's Kafka and MongoDB-wire server, with a database of their own per phase, and are started
afresh for every phase, alternately with tracing off and on (off, on, off, on…: a machine whose
load drifts over the run then favours neither side). Both phases are configured alike, with the
standard variables only, exporting to a real collector (Zipkin from the local stack, running
for the whole benchmark) through a ``BatchSpanProcessor``; only the sampler differs:

- **off**: ``OTEL_TRACES_SAMPLER=always_off``: no span is recorded, none exported; metrics and
  the trace context in Kafka headers stay as they are;
- **on**: ``OTEL_TRACES_SAMPLER=parentbased_always_on`` (the SDK's default): every span is
  recorded and sent to Zipkin, as in production.

In each phase this process posts a fixed number of new customer requests (web forms from the
seeded corpus, each opening a ticket and asking for an acknowledgement by e-mail) to intake's
HTTP API as fast as N concurrent clients allow, after a few warm-up requests that prove every
consumer group has joined. A ticket has reached the end of its path when sla has published its
``opora.sla.applied.v1`` and notifications has published the final outcome (sent, failed for
good, or cancelled) of its ``ticket.acknowledged`` notification, sent over SMTP to a server in
this process; both are read from their topics with a Kafka consumer and timed by the record's
create time. Throughput is tickets per second from the first request to the last ticket's end.

routing's ``opora.routing.queued.v1`` is counted but is not part of the end: routing's
placement reads scan on FerretDB and fall behind at this rate (about two thirds of the tickets
are queued when all have ended), so waiting for it would measure FerretDB more than tracing.
routing runs all the same, so its work competes for the same cores in both phases.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from aiosmtpd.controller import Controller
from opora_localstack import procs
from opora_localstack.paths import repo_paths
from opora_localstack.zipkin import ZipkinServer, ensure_jar
from opora_shared.contracts.inbound import InboundMessage
from opora_shared.contracts.notifications import (
    NotificationCancelledV1,
    NotificationFailedV1,
    NotificationSentV1,
)
from opora_shared.contracts.routing import TicketQueuedV1
from opora_shared.contracts.sla import SlaAppliedV1
from opora_shared.contracts.topics import NOTIFICATIONS, ROUTING, SLA

from tests.bench.corpus import Corpus, to_record
from tests.bench.infra import Infra, deploy_services, kafka_and_mongodb
from tests.bench.measure import CpuMeter, CpuUse, percentile, summarise
from tests.bench.options import Options
from tests.bench.reader import TopicReader
from tests.bench.report import Metric, Section, fmt, table
from tests.services import SERVICES

TARGET_COST = 0.15
"""Tracing may cost at most this share of the end-to-end throughput (issue 8)."""
STACK = (*SERVICES, "kafka", "ferretdb", "zipkin")
SAMPLER = {False: "always_off", True: "parentbased_always_on"}
ACKNOWLEDGEMENT = "ticket.acknowledged"
CHANNEL_MIX = {"web-form": 1.0}  # every request names an e-mail address: the ack goes by SMTP
BENCH = "bench (load generator, SMTP server, Kafka reader)"
PERCENTILES = (50.0, 99.0)


@dataclass(frozen=True)
class Sizes:
    warmup: int  # tickets per phase before measuring
    tickets: int  # measured tickets per phase
    pairs: int  # of phases, off then on
    stall_s: float  # no ticket reaching its end for this long ends a phase
    stack_warmup: int  # tickets through an unmeasured first phase

    @classmethod
    def of(cls, options: Options) -> Sizes:
        # Small phases: FerretDB's cost per ticket grows with its collections (it scans), so a
        # long phase measures FerretDB more than tracing. The unmeasured phase gives Kafka's JIT
        # its first minutes: after 30 tickets only, the first measured phase still cost Kafka
        # twice the CPU of the later ones, a handicap for the first "off".
        if options.quick:
            return cls(warmup=4, tickets=50, pairs=1, stall_s=60.0, stack_warmup=15)
        return cls(warmup=8, tickets=150, pairs=2, stall_s=90.0, stack_warmup=100)


def phase_plan(pairs: int) -> list[bool]:
    """Whether tracing is on in each phase: off, on, off, on… (``pairs`` of each)."""
    return [tracing for _ in range(pairs) for tracing in (False, True)]


# --- where each ticket has got to --------------------------------------------------------------


@dataclass
class TicketPath:
    """When (Kafka create time, seconds since the epoch) a ticket reached each point."""

    sla_applied: float | None = None
    acknowledged: float | None = None
    outcome: str | None = None  # the acknowledgement's final event: sent, failed, cancelled
    queued: float | None = None

    @property
    def ended(self) -> float | None:
        """When both sla and notifications were done with it; None until they are."""
        if self.sla_applied is None or self.acknowledged is None:
            return None
        return max(self.sla_applied, self.acknowledged)


_OUTCOMES = {
    NotificationSentV1.ce_type: "sent",
    NotificationFailedV1.ce_type: "failed",
    NotificationCancelledV1.ce_type: "cancelled",
}


def note(path: TicketPath, ce_type: str, value: bytes, at: float) -> None:
    """Record one event of sla, notifications or routing about the ticket ``path`` follows."""
    if ce_type == SlaAppliedV1.ce_type:
        path.sla_applied = at if path.sla_applied is None else min(path.sla_applied, at)
    elif ce_type == TicketQueuedV1.ce_type:
        path.queued = at if path.queued is None else min(path.queued, at)
    elif ce_type in _OUTCOMES and path.acknowledged is None:
        body = json.loads(value)
        if body.get("intent") != ACKNOWLEDGEMENT or body.get("will_retry"):
            return  # another notification, or an attempt that will be retried
        path.acknowledged, path.outcome = at, _OUTCOMES[ce_type]


class EndWatcher(TopicReader):
    """Reads sla's, notifications' and routing's topics from their end at ``start()`` and keeps,
    per ticket, when it reached each point."""

    def __init__(self, bootstrap_servers: str) -> None:
        super().__init__(bootstrap_servers, (SLA.name, NOTIFICATIONS.name, ROUTING.name))
        self.paths: dict[str, TicketPath] = {}

    def take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        assert record.key is not None
        ce_type = dict(record.headers).get("ce_type", b"").decode()
        path = self.paths.setdefault(record.key.decode(), TicketPath())
        note(path, ce_type, record.value or b"", record.timestamp / 1000)

    def ended(self, tickets: Sequence[str]) -> list[float]:
        ends = (self.paths[t].ended if t in self.paths else None for t in tickets)
        return sorted(end for end in ends if end is not None)

    async def wait_for(self, tickets: Sequence[str], stall_s: float) -> list[float]:
        """The end times of ``tickets``, once all have ended or none has for ``stall_s``."""
        await self.wait(lambda: len(self.ended(tickets)), len(tickets), stall_s)
        return self.ended(tickets)


# --- one phase ---------------------------------------------------------------------------------


@dataclass
class Requests:
    latencies_s: list[float] = field(default_factory=list)  # of answered requests
    outcomes: Counter[str] = field(default_factory=Counter)  # status code or exception name
    tickets: list[str] = field(default_factory=list)  # opened by them (201)
    duration_s: float = 0.0


async def post_all(
    client: httpx.AsyncClient, messages: Iterator[InboundMessage], workers: int
) -> Requests:
    """Post every message, ``workers`` at a time, each worker taking the next as it is free."""
    done = Requests()
    started = time.perf_counter()

    async def worker() -> None:
        for message in messages:
            record = to_record(message)
            sent = time.perf_counter()
            try:
                response = await client.post(f"/v1/inbound/{record.slug}", content=record.value)
            except httpx.HTTPError as error:
                done.outcomes[type(error).__name__] += 1
                continue
            done.latencies_s.append(time.perf_counter() - sent)
            done.outcomes[str(response.status_code)] += 1
            if response.status_code == 201:
                done.tickets.append(response.json()["ticket_id"])

    await asyncio.gather(*(worker() for _ in range(workers)))
    done.duration_s = time.perf_counter() - started
    return done


@dataclass
class Measured:
    """What one phase's measured requests did, seen from this process."""

    requests: Requests
    started_at: float  # epoch seconds, as Kafka's create times
    ends: list[float]  # epoch seconds at which the measured tickets ended, sorted
    outcomes: Counter[str]  # how their acknowledgements ended
    queued: int  # measured tickets routing had queued by the end
    cpu: CpuUse
    warmup: int  # tickets opened before the measurement


@dataclass
class Phase:
    index: int  # 1, 2…; 0 warmed the stack up
    tracing: bool
    ready_s: float  # for the five services to answer their readiness probes
    measured: Measured
    spans: int | None  # Zipkin received from the services' start to their stop
    spans_before_stop: int | None  # of which before they were asked to stop

    @property
    def requests(self) -> Requests:
        return self.measured.requests

    @property
    def cpu(self) -> CpuUse:
        return self.measured.cpu

    @property
    def ends(self) -> list[float]:
        return self.measured.ends

    @property
    def tickets(self) -> int:
        return len(self.requests.tickets)

    @property
    def completed(self) -> int:
        return len(self.ends)

    @property
    def elapsed_s(self) -> float:
        return self.ends[-1] - self.measured.started_at if self.ends else math.nan

    @property
    def per_s(self) -> float:
        return self.completed / self.elapsed_s if self.ends else 0.0

    def latency_ms(self, q: float) -> float:
        return 1000 * percentile(sorted(self.requests.latencies_s), q)

    def cpu_s(self, name: str) -> float:
        return self.cpu.cores_by_process.get(name, 0.0) * self.cpu.wall_s

    @property
    def services_cpu_ms_per_ticket(self) -> float:
        spent = sum(self.cpu_s(name) for name in SERVICES)
        return 1000 * spent / self.completed if self.completed else math.nan

    @property
    def stack_cpu_s(self) -> float:
        """CPU seconds of everything the tickets went through: the five services, Kafka and
        the MongoDB-wire server (when the bench started them), and the trace collector."""
        return sum(self.cpu_s(name) for name in STACK)


def run(options: Options) -> Section:
    sizes = Sizes.of(options)
    paths = repo_paths()
    ensure_jar(paths)  # `make setup` fetched it; a bare `python -m tests.bench` may not have
    phases: list[Phase] = []
    with ExitStack() as stack:
        infra = stack.enter_context(kafka_and_mongodb(options.work_dir / "tracing"))
        zipkin = ZipkinServer(options.work_dir / "tracing/zipkin", procs.free_port(), paths)
        stack.callback(zipkin.stop)
        zipkin.start()
        asyncio.run(zipkin.wait_ready())
        smtp = Controller(AcceptAll(), hostname="127.0.0.1", port=procs.free_port())
        smtp.start()
        stack.callback(smtp.stop)
        _progress(f"tracing: warming the stack up with {sizes.stack_warmup} tickets")
        first = replace(sizes, tickets=sizes.stack_warmup)
        _run_phase(options, first, infra, zipkin, smtp.port, 0, tracing=False)
        for index, tracing in enumerate(phase_plan(sizes.pairs), start=1):
            _progress(f"tracing phase {index}/{2 * sizes.pairs}: {_on_off(tracing)}")
            phase = _run_phase(options, sizes, infra, zipkin, smtp.port, index, tracing)
            _progress(
                f"tracing {_on_off(tracing)}: {phase.completed}/{phase.tickets} tickets at "
                f"{phase.per_s:.2f}/s"
            )
            phases.append(phase)
        setup = {"infra": infra.source, "zipkin": zipkin.url}
    return _section(phases, sizes, options.http_workers, setup)


class AcceptAll:
    """An SMTP server's handler that takes every message and keeps none."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _run_phase(
    options: Options,
    sizes: Sizes,
    infra: Infra,
    zipkin: ZipkinServer,
    smtp_port: int,
    index: int,
    tracing: bool,
) -> Phase:
    database = f"opora_bench_tracing_{options.run_id}_{index}".replace("-", "_")
    spans_before = _zipkin_spans(zipkin)
    with ExitStack() as stack:
        began = time.monotonic()
        deployed = deploy_services(
            stack,
            infra,
            database=database,
            smtp_port=smtp_port,
            logs=options.work_dir / f"logs/tracing-{index}",
            env={"OTEL_TRACES_SAMPLER": SAMPLER[tracing]},
            zipkin_endpoint=zipkin.spans_endpoint,
        )
        ready_s = time.monotonic() - began
        services, api_key = deployed.services, deployed.api_key
        pids = {name: s.pid for name, s in services.items()} | {BENCH: os.getpid()}
        pids |= infra.pids | ({"zipkin": zipkin.process.pid} if zipkin.process else {})
        corpus = Corpus(
            seed=options.seed, run_id=f"{options.run_id}-t{index}", channel_mix=CHANNEL_MIX
        )
        measured = asyncio.run(
            _drive(
                services["intake"].url,
                api_key,
                new_conversations(corpus),
                options.http_workers,
                sizes,
                infra.bootstrap_servers,
                pids,
            )
        )
        deployed.check_alive()
        # Outside the measurement: the last spans leave in the processors' next batch.
        running = _settled_spans(zipkin) if tracing else _zipkin_spans(zipkin)
        for service in services.values():  # all at once; the exit stack then waits for each
            service.terminate()
    stopped = _zipkin_spans(zipkin)  # and whatever the services flushed as they stopped
    return Phase(
        index,
        tracing,
        ready_s,
        measured,
        spans=_difference(stopped, spans_before),
        spans_before_stop=_difference(running, spans_before),
    )


def new_conversations(corpus: Corpus) -> Iterator[InboundMessage]:
    """The corpus without its follow-ups, received now: every request opens a ticket of its own
    whose SLA clocks start now (the corpus dates its messages weeks ago, which would make every
    ticket a breach to announce on the spot)."""
    seen: set[str] = set()
    for message in corpus:
        if message.conversation_id not in seen:
            seen.add(message.conversation_id)
            yield message.model_copy(update={"received_at": datetime.now(UTC)})


async def _drive(
    url: str,
    api_key: str,
    messages: Iterator[InboundMessage],
    workers: int,
    sizes: Sizes,
    bootstrap_servers: str,
    pids: Mapping[str, int],
) -> Measured:
    """Warm up, then post the measured requests and wait for their tickets to reach the end."""
    watcher = EndWatcher(bootstrap_servers)
    await watcher.start()
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    try:
        async with httpx.AsyncClient(
            base_url=url, headers=headers, limits=limits, timeout=60.0
        ) as client:
            # The first tickets prove every consumer group has joined and every path is hot.
            warm = await post_all(client, _take(messages, sizes.warmup), workers)
            if len(await watcher.wait_for(warm.tickets, 180.0)) < sizes.warmup:
                raise RuntimeError(
                    f"tracing bench: warm-up tickets did not reach the end ({warm.outcomes})"
                )
            meter = CpuMeter(pids)
            meter.start()
            started_at = time.time()
            requests = await post_all(client, _take(messages, sizes.tickets), workers)
            ends = await watcher.wait_for(requests.tickets, sizes.stall_s)
            cpu = meter.stop()
    finally:
        await watcher.stop()
    paths = [watcher.paths.get(t, TicketPath()) for t in requests.tickets]
    return Measured(
        requests=requests,
        started_at=started_at,
        ends=ends,
        outcomes=Counter(p.outcome for p in paths if p.outcome is not None),
        queued=sum(1 for p in paths if p.queued is not None),
        cpu=cpu,
        warmup=len(warm.tickets),
    )


def _take(messages: Iterator[InboundMessage], count: int) -> Iterator[InboundMessage]:
    for _ in range(count):
        yield next(messages)


def _settled_spans(zipkin: ZipkinServer, quiet_s: float = 7.0, limit_s: float = 60.0) -> int | None:
    """Zipkin's span count once it has not grown for ``quiet_s`` (longer than the batch span
    processor's 5 s between exports)."""
    count, since = _zipkin_spans(zipkin), time.monotonic()
    deadline = since + limit_s
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.5)
        now = _zipkin_spans(zipkin)
        if now != count:
            count, since = now, time.monotonic()
    return count


def _difference(after: int | None, before: int | None) -> int | None:
    return after - before if after is not None and before is not None else None


def _zipkin_spans(zipkin: ZipkinServer) -> int | None:
    """How many spans Zipkin's HTTP collector has received so far (its own counter)."""
    try:
        response = httpx.get(f"{zipkin.url}/metrics", timeout=5.0)
        return int(response.json()["counter.zipkin_collector.spans.http"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


# --- the numbers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """Throughput with tracing on against off, pooled over the phases of each side."""

    off_per_s: float
    on_per_s: float
    pair_ratios: tuple[float, ...]  # on ÷ off within each off-then-on pair

    @property
    def ratio(self) -> float:
        return self.on_per_s / self.off_per_s if self.off_per_s else math.nan

    @property
    def cost(self) -> float:
        """The share of the throughput tracing takes: 1 − on ÷ off."""
        return 1 - self.ratio

    @property
    def spread_pct(self) -> float:
        """Half the range of the pairs' ratios over their median (0 with one pair)."""
        finite = [r for r in self.pair_ratios if math.isfinite(r)]
        return summarise(finite).spread_pct if finite else math.nan

    @classmethod
    def of(cls, phases: Sequence[tuple[bool, int, float]]) -> Cost:
        """From (tracing on?, tickets completed, seconds) per phase, in the order they ran:
        each side's tickets over its seconds, and the ratio within each consecutive pair."""
        off_n, off_s, on_n, on_s = 0, 0.0, 0, 0.0
        pairs: list[float] = []
        previous_off: float | None = None
        for tracing, completed, seconds in phases:
            rate = completed / seconds if seconds > 0 else math.nan
            if tracing:
                on_n, on_s = on_n + completed, on_s + seconds
                if previous_off is not None:
                    pairs.append(rate / previous_off if previous_off else math.nan)
                previous_off = None
            else:
                off_n, off_s = off_n + completed, off_s + seconds
                previous_off = rate
        return cls(
            off_n / off_s if off_s > 0 else math.nan,
            on_n / on_s if on_s > 0 else math.nan,
            tuple(pairs),
        )


def _side(phases: Sequence[Phase], tracing: bool) -> list[Phase]:
    return [p for p in phases if p.tracing is tracing]


def _pooled_latency_ms(phases: Sequence[Phase], q: float) -> float:
    return 1000 * percentile(sorted(s for p in phases for s in p.requests.latencies_s), q)


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _section(phases: Sequence[Phase], sizes: Sizes, workers: int, setup: dict[str, Any]) -> Section:
    wall = Cost.of([(p.tracing, p.completed, p.elapsed_s) for p in phases])
    cpu = Cost.of([(p.tracing, p.completed, p.stack_cpu_s) for p in phases])
    off, on = _side(phases, False), _side(phases, True)
    cpu_off = _mean([p.services_cpu_ms_per_ticket for p in off])
    cpu_on = _mean([p.services_cpu_ms_per_ticket for p in on])
    spans_per_ticket = _mean(
        [p.spans / (p.tickets + p.measured.warmup) for p in on if p.spans is not None and p.tickets]
    )
    us_per_span = 1000 * (cpu_on - cpu_off) / spans_per_ticket
    off_spans = sum(p.spans or 0 for p in off)
    zipkin_ms = _mean([1000 * p.cpu_s("zipkin") / p.completed for p in on if p.completed])
    incomplete = sum(p.tickets - p.completed for p in phases)
    measured_stack = [name for name in STACK if any(name in p.cpu.cores_by_process for p in phases)]
    throughput_rows = [
        [
            str(p.index),
            _on_off(p.tracing),
            f"{p.completed}/{p.tickets}",
            fmt(p.elapsed_s),
            fmt(p.per_s),
            fmt(p.completed / p.stack_cpu_s if p.stack_cpu_s else math.nan),
            fmt(len(p.requests.latencies_s) / p.requests.duration_s),
            fmt(p.latency_ms(50)),
            fmt(p.latency_ms(99)),
            f"{p.cpu.other_cores:.2f}",
            "-" if p.spans is None else str(p.spans),
        ]
        for p in phases
    ]
    others = [BENCH]
    cpu_rows = [
        [
            f"{p.index} {_on_off(p.tracing)}",
            *[fmt(p.cpu_s(name)) for name in (*measured_stack, *others)],
            fmt(p.stack_cpu_s),
        ]
        for p in phases
    ]
    lines = [
        "  five service processes per phase, restarted with tracing off or on "
        "(OTEL_TRACES_SAMPLER always_off / parentbased_always_on; both export to Zipkin); "
        f"{sizes.tickets} new web-form requests per phase after {sizes.warmup} warm-up, "
        f"{workers} concurrent clients; an unmeasured phase of {sizes.stack_warmup} tickets "
        "first",
        "  end of a ticket: sla's opora.sla.applied.v1 and the final outcome of notifications' "
        "ticket.acknowledged (SMTP to loopback); routing's queueing is not part of it",
        f"  infrastructure: {setup['infra']}; Zipkin {setup['zipkin']}",
        "",
        *table(
            [
                "#",
                "tracing",
                "ended",
                "s",
                "tickets/s",
                "per stack CPU s",
                "HTTP req/s",
                "p50 ms",
                "p99 ms",
                "others' cores",
                "spans",
            ],
            throughput_rows,
        ),
        "",
        "  CPU seconds per process over each measured window ("
        + " + ".join(measured_stack)
        + " = the stack):",
        *table(["phase", *measured_stack, "bench", "stack"], cpu_rows),
        "",
        f"  end to end, wall clock: off {fmt(wall.off_per_s)} tickets/s, on "
        f"{fmt(wall.on_per_s)} → on ÷ off {wall.ratio:.3f}, tracing costs {wall.cost:.1%} "
        f"(target ≤ {TARGET_COST:.0%}: {_verdict(wall)}); per pair "
        + ", ".join(f"{r:.3f}" for r in wall.pair_ratios),
        f"  end to end, per CPU second of the stack (the rate with the machine to itself): off "
        f"{fmt(cpu.off_per_s)}, on {fmt(cpu.on_per_s)} → on ÷ off {cpu.ratio:.3f}, tracing costs "
        f"{cpu.cost:.1%} (target ≤ {TARGET_COST:.0%}: {_verdict(cpu)}); per pair "
        + ", ".join(f"{r:.3f}" for r in cpu.pair_ratios),
        f"  HTTP latency off p50 {fmt(_pooled_latency_ms(off, 50))} ms, p99 "
        f"{fmt(_pooled_latency_ms(off, 99))} ms; on p50 {fmt(_pooled_latency_ms(on, 50))} ms, "
        f"p99 {fmt(_pooled_latency_ms(on, 99))} ms",
        f"  CPU of the five services per ticket: off {fmt(cpu_off)} ms, on {fmt(cpu_on)} ms "
        f"({cpu_on / cpu_off - 1:+.1%}); ~{fmt(spans_per_ticket)} spans per ticket, so "
        f"~{fmt(us_per_span)} µs of the services' CPU per span (made, recorded and exported); "
        f"Zipkin {fmt(zipkin_ms)} ms per ticket on the same cores",
        "  acknowledgements: "
        + ", ".join(f"{p.index} {dict(sorted(p.measured.outcomes.items()))}" for p in phases)
        + "; queued by routing by the end: "
        + ", ".join(f"{p.measured.queued}/{p.tickets}" for p in phases),
    ]
    if off_spans:
        lines.append(f"  WARNING: Zipkin received {off_spans} spans with tracing off")
    if incomplete:
        lines.append(
            f"  WARNING: {incomplete} tickets did not reach the end within "
            f"{sizes.stall_s:g} s of the last one that did"
        )
    metrics = [
        Metric("tracing.off_per_s", "end to end, tracing off", wall.off_per_s, "tickets/s"),
        Metric("tracing.on_per_s", "end to end, tracing on", wall.on_per_s, "tickets/s"),
        Metric(
            "tracing.on_to_off",
            "end to end on ÷ off",
            wall.ratio,
            "x",
            "higher",
            wall.spread_pct,
        ),
        Metric("tracing.cost_pct", "tracing's cost (target ≤ 15 %)", 100 * wall.cost, "%", "lower"),
        Metric(
            "tracing.off_per_stack_cpu_s",
            "end to end per stack CPU s, off",
            cpu.off_per_s,
            "tickets/CPU s",
        ),
        Metric(
            "tracing.on_per_stack_cpu_s",
            "end to end per stack CPU s, on",
            cpu.on_per_s,
            "tickets/CPU s",
        ),
        Metric(
            "tracing.on_to_off_per_stack_cpu_s",
            "end to end per stack CPU s on ÷ off",
            cpu.ratio,
            "x",
            "higher",
            cpu.spread_pct,
        ),
        Metric(
            "tracing.cost_per_stack_cpu_s_pct",
            "tracing's cost per stack CPU s (target ≤ 15 %)",
            100 * cpu.cost,
            "%",
            "lower",
        ),
        *[
            Metric(
                f"tracing.http_latency_p{q:g}_ms_{_on_off(tracing)}",
                f"HTTP latency p{q:g}, tracing {_on_off(tracing)}",
                _pooled_latency_ms(side, q),
                "ms",
                "lower",
            )
            for tracing, side in ((False, off), (True, on))
            for q in PERCENTILES
        ],
        Metric(
            "tracing.cpu_ms_per_ticket_off", "services' CPU per ticket, off", cpu_off, "ms", "lower"
        ),
        Metric(
            "tracing.cpu_ms_per_ticket_on", "services' CPU per ticket, on", cpu_on, "ms", "lower"
        ),
        Metric("tracing.spans_per_ticket", "spans per ticket", spans_per_ticket, "", None),
        Metric("tracing.cpu_us_per_span", "services' CPU per span", us_per_span, "µs", "lower"),
        Metric("tracing.incomplete", "tickets that never ended", float(incomplete), "", "lower"),
    ]
    details = {
        **setup,
        "sizes": asdict(sizes),
        "workers": workers,
        "target_cost": TARGET_COST,
        "pair_ratios": list(wall.pair_ratios),
        "pair_ratios_per_stack_cpu_s": list(cpu.pair_ratios),
        "stack": measured_stack,
        "phases": [
            {
                "index": p.index,
                "tracing": p.tracing,
                "sampler": SAMPLER[p.tracing],
                "services_ready_s": round(p.ready_s, 1),
                "tickets": p.tickets,
                "ended": p.completed,
                "elapsed_s": p.elapsed_s,
                "tickets_per_s": p.per_s,
                "stack_cpu_s": p.stack_cpu_s,
                "http_requests": dict(p.requests.outcomes),
                "http_s": p.requests.duration_s,
                "http_latency_ms": {f"p{q:g}": p.latency_ms(q) for q in (50, 90, 99)},
                "cpu_s": {name: p.cpu_s(name) for name in p.cpu.cores_by_process},
                "machine_busy": p.cpu.machine_busy,
                "cpu_other_processes_cores": p.cpu.other_cores,
                "acknowledgements": dict(p.measured.outcomes),
                "queued_by_routing": p.measured.queued,
                "spans": p.spans,
                "spans_before_stop": p.spans_before_stop,
            }
            for p in phases
        ],
    }
    return Section(
        "tracing",
        "tracing: end-to-end throughput through the five services, tracing off and on",
        lines,
        metrics,
        details,
    )


def _verdict(cost: Cost) -> str:
    if not math.isfinite(cost.cost):
        return "-"
    return "PASS" if cost.cost <= TARGET_COST else "FAIL"


def _on_off(tracing: bool) -> str:
    return "on" if tracing else "off"


def _progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
