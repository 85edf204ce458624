"""feedback: report latency with 1,000,000 stored answers, and answers taken in per second.

feedback runs as its own process from its console script, against real Kafka and a MongoDB-wire
server (see ``infra.py``) and fresh databases.

- **seed**: 1,000,000 answers (``--feedback-responses``; 50,000 with ``--quick``) of surveys
  issued over the last 180 days to 60 agents in 10 teams, on six channels and nine request types,
  with the questions the packaged survey rules ask, inserted into ``survey_responses`` exactly as
  feedback stores them (``insert_many`` in batches of 10,000). Their rollups are computed in this
  process with ``rollups.rebuild`` (the function the incremental folding is tested against) and
  written to the rollup collections; the seeding time is reported, not measured against anything.
  Invitations and revisions are not seeded: the reports read neither.
- **reports**: typical reports over HTTP, one after the other, each asked ``REQUESTS`` times after
  a warm-up: by agent over 30 days, by team over 90, by channel over everything, by request type
  over a calendar month, daily and monthly trends (these read spans and months), and three
  filtered ones, which read one facet per month of their period: an agent by request type over 30
  days, a team by agent over 90 days, and a channel's daily trend over 30 days. The target is
  50 ms at the 99th percentile for every report; the latency is a client's, FastAPI and the JSON
  included.
- **ingest**: ``ANSWERS`` tickets are opened and solved on Kafka against a feedback process on an
  empty database; once it has issued their invitations, their answers are posted to its API by
  16 concurrent clients. Reported: invitations issued per second, answers accepted per second
  (stored, published, through the outbox), and answers per second through to the report (until
  the rollup consumer has folded the last one). Then a few answers go, one at a time, to the
  process on the seeded database: FerretDB 1.24 finds a document by ``_id`` by reading its table
  up to it (its ``_id`` index serves uniqueness, not lookups), so there every answer reads the
  million-answer table; on MongoDB the lookups use the index and the empty-database rate holds.

With ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` set, those servers are used and the bench
database is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opora_feedback.adapters.repository import MongoResponseStore, response_fields
from opora_feedback.adapters.rollups import MongoRollupStore
from opora_feedback.domain.metrics import SCALES, Tally, answer_tally, issued_tally
from opora_feedback.domain.model import SurveyResponse
from opora_feedback.domain.rollups import Contribution, Slice, rebuild
from opora_feedback.domain.rules import load_rules
from opora_localstack import procs
from opora_localstack.services import ServiceEnv, service_env
from opora_shared.contracts.base import Event, cloudevent_headers
from opora_shared.contracts.common import Channel, CustomerRef, RequestType, TicketStatus
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import FEEDBACK
from opora_shared.testing import drop_database
from pymongo import AsyncMongoClient

from tests.bench.infra import Infra, ServiceProcess, kafka_and_mongodb
from tests.bench.measure import percentile
from tests.bench.options import Options
from tests.bench.report import Metric, Section, fmt, table

DEFAULT_RESPONSES = 1_000_000
QUICK_RESPONSES = 50_000
TARGET_P99_MS = 50.0
DAYS = 180
AGENTS = 60
TEAMS = 10
SEED_BATCH = 10_000
API_KEY = "bench-reports-key-0123456789"
WORKERS = 16
# How long the ingest waits for invitations and for the report before calling the run failed: a
# guard against a hang, not a target (on a 2-core machine shared with other work, 1,000
# invitations took over 300 s).
PATIENCE_S = 900.0
PERCENTILES = (50.0, 90.0, 99.0)

CHANNEL_MIX: dict[Channel, int] = {
    Channel.EMAIL: 40,
    Channel.CHAT: 20,
    Channel.WEB_FORM: 15,
    Channel.MESSENGER: 15,
    Channel.PHONE: 5,
    Channel.SMS: 5,
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
ANSWERED: dict[SurveyType, float] = {SurveyType.CSAT: 0.7, SurveyType.NPS: 0.5, SurveyType.CES: 0.6}
SCORE_WEIGHTS: dict[SurveyType, list[int]] = {
    SurveyType.CSAT: [5, 6, 10, 30, 49],
    SurveyType.NPS: [3, 2, 2, 3, 3, 5, 7, 12, 18, 20, 25],
    SurveyType.CES: [4, 5, 8, 13, 20, 25, 25],
}


@dataclass(frozen=True)
class Sizes:
    responses: int
    requests: int  # per report query
    warmup: int
    answers: int  # the ingest phase, into an empty database
    large_sample: int  # answers ingested into the seeded database

    @classmethod
    def of(cls, options: Options) -> Sizes:
        quick = options.quick
        return cls(
            responses=options.feedback_responses
            or (QUICK_RESPONSES if quick else DEFAULT_RESPONSES),
            requests=30 if quick else 200,
            warmup=3 if quick else 10,
            answers=150 if quick else 1_000,
            large_sample=2 if quick else 3,
        )


def _pick(rng: random.Random, mix: Mapping[Any, int]) -> Any:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class Seeded:
    responses: int
    surveys: int
    nodes: int
    insert_s: float
    rebuild_s: float
    by_type: dict[str, int]


def _history(
    rng: random.Random, count: int, today: date, zone: Any
) -> Iterator[tuple[dict[str, Any], Contribution | None]]:
    """Answer documents as feedback stores them, each with what its survey adds to the rollups
    (the survey's issue counted with its first answer)."""
    rules = load_rules()
    made = 0
    ticket = 0
    while made < count:
        ticket += 1
        request_type = _pick(rng, REQUEST_MIX)
        channel = _pick(rng, CHANNEL_MIX)
        questions = rules.questions_for(request_type, channel)
        if not questions:
            continue
        day = today - timedelta(days=rng.randrange(DAYS))
        issued_at = datetime.combine(day, clock_time(12), zone).astimezone(UTC)
        agent = rng.randrange(AGENTS)
        where = Slice(
            f"bench-agent-{agent:02d}",
            f"bench-team-{agent % TEAMS}",
            channel.value,
            request_type.value,
        )
        issued = Contribution(day, where, issued_tally(questions))
        yield_issue = True
        for question in questions:
            if made >= count or rng.random() > ANSWERED[question]:
                continue
            low, _ = SCALES[question]
            score = (
                low
                + rng.choices(range(len(SCORE_WEIGHTS[question])), weights=SCORE_WEIGHTS[question])[
                    0
                ]
            )
            answered_at = issued_at + timedelta(hours=rng.uniform(1, 72))
            response = SurveyResponse(
                response_id=f"bench-{ticket}:{question.value}",
                ticket_id=f"bench-{ticket}",
                survey_type=question,
                score=score,
                comment="Спасибо, всё хорошо" if rng.random() < 0.15 else None,
                revision=1,
                first_recorded_at=answered_at,
                updated_at=answered_at,
            )
            doc = response_fields(
                response,
                agent_id=where.agent,
                team=where.team,
                channel=where.channel,
                request_type=where.request_type,
                issued_at=issued_at,
            )
            doc["_id"] = response.response_id
            answer = Contribution(day, where, answer_tally(question, score))
            if yield_issue:
                answer = Contribution(day, where, answer.tally + issued.tally)
                yield_issue = False
            made += 1
            yield doc, answer
        if yield_issue:  # an invitation nobody answered still counts as issued
            yield {}, issued


async def seed(mongodb_uri: str, database: str, sizes: Sizes, options: Options) -> Seeded:
    rules = load_rules()
    zone = rules.timezone
    today = datetime.now(zone).date()
    rng = random.Random(options.seed)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    db = client[database]
    await MongoResponseStore(db).create_indexes()  # as the service would: before the data
    by_key: dict[tuple[date, Slice], list[int]] = defaultdict(lambda: [0] * len(Tally().packed()))
    by_type: dict[str, int] = defaultdict(int)
    surveys = 0
    batch: list[dict[str, Any]] = []
    inserted = 0
    started = time.monotonic()
    for doc, contribution in _history(rng, sizes.responses, today, zone):
        if contribution is not None:
            counts = by_key[(contribution.day, contribution.slice)]
            for index, value in enumerate(contribution.tally.packed()):
                counts[index] += value
            surveys += int(any(contribution.tally.packed()[i] for i in (0, 4, 8)))
        if doc:
            batch.append(doc)
            by_type[doc["survey_type"]] += 1
        if len(batch) >= SEED_BATCH:
            await db["survey_responses"].insert_many(batch, ordered=False)
            inserted += len(batch)
            batch = []
            if inserted % 100_000 == 0:
                rate = inserted / (time.monotonic() - started)
                print(f"[bench feedback] seeded {inserted:,} answers ({rate:,.0f}/s)", flush=True)
    if batch:
        await db["survey_responses"].insert_many(batch, ordered=False)
        inserted += len(batch)
    insert_s = time.monotonic() - started
    started = time.monotonic()
    contributions = [Contribution(d, s, Tally.unpacked(c)) for (d, s), c in by_key.items()]
    nodes = rebuild(contributions)
    written = await MongoRollupStore(db).replace_all(nodes.values())
    rebuild_s = time.monotonic() - started
    await client.close()
    return Seeded(inserted, surveys, written, insert_s, rebuild_s, dict(by_type))


# --- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    name: str
    params: dict[str, str]
    filtered: bool = False


def queries(today: date) -> list[Query]:
    def span(days: int) -> dict[str, str]:
        return {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}

    month_end = today.replace(day=1) - timedelta(days=1)
    return [
        Query("by agent, 30 days", {"group_by": "agent", **span(30)}),
        Query("by team, 90 days", {"group_by": "team", **span(90)}),
        Query("by channel, 180 days", {"group_by": "channel", **span(DAYS)}),
        Query(
            "by request type, last month",
            {
                "group_by": "request_type",
                "from": month_end.replace(day=1).isoformat(),
                "to": month_end.isoformat(),
            },
        ),
        Query("total by day, 30 days", {"group_by": "day", **span(30)}),
        Query("total by month, 180 days", {"group_by": "month", **span(DAYS)}),
        Query(
            "one agent by request type, 30 days",
            {"group_by": "request_type", "agent": "bench-agent-07", **span(30)},
            filtered=True,
        ),
        Query(
            "one team by agent, 90 days",
            {"group_by": "agent", "team": "bench-team-3", **span(90)},
            filtered=True,
        ),
        Query(
            "one channel by day, 30 days",
            {"group_by": "day", "channel": Channel.EMAIL.value, **span(30)},
            filtered=True,
        ),
    ]


@dataclass
class Timed:
    query: Query
    ms: list[float]

    def at(self, q: float) -> float:
        return percentile(sorted(self.ms), q)


async def time_reports(url: str, today: date, sizes: Sizes) -> tuple[list[Timed], dict[str, Any]]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    timed: list[Timed] = []
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        everything = await http.get(
            "/v1/reports",
            params={"group_by": "none", "from": "2000-01-01", "to": today.isoformat()},
        )
        everything.raise_for_status()
        for query in queries(today):
            for _ in range(sizes.warmup):
                (await http.get("/v1/reports", params=query.params)).raise_for_status()
            found = Timed(query, [])
            for _ in range(sizes.requests):
                began = time.perf_counter()
                response = await http.get("/v1/reports", params=query.params)
                found.ms.append(1000 * (time.perf_counter() - began))
                response.raise_for_status()
            timed.append(found)
    return timed, everything.json()["total"]


# --- ingest -----------------------------------------------------------------------------------


@dataclass
class Ingest:
    answers: int
    issued_in_s: float
    accepted_in_s: float
    reported_in_s: float
    failed: int
    workers: int


async def ingest(infra: Infra, url: str, count: int, tag: str, *, workers: int = WORKERS) -> Ingest:
    prefix = f"bench-{tag}"
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(
        FEEDBACK.name, bootstrap_servers=infra.bootstrap_servers, auto_offset_reset="latest"
    )
    await producer.start()
    await consumer.start()
    await consumer.getmany(timeout_ms=500)  # positioned at the end before anything is sent
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        started = time.monotonic()
        for number in range(count):
            ticket = f"{prefix}-{number}"
            for event in (
                TicketOpenedV1(
                    ticket_id=ticket,
                    number=f"BN-{number:06d}",
                    channel=Channel.EMAIL,
                    customer=CustomerRef(customer_id=f"{ticket}-c"),
                    request_type=RequestType.ORDER_STATUS,
                    source_message_id=f"{ticket}-m",
                ),
                TicketStatusChangedV1(ticket_id=ticket, status=TicketStatus.SOLVED),
            ):
                await _send(producer, event)
        await producer.flush()
        tokens: dict[str, str] = {}
        deadline = time.monotonic() + PATIENCE_S
        while len(tokens) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    kinds = dict(record.headers)
                    if kinds.get("ce_type") != SurveyIssuedV1.ce_type.encode():
                        continue
                    issued = SurveyIssuedV1.model_validate_json(record.value)
                    if issued.ticket_id.startswith(prefix):
                        tokens[issued.ticket_id] = issued.url.rsplit("/s/", 1)[1]
        issued_in_s = time.monotonic() - started
        if len(tokens) < count:
            raise RuntimeError(f"feedback issued {len(tokens)} of {count} surveys")
        async with httpx.AsyncClient(base_url=url, timeout=900) as http:
            before = await _reported(http, headers)
            queue: asyncio.Queue[str] = asyncio.Queue()
            for token in tokens.values():
                queue.put_nowait(token)
            failed = 0

            async def worker() -> None:
                nonlocal failed
                while not queue.empty():
                    token = queue.get_nowait()
                    answer = await http.post(f"/v1/surveys/{token}/responses", json={"score": 4})
                    failed += answer.status_code != 201

            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(workers)))
            accepted_in_s = time.monotonic() - started
            deadline = time.monotonic() + PATIENCE_S
            while await _reported(http, headers) < before + count - failed:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the rollups did not catch up within {PATIENCE_S:g} s of the last answer"
                    )
                await asyncio.sleep(0.1)
            reported_in_s = time.monotonic() - started
    finally:
        await consumer.stop()
        await producer.stop()
    return Ingest(count, issued_in_s, accepted_in_s, reported_in_s, failed, workers)


async def _send(producer: AIOKafkaProducer, event: Event) -> None:
    headers = cloudevent_headers(event, source="opora/bench")
    await producer.send(
        event.topic.name,
        event.model_dump_json().encode(),
        key=event.partition_key.encode(),
        headers=[(k, v.encode()) for k, v in headers.items()],
    )


async def _reported(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    today = datetime.now(UTC).date()
    report = await http.get(
        "/v1/reports",
        params={
            "from": (today - timedelta(days=2)).isoformat(),
            "to": (today + timedelta(days=2)).isoformat(),
        },
        headers=headers,
    )
    report.raise_for_status()
    return int(report.json()["total"]["csat_responses"])


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    seeded: Seeded
    timed: list[Timed]
    totals: dict[str, Any]
    ingest: Ingest  # into an empty database
    sample: Ingest  # a few answers into the seeded one
    ready_s: float


def feedback_env(infra: Infra, database: str, port: int) -> dict[str, str]:
    return service_env(
        "feedback",
        port,
        ServiceEnv(
            kafka_bootstrap_servers=infra.bootstrap_servers,
            mongodb_uri=infra.mongodb_uri,
            mongodb_database=database,
            survey_token_secret="bench-token-secret-0123456789",
            feedback_public_url=f"http://127.0.0.1:{port}",
        ),
    ) | {
        "OPORA_FEEDBACK_API_KEYS": json.dumps({"bench": API_KEY}),
        "OTEL_TRACES_EXPORTER": "none",
    }


async def reports_then_sample(
    url: str, infra: Infra, sizes: Sizes, tag: str
) -> tuple[list[Timed], dict[str, Any], Ingest]:
    today = datetime.now(load_rules().timezone).date()
    timed, totals = await time_reports(url, today, sizes)
    # One client: on FerretDB every answer reads the million-answer table (see _section).
    return timed, totals, await ingest(infra, url, sizes.large_sample, tag, workers=1)


def run(options: Options) -> Section:
    sizes = Sizes.of(options)
    database = f"opora_bench_feedback_{options.run_id}".replace("-", "_")
    empty = f"{database}_ingest"
    logs = options.work_dir / "logs"
    with ExitStack() as stack:
        infra = stack.enter_context(kafka_and_mongodb(options.work_dir / "feedback"))
        if not infra.pids:  # someone else's servers: leave them as they were
            stack.callback(drop_database, infra.mongodb_uri, database)
            stack.callback(drop_database, infra.mongodb_uri, empty)
        port = procs.free_port()
        env = feedback_env(infra, empty, port)
        with ServiceProcess("feedback", port, env, logs / "feedback-ingest.log") as first:
            ingested = asyncio.run(ingest(infra, first.url, sizes.answers, f"{options.run_id}-a"))
        seeded = asyncio.run(seed(infra.mongodb_uri, database, sizes, options))
        port = procs.free_port()
        env = feedback_env(infra, database, port)
        began = time.monotonic()
        second = stack.enter_context(
            ServiceProcess("feedback", port, env, logs / "feedback-reports.log")
        )
        ready_s = time.monotonic() - began
        timed, totals, sample = asyncio.run(
            reports_then_sample(second.url, infra, sizes, f"{options.run_id}-b")
        )
    return _section(Outcome(seeded, timed, totals, ingested, sample, ready_s), sizes, infra)


def _ingest_line(label: str, done: Ingest) -> str:
    return (
        f"  {label}: {done.answers} tickets solved on Kafka, invitations issued in "
        f"{done.issued_in_s:.1f} s ({done.answers / done.issued_in_s:,.1f}/s); answers posted "
        f"by {done.workers} client{'s' if done.workers > 1 else ''} accepted at "
        f"{fmt(done.answers / done.accepted_in_s)}/s"
        + (f" ({fmt(done.accepted_in_s / done.answers)} s each)" if done.workers == 1 else "")
        + f", in the report at {fmt(done.answers / done.reported_in_s)}/s "
        f"({done.failed} failed)"
    )


def _section(outcome: Outcome, sizes: Sizes, infra: Infra) -> Section:
    seeded, ingested, sample = outcome.seeded, outcome.ingest, outcome.sample
    stored = sum(outcome.totals[f"{t}_responses"] for t in ("csat", "nps", "ces"))
    if stored != seeded.responses:
        raise RuntimeError(f"the report counts {stored} answers, {seeded.responses} were seeded")
    filtered = [t for t in outcome.timed if t.query.filtered]
    worst_p99 = max(t.at(99) for t in outcome.timed)
    worst_filtered_p99 = max(t.at(99) for t in filtered)
    by_agent = outcome.timed[0]
    lines = [
        f"  infrastructure: {infra.source}; feedback ready on the seeded database in "
        f"{outcome.ready_s:.1f} s",
        f"  seeded {seeded.responses:,} answers ("
        + ", ".join(f"{t} {n:,}" for t, n in sorted(seeded.by_type.items()))
        + f") of {seeded.surveys:,} surveys over {DAYS} days, {AGENTS} agents, {TEAMS} teams: "
        f"inserted in {seeded.insert_s:.0f} s ({seeded.responses / seeded.insert_s:,.0f}/s); "
        f"{seeded.nodes:,} rollup nodes rebuilt and written in {seeded.rebuild_s:.1f} s",
        f"  the report over everything counts {stored:,} answers (checked against the seed)",
        "",
        f"  reports over HTTP, {sizes.requests} requests each after {sizes.warmup} warm-up, "
        f"one at a time (target p99 ≤ {TARGET_P99_MS:g} ms):",
        *table(
            ["report", *(f"p{q:g} ms" for q in PERCENTILES), "max ms"],
            [
                [t.query.name, *(fmt(t.at(q)) for q in PERCENTILES), fmt(max(t.ms))]
                for t in outcome.timed
            ],
        ),
        f"  worst p99 {fmt(worst_p99)} ms = {worst_p99 / TARGET_P99_MS:.2f} × target "
        f"(filtered: {fmt(worst_filtered_p99)} ms)",
        "",
        _ingest_line("ingest into an empty database", ingested),
        _ingest_line(f"ingest into the {seeded.responses:,}-answer database", sample),
        "  (FerretDB 1.24 finds a document by reading its table up to it: with a million answers "
        "every lookup of an answer reads the table; MongoDB uses the _id index)",
    ]
    metrics = [
        Metric(
            "feedback.report_by_agent_p99_ms",
            "feedback report by agent, 30 days, p99",
            by_agent.at(99),
            "ms",
            "lower",
        ),
        Metric(
            "feedback.report_worst_p99_ms",
            "feedback worst report p99",
            worst_p99,
            "ms",
            "lower",
        ),
        Metric(
            "feedback.report_p99_to_target",
            "feedback worst report p99 ÷ 50 ms target",
            worst_p99 / TARGET_P99_MS,
            "x",
            "lower",
        ),
        Metric(
            "feedback.report_filtered_p99_ms",
            "feedback worst filtered report p99",
            worst_filtered_p99,
            "ms",
            "lower",
        ),
        Metric(
            "feedback.answers_accepted_per_s",
            "feedback answers accepted (empty database)",
            ingested.answers / ingested.accepted_in_s,
            "/s",
        ),
        Metric(
            "feedback.answers_reported_per_s",
            "feedback answers into the report (empty database)",
            ingested.answers / ingested.reported_in_s,
            "/s",
        ),
        Metric(
            "feedback.answers_accepted_per_s_large",
            "feedback answers accepted (seeded database)",
            sample.answers / sample.accepted_in_s,
            "/s",
        ),
        Metric(
            "feedback.surveys_issued_per_s",
            "feedback surveys issued (empty database)",
            ingested.answers / ingested.issued_in_s,
            "/s",
        ),
        Metric(
            "feedback.seed_inserts_per_s",
            "feedback seeding inserts",
            seeded.responses / seeded.insert_s,
            "/s",
            None,
        ),
    ]
    details = {
        "sizes": vars(sizes),
        "reports_ms": {
            t.query.name: {f"p{q:g}": t.at(q) for q in PERCENTILES} for t in outcome.timed
        },
        "seeded": vars(seeded),
        "ingest": vars(ingested),
        "ingest_seeded_database": vars(sample),
    }
    return Section(
        "feedback", "feedback: reports over 1M answers, answers ingested", lines, metrics, details
    )
