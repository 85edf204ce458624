"""Notifications end to end: acknowledgements delivered per second to an SMTP server on loopback,
and the trigger-to-send latency, over real Kafka and a MongoDB-wire server.

notifications runs as its own process from its console script (see ``infra.py``) with a fresh
database and the packaged rules, except that the acknowledgement does not wait for sla's due
time (``wait_for_sla``): the ``TicketOpenedV1`` is then the whole trigger. This process plays
intake: it publishes one ``TicketOpenedV1`` per new customer as fast as the producer takes
them, and runs the SMTP server (aiosmtpd, in a thread) that receives the mail. Both times are
taken on this process's clock: when the event went to the producer, and when the server had
the message's DATA; the latency therefore includes Kafka, notifications' planning (a ticket
view and a record in MongoDB), its timer, the attempt claim, rendering, SMTP and the outcome
write, as a customer would see it.

Two phases:

- **burst**: N tickets published at once; the rate runs from the first publish to the N-th
  e-mail. Latencies here are mostly queueing behind the burst, so they are reported but not
  taken as the latency.
- **paced**: tickets published steadily at half the burst's rate (at most 20/s), so nothing
  queues for long: the trigger-to-send latency (p50, p90, p99) of a desk under load.

Each send opens its own SMTP connection (``aiosmtplib.send``), as the service does; at most
``max_concurrent_sends`` (16) are under way at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from email import message_from_bytes
from importlib import resources
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from opora_localstack import procs
from opora_localstack.services import ServiceEnv, service_env
from opora_notifications.domain.rules import parse_rules
from opora_shared.contracts.base import cloudevent_headers, utc_now
from opora_shared.contracts.common import Channel, CustomerRef, Priority, RequestType
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.testing import drop_database

from tests.bench.infra import ServiceProcess, kafka_and_mongodb
from tests.bench.measure import CpuMeter, CpuUse, percentile
from tests.bench.options import Options
from tests.bench.report import Metric, Section, fmt

SOURCE = "opora/bench"
TARGET_PER_S = 50.0
"""A busy desk's peak: intake's HTTP ingest opens a few dozen tickets a second here, and each
one is acknowledged; notifications should not be the narrower pipe."""
TARGET_P99_MS = 2000.0
"""The acknowledgement should arrive while the customer still looks at the form they sent."""
PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class Sizes:
    warmup: int
    count: int  # the burst
    paced: int  # the paced phase
    stall_s: float  # no new e-mail for this long ends a phase

    @classmethod
    def of(cls, options: Options) -> Sizes:
        if options.quick:
            return cls(warmup=5, count=100, paced=40, stall_s=30.0)
        return cls(warmup=10, count=600, paced=200, stall_s=60.0)


class Inbox:
    """An aiosmtpd handler that notes when each message arrived (perf_counter) and to whom."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.duplicates = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        now = time.perf_counter()
        to = str(message_from_bytes(envelope.content)["To"])
        address = to.rsplit("<", 1)[-1].rstrip(">").strip()
        with self.lock:
            if address in self.arrived:
                self.duplicates += 1
            else:
                self.arrived[address] = now
        return "250 OK"

    def count(self, addresses: list[str]) -> int:
        with self.lock:
            return sum(1 for a in addresses if a in self.arrived)


def _rules_without_sla_wait() -> str:
    text = resources.files("opora_notifications").joinpath("rules/notifications.yaml").read_text()
    data = yaml.safe_load(text)
    for rule in data["notifications"]:
        if rule["intent"] == "ticket.acknowledged":
            rule.pop("wait_for_sla", None)
    out = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    parse_rules(out)  # a mistake fails here, not as a service that never starts
    return out


def _opened(prefix: str, number: int) -> tuple[TicketOpenedV1, str]:
    address = f"{prefix}-{number:06d}@example.com"
    event = TicketOpenedV1(
        ticket_id=f"{prefix}-ticket-{number:06d}",
        number=f"OP-{number:06d}",
        channel=Channel.WEB_FORM,
        customer=CustomerRef(
            customer_id=f"{prefix}-customer-{number:06d}",
            name="Иван Петров" if number % 4 else "Anna Smith",
            email=address,
            language="ru" if number % 4 else "en",
        ),
        subject="Стиральная машина не включается",
        request_type=RequestType.TECHNICAL_SUPPORT,
        priority=Priority.NORMAL,
        language="ru" if number % 4 else "en",
        source_message_id=f"{prefix}-form-{number:06d}",
        occurred_at=utc_now(),
    )
    return event, address


@dataclass
class Outcome:
    published_in_s: float
    delivered: int
    duplicates: int
    rate_per_s: float
    burst_latency_ms: dict[str, float]
    paced_rate_per_s: float
    paced_delivered: int
    latency_ms: dict[str, float]
    cpu: CpuUse


def _latencies(inbox: Inbox, sent: dict[str, float]) -> dict[str, float]:
    found = sorted(1000 * (inbox.arrived[a] - t) for a, t in sent.items() if a in inbox.arrived)
    return {f"p{q:g}": percentile(found, q) for q in PERCENTILES}


async def drive(
    bootstrap: str, inbox: Inbox, sizes: Sizes, prefix: str, pids: dict[str, int]
) -> Outcome:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:

        async def publish(numbers: range, per_s: float = 0.0) -> dict[str, float]:
            sent: dict[str, float] = {}
            pending = []
            began = time.perf_counter()
            for index, number in enumerate(numbers):
                if per_s:
                    await asyncio.sleep(max(0.0, began + index / per_s - time.perf_counter()))
                event, address = _opened(prefix, number)
                headers = cloudevent_headers(event, source=SOURCE)
                sent[address] = time.perf_counter()
                pending.append(
                    await producer.send(
                        event.topic.name,
                        json.dumps(event.model_dump(mode="json")).encode(),
                        key=event.partition_key.encode(),
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                )
            await asyncio.gather(*pending)
            return sent

        async def delivered(addresses: list[str], stall_s: float) -> int:
            last, seen = time.monotonic(), 0
            while (now := inbox.count(addresses)) < len(addresses):
                if now > seen:
                    last, seen = time.monotonic(), now
                elif time.monotonic() - last > stall_s:
                    break
                await asyncio.sleep(0.05)
            return inbox.count(addresses)

        # Warm-up: proves the consumer group is joined and every path is hot.
        warm = await publish(range(sizes.warmup))
        if await delivered(list(warm), 120.0) < sizes.warmup:
            raise RuntimeError("notifications bench: the warm-up e-mails never arrived")
        meter = CpuMeter(pids)
        meter.start()
        started = time.perf_counter()
        sent = await publish(range(sizes.warmup, sizes.warmup + sizes.count))
        published_in = time.perf_counter() - started
        count = await delivered(list(sent), sizes.stall_s)
        cpu = meter.stop()
        arrivals = sorted(inbox.arrived[a] for a in sent if a in inbox.arrived)
        rate = count / (arrivals[-1] - started) if arrivals else 0.0
        paced_rate = min(20.0, max(1.0, rate / 2))
        first = sizes.warmup + sizes.count
        paced = await publish(range(first, first + sizes.paced), paced_rate)
        paced_count = await delivered(list(paced), sizes.stall_s)
    finally:
        await producer.stop()
    return Outcome(
        published_in_s=published_in,
        delivered=count,
        duplicates=inbox.duplicates,
        rate_per_s=rate,
        burst_latency_ms=_latencies(inbox, sent),
        paced_rate_per_s=paced_rate,
        paced_delivered=paced_count,
        latency_ms=_latencies(inbox, paced),
        cpu=cpu,
    )


def run(options: Options) -> Section:
    sizes = Sizes.of(options)
    rules_file = options.work_dir / "notifications-bench.yaml"
    rules_file.parent.mkdir(parents=True, exist_ok=True)
    rules_file.write_text(_rules_without_sla_wait(), encoding="utf-8")
    database = f"opora_bench_notifications_{options.run_id}".replace("-", "_")
    log_file = options.work_dir / "logs/notifications.log"
    inbox = Inbox()
    with ExitStack() as stack:
        infra = stack.enter_context(kafka_and_mongodb(options.work_dir / "notifications"))
        if not infra.pids:  # someone else's servers: leave them as they were
            stack.callback(drop_database, infra.mongodb_uri, database)
        smtp = Controller(inbox, hostname="127.0.0.1", port=procs.free_port())
        smtp.start()
        stack.callback(smtp.stop)
        port = procs.free_port()
        env = service_env(
            "notifications",
            port,
            ServiceEnv(
                kafka_bootstrap_servers=infra.bootstrap_servers,
                mongodb_uri=infra.mongodb_uri,
                mongodb_database=database,
                smtp_port=smtp.port,
            ),
        ) | {"OPORA_NOTIFICATIONS_RULES_FILE": str(rules_file)}
        started = time.monotonic()
        service = stack.enter_context(ServiceProcess("notifications", port, env, log_file))
        ready_s = time.monotonic() - started
        pids = {"notifications": service.pid, "bench (producer, SMTP)": os.getpid(), **infra.pids}
        prefix = f"bench-{options.run_id}"
        outcome = asyncio.run(drive(infra.bootstrap_servers, inbox, sizes, prefix, pids))
        if service.service.process is not None and service.service.process.poll() is not None:
            raise procs.ProcessFailedError(
                "notifications exited during the run:\n" + procs.tail(log_file)
            )
    return _section(outcome, sizes, infra.source, ready_s)


def _section(outcome: Outcome, sizes: Sizes, infra: str, ready_s: float) -> Section:
    p99 = outcome.latency_ms["p99"]
    cores = outcome.cpu.cores_by_process.get("notifications", 0.0)
    cpu_ms = 1000 * cores * outcome.cpu.wall_s / outcome.delivered if outcome.delivered else 0.0
    lines = [
        f"  {sizes.count} acknowledgements (after {sizes.warmup} warm-up), one per new customer, "
        f"published in {outcome.published_in_s:.2f} s; notifications ready in {ready_s:.1f} s; "
        f"{infra}",
        f"  burst: delivered {outcome.delivered}/{sizes.count}, duplicates {outcome.duplicates}; "
        f"{fmt(outcome.rate_per_s)}/s (target {TARGET_PER_S:g}/s: "
        f"{outcome.rate_per_s / TARGET_PER_S:.2f}x); queued behind the burst: "
        + ", ".join(f"{k} {fmt(v)} ms" for k, v in outcome.burst_latency_ms.items()),
        f"  paced at {fmt(outcome.paced_rate_per_s)}/s: delivered "
        f"{outcome.paced_delivered}/{sizes.paced}; trigger → SMTP DATA "
        + ", ".join(f"{k} {fmt(v)} ms" for k, v in outcome.latency_ms.items())
        + f" (p99 target {TARGET_P99_MS:g} ms: {TARGET_P99_MS / p99:.2f}x)",
        "  CPU over the burst (cores busy): "
        + ", ".join(
            f"{name} {use:.2f}" for name, use in sorted(outcome.cpu.cores_by_process.items())
        )
        + f"; machine {outcome.cpu.machine_busy:.0%}; notifications {fmt(cpu_ms)} ms per message",
    ]
    metrics = [
        Metric("notifications.sent_per_s", "notifications delivered", outcome.rate_per_s, "/s"),
        *(
            Metric(
                f"notifications.latency_{k}_ms", f"notifications trigger→send {k}", v, "ms", "lower"
            )
            for k, v in outcome.latency_ms.items()
        ),
        Metric(
            "notifications.cpu_ms_per_message",
            "notifications CPU per message",
            cpu_ms,
            "ms",
            "lower",
        ),
        Metric(
            "notifications.undelivered",
            "notifications not delivered",
            sizes.count + sizes.paced - outcome.delivered - outcome.paced_delivered,
            "",
            "lower",
        ),
        Metric(
            "notifications.duplicates",
            "notifications delivered twice",
            outcome.duplicates,
            "",
            "lower",
        ),
    ]
    return Section(
        name="notifications",
        title="notifications: acknowledgements to a loopback SMTP server over real Kafka",
        lines=lines,
        metrics=metrics,
        details={
            "sizes": asdict(sizes),
            "targets": {"per_s": TARGET_PER_S, "p99_ms": TARGET_P99_MS},
        },
    )
