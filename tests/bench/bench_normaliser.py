"""Raw inbound record → canonical ticket events, on one core, without I/O.

The whole path a record takes through intake, minus Kafka and MongoDB: the record's JSON bytes
are validated into the channel's model (``model_validate_json``, the model picked by
``ce_type``), accepted by the real use case ``accept_message`` (classification with language
detection, customer identity, threading, numbering, event construction) against an in-memory
repository with indexes, and every resulting event is encoded as the Kafka record
``EventPublisher`` sends. Then each stage alone, to see where the time goes, and the raw e-mail
MIME parse separately (``parse_mime`` over the test fixtures), since it runs only on
``/v1/inbound/email/raw``.

Single process, single thread; rates are per CPU second of that thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from opora_intake.domain.classification import (
    classify,
    clean_text,
    detect_language,
    input_from_message,
)
from opora_intake.domain.email import parse_mime
from opora_intake.domain.service import Policy, accept_message
from opora_shared.contracts.base import Event
from opora_shared.contracts.inbound import InboundCallV1, InboundMessage

from tests.bench.corpus import Corpus, RawRecord, channel_counts
from tests.bench.measure import Rates, cpu_model, measure
from tests.bench.memory import (
    DiscardingPublisher,
    IndexedRepository,
    SerialisingPublisher,
    kafka_record,
)
from tests.bench.options import Options
from tests.bench.report import Metric, Section, fmt, table

REPO = Path(__file__).resolve().parents[2]
EMAIL_FIXTURES = REPO / "services/intake/tests/fixtures/email"


def run(options: Options) -> Section:
    size, rounds, warmup = (300, 3, 1) if options.quick else (1000, 5, 1)
    records = Corpus(seed=options.seed, run_id=options.run_id).records(size)
    policy = Policy()  # the packaged classification rules, loaded once as the service does
    messages = validate(records)
    loop = asyncio.new_event_loop()
    try:

        def run_async(work: Callable[[], Coroutine[Any, Any, int]]) -> Callable[[], int]:
            return lambda: loop.run_until_complete(work())

        publisher = SerialisingPublisher()
        end_to_end = measure(
            run_async(lambda: normalise(records, policy, publisher)), warmup=warmup, rounds=rounds
        )
        events = loop.run_until_complete(produced_events(messages, policy))
        stages: dict[str, tuple[str, Rates]] = {
            "validate": (
                "validate: JSON bytes → model",
                measure(lambda: len(validate(records)), warmup=warmup, rounds=rounds),
            ),
            "classify": (
                "classify (incl. language)",
                measure(lambda: classify_all(messages, policy), warmup=warmup, rounds=rounds),
            ),
            "language": (
                "  of which language detection",
                measure(language_round(messages, policy), warmup=warmup, rounds=rounds),
            ),
            "accept": (
                "accept_message (incl. classify)",
                measure(
                    run_async(lambda: accept_all(messages, policy)), warmup=warmup, rounds=rounds
                ),
            ),
            "serialise": (
                "serialise events → Kafka records",
                measure(lambda: serialise_all(events, len(messages)), warmup=warmup, rounds=rounds),
            ),
        }
    finally:
        loop.close()
    mime = measure_mime(rounds=rounds, warmup=warmup, repeat=5 if options.quick else 15)
    return _section(records, publisher, end_to_end, stages, mime, rounds)


# --- the stages -------------------------------------------------------------------------------


def validate(records: Sequence[RawRecord]) -> list[InboundMessage]:
    return [record.model.model_validate_json(record.value) for record in records]


async def normalise(
    records: Sequence[RawRecord], policy: Policy, publisher: SerialisingPublisher
) -> int:
    """The whole path for every record, against a fresh repository (every message is new)."""
    repo = IndexedRepository()
    for record in records:
        message = record.model.model_validate_json(record.value)
        await accept_message(message, repo, publisher, policy)
    return len(records)


async def accept_all(messages: Sequence[InboundMessage], policy: Policy) -> int:
    repo, publisher = IndexedRepository(), DiscardingPublisher()
    for message in messages:
        await accept_message(message, repo, publisher, policy)
    return len(messages)


async def produced_events(messages: Sequence[InboundMessage], policy: Policy) -> list[Event]:
    repo = IndexedRepository()
    kept: list[Event] = []

    class Keeping:
        async def publish(self, event: Event) -> None:
            kept.append(event)

    for message in messages:
        await accept_message(message, repo, Keeping(), policy)
    return kept


def classify_all(messages: Sequence[InboundMessage], policy: Policy) -> int:
    for message in messages:
        classify(input_from_message(message), policy.rules)
    return len(messages)


def language_round(messages: Sequence[InboundMessage], policy: Policy) -> Callable[[], int]:
    """Detection alone, on the samples classification gives it (calls decide by IVR menu)."""
    settings = policy.rules.language
    samples = []
    for message in messages:
        if isinstance(message, InboundCallV1):
            continue
        inputs = input_from_message(message)
        subject, body = clean_text(inputs.subject), clean_text(inputs.text)
        text = f"{subject}\n{body}" if subject and body else subject or body
        samples.append(text[: settings.sample_chars])

    def round_() -> int:  # counts messages, so the share of the whole is exact
        for sample in samples:
            detect_language(sample, settings.candidates)
        return len(messages)

    return round_


def serialise_all(events: Sequence[Event], message_count: int) -> int:
    """Encodes every event; counts messages, so the rate compares with the other stages."""
    for event in events:
        kafka_record(event)
    return message_count


def measure_mime(*, rounds: int, warmup: int, repeat: int) -> tuple[Rates, int, int]:
    """``parse_mime`` over every e-mail fixture, ``repeat`` times a round; (rates, mails, bytes)."""
    mails = [path.read_bytes() for path in sorted(EMAIL_FIXTURES.glob("*.eml"))]
    if not mails:
        raise FileNotFoundError(f"no e-mail fixtures in {EMAIL_FIXTURES}")

    def round_() -> int:
        for _ in range(repeat):
            for raw in mails:
                parse_mime(raw)
        return repeat * len(mails)

    return measure(round_, warmup=warmup, rounds=rounds), len(mails), sum(map(len, mails))


# --- the report -------------------------------------------------------------------------------


def _section(
    records: Sequence[RawRecord],
    publisher: SerialisingPublisher,
    end_to_end: Rates,
    stages: dict[str, tuple[str, Rates]],
    mime: tuple[Rates, int, int],
    rounds: int,
) -> Section:
    total_us = end_to_end.micros_per_item
    runs = rounds + 1  # the publisher also saw the warm-up round
    rows = [_row("end to end: bytes → events → records", end_to_end, total_us)]
    rows += [_row(label, rates, total_us) for label, rates in stages.values()]
    mime_rates, mail_count, mail_bytes = mime
    mean_mail_kib = mail_bytes / mail_count / 1024
    input_bytes = sum(len(r.value) for r in records)
    events_per_message = publisher.events / runs / len(records)
    by_type = {
        k.removeprefix("opora."): round(v / runs) for k, v in sorted(publisher.by_type.items())
    }
    lines = [
        f"  {len(records)} messages a round ({_mix(records)}), "
        f"mean record {input_bytes / len(records):.0f} B; {rounds} rounds after a warm-up",
        f"  one thread on one core ({cpu_model()}); rate = messages per CPU second, "
        f"thread on-CPU {end_to_end.cpu_busy:.0%} of wall time",
        "",
        *table(["stage", "msg/s per core", "µs/msg", "± spread", "wall msg/s", "share"], rows),
        "",
        f"  out: {events_per_message:.2f} events/msg, "
        f"mean event {publisher.value_bytes / max(publisher.events, 1):.0f} B "
        f"({', '.join(f'{kind} {count}' for kind, count in by_type.items())} a round)",
        "",
        *table(
            ["raw e-mail (parse_mime)", "mails/s per core", "µs/mail", "± spread", "MiB/s"],
            [
                [
                    f"{mail_count} fixtures, mean {mean_mail_kib:.1f} KiB",
                    fmt(mime_rates.per_core.median),
                    fmt(mime_rates.micros_per_item),
                    f"{mime_rates.per_core.spread_pct:.1f}%",
                    fmt(mime_rates.per_core.median * mail_bytes / mail_count / 2**20),
                ]
            ],
        ),
    ]
    metrics = [
        _metric("normaliser.end_to_end", "normaliser end to end", end_to_end),
        *[
            _metric(f"normaliser.{key}", label.strip(), rates)
            for key, (label, rates) in stages.items()
        ],
        _metric("normaliser.mime_parse", "raw e-mail MIME parse", mime_rates, unit="mail/s/core"),
    ]
    details = {
        "messages_per_round": len(records),
        "rounds": rounds,
        "channels": channel_counts(records),
        "mean_record_bytes": input_bytes / len(records),
        "events_per_message": events_per_message,
        "events_by_type_per_round": by_type,
        "mean_event_bytes": publisher.value_bytes / max(publisher.events, 1),
        "thread_on_cpu": end_to_end.cpu_busy,
        "stages_us_per_message": {
            "end_to_end": total_us,
            **{key: rates.micros_per_item for key, (_, rates) in stages.items()},
        },
        "mime": {
            "fixtures": mail_count,
            "bytes": mail_bytes,
            "us_per_mail": mime_rates.micros_per_item,
        },
    }
    return Section(
        "normaliser", "Normaliser: raw record → canonical events (no I/O)", lines, metrics, details
    )


def _row(label: str, rates: Rates, total_us: float) -> list[str]:
    return [
        label,
        fmt(rates.per_core.median),
        fmt(rates.micros_per_item),
        f"{rates.per_core.spread_pct:.1f}%",
        fmt(rates.wall.median),
        f"{100 * rates.micros_per_item / total_us:.0f}%",
    ]


def _metric(key: str, label: str, rates: Rates, unit: str = "msg/s/core") -> Metric:
    per_core = rates.per_core
    return Metric(key, label, per_core.median, unit, "higher", round(per_core.spread_pct, 2))


def _mix(records: Sequence[RawRecord]) -> str:
    return ", ".join(f"{slug} {count}" for slug, count in channel_counts(records).items())
