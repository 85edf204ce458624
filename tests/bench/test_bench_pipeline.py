"""The pipeline benchmark's bookkeeping, without infrastructure."""

from __future__ import annotations

import json

from opora_shared.contracts.notifications import NotificationSentV1
from opora_shared.contracts.routing import TicketOfferedV1

from tests.bench.bench_pipeline import CHAIN, FirstSeen, example_size, pipeline_ends
from tests.bench.relay import parse_sink


def _headers(ce_type: str) -> dict[str, bytes]:
    return {"ce_type": ce_type.encode()}


def test_an_offer_ends_the_path_to_an_agent() -> None:
    label = pipeline_ends("routing.events.v1", _headers(TicketOfferedV1.ce_type), b"{}")

    assert label == "offered"


def test_only_the_acknowledgement_counts_among_notifications_sent() -> None:
    def sent(intent: str) -> str | None:
        body = json.dumps({"intent": intent}).encode()
        return pipeline_ends("notifications.events.v1", _headers(NotificationSentV1.ce_type), body)

    assert (sent("ticket.acknowledged"), sent("ticket.auto-close-warning")) == (
        "acknowledged",
        None,
    )


async def test_a_key_is_through_once_it_reached_every_label() -> None:
    seen = FirstSeen("127.0.0.1:1", ["a", "b"], pipeline_ends)
    seen.seen = {("t1", "offered"): 10.0, ("t1", "acknowledged"): 12.5, ("t2", "offered"): 11.0}

    assert seen.through(["t1", "t2"], ["offered", "acknowledged"]) == {"t1": 12.5}


def test_each_relay_writes_records_the_size_of_the_event_it_stands_for() -> None:
    (routing,) = [stage for stage in CHAIN if stage.name == "routing"]

    sizes = [example_size(ce_type) for _, ce_type in routing.sinks]

    assert len(sizes) == 2
    assert all(200 < size < 10_000 for size in sizes)


def test_a_sink_names_its_topic_and_record_size() -> None:
    assert parse_sink("bench.relay.x.tickets:1634") == ("bench.relay.x.tickets", 1634)
