"""Customers and agents at a steady rate, and the ledger of every request the system accepted.

Customers open conversations on the web form, e-mail, SMS and chat through intake's HTTP API,
and some straight onto the raw topic ``intake.inbound-messages.v1``; some write again in a
conversation they opened (SMS and chat thread by sender and session). Each conversation is a
customer of its own, so "one ticket per conversation" has one meaning. A request that fails
(connection refused while intake restarts, a 5xx while the broker is away, a timeout) is retried
with the same ``source_message_id``, as a provider would; a few accepted ones are sent once more
on purpose, and must come back as repeats.

Agents come online in the workspace with capacity, accept what routing offers them, reply to
what it assigns them and solve most of it; customers answer most surveys on feedback's JSON API
with the token from ``SurveyIssuedV1.url``. Agents' and customers' actions are driven by what
the services publish, read from ``routing.events.v1`` and ``feedback.events.v1``.

Only accepted requests (HTTP 2xx, Kafka acknowledged) go into the ledger as accepted; a request
given up on is kept as *unacknowledged*: it may or may not have been taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from opora_localstack.demo import AGENTS as DEMO_AGENTS
from opora_localstack.demo import FOLLOW_UPS, STORIES
from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerContact
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType
from opora_shared.contracts.inbound import (
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessage,
    InboundSmsV1,
    InboundWebFormV1,
)
from opora_shared.contracts.routing import TicketAssignedV1, TicketOfferedV1
from opora_shared.contracts.topics import FEEDBACK, ROUTING
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    Presence,
    ReplyPostedV1,
    StatusSetV1,
    WorkspaceStatus,
)
from opora_shared.testing import event_producer

HTTP_PATHS = {
    Channel.WEB_FORM: "web-form",
    Channel.EMAIL: "email",
    Channel.SMS: "sms",
    Channel.CHAT: "chat",
}
THREADED = (Channel.SMS, Channel.CHAT)  # follow-ups thread by sender / session
# Satisfied answers only: a detractor would make intake open a recovery ticket that no
# customer asked for, which is right but blurs "one ticket per accepted request".
SCORES = {SurveyType.CSAT: (4, 5), SurveyType.NPS: (9, 10), SurveyType.CES: (5, 6, 7)}
NAMESPACE = uuid.UUID("6f1d3c1e-2a4b-4c7e-9a53-0c5a1c7e0d11")


def action_id(*parts: str) -> str:
    """A deterministic event id, so a retried workspace call is the same action."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


@dataclass
class Request:
    """One customer message and what became of it."""

    n: int
    channel: Channel
    conversation: str
    source_message_id: str
    via: Literal["http", "kafka"]
    follow_up: bool
    attempts: int = 0
    accepted: bool = False
    rejected: str | None = None  # a 4xx: the load generator's own mistake
    repeats: int = 0  # answers saying "repeat": true
    resend_answered: bool = False  # sent once more on purpose after acceptance, and answered
    ticket_id: str | None = None  # from the HTTP answer
    accepted_at: float | None = None

    @property
    def key(self) -> str:
        """intake's dedup key and the id its events carry (``TicketOpenedV1.source_message_id``,
        ``TicketMessageReceivedV1.message_id``)."""
        return f"{self.channel.value}:{self.source_message_id}"


@dataclass
class Ledger:
    """What the load generator asked for and what was acknowledged."""

    requests: dict[str, Request] = field(default_factory=dict)  # by key
    answers: dict[str, int] = field(default_factory=dict)  # accepted survey answers by answer id
    answer_attempts: int = 0
    offers_accepted: set[str] = field(default_factory=set)
    replies: set[str] = field(default_factory=set)  # ticket ids replied to
    solves: set[str] = field(default_factory=set)  # ticket ids solved (accepted)
    http: Counter[str] = field(default_factory=Counter)  # outcome per attempt: 201, 503, error…
    resent: int = 0

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests.values() if r.accepted]

    @property
    def unacknowledged(self) -> list[Request]:
        return [r for r in self.requests.values() if not r.accepted and r.rejected is None]


@dataclass(frozen=True)
class LoadShape:
    rate_per_s: float  # customer messages per second
    duration_s: float
    agents: int = 6
    kafka_share: float = 0.2  # of messages sent on the raw topic
    follow_up_share: float = 0.15
    solve_share: float = 0.8  # of assigned tickets the agent solves
    answer_share: float = 0.7  # of surveys answered
    resend_share: float = 0.05  # accepted requests sent once more on purpose
    seed: int = 20261110
    max_in_flight: int = 48


def _agent_profile(agent_id: str, n: int) -> AgentProfileChangedV1:
    """Every skill the classification asks for, both languages, every team the routing rules
    name (a breached ticket moves to the supervisors' escalation queue)."""
    return AgentProfileChangedV1(
        event_id=action_id("profile", agent_id),
        agent_id=agent_id,
        name=f"Chaos Agent {n}",
        skills=dict(DEMO_AGENTS[0].skills),
        languages=("ru", "en"),
        teams=("demo", "tier2", "vip-desk", "technical", "supervisors", "team-leads"),
        capacity={
            Channel.EMAIL: 4,
            Channel.WEB_FORM: 4,
            Channel.CHAT: 2,
            Channel.SMS: 3,
            Channel.MESSENGER: 2,
            Channel.PHONE: 1,
            Channel.WALK_IN: 1,
            Channel.WORKSPACE: 2,
        },
    )


class Load:
    """Plays customers for ``shape.duration_s`` and agents until ``stop()``."""

    def __init__(
        self,
        shape: LoadShape,
        *,
        run_id: str,
        intake_url: str,
        api_key: str,
        bootstrap_servers: str,
    ) -> None:
        self.shape = shape
        self.run_id = run_id
        self.intake_url = intake_url
        self.bootstrap_servers = bootstrap_servers
        self.ledger = Ledger()
        self.agents = [f"chaos-agent-{n}" for n in range(shape.agents)]
        self.profiles = {a: _agent_profile(a, n) for n, a in enumerate(self.agents)}
        self._rng = random.Random(shape.seed)
        self._http = httpx.AsyncClient(
            timeout=10.0,
            headers={"authorization": f"Bearer {api_key}"},
            limits=httpx.Limits(max_connections=shape.max_in_flight),
        )
        self._slots = asyncio.Semaphore(shape.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._acted: set[str] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.customers_done = asyncio.Event()
        self.last_action_at = time.monotonic()

    # --- the run ---------------------------------------------------------------------------

    async def start_agents(self) -> None:
        """Agents online, and the reader that makes them (and customers) act."""
        for agent in self.agents:
            await self._workspace("agents/profile", self.profiles[agent])
            await self._workspace(
                "agents/presence",
                AgentPresenceChangedV1(
                    event_id=action_id("online", agent), agent_id=agent, presence=Presence.ONLINE
                ),
            )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False
        )
        await self._consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in (ROUTING.name, FEEDBACK.name)
            for p in await self._partitions(topic)
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)  # the run's own broker
        self._watcher = asyncio.create_task(self._watch())

    async def customers(self, send: Callable[[Event], Awaitable[None]]) -> None:
        """New conversations and follow-ups at ``rate_per_s`` for ``duration_s``."""
        interval = 1 / self.shape.rate_per_s
        started = time.monotonic()
        n = 0
        while (due := started + n * interval) < started + self.shape.duration_s:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            request, message = self._plan(n)
            self.ledger.requests[request.key] = request
            self._spawn(self._deliver(request, message, send))
            n += 1
        self.customers_done.set()

    async def run_customers(self) -> None:
        async with event_producer(self.bootstrap_servers) as send:
            await self.customers(send)
            await self.drain()

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Wait for every request and action under way (a retry can take a while)."""
        deadline = time.monotonic() + timeout_s
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
        await self._http.aclose()

    # --- customers -------------------------------------------------------------------------

    def _plan(self, n: int) -> tuple[Request, InboundMessage]:
        rng = self._rng
        smid = f"{self.run_id}-m{n}"
        threads = [r for r in self.ledger.requests.values() if r.channel in THREADED and r.accepted]
        via: Literal["http", "kafka"] = "kafka" if rng.random() < self.shape.kafka_share else "http"
        if threads and rng.random() < self.shape.follow_up_share:
            first = rng.choice(threads)
            conversation, channel, follow_up = first.conversation, first.channel, True
        else:
            conversation, channel, follow_up = (
                f"{self.run_id}-c{n}",
                rng.choice(tuple(HTTP_PATHS)),
                False,
            )
        message = _message(channel, conversation, smid, follow_up)
        return Request(n, channel, conversation, smid, via, follow_up), message

    def _spawn(self, action: Awaitable[None]) -> None:
        async def run() -> None:
            async with self._slots:
                await action

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, request: Request, message: InboundMessage, send: Callable[[Event], Awaitable[None]]
    ) -> None:
        if request.via == "kafka":
            await self._deliver_kafka(request, message, send)
        else:
            await self._deliver_http(request, message)
        if request.accepted and self._rng.random() < self.shape.resend_share:
            # A provider's redelivery of what was already taken: must change nothing.
            self.ledger.resent += 1
            before = request.accepted_at
            if request.via == "kafka":
                await self._deliver_kafka(request, message, send)
            else:
                await self._deliver_http(request, message, resend=True)
            request.accepted_at = before

    async def _deliver_kafka(
        self, request: Request, message: InboundMessage, send: Callable[[Event], Awaitable[None]]
    ) -> None:
        for wait in _backoff():
            request.attempts += 1
            try:
                await asyncio.wait_for(send(message), 15.0)
            except (TimeoutError, Exception) as error:  # broker away: try again
                self.ledger.http[f"kafka {type(error).__name__}"] += 1
                await asyncio.sleep(wait)
                continue
            self.ledger.http["kafka acked"] += 1
            request.accepted, request.accepted_at = True, time.time()
            return

    async def _deliver_http(
        self, request: Request, message: InboundMessage, *, resend: bool = False
    ) -> None:
        body = message.model_dump(mode="json", exclude={"event_id", "occurred_at"})
        url = f"{self.intake_url}/v1/inbound/{HTTP_PATHS[request.channel]}"
        for wait in _backoff():
            request.attempts += 1
            try:
                response = await self._http.post(url, json=body)
            except httpx.HTTPError as error:
                self.ledger.http[f"http {type(error).__name__}"] += 1
                await asyncio.sleep(wait)
                continue
            self.ledger.http[f"http {response.status_code}"] += 1
            if response.status_code >= 500:
                await asyncio.sleep(wait)
                continue
            if response.status_code >= 300:
                request.rejected = f"{response.status_code} {response.text[:300]}"
                return
            answer = response.json()
            request.repeats += int(bool(answer.get("repeat")))
            request.resend_answered |= resend
            request.accepted, request.accepted_at = True, time.time()
            request.ticket_id = request.ticket_id or answer.get("ticket_id")
            return

    # --- agents and surveys ----------------------------------------------------------------

    async def _partitions(self, topic: str) -> set[int]:
        assert self._consumer is not None
        for _ in range(50):
            found = self._consumer.partitions_for_topic(topic)
            if found:
                return set(found)
            await self._consumer._client.force_metadata_update()  # aiokafka: no public refresh
            await asyncio.sleep(0.1)
        raise LookupError(f"topic {topic} does not exist")

    async def _watch(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=300)
            for records in batches.values():
                for record in records:
                    event = _decode(record)
                    if event is not None and event.event_id not in self._acted:
                        self._acted.add(event.event_id)
                        self._react(event)

    def _react(self, event: Event) -> None:
        rng = self._rng
        if isinstance(event, TicketOfferedV1) and event.agent_id in self.profiles:
            self._spawn(self._later(rng.uniform(0.2, 1.0), lambda: self._accept(event)))
        elif isinstance(event, TicketAssignedV1) and event.agent_id in self.profiles:
            solve = rng.random() < self.shape.solve_share
            self._spawn(self._later(rng.uniform(0.3, 1.5), lambda: self._answer(event, solve)))
        elif isinstance(event, SurveyIssuedV1) and rng.random() < self.shape.answer_share:
            self._spawn(self._later(rng.uniform(0.2, 1.0), lambda: self._answer_survey(event)))

    async def _later(self, delay_s: float, action: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(delay_s)
        await action()
        self.last_action_at = time.monotonic()

    async def _accept(self, offer: TicketOfferedV1) -> None:
        accepted = OfferAcceptedV1(
            event_id=action_id("accept", offer.offer_id),
            ticket_id=offer.ticket_id,
            agent_id=offer.agent_id,
            offer_id=offer.offer_id,
        )
        if await self._workspace("offers/accepted", accepted):
            self.ledger.offers_accepted.add(offer.offer_id)

    async def _answer(self, assigned: TicketAssignedV1, solve: bool) -> None:
        reply = ReplyPostedV1(
            event_id=action_id("reply", assigned.event_id),
            ticket_id=assigned.ticket_id,
            agent_id=assigned.agent_id,
            reply_id=action_id("reply-id", assigned.event_id),
            text="Спасибо, что написали! Мы всё проверили и исправили.",
        )
        if await self._workspace("replies", reply):
            self.ledger.replies.add(assigned.ticket_id)
        if not solve:
            return
        await asyncio.sleep(self._rng.uniform(0.3, 1.0))
        solved = StatusSetV1(
            event_id=action_id("solve", assigned.event_id),
            ticket_id=assigned.ticket_id,
            agent_id=assigned.agent_id,
            status=WorkspaceStatus.SOLVED,
        )
        if await self._workspace("status", solved):
            self.ledger.solves.add(assigned.ticket_id)

    async def _answer_survey(self, survey: SurveyIssuedV1) -> None:
        token = survey.url.rstrip("/").rsplit("/", 1)[-1]
        base = survey.url.split("/s/", 1)[0]
        score = self._rng.choice(SCORES[survey.survey_type])
        answer_id = f"{survey.ticket_id}:{survey.survey_type.value}"
        for wait in _backoff():
            self.ledger.answer_attempts += 1
            try:
                response = await self._http.post(
                    f"{base}/v1/surveys/{token}/responses",
                    json={"score": score, "survey_type": survey.survey_type.value},
                )
            except httpx.HTTPError as error:
                self.ledger.http[f"survey {type(error).__name__}"] += 1
                await asyncio.sleep(wait)
                continue
            self.ledger.http[f"survey {response.status_code}"] += 1
            if response.status_code < 300:
                self.ledger.answers[answer_id] = score
                return
            if response.status_code < 500:
                return
            await asyncio.sleep(wait)

    async def _workspace(self, path: str, action: Event) -> bool:
        """POST an agent's action to intake's workspace API, retried with the same event id."""
        body = action.model_dump(mode="json")
        for wait in _backoff():
            try:
                response = await self._http.post(
                    f"{self.intake_url}/v1/workspace/{path}", json=body
                )
            except httpx.HTTPError as error:
                self.ledger.http[f"workspace {type(error).__name__}"] += 1
                await asyncio.sleep(wait)
                continue
            self.ledger.http[f"workspace {response.status_code}"] += 1
            if response.status_code < 300:
                return True
            if response.status_code < 500:
                return False
            await asyncio.sleep(wait)
        return False


def _backoff(tries: int = 14, first_s: float = 0.5, cap_s: float = 5.0) -> list[float]:
    """The waits after each failed attempt: 0.5, 1, 2, 4, 5… seconds, about a minute in all,
    longer than a broker restart takes here."""
    return [min(cap_s, first_s * 2**n) for n in range(tries)]


def _message(channel: Channel, conversation: str, smid: str, follow_up: bool) -> InboundMessage:
    number = int(conversation.rsplit("-c", 1)[-1])
    language = "ru" if number % 2 else "en"
    request_type, ru, en = STORIES[number % len(STORIES)]
    text = FOLLOW_UPS[language] if follow_up else (ru if language == "ru" else en)
    name = f"Chaos Customer {number}"
    customer = (
        CustomerContact(name=name, phone=f"+7916{number:07d}", language=language)
        if channel is Channel.SMS
        else CustomerContact(
            name=name, email=f"customer{number}@chaos.example.com", language=language
        )
    )
    common: dict[str, Any] = {
        "source_message_id": smid,
        "conversation_id": conversation,
        "received_at": datetime.now(UTC),
        "customer": customer,
        "text": text,
        "language": language,
        "request_type": request_type,
    }
    match channel:
        case Channel.EMAIL:
            return InboundEmailV1(
                **common,
                message_id=f"<{smid}@mail.example>",
                subject=text[:40],
                to=("support@opora.example",),
            )
        case Channel.WEB_FORM:
            return InboundWebFormV1(**common, form_id="support", subject=text[:40])
        case Channel.CHAT:
            return InboundChatMessageV1(**common, session_id=conversation)
        case _:
            return InboundSmsV1(**common)


def _decode(record: ConsumerRecord[bytes, bytes]) -> Event | None:
    headers = {k: v.decode(errors="replace") for k, v in record.headers}
    event_type = EVENTS_BY_TYPE.get(headers.get("ce_type", ""))
    if event_type is None or record.value is None:
        return None
    try:
        return event_type.model_validate_json(record.value)
    except ValueError:
        return None
