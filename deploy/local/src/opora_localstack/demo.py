"""``opora-stack demo``: customers and agents play against a running stack, watched live.

Customers write on several channels, most through intake's HTTP API and some straight onto the
raw Kafka topic, a few of them twice in the same conversation. Four agents come online in the
workspace; they accept what routing offers them, answer what it assigns them and mark it solved.
Customers answer the survey that follows. A consumer on every output topic counts what the
services publish about the demo's own tickets and the terminal shows the tally as it grows.

Only events about tickets this run opened are counted, so the demo can run beside other traffic.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.base import Event, cloudevent_headers, source_of
from opora_shared.contracts.common import Channel, CustomerContact, RequestType
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyIssuedV1
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessage,
    InboundMessengerMessageV1,
    InboundSmsV1,
    InboundWalkInV1,
    InboundWebFormV1,
)
from opora_shared.contracts.notifications import NotificationFailedV1, NotificationSentV1
from opora_shared.contracts.routing import TicketAssignedV1, TicketOfferedV1, TicketQueuedV1
from opora_shared.contracts.sla import SlaAppliedV1, SlaBreachedV1, SlaWarningV1
from opora_shared.contracts.tickets import TicketMessageReceivedV1, TicketOpenedV1
from opora_shared.contracts.topics import FEEDBACK, NOTIFICATIONS, ROUTING, SLA, TICKETS
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    Presence,
    ReplyPostedV1,
    StatusSetV1,
    WorkspaceStatus,
)
from rich.console import Console
from rich.live import Live
from rich.table import Table

SOURCE = source_of("demo")
WATCHED_TOPICS = (TICKETS.name, ROUTING.name, SLA.name, NOTIFICATIONS.name, FEEDBACK.name)
HTTP_PATHS = {
    Channel.EMAIL: "email",
    Channel.WEB_FORM: "web-form",
    Channel.CHAT: "chat",
    Channel.PHONE: "call",
    Channel.SMS: "sms",
    Channel.MESSENGER: "messenger",
    Channel.WALK_IN: "walk-in",
}


# --- the cast -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    phone: str
    language: str
    messenger_id: str


CUSTOMERS = (
    Customer("Иван Петров", "ivan.petrov@example.ru", "+79161234567", "ru", "tg-1001"),
    Customer("Мария Смирнова", "m.smirnova@example.ru", "+79031112233", "ru", "tg-1002"),
    Customer("Алексей Кузнецов", "a.kuznetsov@example.ru", "+79265554433", "ru", "vk-2001"),
    Customer("Ольга Соколова", "olga.s@example.ru", "+79857778899", "ru", "wa-3001"),
    Customer("Emma Clarke", "emma.clarke@example.com", "+447700900123", "en", "tg-1003"),
    Customer("Daniel Ortiz", "d.ortiz@example.com", "+14155550134", "en", "wa-3002"),
)

# (request type, Russian text, English text)
STORIES: tuple[tuple[RequestType, str, str], ...] = (
    (
        RequestType.TECHNICAL_SUPPORT,
        "Здравствуйте! Стиральная машина не включается после обновления прошивки.",
        "Hello, the washing machine will not start since the firmware update.",
    ),
    (
        RequestType.WARRANTY,
        "Холодильник на гарантии перестал морозить, гарантийный талон есть.",
        "My fridge is under warranty and stopped cooling. I have the warranty card.",
    ),
    (
        RequestType.ORDER_STATUS,
        "Где мой заказ № 48213377? Обещали доставку вчера.",
        "Where is my order #A-48213? Delivery was promised yesterday.",
    ),
    (
        RequestType.COMPLAINT,
        "Хочу оставить жалобу: курьер был груб и не занёс технику.",
        "I want to complain: the courier was rude and left the parcel outside.",
    ),
    (
        RequestType.CONSULTATION,
        "Подскажите, какая посудомоечная машина подойдёт для семьи из четырёх человек?",
        "Which dishwasher would you recommend for a family of four?",
    ),
    (
        RequestType.LOYALTY,
        "Не начислились бонусные баллы за последнюю покупку.",
        "My loyalty points for the last purchase are missing.",
    ),
)

FOLLOW_UPS = {
    "ru": "Добавлю: фото приложил, жду ответа.",
    "en": "One more thing: I attached a photo, waiting for your answer.",
}


@dataclass(frozen=True)
class DemoAgent:
    agent_id: str
    name: str
    languages: tuple[str, ...]
    skills: dict[str, int]

    def profile(self) -> AgentProfileChangedV1:
        return AgentProfileChangedV1(
            agent_id=self.agent_id,
            name=self.name,
            skills=self.skills,
            languages=self.languages,
            teams=("demo", "tier2", "vip-desk"),
            capacity={
                Channel.EMAIL: 10,
                Channel.WEB_FORM: 10,
                Channel.CHAT: 3,
                Channel.PHONE: 1,
                Channel.SMS: 5,
                Channel.MESSENGER: 5,
                Channel.WALK_IN: 2,
            },
        )


# The skill names intake's classification asks for (services/intake/…/classification.yaml),
# at levels that pass the strictest step of routing's default rules.
_ALL_SKILLS = {
    "technical": 4,
    "warranty": 4,
    "repair": 4,
    "sales": 4,
    "complaints": 4,
    "orders": 4,
    "loyalty": 4,
    "feedback": 4,
    "general": 4,
    "product:phones": 4,
    "product:computers": 4,
    "product:appliances": 4,
    "product:network": 4,
}
AGENTS = (
    DemoAgent("demo-agent-anna", "Анна Волкова", ("ru",), _ALL_SKILLS),
    DemoAgent("demo-agent-pavel", "Павел Орлов", ("ru", "en"), _ALL_SKILLS),
    DemoAgent("demo-agent-sara", "Sara Lee", ("en",), _ALL_SKILLS),
    DemoAgent("demo-agent-timur", "Тимур Алиев", ("ru", "en"), _ALL_SKILLS),
)
AGENT_IDS = frozenset(a.agent_id for a in AGENTS)
OWNERSHIP_CHECKS = 10  # half a second apart: how long an offer may run ahead of its ticket


# --- the script -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoRequest:
    message: InboundMessage
    via_kafka: bool

    @property
    def path(self) -> str:
        return f"/v1/inbound/{HTTP_PATHS[self.message.channel]}"


def plan_requests(count: int, *, run_id: str, seed: int) -> list[DemoRequest]:
    """``count`` customer messages: mostly new requests, every sixth a follow-up in a
    conversation opened earlier, every fifth sent on the raw Kafka topic instead of HTTP."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible scene, not a secret
    planned: list[DemoRequest] = []
    for n in range(count):
        earlier = [r.message for r in planned if r.message.channel in _THREADED]
        if n % 6 == 5 and earlier:
            first = rng.choice(earlier)
            text = FOLLOW_UPS[first.customer.language or "en"]
            message = first.model_copy(
                update={
                    "event_id": str(uuid.uuid4()),
                    "source_message_id": f"{run_id}-{n}",
                    "received_at": datetime.now(UTC),
                    "text": text,
                }
            )
        else:
            customer = rng.choice(CUSTOMERS)
            request_type, ru, en = rng.choice(STORIES)
            channel = rng.choice(tuple(HTTP_PATHS))
            message = _message(
                channel, customer, ru if customer.language == "ru" else en, f"{run_id}-{n}"
            )
            message = message.model_copy(update={"request_type": request_type})
        planned.append(DemoRequest(message, via_kafka=n % 5 == 4))
    return planned


_THREADED = {Channel.CHAT, Channel.SMS, Channel.MESSENGER, Channel.EMAIL}


def _message(channel: Channel, who: Customer, text: str, ref: str) -> InboundMessage:
    now = datetime.now(UTC)
    contact = CustomerContact(name=who.name, email=who.email, language=who.language)
    common: dict[str, Any] = {
        "source_message_id": ref,
        "conversation_id": ref,
        "received_at": now,
        "customer": contact,
        "text": text,
        "language": who.language,
    }
    phone_contact = CustomerContact(name=who.name, phone=who.phone, language=who.language)
    match channel:
        case Channel.EMAIL:
            return InboundEmailV1(
                **common,
                message_id=f"<{ref}@mail.example>",
                subject=text[:40],
                to=("support@opora.example",),
            )
        case Channel.WEB_FORM:
            return InboundWebFormV1(**common, form_id="support", subject=text[:40])
        case Channel.CHAT:
            return InboundChatMessageV1(**common, session_id=ref)
        case Channel.PHONE:
            return InboundCallV1(
                **(common | {"customer": phone_contact}),
                call_id=ref,
                ivr_selections=("1",),
                callback_requested=True,
            )
        case Channel.SMS:
            return InboundSmsV1(**(common | {"customer": phone_contact}))
        case Channel.MESSENGER:
            messenger = CustomerContact(
                name=who.name, external_id=who.messenger_id, language=who.language
            )
            return InboundMessengerMessageV1(
                **(common | {"customer": messenger}), network="telegram", chat_id=ref
            )
        case _:
            return InboundWalkInV1(**common, kind="complaint_book", location="Москва, Тверская 7")


# --- the tally ------------------------------------------------------------------------------

ROWS: tuple[tuple[str, tuple[type[Event], ...]], ...] = (
    ("tickets opened", (TicketOpenedV1,)),
    ("follow-ups threaded", (TicketMessageReceivedV1,)),
    ("queued", (TicketQueuedV1,)),
    ("offered", (TicketOfferedV1,)),
    ("assigned", (TicketAssignedV1,)),
    ("deadlines armed", (SlaAppliedV1,)),
    ("SLA warnings", (SlaWarningV1,)),
    ("SLA breaches", (SlaBreachedV1,)),
    ("notifications sent", (NotificationSentV1,)),
    ("notifications failed", (NotificationFailedV1,)),
    ("surveys issued", (SurveyIssuedV1,)),
    ("surveys answered", ()),
    ("detractors", (DetractorFoundV1,)),
)


@dataclass
class Tally:
    """Distinct events per ticket; only the demo's own tickets count (their opening names the
    run). Delivery is at-least-once, so a repeat (the same event id) is counted once."""

    run_id: str
    per_ticket: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    ours: set[str] = field(default_factory=set)
    sent: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    answered: int = 0
    acted_on: set[str] = field(default_factory=set)

    def record(self, event: Event) -> None:
        ticket_id = str(getattr(event, "ticket_id", ""))
        if isinstance(event, TicketOpenedV1) and self.run_id in event.source_message_id:
            self.ours.add(ticket_id)
        seen = self.per_ticket.setdefault(ticket_id, {})
        seen.setdefault(event.ce_type, set()).add(event.event_id)

    def mine(self, event: Event) -> bool:
        return str(getattr(event, "ticket_id", "")) in self.ours

    def with_event(self, event_type: type[Event]) -> set[str]:
        """The run's tickets that have had at least one ``event_type``."""
        return {t for t in self.ours if self.per_ticket.get(t, {}).get(event_type.ce_type)}

    def first_time(self, event: Event) -> bool:
        """Whether this event (by id) is news: a repeat must not make anyone act twice."""
        if event.event_id in self.acted_on:
            return False
        self.acted_on.add(event.event_id)
        return True

    def count(self, *types: type[Event]) -> int:
        wanted = {t.ce_type for t in types}
        return sum(
            len(ids)
            for ticket in self.ours
            for ce_type, ids in self.per_ticket.get(ticket, {}).items()
            if ce_type in wanted
        )

    def rows(self) -> list[tuple[str, int]]:
        return [
            (label, self.answered if label == "surveys answered" else self.count(*types))
            for label, types in ROWS
        ]

    def table(self, elapsed_s: float) -> Table:
        table = Table(title=f"Opora demo {self.run_id} · {elapsed_s:.0f} s")
        table.add_column("customers wrote")
        table.add_column("", justify="right")
        table.add_column("the system did")
        table.add_column("", justify="right")
        left = [(f"via {k}", v) for k, v in sorted(self.sent.items())]
        if self.rejected:
            left.append(("rejected", len(self.rejected)))
        right = self.rows()
        for i in range(max(len(left), len(right))):
            lname, lval = left[i] if i < len(left) else ("", "")
            rname, rval = right[i] if i < len(right) else ("", "")
            table.add_row(lname, str(lval), rname, str(rval))
        return table


# --- the players ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    intake_url: str
    bootstrap_servers: str
    api_key: str | None = None

    @classmethod
    def from_state(cls, state_file: Path) -> Target:
        """The endpoints a running ``opora-stack up`` wrote down."""
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(
                f"no running stack found ({state_file} unreadable: {exc}); "
                "start one with `make run` in another terminal first"
            ) from exc
        return cls(
            intake_url=state["services"]["intake"],
            bootstrap_servers=state["endpoints"]["Kafka bootstrap"],
            api_key=state.get("intake_api_key"),
        )


class Demo:
    def __init__(self, target: Target, *, run_id: str | None = None) -> None:
        self.target = target
        self.run_id = run_id or f"demo-{uuid.uuid4().hex[:8]}"
        self.tally = Tally(self.run_id)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=target.bootstrap_servers, acks="all", enable_idempotence=True
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=target.bootstrap_servers, enable_auto_commit=False
        )
        headers = {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        self._http = httpx.AsyncClient(timeout=10, headers=headers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._solved: set[str] = set()
        self._rng = random.Random()  # noqa: S311 - think times and scores, not secrets

    async def play(
        self,
        customers: int,
        *,
        rate_per_s: float = 2.0,
        linger_s: float = 20.0,
        seed: int = 7,
        on_tick: Callable[[Tally], None] | None = None,
    ) -> Tally:
        """Run the whole scene; return the tally once the stream has settled."""
        await self._producer.start()
        await self._consumer.start()
        try:
            await self._watch_from_now()
            watcher = asyncio.create_task(self._watch(on_tick))
            await self._agents(Presence.ONLINE)
            for request in plan_requests(customers, run_id=self.run_id, seed=seed):
                await self._send(request)
                await asyncio.sleep(1 / rate_per_s)
            await self._settle(linger_s, on_tick)
            watcher.cancel()
        finally:
            await self._agents(Presence.OFFLINE)
            for task in self._tasks:
                task.cancel()
            await self._http.aclose()
            await self._consumer.stop()
            await self._producer.stop()
        return self.tally

    async def _watch_from_now(self) -> None:
        partitions = [
            TopicPartition(topic, p)
            for topic in WATCHED_TOPICS
            for p in (self._consumer.partitions_for_topic(topic) or await self._partitions(topic))
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything is published
            await self._consumer.position(tp)

    async def _partitions(self, topic: str) -> set[int]:
        await self._consumer._client.force_metadata_update()  # aiokafka has no public refresh
        found = self._consumer.partitions_for_topic(topic)
        if not found:
            raise RuntimeError(f"topic {topic} does not exist; is the stack running?")
        return set(found)

    async def _settle(self, linger_s: float, on_tick: Callable[[Tally], None] | None) -> None:
        """Wait, at most ``linger_s``, until every ticket the agents solved has its survey and
        nothing new arrived for a few seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + linger_s
        last, quiet_since = self._fingerprint(), loop.time()
        while loop.time() < deadline and (loop.time() - quiet_since < 5 or not self._played_out()):
            await asyncio.sleep(0.5)
            if on_tick:
                on_tick(self.tally)
            now = self._fingerprint()
            if now != last:
                last, quiet_since = now, loop.time()

    def _played_out(self) -> bool:
        """Every ticket of the run was assigned, and every one the agents solved has its survey
        (a ticket waiting for a rule step to relax can be quiet for longer than a few seconds)."""
        tally = self.tally
        return not (
            tally.ours - tally.with_event(TicketAssignedV1)
            or self._solved - tally.with_event(SurveyIssuedV1)
        )

    def _fingerprint(self) -> tuple[int, ...]:
        return (*(n for _, n in self.tally.rows()), len(self._tasks))

    async def _watch(self, on_tick: Callable[[Tally], None] | None) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=250)
            for records in batches.values():
                for record in records:
                    event = _decode(record)
                    if event is not None:
                        self.tally.record(event)
                        if self._concerns_us(event) and self.tally.first_time(event):
                            self._react(event)
            if on_tick:
                on_tick(self.tally)

    def _concerns_us(self, event: Event) -> bool:
        """An event about one of the run's tickets, or an offer to one of its agents (routing may
        offer them other tickets waiting on the same stack)."""
        offered_to_us = isinstance(event, TicketOfferedV1) and event.agent_id in AGENT_IDS
        return offered_to_us or self.tally.mine(event)

    def _react(self, event: Event) -> None:
        """What the agents and customers do when the system tells them something."""
        if isinstance(event, TicketOfferedV1) and event.agent_id in AGENT_IDS:
            self._later(0.5, self._answer_offer(event))
        elif isinstance(event, TicketAssignedV1) and event.agent_id in AGENT_IDS:
            self._later(self._rng.uniform(1, 3), self._answer_and_solve(event))
        elif isinstance(event, SurveyIssuedV1):
            self._later(self._rng.uniform(0.5, 2), self._answer_survey(event))

    def _later(self, delay_s: float, action: Awaitable[None]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay_s)
            await action

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, event: Event) -> None:
        await self._producer.send_and_wait(
            event.topic.name,
            json.dumps(event.model_dump(mode="json"), ensure_ascii=False).encode(),
            key=event.partition_key.encode(),
            headers=[(k, v.encode()) for k, v in cloudevent_headers(event, source=SOURCE).items()],
        )

    async def _agents(self, presence: Presence) -> None:
        for agent in AGENTS:
            if presence is Presence.ONLINE:
                await self._publish(agent.profile())
            await self._publish(AgentPresenceChangedV1(agent_id=agent.agent_id, presence=presence))

    async def _send(self, request: DemoRequest) -> None:
        if request.via_kafka:
            await self._publish(request.message)
            self.tally.sent["Kafka"] += 1
            return
        body = request.message.model_dump(mode="json", exclude={"event_id", "occurred_at"})
        response = await self._http.post(self.target.intake_url + request.path, json=body)
        if response.status_code < 300:
            self.tally.sent[f"HTTP {HTTP_PATHS[request.message.channel]}"] += 1
        else:
            self.tally.rejected.append(f"{request.path}: {response.status_code} {response.text}")

    async def _answer_offer(self, offer: TicketOfferedV1) -> None:
        """Accept an offer of the run's own ticket; decline anything else, so that a stranger's
        ticket goes on to a real agent instead of holding a demo agent until the offer expires.
        The offer can be read before the ticket's opening (another topic), hence the wait."""
        for _ in range(OWNERSHIP_CHECKS):
            if self.tally.mine(offer):
                await self._publish(
                    OfferAcceptedV1(
                        ticket_id=offer.ticket_id, agent_id=offer.agent_id, offer_id=offer.offer_id
                    )
                )
                return
            await asyncio.sleep(0.5)
        await self._publish(
            OfferDeclinedV1(
                ticket_id=offer.ticket_id,
                agent_id=offer.agent_id,
                offer_id=offer.offer_id,
                reason="a demo agent takes only the demo's tickets",
            )
        )

    async def _answer_and_solve(self, assigned: TicketAssignedV1) -> None:
        reply = ReplyPostedV1(
            ticket_id=assigned.ticket_id,
            agent_id=assigned.agent_id,
            reply_id=f"{self.run_id}-reply-{assigned.ticket_id[:8]}",
            text="Спасибо, что написали! Мы всё проверили и исправили.",
        )
        await self._publish(reply)
        await asyncio.sleep(self._rng.uniform(1, 2))
        self._solved.add(assigned.ticket_id)
        await self._publish(
            StatusSetV1(
                ticket_id=assigned.ticket_id,
                agent_id=assigned.agent_id,
                status=WorkspaceStatus.SOLVED,
            )
        )

    async def _answer_survey(self, survey: SurveyIssuedV1) -> None:
        token = survey.url.rstrip("/").rsplit("/", 1)[-1]
        base = survey.url.split("/s/", 1)[0]
        score = self._rng.choice((5, 5, 4, 4, 3, 2))
        response = await self._http.post(
            f"{base}/v1/surveys/{token}/responses", json={"score": score}
        )
        if response.status_code < 300:
            self.tally.answered += 1


def _decode(record: ConsumerRecord[bytes, bytes]) -> Event | None:
    headers = {k: v.decode(errors="replace") for k, v in record.headers}
    event_type = EVENTS_BY_TYPE.get(headers.get("ce_type", ""))
    if event_type is None or record.value is None:
        return None
    try:
        return event_type.model_validate_json(record.value)
    except ValueError:
        return None


def run_demo(target: Target, *, customers: int, rate_per_s: float, linger_s: float) -> int:
    """Play the scene with a live table; print the final tally."""
    console = Console()
    tally = asyncio.run(_play_live(console, target, customers, rate_per_s, linger_s))
    for line in tally.rejected:
        console.print(f"[red]rejected[/red] {line}")
    return 0 if not tally.rejected and tally.count(TicketOpenedV1) else 1


async def _play_live(
    console: Console, target: Target, customers: int, rate_per_s: float, linger_s: float
) -> Tally:
    demo = Demo(target)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with Live(demo.tally.table(0), console=console, refresh_per_second=4) as live:

        def tick(tally: Tally) -> None:
            live.update(tally.table(loop.time() - started))

        tally = await demo.play(customers, rate_per_s=rate_per_s, linger_s=linger_s, on_tick=tick)
        tick(tally)
    return tally


def summary(tally: Tally) -> dict[str, int]:
    """The final numbers, by row label."""
    return dict(tally.rows())
