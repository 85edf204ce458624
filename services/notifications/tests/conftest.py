"""Fakes of notifications' ports and factories of the events it consumes, shared by its tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opora_notifications.adapters.memory import (
    MemoryAgentStore,
    MemoryNotificationStore,
    MemoryPreferenceStore,
    MemoryQuotas,
    MemoryTicketStore,
    MemoryWaitingRoom,
)
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.domain.directory import load_directory
from opora_notifications.domain.model import message_id
from opora_notifications.domain.ports import DeliveryError, OutgoingMessage
from opora_notifications.domain.rules import NotificationRules, load_rules
from opora_notifications.domain.service import DeliveryPolicy, Notifier
from opora_shared.contracts.common import (
    Channel,
    CustomerRef,
    Priority,
    RequestType,
    TicketStatus,
)
from opora_shared.contracts.feedback import RatingLink, SurveyIssuedV1, SurveyType
from opora_shared.contracts.sla import Metric, SlaAppliedV1, Target
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.testing import FixedClock, RecordingPublisher

# Saturday 28 February 2026, 12:30 in Moscow: inside the customers' sending window.
NOON_MOSCOW = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


class FakeSender:
    """Accepts every message, or raises the queued failures first."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failures: list[DeliveryError] = []

    async def send(self, message: OutgoingMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return message_id(message.notification_id, "opora.test")


@dataclass
class FakeTimers:
    """Remembers what is planned; the test moves the clock and fires what is due."""

    planned: dict[str, tuple[datetime, Callable[[], Awaitable[None]]]] = field(default_factory=dict)

    def schedule(self, key: str, when: datetime, action: Callable[[], Awaitable[None]]) -> None:
        self.planned[key] = (when, action)

    def cancel(self, key: str) -> None:
        self.planned.pop(key, None)

    def when(self, key: str) -> datetime | None:
        plan = self.planned.get(key)
        return plan[0] if plan else None

    async def run_due(self, now: datetime) -> int:
        """Run every action due by ``now`` (and what those re-plan as due), like the scheduler."""
        ran = 0
        for _ in range(50):
            due = sorted((when, key) for key, (when, _) in self.planned.items() if when <= now)
            if not due:
                return ran
            for _, key in due:
                plan = self.planned.pop(key, None)
                if plan is not None:
                    await plan[1]()
                    await asyncio.sleep(0)  # what the action handed to call_soon
                    ran += 1
        raise AssertionError("timers keep re-planning themselves as due")


@dataclass
class Desk:
    """A notifier over in-memory adapters, and its parts for the tests to look into."""

    notifier: Notifier
    store: MemoryNotificationStore
    tickets: MemoryTicketStore
    agents: MemoryAgentStore
    preferences: MemoryPreferenceStore
    quotas: MemoryQuotas
    mail: FakeSender
    sms: FakeSender
    publisher: RecordingPublisher
    timers: FakeTimers
    clock: FixedClock

    async def advance(self, delta: timedelta) -> None:
        """Move the clock and run the timers that came due."""
        self.clock.advance(delta)
        await self.timers.run_due(self.clock())

    async def settle(self) -> None:
        await self.timers.run_due(self.clock())


@pytest.fixture
def fake_sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def fake_timers() -> FakeTimers:
    return FakeTimers()


@pytest.fixture(scope="session")
def rules() -> NotificationRules:
    return load_rules()


@pytest.fixture(scope="session")
def renderer(rules: NotificationRules) -> JinjaRenderer:
    return JinjaRenderer.load(rules)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOON_MOSCOW)


@pytest.fixture
def make_desk(rules, renderer, clock) -> Callable[..., Desk]:
    def make(
        *,
        rules_: NotificationRules | None = None,
        sms: bool = True,
        store: MemoryNotificationStore | None = None,
        tickets: MemoryTicketStore | None = None,
        policy: DeliveryPolicy | None = None,
    ) -> Desk:
        parts: dict[str, Any] = {
            "store": store or MemoryNotificationStore(),
            "tickets": tickets or MemoryTicketStore(),
            "agents": MemoryAgentStore(),
            "preferences": MemoryPreferenceStore(),
            "quotas": MemoryQuotas(),
        }
        mail, text = FakeSender(), FakeSender()
        senders = {Channel.EMAIL: mail} | ({Channel.SMS: text} if sms else {})
        publisher, timers = RecordingPublisher(), FakeTimers()
        notifier = Notifier(
            **parts,
            waiting=MemoryWaitingRoom(),
            renderer=renderer,
            senders=senders,
            publisher=publisher,
            rules=rules_ or rules,
            directory=load_directory(),
            timers=timers,
            clock=clock,
            policy=policy or DeliveryPolicy(quick_tries=1, horizon=timedelta(days=3650)),
            unsubscribe_link=lambda customer, category: (
                f"https://opora.test/u/{customer}/{category}"
            ),
        )
        return Desk(
            notifier, **parts, mail=mail, sms=text, publisher=publisher, timers=timers, clock=clock
        )

    return make


@pytest.fixture
def desk(make_desk) -> Desk:
    return make_desk()


# --- events -------------------------------------------------------------------------------------


@pytest.fixture
def ticket_opened(clock) -> Callable[..., TicketOpenedV1]:
    def make(
        *,
        ticket_id: str = "t-1",
        email: str | None = "ivan.petrov@example.com",
        phone: str | None = None,
        name: str | None = "Иван Петров",
        language: str = "ru",
        channel: Channel = Channel.EMAIL,
        request_type: RequestType = RequestType.TECHNICAL_SUPPORT,
        customer_id: str = "c-1",
        at: datetime | None = None,
        references: dict[str, tuple[str, ...]] | None = None,
    ) -> TicketOpenedV1:
        return TicketOpenedV1(
            event_id=f"opened-{ticket_id}",
            occurred_at=at or clock(),
            ticket_id=ticket_id,
            number="OP-000123",
            channel=channel,
            customer=CustomerRef(
                customer_id=customer_id, name=name, email=email, phone=phone, language=language
            ),
            subject="Стиральная машина не включается",
            language=language,
            request_type=request_type,
            priority=Priority.NORMAL,
            product="Bosch WAN28281",
            source_message_id="email:abc@mail.example.com" if channel is Channel.EMAIL else "x:1",
            references=references or {},
        )

    return make


@pytest.fixture
def sla_applied(clock) -> Callable[..., SlaAppliedV1]:
    def make(ticket_id: str = "t-1", due_in: timedelta = timedelta(hours=4)) -> SlaAppliedV1:
        return SlaAppliedV1(
            event_id=f"sla-{ticket_id}",
            occurred_at=clock(),
            ticket_id=ticket_id,
            policy_id="standard",
            policy_version=1,
            calendar_id="moscow",
            targets=(Target(metric=Metric.FIRST_REPLY, target_s=14_400, due_at=clock() + due_in),),
        )

    return make


INTAKE_AUTOMATIONS = {
    TicketStatus.PENDING: timedelta(days=7),
    TicketStatus.SOLVED: timedelta(days=4),
}
"""When intake's packaged automations solve a pending ticket and close a solved one."""


@pytest.fixture
def status(clock) -> Callable[..., TicketStatusChangedV1]:
    def make(
        value: TicketStatus,
        *,
        ticket_id: str = "t-1",
        reopened: bool = False,
        event_id: str | None = None,
        auto_change_after: timedelta | str | None = "intake's",
    ) -> TicketStatusChangedV1:
        """A status change as intake publishes it: pending and solved ones say when intake's
        automation moves the ticket on (``auto_change_after=None``: the automation is off)."""
        after = (
            INTAKE_AUTOMATIONS.get(value) if auto_change_after == "intake's" else auto_change_after
        )
        assert after is None or isinstance(after, timedelta)
        return TicketStatusChangedV1(
            event_id=event_id or f"status-{ticket_id}-{value}-{clock().isoformat()}",
            occurred_at=clock(),
            ticket_id=ticket_id,
            status=value,
            reopened=reopened,
            auto_change_at=clock() + after if after is not None else None,
        )

    return make


@pytest.fixture
def survey_issued(clock) -> Callable[..., SurveyIssuedV1]:
    def make(
        *,
        ticket_id: str = "t-1",
        customer_id: str = "c-1",
        email: str = "ivan.petrov@example.com",
        language: str = "ru",
        send_after: datetime | None = None,
        channel: Channel = Channel.EMAIL,
        survey_type: SurveyType = SurveyType.CSAT,
        rating_links: bool = False,
    ) -> SurveyIssuedV1:
        """``rating_links``: one per score of ``survey_type``, as feedback now sends; without
        them, the invitation of an older feedback."""
        url = f"https://opora.test/s/{ticket_id}-token"
        low, high = {SurveyType.CSAT: (1, 5), SurveyType.NPS: (0, 10), SurveyType.CES: (1, 7)}[
            survey_type
        ]
        return SurveyIssuedV1(
            event_id=f"survey-{ticket_id}",
            occurred_at=clock(),
            ticket_id=ticket_id,
            survey_id=f"{ticket_id}:{survey_type}",
            survey_type=survey_type,
            channel=channel,
            request_type=RequestType.TECHNICAL_SUPPORT,
            customer=CustomerRef(
                customer_id=customer_id, name="Иван Петров", email=email, language=language
            ),
            url=url,
            expires_at=clock() + timedelta(days=28),
            send_after=send_after or clock(),
            language=language,
            rating_links=tuple(
                RatingLink(score=score, url=f"{url}?score={score}")
                for score in range(low, high + 1)
            )
            if rating_links
            else (),
        )

    return make
