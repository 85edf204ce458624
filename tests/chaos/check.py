"""The checker: once the load has stopped and the system has settled, read every topic from the
start and the services' databases, and check what must hold whatever was killed on the way.

Settled means: every consumer group has committed to the end of every partition it reads, no
record was added anywhere for a few seconds, the agents have nothing left to do, sla has no
timer due within a minute and notifications nothing due within half a minute (or the timeout).

Events are counted by id: delivery is at-least-once, so a record published twice with the same
``event_id`` is one event; two ids for one logical happening is a double.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyResponseRecordedV1
from opora_shared.contracts.notifications import (
    NotificationCancelledV1,
    NotificationFailedV1,
    NotificationSentV1,
)
from opora_shared.contracts.routing import (
    RoutingEvent,
    TicketAssignedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketQueuedV1,
)
from opora_shared.contracts.sla import (
    Metric,
    SlaAppliedV1,
    SlaBreachedV1,
    SlaEscalatedV1,
    SlaFulfilledV1,
    SlaMetricEvent,
    SlaWarningV1,
)
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
)
from opora_shared.contracts.topics import all_topics
from pymongo import AsyncMongoClient

from tests.chaos.load import Ledger
from tests.chaos.stack import ChaosStack
from tests.services import GROUPS

E = TypeVar("E", bound=Event)


@dataclass
class Invariant:
    name: str
    checked: int = 0  # how many things it looked at
    violations: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, what: str) -> None:
        self.violations.append(what)


# --- settling ----------------------------------------------------------------------------------


@dataclass
class Settled:
    reached: bool
    seconds: float
    lag: dict[str, int]
    waiting_for: list[str]


async def group_lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Records each group has not committed past, over every partition of the topics it reads
    (a topic it has committed on at least one partition of)."""
    lag: dict[str, int] = {}
    for group in GROUPS:
        committed = await admin.list_consumer_group_offsets(group)
        topics = {tp.topic for tp in committed}
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        lag[group] = sum(
            max(0, end - (committed[tp].offset if tp in committed else 0))
            for tp, end in ends.items()
        )
    return lag


async def settle(stack: ChaosStack, busy: Any, timeout_s: float, quiet_s: float = 4.0) -> Settled:
    """Wait until the system has nothing left to do, or ``timeout_s``; ``busy()`` says whether
    the load generator still has actions under way."""
    started = time.monotonic()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers)
    await admin.start()
    await consumer.start()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        await consumer._client.force_metadata_update()  # aiokafka: no public refresh
        topics = [t.name for t in all_topics()]
        last_total, quiet_since = -1, time.monotonic()
        waiting: list[str] = ["start"]
        lag: dict[str, int] = {}
        while time.monotonic() - started < timeout_s:
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
            ]
            try:
                total = sum((await consumer.end_offsets(partitions)).values())
                lag = await group_lag(admin, consumer)
            except Exception as error:  # the broker may still be catching up after a restart
                waiting = [f"Kafka: {type(error).__name__}"]
                await asyncio.sleep(1.0)
                continue
            if total != last_total:
                last_total, quiet_since = total, time.monotonic()
            waiting = [f"{g} lag {n}" for g, n in lag.items() if n]
            if time.monotonic() - quiet_since < quiet_s:
                waiting.append("records still arriving")
            if busy():
                waiting.append("agents or customers acting")
            waiting += await _timers_due(stack, mongo)
            if not waiting:
                return Settled(True, time.monotonic() - started, lag, [])
            await asyncio.sleep(0.5)
        return Settled(False, time.monotonic() - started, lag, waiting)
    finally:
        await consumer.stop()
        await admin.close()
        await mongo.close()


async def _timers_due(stack: ChaosStack, mongo: AsyncMongoClient[dict[str, Any]]) -> list[str]:
    waiting: list[str] = []
    soon = datetime.now(UTC) + timedelta(seconds=60)
    async with httpx.AsyncClient(timeout=5.0) as client:
        for process in stack.processes:
            if process.name != "sla" or not process.alive:
                continue
            try:
                timers = (await client.get(f"{process.url}/v1/timers")).json()
            except (httpx.HTTPError, ValueError):
                waiting.append(f"{process.label} not answering")
                continue
            due = timers.get("next_due_at")
            if due and datetime.fromisoformat(due) < soon:
                waiting.append(f"{process.label} timer due {due}")
    notifications = mongo[stack.database("notifications")]["notifications"]
    due_soon = await notifications.count_documents(
        {"settled": False, "wake_at": {"$lt": datetime.now(UTC) + timedelta(seconds=30)}}
    )
    if due_soon:
        waiting.append(f"{due_soon} notifications due")
    return waiting


# --- reading what happened ---------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    event: Event


async def read_topics(bootstrap_servers: str) -> list[Record]:
    """Every contract event on every catalogue topic, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    records: list[Record] = []
    try:
        await consumer._client.force_metadata_update()  # aiokafka: no public refresh
        partitions = [
            TopicPartition(t.name, p)
            for t in all_topics()
            for p in consumer.partitions_for_topic(t.name) or ()
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, batch in batches.items():
                for record in batch:
                    event = _decode(record.headers, record.value)
                    if event is not None:
                        records.append(Record(tp.topic, tp.partition, record.offset, event))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return records


def _decode(headers: Sequence[tuple[str, bytes]], value: bytes | None) -> Event | None:
    ce_type = dict(headers).get("ce_type", b"").decode(errors="replace")
    event_type = EVENTS_BY_TYPE.get(ce_type)
    if event_type is None or value is None:
        return None
    try:
        return event_type.model_validate_json(value)
    except ValueError:
        return None


def distinct(events: Iterable[E]) -> list[E]:
    """The first record of each event id, in the order given."""
    seen: set[str] = set()
    out: list[E] = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            out.append(event)
    return out


@dataclass
class Observed:
    """What the checker read: the topics, the databases, feedback's report."""

    records: list[Record]
    stored: dict[str, list[dict[str, Any]]]  # "<service>.<collection>" → documents
    report: dict[str, Any] | None
    mail: list[Any]
    read_at: datetime

    def events(self, kind: type[E]) -> list[E]:
        return distinct(r.event for r in self.records if isinstance(r.event, kind))


async def observe(stack: ChaosStack) -> Observed:
    records = await read_topics(stack.bootstrap_servers)
    wanted = {
        "intake": ("inbound_outcomes",),
        "routing": ("assignments", "agent_loads"),
        "feedback": ("survey_responses",),
    }
    stored: dict[str, list[dict[str, Any]]] = {}
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        for service, collections in wanted.items():
            for name in collections:
                found = mongo[stack.database(service)][name].find({})
                stored[f"{service}.{name}"] = [doc async for doc in found]
    finally:
        await mongo.close()
    return Observed(
        records, stored, await _report(stack), list(stack.mail.mails), datetime.now(UTC)
    )


async def _report(stack: ChaosStack) -> dict[str, Any] | None:
    """feedback's report over the days around today in its zone (it counts a survey on the day
    it was issued, in Europe/Moscow as shipped)."""
    today = datetime.now(ZoneInfo("Europe/Moscow")).date()
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    async with httpx.AsyncClient(timeout=30.0) as client:
        response = await client.get(
            f"{stack.url('feedback')}/v1/reports",
            params=params,
            headers={"authorization": f"Bearer {stack.api_key}"},
        )
    return response.json() if response.status_code == 200 else None


# --- the invariants ----------------------------------------------------------------------------


def check_all(observed: Observed, ledger: Ledger, settled: Settled) -> list[Invariant]:
    settle_inv = Invariant("system settled (lag 0, no timer due soon)", 1)
    if not settled.reached:
        settle_inv.fail(f"after {settled.seconds:.0f} s still: {', '.join(settled.waiting_for)}")
    return [
        settle_inv,
        *check_requests(observed, ledger),
        *check_routing(observed),
        *check_sla(observed),
        *check_notifications(observed),
        *check_surveys(observed, ledger),
    ]


def check_requests(observed: Observed, ledger: Ledger) -> list[Invariant]:
    opened: dict[str, set[str]] = defaultdict(set)  # request key → event ids
    appended: dict[str, set[str]] = defaultdict(set)
    ticket_of: dict[str, set[str]] = defaultdict(set)  # request key → ticket ids
    for event in observed.events(TicketOpenedV1):
        opened[event.source_message_id].add(event.event_id)
        ticket_of[event.source_message_id].add(event.ticket_id)
    for event in observed.events(TicketMessageReceivedV1):
        appended[event.message_id].add(event.event_id)
        ticket_of[event.message_id].add(event.ticket_id)
    outcomes = {doc["_id"] for doc in observed.stored["intake.inbound_outcomes"]}

    once = Invariant("accepted request → exactly one ticket or appended message")
    for request in ledger.accepted:
        once.checked += 1
        n = len(opened[request.key]) + len(appended[request.key])
        if n != 1:
            once.fail(f"{request.key} ({request.via}): {n} events")
        elif request.key not in outcomes:
            once.fail(f"{request.key}: no inbound_outcomes document in intake")
    unacked = [r for r in ledger.unacknowledged]
    through = sum(1 for r in unacked if opened[r.key] or appended[r.key])
    once.note = f"{len(unacked)} never acknowledged, {through} of them got through anyway"
    for r in unacked:
        if len(opened[r.key]) + len(appended[r.key]) > 1:
            once.fail(f"{r.key} (unacknowledged): doubled")

    asked = set(ledger.requests)
    stray = Invariant("no ticket or message nobody sent")
    for key in set(opened) | set(appended):
        stray.checked += 1
        if key not in asked:
            stray.fail(f"{key}: not sent by the load generator")

    threads = Invariant("one ticket per conversation, follow-ups on it")
    by_conversation: dict[str, set[str]] = defaultdict(set)
    for request in ledger.requests.values():
        by_conversation[request.conversation] |= ticket_of[request.key]
    for conversation, tickets in by_conversation.items():
        threads.checked += 1
        if len(tickets) > 1:
            threads.fail(f"{conversation}: {len(tickets)} tickets")

    repeats = Invariant("an accepted request sent again is answered as a repeat")
    for request in ledger.accepted:
        if request.resend_answered:
            repeats.checked += 1
            if not request.repeats:
                repeats.fail(f"{request.key}: sent again, not recognised as a repeat")
    repeats.note = f"{ledger.resent} sent again on purpose (HTTP and Kafka)"
    rejected = Invariant("no valid request rejected (4xx)")
    rejected.checked = len(ledger.requests)
    for request in ledger.requests.values():
        if request.rejected:
            rejected.fail(f"{request.key}: {request.rejected}")
    return [once, stray, threads, repeats, rejected]


def _capacity() -> int:
    rules = yaml.safe_load(
        (resources.files("opora_routing") / "rules" / "routing.yaml").read_text("utf-8")
    )
    return int(rules["capacity"]["max_total"])


def check_routing(observed: Observed) -> list[Invariant]:
    from tests.chaos.load import _agent_profile

    opened = {e.ticket_id: e for e in observed.events(TicketOpenedV1)}
    solved_at: dict[str, datetime] = {}
    for change in observed.events(TicketStatusChangedV1):
        if change.status.value in ("solved", "closed"):
            solved_at.setdefault(change.ticket_id, change.occurred_at)
    routing = [r.event for r in observed.records if isinstance(r.event, RoutingEvent)]
    offers = distinct(e for e in routing if isinstance(e, TicketOfferedV1))
    revoked = {e.offer_id: e.occurred_at for e in routing if isinstance(e, TicketOfferRevokedV1)}
    assigned = distinct(e for e in routing if isinstance(e, TicketAssignedV1))
    accepted = {e.offer_id for e in assigned}
    stored = {doc["_id"]: doc for doc in observed.stored["routing.assignments"]}

    placed = Invariant("every ticket assigned, queued or offered (or solved)")
    announced = {
        e.ticket_id
        for e in routing
        if isinstance(e, TicketQueuedV1 | TicketOfferedV1 | TicketAssignedV1)
    }
    for ticket_id in opened:
        placed.checked += 1
        doc = stored.get(ticket_id)
        state = doc.get("state") if doc else None
        if state is None:
            placed.fail(f"{ticket_id}: unknown to routing")
        elif state == "closed" and ticket_id not in solved_at:
            placed.fail(f"{ticket_id}: closed by routing but never solved")
        elif state in ("waiting", "offered", "assigned") and ticket_id not in announced:
            placed.fail(f"{ticket_id}: {state} but never announced")

    # Per agent and channel, and in all, the most tickets held at once: an offer holds a slot
    # from its offer until revoked or, once accepted, until its ticket is solved.
    capacity = Invariant("no agent ever over capacity (replayed from routing's events)")
    limits = {a: _agent_profile(a, 0).capacity for a in {o.agent_id for o in offers}}
    changes: list[tuple[datetime, int, str, str]] = []
    for offer in offers:
        channel = (
            opened[offer.ticket_id].channel if offer.ticket_id in opened else Channel.WORKSPACE
        )
        end = revoked.get(offer.offer_id)
        if end is None and offer.offer_id in accepted:
            end = solved_at.get(offer.ticket_id)
        changes.append((offer.occurred_at, +1, offer.agent_id, channel.value))
        if end is not None:
            changes.append((end, -1, offer.agent_id, channel.value))
    held: Counter[tuple[str, str]] = Counter()
    total: Counter[str] = Counter()
    max_total = _capacity()
    for at, delta, agent_id, channel in sorted(changes):  # at one instant a release comes first
        held[agent_id, channel] += delta
        total[agent_id] += delta
        capacity.checked += delta > 0
        limit = limits[agent_id].get(Channel(channel), 0)
        if delta > 0 and held[agent_id, channel] > limit:
            capacity.fail(
                f"{agent_id} held {held[agent_id, channel]} {channel} at {at} (max {limit})"
            )
        if delta > 0 and total[agent_id] > max_total:
            capacity.fail(f"{agent_id} held {total[agent_id]} in all at {at} (max {max_total})")

    single = Invariant("no ticket on offer to, or held by, two agents at once")
    open_offers: dict[str, set[str]] = defaultdict(set)
    by_offer: dict[str, set[str]] = defaultdict(set)
    for event in distinct(routing):  # in partition order: a ticket's events are in one partition
        if isinstance(event, TicketOfferedV1):
            single.checked += 1
            open_offers[event.ticket_id].add(event.offer_id)
            if len(open_offers[event.ticket_id]) > 1:
                single.fail(f"{event.ticket_id}: offers {sorted(open_offers[event.ticket_id])}")
        elif isinstance(event, TicketOfferRevokedV1 | TicketAssignedV1) and event.offer_id:
            open_offers[event.ticket_id].discard(event.offer_id)
        if isinstance(event, TicketAssignedV1) and event.offer_id:
            by_offer[event.offer_id].add(event.event_id)
    for offer_id, ids in by_offer.items():
        if len(ids) > 1:
            single.fail(f"offer {offer_id} assigned {len(ids)} times")

    # A slot taken by a replica killed before its offer was stored is freed by a later dispatch
    # after a minute's grace (routing README): a leak for a while, never an overbooking. A
    # ticket held without its slot would let the agent be overbooked.
    loads = Invariant("every ticket an agent holds has its slot in routing's stored load")
    holding: dict[str, set[str]] = defaultdict(set)
    for ticket_id, doc in stored.items():
        if doc.get("state") in ("offered", "assigned") and doc.get("agent_id"):
            holding[doc["agent_id"]].add(ticket_id)
    leaked = 0
    for doc in observed.stored["routing.agent_loads"]:
        active = set((doc.get("active") or {}).keys())
        held_here = holding.get(doc["_id"], set())
        loads.checked += len(held_here)
        load = sum(int(n) for n in (doc.get("load") or {}).values())
        if held_here - active:
            loads.fail(f"{doc['_id']}: holds {sorted(held_here - active)} without a slot")
        if load != len(active):
            loads.fail(f"{doc['_id']}: load {load} but {len(active)} slots")
        leaked += len(active - held_here)
    loads.note = f"{leaked} slots held without a ticket (freed by a later dispatch)"
    return [placed, capacity, single, loads]


def _sla_key(event: SlaMetricEvent) -> tuple[str, ...]:
    detail = ""
    if isinstance(event, SlaWarningV1):
        detail = event.threshold
    elif isinstance(event, SlaEscalatedV1):
        detail = str(event.level)
    return (event.ticket_id, event.ce_type, event.metric.value, str(event.cycle), detail)


def check_sla(observed: Observed) -> list[Invariant]:
    once = Invariant("every SLA event once per (ticket, metric, cycle, kind, level)")
    ids: dict[tuple[str, ...], set[str]] = defaultdict(set)
    metric_events = observed.events(SlaMetricEvent)
    for event in metric_events:
        ids[_sla_key(event)].add(event.event_id)
    once.checked = len(ids)
    for key, found in ids.items():
        if len(found) > 1:
            once.fail(f"{'/'.join(key)}: {len(found)} event ids")

    applied: dict[str, SlaAppliedV1] = {}
    for event in observed.events(SlaAppliedV1):
        applied[event.ticket_id] = event  # the latest terms
    answered: dict[str, datetime] = {}
    for reply in observed.events(TicketRepliedV1):
        if reply.public:
            answered[reply.ticket_id] = min(
                answered.get(reply.ticket_id, reply.occurred_at), reply.occurred_at
            )
    for change in observed.events(TicketStatusChangedV1):
        if change.status.value in ("solved", "closed"):
            answered[change.ticket_id] = min(
                answered.get(change.ticket_id, change.occurred_at), change.occurred_at
            )
    breached = {(e.ticket_id, e.metric) for e in metric_events if isinstance(e, SlaBreachedV1)}
    escalated = {
        (e.ticket_id, e.metric)
        for e in metric_events
        if isinstance(e, SlaEscalatedV1) and e.level == 1
    }
    fulfilled = {(e.ticket_id, e.metric) for e in metric_events if isinstance(e, SlaFulfilledV1)}

    missing = Invariant("a breach (and its escalation) for every first reply that came too late")
    applied_to = Invariant("every ticket put under a policy")
    grace = timedelta(seconds=5)
    for ticket_id in {e.ticket_id for e in observed.events(TicketOpenedV1)}:
        applied_to.checked += 1
        terms = applied.get(ticket_id)
        if terms is None:
            applied_to.fail(f"{ticket_id}: no SlaAppliedV1")
            continue
        due = next((t.due_at for t in terms.targets if t.metric is Metric.FIRST_REPLY), None)
        if due is None or due > observed.read_at - grace:
            continue
        missing.checked += 1
        late = ticket_id not in answered or answered[ticket_id] > due
        key = (ticket_id, Metric.FIRST_REPLY)
        if late and key not in breached:
            missing.fail(f"{ticket_id}: due {due:%H:%M:%S}, no reply by then, no breach")
        if key in breached and key not in escalated:
            missing.fail(f"{ticket_id}: breached, never escalated")
        if not late and key not in breached and key not in fulfilled:
            missing.fail(f"{ticket_id}: answered in time but no fulfilment")
    missing.note = f"{len(breached)} breaches"
    return [once, applied_to, missing]


def _notification_id(message_id: str) -> str:
    return message_id.strip().strip("<>").split("@", 1)[0]


def check_notifications(observed: Observed) -> list[Invariant]:
    sent = {e.notification_id: e for e in observed.events(NotificationSentV1)}
    cancelled = {e.notification_id: e for e in observed.events(NotificationCancelledV1)}
    failed = {e.notification_id for e in observed.events(NotificationFailedV1) if not e.will_retry}
    mails = Counter(_notification_id(m.message_id) for m in observed.mail)

    once = Invariant("every e-mail sent once per notification (intent, ticket, recipient)")
    once.checked = len(mails)
    for notification_id, n in mails.items():
        if n > 1:
            intent = sent[notification_id].intent if notification_id in sent else "?"
            once.fail(f"{notification_id} ({intent}): received {n} times")

    not_cancelled = Invariant("nothing sent that was cancelled")
    not_cancelled.checked = len(cancelled)
    for notification_id, event in cancelled.items():
        if notification_id in mails or notification_id in sent:
            not_cancelled.fail(f"{notification_id} ({event.intent}, {event.reason}): sent anyway")

    delivered = Invariant("every e-mail announced as sent reached the SMTP server, and back")
    for notification_id, event in sent.items():
        if event.channel is Channel.EMAIL:
            delivered.checked += 1
            if notification_id not in mails:
                delivered.fail(f"{notification_id} ({event.intent}): sent event, no e-mail")
    for notification_id in mails:
        if notification_id not in sent:
            delivered.fail(f"{notification_id}: e-mail received, never announced as sent")

    acknowledged = Invariant("every ticket opened by e-mail or web form acknowledged once")
    outcome = defaultdict(set)
    for source in (sent, cancelled):
        for event in source.values():
            outcome[event.ticket_id, event.intent].add(event.notification_id)
    for failed_id in failed:
        outcome["?", "?"].add(failed_id)
    for event in observed.events(TicketOpenedV1):
        if event.channel in (Channel.EMAIL, Channel.WEB_FORM):
            acknowledged.checked += 1
            found = outcome.get((event.ticket_id, "ticket.acknowledged"), set())
            if len(found) != 1:
                acknowledged.fail(f"{event.ticket_id}: {len(found)} acknowledgements settled")
    acknowledged.note = f"{len(sent)} sent, {len(cancelled)} cancelled, {len(failed)} failed"
    return [once, not_cancelled, delivered, acknowledged]


def _tally(responses: Iterable[dict[str, Any]], issued: Iterable[SurveyIssuedV1]) -> dict[str, Any]:
    """The report's total, counted from the raw answers and invitations."""
    counts: Counter[str] = Counter()
    for survey in issued:
        for question in survey.questions or (survey.survey_type,):
            counts[f"{question.value}_issued"] += 1
    for doc in responses:
        kind, score = doc["survey_type"], int(doc["score"])
        counts[f"{kind}_responses"] += 1
        if kind == "csat" and score >= 4:
            counts["csat_satisfied"] += 1
        if kind == "nps":
            counts["nps_promoters"] += score >= 9
            counts["nps_detractors"] += score <= 6
            counts["nps_passives"] += 7 <= score <= 8
    return dict(counts)


def check_surveys(observed: Observed, ledger: Ledger) -> list[Invariant]:
    issued = observed.events(SurveyIssuedV1)
    per_ticket = Counter(e.ticket_id for e in issued)
    stored = {doc["_id"]: doc for doc in observed.stored["feedback.survey_responses"]}

    one = Invariant("one survey per solved ticket")
    for ticket_id in ledger.solves:
        one.checked += 1
        if per_ticket[ticket_id] != 1:
            one.fail(f"{ticket_id}: {per_ticket[ticket_id]} invitations")

    counted = Invariant("every survey answer recorded once")
    recorded: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for event in observed.events(SurveyResponseRecordedV1):
        recorded[event.ticket_id, event.survey_type.value, event.revision].add(event.event_id)
    for answer_id, score in ledger.answers.items():
        counted.checked += 1
        ticket_id, kind = answer_id.rsplit(":", 1)
        doc = stored.get(answer_id)
        if doc is None or int(doc["score"]) != score:
            counted.fail(f"{answer_id}: stored {doc and doc.get('score')}, answered {score}")
        if len(recorded[ticket_id, kind, 1]) != 1:
            counted.fail(f"{answer_id}: {len(recorded[ticket_id, kind, 1])} recorded events")
    for answer_id in set(stored) - set(ledger.answers):
        counted.fail(f"{answer_id}: stored, never accepted")

    report = Invariant("feedback's report equals a recount of the raw answers")
    recount = _tally(stored.values(), issued)
    if observed.report is None:
        report.fail("GET /v1/reports failed")
    else:
        total = observed.report["total"]
        for name, expected in sorted(recount.items()):
            report.checked += 1
            if total.get(name) != expected:
                report.fail(f"{name}: report {total.get(name)}, recount {expected}")
        for name, value in total.items():
            if isinstance(value, int) and value and name not in recount:
                report.fail(f"{name}: report {value}, recount 0")
    return [one, counted, report]
