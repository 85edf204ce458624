"""In-memory fakes of notifications' ports, shared by its tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from opora_notifications.domain.model import DeliveryRecord, DeliveryState, message_id
from opora_notifications.domain.ports import DeliveryError, OutgoingMail
from opora_shared.contracts.common import Channel, CustomerRef
from opora_shared.contracts.notifications import NotificationFailedV1, NotificationSentV1
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.testing import FixedClock, RecordingPublisher


class FakeStore:
    def __init__(self) -> None:
        self.records: dict[str, DeliveryRecord] = {}

    async def claim(self, record: DeliveryRecord) -> DeliveryRecord:
        return self.records.setdefault(record.notification_id, record)

    async def start_attempt(self, notification_id: str) -> int:
        record = self.records[notification_id]
        self.records[notification_id] = replace(record, attempts=record.attempts + 1)
        return record.attempts + 1

    async def mark_sent(self, event: NotificationSentV1) -> None:
        self.records[event.notification_id] = replace(
            self.records[event.notification_id],
            state=DeliveryState.SENT,
            provider_message_id=event.provider_message_id,
            outcome=event,
        )

    async def mark_failed(self, event: NotificationFailedV1, *, final: bool) -> None:
        record = replace(self.records[event.notification_id], last_error=event.reason)
        if final:
            record = replace(record, state=DeliveryState.FAILED, outcome=event)
        self.records[event.notification_id] = record

    async def for_ticket(self, ticket_id: str) -> list[DeliveryRecord]:
        return [r for r in self.records.values() if r.ticket_id == ticket_id]


class FakeMailer:
    """Accepts every message, or raises ``failure`` while it is set."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.failure: DeliveryError | None = None

    async def send(self, mail: OutgoingMail) -> str:
        if self.failure is not None:
            raise self.failure
        self.sent.append(mail)
        return message_id(mail.notification_id, "opora.test")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 2, 28, 9, 30, tzinfo=UTC))


@pytest.fixture
def ticket_opened() -> Callable[..., TicketOpenedV1]:
    def make(
        *,
        ticket_id: str = "t-1",
        email: str | None = "ivan.petrov@example.com",
        name: str | None = "Иван Петров",
        language: str = "ru",
    ) -> TicketOpenedV1:
        return TicketOpenedV1(
            event_id=f"opened-{ticket_id}",
            ticket_id=ticket_id,
            number="OP-000123",
            channel=Channel.EMAIL,
            customer=CustomerRef(customer_id="c-1", name=name, email=email, language=language),
            subject="Стиральная машина не включается",
            language=language,
            source_message_id="m-1",
        )

    return make
