"""sla on a real Kafka broker and a real MongoDB-wire server: warnings, breaches and escalations
on time; a pause that moves the due time by its length; timers armed before a restart that fire
once after it; two replicas sharing the timers by partition.

Tickets are published on the real topics with CloudEvents headers, as intake publishes them;
what sla announces is read back from ``sla.events.v1``. Targets are seconds (see conftest).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerRef, Priority, TicketStatus
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaMetricEvent,
    SlaWarningV1,
)
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import SLA
from opora_shared.testing import KafkaTail, Seen
from opora_sla.entrypoints.cli import what_if_main

from .conftest import POLICIES, running

pytestmark = pytest.mark.integration

E = TypeVar("E", bound=Event)
LATE_S = 1.0
"""How late an event may reach a reader of the topic after the instant it announces."""


def ids() -> str:
    return uuid.uuid4().hex[:8]


def opened(ticket_id: str, priority: Priority, at: datetime | None = None) -> TicketOpenedV1:
    return TicketOpenedV1(
        occurred_at=at or datetime.now(UTC),
        ticket_id=ticket_id,
        number=f"OP-{ticket_id}",
        channel=Channel.EMAIL,
        customer=CustomerRef(customer_id=f"cus-{ticket_id}"),
        priority=priority,
        source_message_id=f"msg-{ticket_id}",
    )


def moved(ticket_id: str, to: TicketStatus) -> TicketStatusChangedV1:
    return TicketStatusChangedV1(ticket_id=ticket_id, status=to, occurred_at=datetime.now(UTC))


async def follow(
    tail: KafkaTail, ticket_id: str, last: type[Event], *, timeout_s: float = 10
) -> list[tuple[float, Event]]:
    """The ticket's events as they arrive, each with when this process read it, up to the
    first of type ``last``."""

    def about(seen: Seen) -> bool:
        return seen.event is not None and getattr(seen.event, "ticket_id", None) == ticket_id

    arrived: list[tuple[float, Event]] = []
    deadline = time.monotonic() + timeout_s
    while not any(isinstance(event, last) for _, event in arrived):
        found = await tail.wait_for(
            about, count=len(arrived) + 1, timeout_s=deadline - time.monotonic()
        )
        now = time.time()
        arrived += [(now, s.event) for s in found[len(arrived) :] if s.event is not None]
    return arrived


async def await_events(
    tail: KafkaTail,
    event_type: type[E],
    ticket_id: str,
    *,
    count: int = 1,
    timeout_s: float = 20,
) -> list[E]:
    """At least ``count`` events of ``event_type`` about ``ticket_id`` (repeats included)."""

    def about(seen: Seen) -> bool:
        return isinstance(seen.event, event_type) and seen.event.ticket_id == ticket_id

    deadline = time.monotonic() + timeout_s
    while True:
        found = [s.event for s in tail.seen if about(s)]
        if len(found) >= count:
            return found  # type: ignore[return-value]
        so_far = sum(1 for s in tail.seen if about(s))
        await tail.wait_for(about, count=so_far + 1, timeout_s=deadline - time.monotonic())


async def test_warning_breach_and_escalation_arrive_on_time(settings, publish, infra) -> None:
    ticket = f"t-{ids()}"
    async with KafkaTail(infra.bootstrap_servers, SLA.name) as tail, running(settings) as [app]:
        await publish(opened(ticket, Priority.URGENT))
        arrived = await follow(tail, ticket, SlaEscalatedV1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as http:
            ledger = (await http.get(f"/v1/tickets/{ticket}/ledger")).json()["entries"]

    [applied] = [e for _, e in arrived if isinstance(e, SlaAppliedV1)]
    timed = [(read, e) for read, e in arrived if isinstance(e, SlaMetricEvent)]
    assert [(e.ce_type, e.occurred_at - applied.occurred_at) for _, e in timed] == [
        (SlaWarningV1.ce_type, timedelta(seconds=1)),
        (SlaBreachedV1.ce_type, timedelta(seconds=2)),
        (SlaEscalatedV1.ce_type, timedelta(seconds=3)),
    ]
    for read, event in timed:
        late = read - event.occurred_at.timestamp()
        assert late < LATE_S, f"{event.ce_type} read {late:.2f} s after its instant"
    assert {t.metric: t.due_at for t in applied.targets}[Metric.FIRST_REPLY] == timed[1][
        1
    ].occurred_at
    kinds = [e["kind"] for e in ledger if e["metric"] == "first_reply"]
    assert kinds == ["started", "warned", "breached", "escalated"]


async def test_a_pending_ticket_breaches_later_by_the_length_of_its_pause(
    settings, publish, infra, tmp_path, monkeypatch, capsys
) -> None:
    ticket = f"t-{ids()}"
    async with KafkaTail(infra.bootstrap_servers, SLA.name) as tail, running(settings) as [app]:
        await publish(opened(ticket, Priority.HIGH))  # requester wait: 3 s, paused while pending
        await await_events(tail, SlaAppliedV1, ticket)
        await publish(moved(ticket, TicketStatus.PENDING))
        await asyncio.sleep(1.5)  # the pause under test
        await publish(moved(ticket, TicketStatus.OPEN))
        [breach] = await await_events(tail, SlaBreachedV1, ticket, timeout_s=10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as http:
            ledger = (await http.get(f"/v1/tickets/{ticket}/ledger")).json()["entries"]

    clock = {"started", "paused", "resumed", "breached"}
    wait = [e for e in ledger if e["metric"] == "requester_wait" and e["kind"] in clock]
    assert [e["kind"] for e in wait] == ["started", "paused", "resumed", "breached"]
    started, paused, resumed = (datetime.fromisoformat(e["at"]) for e in wait[:3])
    assert resumed - paused >= timedelta(seconds=1)
    used_before_pause = wait[1]["detail"]["used_s"]
    assert used_before_pause == (paused - started).total_seconds() // 1
    assert breach.occurred_at == resumed + timedelta(seconds=3 - used_before_pause)
    assert breach.elapsed_s == 3

    # The what-if command replays the stored ticket under a draft with a longer target.
    draft = tmp_path / "draft.yaml"
    draft.write_text(POLICIES.replace("requester_wait: {high: 3s}", "requester_wait: {high: 1h}"))
    for name, value in (
        ("MONGODB_URI", infra.mongodb_uri),
        ("MONGODB_DATABASE", settings.mongodb_database),
        ("POLICIES_FILE", str(settings.policies_file)),
    ):
        monkeypatch.setenv(f"OPORA_SLA_{name}", value)
    capsys.readouterr()
    assert await asyncio.to_thread(what_if_main, [str(draft), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["current"]["tickets_breached"], report["draft"]["tickets_breached"]) == (1, 0)
    assert report["no_longer_breached"] == [ticket]


async def test_timers_armed_before_a_restart_fire_once_after_it(settings, publish, infra) -> None:
    tickets = [f"t-{ids()}" for _ in range(12)]
    async with KafkaTail(infra.bootstrap_servers, SLA.name) as tail:
        async with running(settings):
            for ticket in tickets:
                await publish(opened(ticket, Priority.NORMAL))  # first reply: 4 s
            for ticket in tickets:
                await await_events(tail, SlaAppliedV1, ticket)
        # Stopped with every breach still ahead; the next replica takes the timers over.
        async with running(settings, skip=False):
            for ticket in tickets:
                await await_events(tail, SlaBreachedV1, ticket, timeout_s=20)
            for ticket in tickets:  # level 1 comes a second after; no breach comes again
                await await_events(tail, SlaEscalatedV1, ticket, timeout_s=10)

    breaches = Counter(
        s.event.ticket_id
        for s in tail.seen
        if isinstance(s.event, SlaBreachedV1) and s.event.metric is Metric.FIRST_REPLY
    )
    assert breaches == dict.fromkeys(tickets, 1)


async def test_two_replicas_share_the_timers_and_fire_each_once(settings, publish, infra) -> None:
    tickets = [f"t-{ids()}" for _ in range(12)]
    async with (
        KafkaTail(infra.bootstrap_servers, SLA.name) as tail,
        running(settings, settings) as apps,
    ):
        for ticket in tickets:
            await publish(opened(ticket, Priority.URGENT))
        for ticket in tickets:
            await await_events(tail, SlaEscalatedV1, ticket, timeout_s=15)
        partitions = []
        for app in apps:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sla") as http:
                partitions.append((await http.get("/v1/timers")).json()["partitions"])

    assert all(partitions), f"both replicas own partitions: {partitions}"
    assert not set(partitions[0]) & set(partitions[1])
    breaches = Counter(s.event.ticket_id for s in tail.seen if isinstance(s.event, SlaBreachedV1))
    assert breaches == dict.fromkeys(tickets, 1)
