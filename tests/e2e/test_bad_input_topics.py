"""The bad-input battery on the raw topics that come from outside: channel adapters'
``intake.inbound-messages.v1`` and the agent workspace's ``workspace.agents.v1`` and
``workspace.ticket-actions.v1``.

Garbage (not JSON, not UTF-8, JSON of the wrong shape, ten thousand levels deep, empty, nearly a
megabyte, unknown or missing ``ce_type``, a header that is not UTF-8) goes onto one partition
between valid events, with the five services running as processes. Then: every garbage record a
service was asked to handle is on the topic's dead-letter topic with a reason and its original
bytes; every valid event between them was processed; and every consumer group's committed offset
passed the last record, so no partition is blocked.

A record whose ``ce_type`` no consumer of a workspace topic handles (unknown, missing, or not
UTF-8) is skipped there rather than dead-lettered, by design (``Subscription(on_unknown=...)``:
producers may add event types to those topics); on the inbound topic every one is dead-lettered.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opora_shared.contracts.base import Event, cloudevent_headers
from opora_shared.contracts.common import CustomerContact
from opora_shared.contracts.inbound import InboundSmsV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketRepliedV1
from opora_shared.contracts.topics import (
    INBOUND_MESSAGES,
    TICKETS,
    WORKSPACE_AGENTS,
    WORKSPACE_TICKET_ACTIONS,
    TopicSpec,
)
from opora_shared.contracts.workspace import (
    AgentProfileChangedV1,
    OfferAcceptedV1,
    ReplyPostedV1,
)
from opora_shared.testing import KafkaTail, Seen

from tests.fuzz.hostile import INVALID_UTF8, dead_processes, deeply_nested, not_ready

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:8]
PARTITION = 0  # everything goes to one partition, so that garbage stands in the valid events' way
OVERSIZED = 1_000_000  # bytes; the broker takes up to about 1 MiB per record
# What a service answers a record with, which the producer does not wait for.
SETTLE_S = 90.0


@dataclass(frozen=True)
class Garbage:
    name: str
    value: bytes
    # None: no ce_type header at all; bytes: the header's raw value.
    ce_type: bytes | None
    other_headers: tuple[tuple[str, bytes], ...] = ()


def garbage_for(handled: dict[str, set[str]]) -> list[Garbage]:
    """The garbage thrown at a topic; the known ``ce_type``s are those some consumer handles,
    taken in turn so that each consumer gets its share."""
    types = [t.encode() for t in handled]
    kinds = [
        ("not JSON", b"{not json at all"),
        ("not UTF-8", b'{"text": "' + INVALID_UTF8 + b'"}'),
        ("JSON of the wrong shape", b'{"hello": "world", "ticket_id": 42}'),
        ("a JSON array", b"[1, 2, 3]"),
        ("JSON null", b"null"),
        ("ten thousand levels deep", deeply_nested()),
        ("empty", b""),
        ("nearly a megabyte", b'{"text": "' + b"x" * OVERSIZED + b'"}'),
    ]
    known = [
        Garbage(name, value, types[n % len(types)], (("content-type", b"application/json"),))
        for n, (name, value) in enumerate(kinds)
    ]
    return [
        *known,
        Garbage("unknown ce_type", b'{"text": "hi"}', b"opora.made-up.v1"),
        Garbage("no headers", b'{"text": "hi"}', None),
        Garbage("ce_type not UTF-8", b'{"text": "hi"}', b"\xff\xfeopora"),
    ]


@dataclass
class Thrown:
    """What was produced onto the partition, and what came of it."""

    topic: TopicSpec
    handled: dict[str, set[str]]  # ce_type → the services that handle it
    dead_letter_everything: bool
    garbage: dict[int, Garbage] = field(default_factory=dict)  # by offset
    valid: dict[int, Event] = field(default_factory=dict)
    last_offset: int = -1
    dead_letters: list[Seen] = field(default_factory=list)
    processed: set[int] = field(default_factory=set)  # offsets of the valid events seen done
    committed: dict[str, int] = field(default_factory=dict)  # group → committed offset

    def expected_dead_letters(self) -> set[tuple[str, int]]:
        """(service, source offset) of each dead-letter record that must exist."""
        expected = set()
        every = {s for services in self.handled.values() for s in services}
        for offset, junk in self.garbage.items():
            known = junk.ce_type is not None and junk.ce_type.decode("utf-8", "replace")
            services = self.handled.get(known or "", set())
            if not services and self.dead_letter_everything:
                services = every
            expected |= {(service, offset) for service in services}
        return expected


def interleaved(valid: list[Event], junk: list[Garbage]) -> list[Event | Garbage]:
    """The valid events with the garbage dealt out between them: a valid one first and last."""
    gaps = len(valid) - 1
    sequence: list[Event | Garbage] = []
    for n, event in enumerate(valid):
        sequence.append(event)
        if n < gaps:
            sequence += junk[n::gaps]
    return sequence


def headers_of(junk: Garbage) -> list[tuple[str, bytes]]:
    headers = list(junk.other_headers)
    if junk.ce_type is not None:
        headers.append(("ce_type", junk.ce_type))
    return headers


# Which of the valid events (by offset) were processed, given what was read on tickets.events.
Done = Callable[[Thrown, list[Seen]], Awaitable[set[int]]]


async def throw(infra, thrown: Thrown, valid: list[Event], *, key: bytes, done: Done) -> Thrown:
    """Valid events and garbage in turn onto one partition; then wait until the valid ones are
    processed, the dead letters are in and the groups committed past the end (or time is up)."""
    junk = garbage_for(thrown.handled)
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.bootstrap_servers, acks="all", max_request_size=2 * OVERSIZED
    )
    async with KafkaTail(infra.bootstrap_servers, thrown.topic.dead_letter, TICKETS.name) as tail:
        await producer.start()
        try:
            for item in interleaved(valid, junk):
                if isinstance(item, Garbage):
                    sent = await producer.send_and_wait(
                        thrown.topic.name,
                        item.value,
                        key=key,
                        partition=PARTITION,
                        headers=headers_of(item),
                    )
                    thrown.garbage[sent.offset] = item
                else:
                    headers = cloudevent_headers(item, source="bad-input-battery")
                    sent = await producer.send_and_wait(
                        thrown.topic.name,
                        item.model_dump_json().encode(),
                        key=item.partition_key.encode(),
                        partition=PARTITION,
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                    thrown.valid[sent.offset] = item
        finally:
            await producer.stop()
        thrown.last_offset = max(thrown.valid | thrown.garbage)
        expected = thrown.expected_dead_letters()
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            thrown.dead_letters = [
                s
                for s in tail.seen
                if s.topic == thrown.topic.dead_letter
                and s.headers.get("dlq_source_topic") == thrown.topic.name
                and s.headers.get("dlq_source_partition") == str(PARTITION)
                and int(s.headers.get("dlq_source_offset", -1)) in thrown.garbage | thrown.valid
            ]
            thrown.processed = await done(thrown, tail.seen)
            thrown.committed = await committed_offsets(infra, thrown.topic)
            settled = (
                {(s.headers.get("dlq_service", ""), _offset(s)) for s in thrown.dead_letters}
                >= expected
                and thrown.processed == set(thrown.valid)
                and all(o > thrown.last_offset for o in thrown.committed.values())
                and len(thrown.committed) == len(thrown.topic.consumers)
            )
            if settled:
                break
            with contextlib.suppress(TimeoutError):
                await tail.wait_for(lambda s: False, timeout_s=1)
    return thrown


def _offset(seen: Seen) -> int:
    return int(seen.headers.get("dlq_source_offset", -1))


async def committed_offsets(infra, topic: TopicSpec) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        found = {}
        for group in topic.consumers:
            offsets = await admin.list_consumer_group_offsets(group)
            position = offsets.get(TopicPartition(topic.name, PARTITION))
            if position is not None:
                found[group] = position.offset
        return found
    finally:
        await admin.close()


@pytest.fixture(autouse=True)
def every_service_survives(services) -> Iterator[None]:
    yield
    assert not dead_processes(services.processes)
    assert not not_ready({s: services.url(s) for s in services.processes})


# ---------------------------------------------------------------------------------------------
# The three topics: valid events of each, and how to tell they were processed


def inbound_messages(count: int) -> list[Event]:
    return [
        InboundSmsV1(
            source_message_id=f"bad-input-{RUN}-{n}",
            conversation_id=f"+4477009{RUN[:2].encode().hex()[:2]}{n:04d}",
            received_at=datetime.now(UTC),
            customer=CustomerContact(phone=f"+4477009{n:05d}"),
            text=f"Where is my order {n}?",
        )
        for n in range(count)
    ]


async def tickets_opened(thrown: Thrown, seen: list[Seen]) -> set[int]:
    opened = {s.event.source_message_id for s in seen if isinstance(s.event, TicketOpenedV1)}
    return {
        offset
        for offset, event in thrown.valid.items()
        if isinstance(event, InboundSmsV1) and f"sms:{event.source_message_id}" in opened
    }


async def notes_republished(thrown: Thrown, seen: list[Seen]) -> set[int]:
    replied = {s.event.reply_id for s in seen if isinstance(s.event, TicketRepliedV1)}
    return {
        offset
        for offset, event in thrown.valid.items()
        if isinstance(event, ReplyPostedV1) and event.reply_id in replied
    }


def agent_profiles(count: int) -> list[Event]:
    # Offline agents (no presence event): they never take the session's other tickets.
    return [
        AgentProfileChangedV1(agent_id=f"bad-input-{RUN}-{n}", name=f"Агент {n}")
        for n in range(count)
    ]


def agents_known_to_routing(services) -> Done:
    async def done(thrown: Thrown, seen: list[Seen]) -> set[int]:
        async with httpx.AsyncClient(base_url=services.url("routing"), timeout=10) as http:
            known = {a["agent_id"] for a in (await http.get("/v1/agents")).json()}
        return {
            offset
            for offset, event in thrown.valid.items()
            if isinstance(event, AgentProfileChangedV1) and event.agent_id in known
        }

    return done


@pytest.fixture(scope="module")
async def inbound(infra, services) -> Thrown:
    handled = {t: {"intake"} for t in ("opora.inbound.sms.v1", "opora.inbound.chat.v1")}
    thrown = Thrown(INBOUND_MESSAGES, handled, dead_letter_everything=True)
    return await throw(
        infra, thrown, inbound_messages(4), key=b"+447700900000", done=tickets_opened
    )


@pytest.fixture(scope="module")
async def agents(infra, services) -> Thrown:
    handled = {
        AgentProfileChangedV1.ce_type: {"routing", "notifications"},
        "opora.workspace.agent-presence-changed.v1": {"routing"},
    }
    thrown = Thrown(WORKSPACE_AGENTS, handled, dead_letter_everything=False)
    key = f"bad-input-{RUN}".encode()
    return await throw(
        infra, thrown, agent_profiles(4), key=key, done=agents_known_to_routing(services)
    )


@pytest.fixture(scope="module")
async def actions(infra, services) -> Thrown:
    """Internal notes on tickets opened for the purpose; intake republishes each as
    TicketRepliedV1. (routing's share of the garbage is offer acceptances.)"""
    tickets = []
    async with httpx.AsyncClient(
        base_url=services.url("intake"),
        timeout=30,
        headers={"X-Api-Key": services.intake_api_key or ""},
    ) as http:
        for message in inbound_messages(7)[4:]:
            body = message.model_dump(mode="json")
            body["source_message_id"] += "-http"
            body["conversation_id"] += "9"
            opened = await http.post("/v1/inbound/sms", json=body)
            assert opened.status_code == 201, opened.text
            tickets.append(opened.json()["ticket_id"])
    notes = [
        ReplyPostedV1(
            ticket_id=ticket_id,
            agent_id=f"bad-input-{RUN}",
            reply_id=f"bad-input-{RUN}-{n}",
            public=False,
            text="Проверить заказ",
        )
        for n, ticket_id in enumerate(tickets)
    ]
    handled = {ReplyPostedV1.ce_type: {"intake"}, OfferAcceptedV1.ce_type: {"routing"}}
    thrown = Thrown(WORKSPACE_TICKET_ACTIONS, handled, dead_letter_everything=False)
    return await throw(infra, thrown, notes, key=tickets[0].encode(), done=notes_republished)


TOPICS = ["inbound", "agents", "actions"]


@pytest.fixture(params=TOPICS)
def topic(request) -> Thrown:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------


async def test_each_garbage_record_is_dead_lettered_with_a_reason(topic: Thrown) -> None:
    found = {(s.headers.get("dlq_service", ""), _offset(s)) for s in topic.dead_letters}
    missing = topic.expected_dead_letters() - found
    assert not missing, [(service, topic.garbage[o].name) for service, o in sorted(missing)]
    assert all(s.headers.get("dlq_reason") for s in topic.dead_letters)


async def test_each_dead_letter_keeps_the_original_bytes(topic: Thrown) -> None:
    assert topic.dead_letters
    changed = [
        topic.garbage[_offset(s)].name
        for s in topic.dead_letters
        if _offset(s) in topic.garbage and s.value != topic.garbage[_offset(s)].value
    ]
    assert not changed


async def test_no_valid_event_is_dead_lettered(topic: Thrown) -> None:
    assert not [
        s.headers.get("dlq_reason") for s in topic.dead_letters if _offset(s) in topic.valid
    ]


async def test_every_valid_event_among_the_garbage_is_processed(topic: Thrown) -> None:
    assert len(topic.valid) >= 3
    assert topic.processed == set(topic.valid), sorted(set(topic.valid) - topic.processed)


async def test_no_consumer_group_is_held_up_by_the_garbage(topic: Thrown) -> None:
    assert set(topic.committed) == set(topic.topic.consumers), topic.committed
    behind = {g: o for g, o in topic.committed.items() if o <= topic.last_offset}
    assert not behind, f"last record at offset {topic.last_offset}; committed: {behind}"
