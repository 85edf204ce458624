"""The whole pipeline against the messaging ceiling, in one run on one machine (issue 10).

Three measurements, in this order:

1. **The no-op relay chain** (``relay.py``): five relay processes of plain aiokafka in the shape
   of the pipeline. "intake" reads an inbound topic and writes a tickets topic; "routing",
   "sla", "notifications" and "feedback" each read the tickets topic in a group of their own and
   write what their service writes per new ticket (routing two records, queued and offered;
   sla one; notifications one; feedback none). Every record has the size of the contract
   example of the event it stands for. This process produces ``relay_messages`` inbound records
   as fast as the producer takes them and times the last of them reaching both routing's and
   notifications' outputs. A **single hop** (one relay, one topic in, one out) is measured the
   same way. Kafka is the same broker the services use.
2. **The pipeline, saturated**: the five services as processes (as ``make run`` starts them),
   agents online in the workspace with room for every ticket, and ``tickets`` web forms posted
   to intake by ``http_workers`` concurrent clients. A ticket is through when routing has
   offered it to an agent and notifications has sent its acknowledgement (SMTP, to a server in
   this process). Sustained requests/s = tickets through ÷ (last through − first posted).
3. **The pipeline at half that load**: requests posted open-loop at half the sustained rate;
   latency from the request leaving this process to routing's offer and to notifications'
   acknowledgement being published (Kafka create times; one clock).

CPU seconds and peak RSS (``VmHWM``) are read per process. The targets: ≥ 1,000 requests/s end
to end on 2 cores, p99 intake → offer ≤ 250 ms at half load, pipeline ≥ 50 % of the chain.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiosmtpd.controller import Controller
from opora_localstack import procs
from opora_localstack.demo import AGENTS
from opora_shared.contracts.common import Channel
from opora_shared.contracts.inbound import InboundMessage
from opora_shared.contracts.notifications import NotificationSentV1
from opora_shared.contracts.routing import TicketOfferedV1
from opora_shared.contracts.topics import NOTIFICATIONS, ROUTING
from opora_shared.contracts.workspace import AgentPresenceChangedV1, Presence
from opora_shared.testing import event_producer

from tests.bench.bench_tracing import (
    ACKNOWLEDGEMENT,
    AcceptAll,
    new_conversations,
    post_all,
)
from tests.bench.corpus import Corpus, to_record
from tests.bench.infra import Infra, deploy_services, kafka_and_mongodb
from tests.bench.measure import CpuMeter, CpuUse, percentile
from tests.bench.options import Options
from tests.bench.reader import TopicReader
from tests.bench.report import Metric, Section, fmt, table

TARGET_PER_S = 1_000.0
TARGET_OFFER_P99_MS = 250.0
TARGET_RATIO = 0.5
EXAMPLES = Path(__file__).resolve().parents[2] / "shared/contracts/examples"
PARTITIONS = 6  # as the catalogue's topics
BENCH = "bench (load, SMTP server, Kafka reader)"
AGENT_COUNT = 40  # x 100 web-form slots each: room for every ticket of a full run


@dataclass(frozen=True)
class Sizes:
    relay_messages: int
    tickets: int  # saturated phase
    half_load_tickets: int
    warmup: int
    stall_s: float

    @classmethod
    def of(cls, options: Options) -> Sizes:
        if options.quick:
            return cls(relay_messages=3_000, tickets=60, half_load_tickets=30, warmup=4, stall_s=60)
        return cls(relay_messages=20_000, tickets=300, half_load_tickets=150, warmup=8, stall_s=120)


def example_size(ce_type: str) -> int:
    """Bytes of the contract example of ``ce_type``, as services serialise it (compact JSON)."""
    body = json.loads((EXAMPLES / f"{ce_type}.json").read_text())
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Stage:
    name: str
    source: str  # a suffix of the run's topic prefix
    sinks: tuple[tuple[str, str], ...]  # (topic suffix, ce_type whose example gives the size)


CHAIN = (
    Stage("intake", "inbound", (("tickets", "opora.ticket.opened.v1"),)),
    Stage(
        "routing",
        "tickets",
        (("routing", "opora.routing.queued.v1"), ("routing", "opora.routing.offered.v1")),
    ),
    Stage("sla", "tickets", (("sla", "opora.sla.applied.v1"),)),
    Stage("notifications", "tickets", (("notifications", "opora.notification.sent.v1"),)),
    Stage("feedback", "tickets", ()),
)
SINGLE = (Stage("relay", "single-in", (("single-out", "opora.ticket.opened.v1"),)),)
INBOUND_TYPE = "opora.inbound.web-form.v1"


# --- reading when each key first reached a topic -------------------------------------------------


Labeler = Callable[[str, Mapping[str, bytes], bytes], str | None]
"""Names what a record (topic, headers, value) means for the measurement; None: not counted."""


def by_topic(topic: str, headers: Mapping[str, bytes], value: bytes) -> str | None:
    return topic


def pipeline_ends(topic: str, headers: Mapping[str, bytes], value: bytes) -> str | None:
    """routing's offer, and notifications' acknowledgement sent (not a retry, not another)."""
    ce_type = headers.get("ce_type", b"").decode()
    if ce_type == TicketOfferedV1.ce_type:
        return "offered"
    sent = ce_type == NotificationSentV1.ce_type
    if sent and json.loads(value).get("intent") == ACKNOWLEDGEMENT:
        return "acknowledged"
    return None


class FirstSeen(TopicReader):
    """Keeps, per key and label, the create time (epoch seconds) of the first record that
    ``label_of`` gives a label."""

    def __init__(self, bootstrap_servers: str, topics: Sequence[str], label_of: Labeler) -> None:
        super().__init__(bootstrap_servers, topics)
        self.label_of = label_of
        self.seen: dict[tuple[str, str], float] = {}

    def take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        assert record.key is not None
        label = self.label_of(record.topic, dict(record.headers), record.value or b"")
        if label is not None:
            self.seen.setdefault((record.key.decode(), label), record.timestamp / 1000)

    def through(self, keys: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        """When each key had reached every label (the latest of them), for those that have."""
        done = {}
        for key in keys:
            times = [self.seen.get((key, label)) for label in labels]
            if all(t is not None for t in times):
                done[key] = max(t for t in times if t is not None)
        return done

    async def wait_for(self, keys: Sequence[str], labels: Sequence[str], stall_s: float) -> None:
        """Until every key reached every label, or none made progress for ``stall_s``."""
        await self.wait(lambda: len(self.through(keys, labels)), len(keys), stall_s)


# --- 1. the relay chain --------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayResult:
    messages: int
    through: int
    elapsed_s: float
    cpu: CpuUse
    peak_rss_mib: dict[str, float]

    @property
    def per_s(self) -> float:
        return self.through / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_relay(
    options: Options, infra: Infra, stages: Sequence[Stage], ends: Sequence[str], count: int
) -> RelayResult:
    prefix = f"bench.relay.{options.run_id}.{uuid.uuid4().hex[:6]}"
    topics = sorted(
        {prefix + "." + s.source for s in stages}
        | {prefix + "." + topic for s in stages for topic, _ in s.sinks}
    )
    asyncio.run(_create_topics(infra.bootstrap_servers, topics))
    with ExitStack() as stack:
        relays: dict[str, subprocess.Popen[bytes]] = {}
        for stage in stages:
            argv = [
                sys.executable, "-m", "tests.bench.relay",
                "--bootstrap", infra.bootstrap_servers,
                "--source", f"{prefix}.{stage.source}",
                "--group", f"{prefix}.{stage.name}",
            ]  # fmt: skip
            for topic, ce_type in stage.sinks:
                argv += ["--sink", f"{prefix}.{topic}:{example_size(ce_type)}"]
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            stack.callback(procs.stop, process, 10)
            relays[stage.name] = process
        for name, process in relays.items():
            _wait_relay_ready(name, process)
        pids = {f"relay {n}": p.pid for n, p in relays.items()} | infra.pids
        pids[BENCH] = os.getpid()
        result = asyncio.run(
            _drive_relay(infra.bootstrap_servers, prefix, stages[0].source, ends, count, pids)
        )
    return result


def _wait_relay_ready(name: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    output = b""
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        output += process.stdout.read() or b""
        if b"relay ready" in output:
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise procs.ProcessFailedError(f"relay {name} never got ready:\n{output.decode()[-2000:]}")


async def _create_topics(bootstrap: str, topics: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
    finally:
        await admin.close()


async def _drive_relay(
    bootstrap: str,
    prefix: str,
    source: str,
    ends: Sequence[str],
    count: int,
    pids: Mapping[str, int],
) -> RelayResult:
    labels = [f"{prefix}.{end}" for end in ends]
    reader = FirstSeen(bootstrap, labels, by_topic)
    await reader.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    body = b"x" * example_size(INBOUND_TYPE)
    keys = [f"m{i}" for i in range(count)]
    try:
        meter = CpuMeter(pids)
        meter.start()
        started = time.time()
        sends = [await producer.send(f"{prefix}.{source}", body, key=k.encode()) for k in keys]
        await asyncio.gather(*sends)
        await reader.wait_for(keys, labels, stall_s=30)
        cpu = meter.stop()
    finally:
        await producer.stop()
        await reader.stop()
    done = reader.through(keys, labels)
    elapsed = (max(done.values()) - started) if done else math.nan
    return RelayResult(count, len(done), elapsed, cpu, peak_rss_mib(pids))


# --- 2 and 3. the pipeline -----------------------------------------------------------------------


@dataclass
class Posted:
    at: dict[str, float] = field(default_factory=dict)  # ticket id -> epoch s the post left
    failures: int = 0


@dataclass(frozen=True)
class PipelineResult:
    tickets: int
    through: int
    elapsed_s: float
    offer_ms: tuple[float, ...]  # sorted latencies, request → offer
    ack_ms: tuple[float, ...]  # request → acknowledgement sent
    failures: int
    cpu: CpuUse | None = None

    @property
    def per_s(self) -> float:
        return self.through / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_pipeline(
    options: Options, sizes: Sizes, infra: Infra, smtp_port: int
) -> tuple[PipelineResult, PipelineResult, dict[str, float]]:
    database = f"opora_bench_pipeline_{options.run_id}".replace("-", "_")
    with ExitStack() as stack:
        deployed = deploy_services(
            stack,
            infra,
            database=database,
            smtp_port=smtp_port,
            logs=options.work_dir / "logs/pipeline",
            env={"OTEL_TRACES_EXPORTER": "none"},
        )
        pids = deployed.pids | infra.pids
        pids[BENCH] = os.getpid()
        corpus = Corpus(
            seed=options.seed, run_id=f"{options.run_id}-p", channel_mix={"web-form": 1.0}
        )
        saturated, half = asyncio.run(
            _drive_pipeline(
                deployed.services["intake"].url,
                deployed.api_key,
                new_conversations(corpus),
                options.http_workers,
                sizes,
                infra.bootstrap_servers,
                pids,
            )
        )
        deployed.check_alive()
        peaks = peak_rss_mib(pids)
    return saturated, half, peaks


async def _agents_online(bootstrap: str) -> None:
    """``AGENT_COUNT`` agents with the demo agents' skills and 100 web-form slots each."""
    template = AGENTS[0].profile()
    async with event_producer(bootstrap) as publish:
        for i in range(AGENT_COUNT):
            agent_id = f"bench-agent-{i:03d}"
            profile = template.model_copy(
                update={
                    "agent_id": agent_id,
                    "name": f"Bench {i}",
                    "languages": ("ru", "en"),
                    "capacity": {Channel.WEB_FORM: 100, Channel.EMAIL: 100},
                }
            )
            await publish(profile)
            await publish(AgentPresenceChangedV1(agent_id=agent_id, presence=Presence.ONLINE))


ENDS = ("offered", "acknowledged")


async def _drive_pipeline(
    url: str,
    api_key: str,
    messages: Iterator[InboundMessage],
    workers: int,
    sizes: Sizes,
    bootstrap: str,
    pids: Mapping[str, int],
) -> tuple[PipelineResult, PipelineResult]:
    reader = FirstSeen(bootstrap, [ROUTING.name, NOTIFICATIONS.name], pipeline_ends)
    await reader.start()
    await _agents_online(bootstrap)
    limits = httpx.Limits(max_connections=workers * 4, max_keepalive_connections=workers)
    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    try:
        async with httpx.AsyncClient(
            base_url=url, headers=headers, limits=limits, timeout=60.0
        ) as client:
            warm = await post_all(client, _take(messages, sizes.warmup), workers)
            await reader.wait_for(warm.tickets, ENDS, stall_s=180)
            if len(reader.through(warm.tickets, ENDS)) < len(warm.tickets):
                raise RuntimeError(
                    "pipeline bench: the warm-up tickets were not all offered and acknowledged "
                    f"({len(reader.through(warm.tickets, ENDS))}/{len(warm.tickets)})"
                )
            meter = CpuMeter(pids)
            meter.start()
            posted = await _post_closed(client, _take(messages, sizes.tickets), workers)
            await reader.wait_for(list(posted.at), ENDS, sizes.stall_s)
            saturated = _result(reader, posted, cpu=meter.stop())
            rate = max(saturated.per_s / 2, 0.2)
            posted = await _post_open(client, _take(messages, sizes.half_load_tickets), rate)
            await reader.wait_for(list(posted.at), ENDS, sizes.stall_s)
            half = _result(reader, posted)
    finally:
        await reader.stop()
    return saturated, half


async def _post_one(client: httpx.AsyncClient, message: InboundMessage, posted: Posted) -> None:
    record = to_record(message)
    sent = time.time()
    try:
        response = await client.post(f"/v1/inbound/{record.slug}", content=record.value)
    except httpx.HTTPError:
        posted.failures += 1
        return
    if response.status_code == 201:
        posted.at[response.json()["ticket_id"]] = sent
    else:
        posted.failures += 1


async def _post_closed(
    client: httpx.AsyncClient, messages: Iterator[InboundMessage], workers: int
) -> Posted:
    """As fast as ``workers`` clients can, each taking the next message when it is free."""
    posted = Posted()

    async def worker() -> None:
        for message in messages:
            await _post_one(client, message, posted)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return posted


async def _post_open(
    client: httpx.AsyncClient, messages: Iterator[InboundMessage], rate: float
) -> Posted:
    """One request every 1/``rate`` s whatever the answers take (an open-loop load)."""
    posted = Posted()
    start = time.monotonic()
    sending = []
    for i, message in enumerate(messages):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        sending.append(asyncio.create_task(_post_one(client, message, posted)))
    await asyncio.gather(*sending)
    return posted


def _result(reader: FirstSeen, posted: Posted, cpu: CpuUse | None = None) -> PipelineResult:
    keys = list(posted.at)
    done = reader.through(keys, ENDS)
    first = min(posted.at.values()) if posted.at else math.nan
    elapsed = (max(done.values()) - first) if done else math.nan

    def latencies(label: str) -> tuple[float, ...]:
        found = (reader.seen.get((k, label)) for k in keys)
        return tuple(
            sorted(1000 * (t - posted.at[k]) for k, t in zip(keys, found, strict=True) if t)
        )

    return PipelineResult(
        tickets=len(keys),
        through=len(done),
        elapsed_s=elapsed,
        offer_ms=latencies("offered"),
        ack_ms=latencies("acknowledged"),
        failures=posted.failures,
        cpu=cpu,
    )


def _take(messages: Iterator[InboundMessage], count: int) -> Iterator[InboundMessage]:
    for _ in range(count):
        yield next(messages)


def peak_rss_mib(pids: Mapping[str, int]) -> dict[str, float]:
    """Each live process's peak resident memory (``VmHWM``) in MiB."""
    peaks = {}
    for name, pid in pids.items():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[name] = int(line.split()[1]) / 1024
    return peaks


# --- the run and its numbers ----------------------------------------------------------------------


def run(options: Options) -> Section:
    sizes = Sizes.of(options)
    with ExitStack() as stack:
        infra = stack.enter_context(kafka_and_mongodb(options.work_dir / "pipeline"))
        smtp = Controller(AcceptAll(), hostname="127.0.0.1", port=procs.free_port())
        smtp.start()
        stack.callback(smtp.stop)
        _progress(f"pipeline: no-op relay chain, {sizes.relay_messages} messages")
        chain = run_relay(options, infra, CHAIN, ("routing", "notifications"), sizes.relay_messages)
        _progress(f"pipeline: chain {chain.per_s:.0f}/s; single hop")
        single = run_relay(options, infra, SINGLE, ("single-out",), sizes.relay_messages)
        _progress(f"pipeline: single hop {single.per_s:.0f}/s; the five services")
        saturated, half, peaks = run_pipeline(options, sizes, infra, smtp.port)
        _progress(
            f"pipeline: {saturated.per_s:.2f} requests/s saturated; "
            f"half load p99 to offer {_p(half.offer_ms, 99):.0f} ms"
        )
        setup = {"infra": infra.source, "cores": os.cpu_count()}
    return section(chain, single, saturated, half, peaks, setup)


def _p(values: Sequence[float], q: float) -> float:
    return percentile(values, q) if values else math.nan


def section(
    chain: RelayResult,
    single: RelayResult,
    saturated: PipelineResult,
    half: PipelineResult,
    peaks: Mapping[str, float],
    setup: Mapping[str, object],
) -> Section:
    ratio = saturated.per_s / chain.per_s if chain.per_s else math.nan
    cores = saturated.cpu.cores_by_process if saturated.cpu else {}
    offer_p99 = _p(half.offer_ms, 99)
    lines = [
        f"  on {setup['cores']} cores, {setup['infra']}",
        *table(
            ["what", "result", "target"],
            [
                ["single hop, no-op relay", f"{fmt(single.per_s)} msg/s", ""],
                ["no-op relay chain (pipeline's shape)", f"{fmt(chain.per_s)} msg/s", ""],
                [
                    "pipeline, saturated",
                    f"{fmt(saturated.per_s)} requests/s "
                    f"({saturated.through}/{saturated.tickets} through)",
                    f"≥ {TARGET_PER_S:.0f}/s",
                ],
                ["pipeline ÷ chain", f"{fmt(100 * ratio)} %", f"≥ {100 * TARGET_RATIO:.0f} %"],
                [
                    f"half load ({fmt(saturated.per_s / 2)}/s) → offer p50/p95/p99",
                    " / ".join(fmt(_p(half.offer_ms, q)) for q in (50, 95, 99)) + " ms",
                    f"p99 ≤ {TARGET_OFFER_P99_MS:.0f} ms",
                ],
                [
                    "half load → acknowledgement sent p50/p95/p99",
                    " / ".join(fmt(_p(half.ack_ms, q)) for q in (50, 95, 99)) + " ms",
                    "",
                ],
            ],
        ),
        "  CPU (cores busy, saturated phase) and peak RSS per process:",
        *table(
            ["process", "cores", "peak RSS MiB"],
            [
                [name, fmt(cores.get(name, math.nan)), fmt(peaks.get(name, math.nan))]
                for name in sorted(set(peaks) | set(cores))
            ],
        ),
    ]  # fmt: skip
    metrics = [
        Metric("pipeline.single_hop.per_s", "single-hop relay", single.per_s, "msg/s"),
        Metric("pipeline.chain.per_s", "no-op relay chain", chain.per_s, "msg/s"),
        Metric("pipeline.saturated.per_s", "pipeline, saturated", saturated.per_s, "req/s"),
        Metric("pipeline.ratio", "pipeline ÷ chain", ratio, "ratio"),
        Metric("pipeline.half.offer_p99_ms", "half load → offer p99", offer_p99, "ms", "lower"),
        Metric(
            "pipeline.half.ack_p99_ms", "half load → ack p99", _p(half.ack_ms, 99), "ms", "lower"
        ),
    ]
    details = {
        "setup": dict(setup),
        "chain": {"messages": chain.messages, "through": chain.through, "s": chain.elapsed_s},
        "single": {"messages": single.messages, "through": single.through, "s": single.elapsed_s},
        "saturated": {
            "tickets": saturated.tickets,
            "through": saturated.through,
            "s": saturated.elapsed_s,
            "failures": saturated.failures,
        },
        "half": {"tickets": half.tickets, "through": half.through, "failures": half.failures},
        "peak_rss_mib": dict(peaks),
        "targets": {
            "per_s": TARGET_PER_S,
            "offer_p99_ms": TARGET_OFFER_P99_MS,
            "ratio": TARGET_RATIO,
        },
    }
    return Section(
        "pipeline", "The whole pipeline against the Kafka ceiling", lines, metrics, details
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
