"""HTTP ingest: requests/s and latency of ``POST /v1/inbound/{channel}`` on the real service.

intake runs as its own process from its console script, against real Kafka and a MongoDB-wire
server (see ``infra.py``), with a fresh database and an API key made for this run. A closed-loop
load generator in this process (``httpx.AsyncClient``, N concurrent workers on keep-alive
connections) posts unique web-form, chat and SMS messages for a fixed time after a warm-up;
each request's latency is kept (sorted samples, exact percentiles). The CPU each process used
meanwhile is read from /proc, because on a small machine the load generator, the broker and
the database share the cores with the service being measured.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
from opora_localstack import procs
from opora_localstack.services import ServiceEnv, service_env
from opora_shared.contracts.inbound import InboundMessage
from opora_shared.testing import drop_database

from tests.bench.corpus import HTTP_CHANNEL_MIX, Corpus, to_record
from tests.bench.infra import ServiceProcess, kafka_and_mongodb
from tests.bench.measure import CpuMeter, CpuUse, percentile, summarise
from tests.bench.options import Options
from tests.bench.report import Metric, Section, fmt, table

OK_STATUSES = frozenset({200, 201})  # 201 opened a ticket, 200 joined one
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
QUARTERS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))
LOAD_GENERATOR = "load generator (this process)"


@dataclass
class Tally:
    duration_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)  # of successful requests
    finished_s: list[float] = field(default_factory=list)  # when each of them ended, from start
    outcomes: Counter[str] = field(default_factory=Counter)  # status code or exception name

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def failed(self) -> int:
        return sum(self.outcomes.values()) - self.ok

    @property
    def opened(self) -> int:
        return self.outcomes["201"]

    def rate_between(self, start: float, end: float) -> float:
        """Successful requests per second among those that ended in [start, end) of the phase."""
        low, high = start * self.duration_s, end * self.duration_s
        return sum(1 for t in self.finished_s if low <= t < high) / (high - low)

    def latencies_between(self, start: float, end: float) -> list[float]:
        low, high = start * self.duration_s, end * self.duration_s
        return sorted(
            latency
            for latency, t in zip(self.latencies_s, self.finished_s, strict=True)
            if low <= t < high
        )


def run(options: Options) -> Section:
    warmup_s, duration_s = (
        (1.0, 4.0) if options.quick else (options.http_warmup_s, options.http_duration_s)
    )
    api_key = secrets.token_urlsafe(24)
    database = f"opora_bench_{options.run_id}".replace("-", "_")
    with ExitStack() as stack:
        infra = stack.enter_context(kafka_and_mongodb(options.work_dir))
        if not infra.pids:  # someone else's servers: leave them as they were
            stack.callback(drop_database, infra.mongodb_uri, database)
        port = procs.free_port()
        env = service_env(
            "intake",
            port,
            ServiceEnv(
                kafka_bootstrap_servers=infra.bootstrap_servers,
                mongodb_uri=infra.mongodb_uri,
                mongodb_database=database,
                intake_api_key=api_key,
            ),
        )
        log_file = options.work_dir / "logs/intake.log"
        started = time.monotonic()
        intake = stack.enter_context(ServiceProcess("intake", port, env, log_file))
        intake_ready_s = time.monotonic() - started
        pids = {"intake": intake.pid, LOAD_GENERATOR: os.getpid(), **infra.pids}
        messages = iter(
            Corpus(seed=options.seed, run_id=options.run_id, channel_mix=HTTP_CHANNEL_MIX)
        )
        warmup, tally, cpu = asyncio.run(
            drive(
                intake.url,
                api_key,
                messages,
                workers=options.http_workers,
                warmup_s=warmup_s,
                duration_s=duration_s,
                pids=pids,
            )
        )
        if intake.service.process is not None and intake.service.process.poll() is not None:
            raise procs.ProcessFailedError("intake exited during the run:\n" + procs.tail(log_file))
    kept_log = None
    if tally.failed:  # the scratch directory goes; the evidence stays
        kept_log = options.out_dir / f"intake-{options.run_id}.log"
        shutil.copyfile(log_file, kept_log)
    setup = {
        "infra": infra.source,
        "infra_started_in_s": round(infra.started_in_s, 1),
        "intake_ready_in_s": round(intake_ready_s, 1),
        "workers": options.http_workers,
        "warmup_s": warmup_s,
        "duration_s": duration_s,
        "channels": HTTP_CHANNEL_MIX,
        "intake_log": str(kept_log) if kept_log else None,
        "tickets_before": warmup.opened,
    }
    return _section(tally, cpu, setup)


async def drive(
    url: str,
    api_key: str,
    messages: Iterator[InboundMessage],
    *,
    workers: int,
    warmup_s: float,
    duration_s: float,
    pids: Mapping[str, int],
) -> tuple[Tally, Tally, CpuUse]:
    """Warm up, then measure; the CPU meter covers the measured phase only."""
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30.0
    ) as client:
        warmup = await _phase(client, messages, workers, warmup_s)
        meter = CpuMeter(pids)
        meter.start()
        tally = await _phase(client, messages, workers, duration_s)
        return warmup, tally, meter.stop()


async def _phase(
    client: httpx.AsyncClient, messages: Iterator[InboundMessage], workers: int, duration_s: float
) -> Tally:
    tally = Tally()
    started = time.perf_counter()
    stop_at = started + duration_s

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            record = to_record(next(messages))
            sent = time.perf_counter()
            try:
                response = await client.post(f"/v1/inbound/{record.slug}", content=record.value)
            except httpx.HTTPError as error:
                tally.outcomes[type(error).__name__] += 1
                continue
            ended = time.perf_counter()
            tally.outcomes[str(response.status_code)] += 1
            if response.status_code in OK_STATUSES:
                tally.latencies_s.append(ended - sent)
                tally.finished_s.append(ended - started)

    await asyncio.gather(*(worker() for _ in range(workers)))
    tally.duration_s = time.perf_counter() - started
    return tally


def _spread(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return round(summarise(finite).spread_pct, 2) if finite else 0.0


# --- the report -------------------------------------------------------------------------------


def _section(tally: Tally, cpu: CpuUse, setup: dict[str, Any]) -> Section:
    ordered = sorted(tally.latencies_s)
    rate = tally.ok / tally.duration_s if tally.duration_s else 0.0
    latency_ms = {f"p{q:g}": percentile(ordered, q) * 1000 for q in PERCENTILES}
    latency_ms["max"] = ordered[-1] * 1000 if ordered else float("nan")
    latency_ms["mean"] = 1000 * sum(ordered) / len(ordered) if ordered else float("nan")
    # Failed requests did most of the work too (a 500 comes late in accept_message), so the CPU
    # is shared out over every request that got an answer.
    answered = sum(n for outcome, n in tally.outcomes.items() if outcome.isdigit())
    answered_rate = answered / tally.duration_s if tally.duration_s else 0.0
    intake_cores = cpu.cores_by_process.get("intake", 0.0)
    intake_ms = 1000 * intake_cores / answered_rate if answered_rate else float("nan")
    outcomes = dict(sorted(tally.outcomes.items()))
    first, last = tally.rate_between(0, 0.25), tally.rate_between(0.75, 1)
    # No rounds here: the spread of a number over the window's four quarters stands for its noise.
    rate_spread = _spread([tally.rate_between(a, b) for a, b in QUARTERS])
    by_quarter = [tally.latencies_between(a, b) for a, b in QUARTERS]
    latency_spread = {
        f"p{q:g}": _spread([percentile(part, q) for part in by_quarter if part])
        for q in PERCENTILES
    }
    latency_spread["max"] = _spread([part[-1] for part in by_quarter if part])
    tickets_before = setup["tickets_before"]
    lines = [
        f"  intake process, {setup['workers']} concurrent workers (httpx, keep-alive), "
        f"{setup['duration_s']:g} s after a {setup['warmup_s']:g} s warm-up; unique "
        + "/".join(HTTP_CHANNEL_MIX)
        + " messages",
        f"  infrastructure: {setup['infra']}"
        + (f", started in {setup['infra_started_in_s']} s" if setup["infra_started_in_s"] else "")
        + f"; intake ready in {setup['intake_ready_in_s']} s",
        "",
        *table(
            ["ok req/s", *[f"{k} ms" for k in latency_ms], "ok", "failed"],
            [[fmt(rate), *[fmt(v) for v in latency_ms.values()], str(tally.ok), str(tally.failed)]],
        ),
        "",
        "  answers: " + ", ".join(f"{k} × {v}" for k, v in outcomes.items()),
        f"  drift: {fmt(first)} req/s in the first quarter, {fmt(last)} in the last "
        f"({last / first if first else float('nan'):.2f}x) while the database grew from "
        f"{tickets_before} to {tickets_before + tally.opened} tickets",
        *(
            [f"  {tally.failed} requests failed; intake's log is kept: {setup['intake_log']}"]
            if setup["intake_log"]
            else []
        ),
        f"  CPU during the measurement, in cores of {os.cpu_count()} "
        f"(machine {cpu.machine_busy:.0%} busy; kernel share in brackets):",
        "    "
        + ", ".join(
            f"{name} {cores:.2f} ({cpu.system_share.get(name, 0):.0%})"
            for name, cores in cpu.cores_by_process.items()
        )
        + f", other processes on the machine {cpu.other_cores:.2f}",
        f"  intake CPU per answered request: {fmt(intake_ms)} ms → at most "
        f"~{fmt(1000 / intake_ms)} requests/s per core given to intake",
    ]
    metrics = [
        Metric("http.requests_per_s", "HTTP ingest", rate, "req/s", "higher", rate_spread),
        *[
            Metric(f"http.latency_{k}_ms", f"HTTP latency {k}", v, "ms", "lower", latency_spread[k])
            for k, v in latency_ms.items()
            if k != "mean"
        ],
        Metric("http.failed", "HTTP failed requests", float(tally.failed), "req", "lower"),
        Metric(
            "http.drift",
            "HTTP req/s last ÷ first quarter",
            last / first if first else float("nan"),
            "x",
            better=None,
        ),
        Metric(
            "http.intake_cpu_ms_per_request", "intake CPU per request", intake_ms, "ms", "lower"
        ),
    ]
    details = {
        **setup,
        "requests_ok": tally.ok,
        "requests_failed": tally.failed,
        "outcomes": outcomes,
        "measured_s": tally.duration_s,
        "latency_ms": latency_ms,
        "requests_per_s_first_quarter": first,
        "requests_per_s_last_quarter": last,
        "tickets_after": tickets_before + tally.opened,
        "cpu_cores_by_process": cpu.cores_by_process,
        "cpu_kernel_share_by_process": cpu.system_share,
        "cpu_cores_other_processes": cpu.other_cores,
        "machine_busy": cpu.machine_busy,
    }
    return Section(
        "http",
        "HTTP ingest: POST /v1/inbound/{channel} → intake → Kafka + MongoDB",
        lines,
        metrics,
        details,
    )
