"""In-memory stores with the MongoDB stores' semantics (unique keys, newer-wins updates), for the
unit tests and for trying rules out without a database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from opora_shared.contracts.common import Channel, CustomerRef, RequestType, TicketStatus
from opora_shared.contracts.notifications import NotificationEvent

from opora_notifications.domain.model import (
    SETTLED_STATES,
    Agent,
    Attempt,
    DeadLetter,
    HistoryEntry,
    NotificationRecord,
    Outcome,
    Preferences,
)
from opora_notifications.domain.service import Occurrence
from opora_notifications.domain.tickets import TicketView


class MemoryNotificationStore:
    def __init__(self) -> None:
        self.records: dict[str, NotificationRecord] = {}
        self.attempt_log: dict[str, Attempt] = {}
        self.letters: dict[str, DeadLetter] = {}

    async def plan(self, record: NotificationRecord) -> tuple[NotificationRecord, bool]:
        if record.notification_id in self.records:
            return self.records[record.notification_id], False
        self.records[record.notification_id] = record
        return record, True

    async def get(self, notification_id: str) -> NotificationRecord | None:
        return self.records.get(notification_id)

    async def save(self, record: NotificationRecord, entry: HistoryEntry | None = None) -> None:
        stored = self.records.get(record.notification_id, record)
        history = stored.history + ((entry,) if entry else ())
        self.records[record.notification_id] = replace(record, history=history)

    async def attempts(self, notification_id: str) -> list[Attempt]:
        return sorted(
            (a for a in self.attempt_log.values() if a.notification_id == notification_id),
            key=lambda a: a.number,
        )

    async def claim(self, attempt: Attempt) -> bool:
        if attempt.key in self.attempt_log:
            return False
        self.attempt_log[attempt.key] = attempt
        return True

    async def settle(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        retry_at: datetime | None,
        reason: str | None,
        event: NotificationEvent | None,
    ) -> None:
        self.attempt_log[attempt.key] = replace(
            self.attempt_log[attempt.key],
            outcome=outcome,
            retry_at=retry_at,
            reason=reason,
            event=event,
        )

    async def mark_published(self, notification_id: str) -> None:
        self.records[notification_id] = replace(self.records[notification_id], published=True)

    async def pull_forward(self, ticket_id: str, at: datetime) -> list[str]:
        moved = []
        for nid, record in self.records.items():
            if record.ticket_id == ticket_id and record.awaits_sla and record.attempts == 0:
                self.records[nid] = replace(record, due_at=at, wake_at=at, awaits_sla=False)
                moved.append(nid)
        return moved

    async def unsettled(
        self, *, ticket_id: str | None = None, wake_before: datetime | None = None
    ) -> list[NotificationRecord]:
        return [
            r
            for r in self.records.values()
            if r.state not in SETTLED_STATES
            and (ticket_id is None or r.ticket_id == ticket_id)
            and (wake_before is None or (r.wake_at or r.due_at) <= wake_before)
        ]

    async def unpublished(self) -> list[NotificationRecord]:
        return [r for r in self.records.values() if not r.published]

    async def for_ticket(self, ticket_id: str) -> list[NotificationRecord]:
        found = [r for r in self.records.values() if r.ticket_id == ticket_id]
        return sorted(found, key=lambda r: (r.created_at, r.due_at))

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.setdefault(letter.notification_id, letter)

    async def dead_letters(self, ticket_id: str | None, limit: int) -> list[DeadLetter]:
        found = [d for d in self.letters.values() if ticket_id in (None, d.ticket_id)]
        return sorted(found, key=lambda d: d.failed_at, reverse=True)[:limit]


class MemoryQuotas:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, datetime]] = {}

    async def take_slot(self, key: str, slots: int, holder: str, expires_at: datetime) -> bool:
        names = [f"{key}:{n}" for n in range(slots)]
        if any(self.keys.get(name, ("", expires_at))[0] == holder for name in names):
            return True
        for name in names:
            if name not in self.keys:
                self.keys[name] = (holder, expires_at)
                return True
        return False

    async def take_all(self, keys: Sequence[str], holder: str, expires_at: datetime) -> bool:
        taken = []
        for key in keys:
            owner = self.keys.get(key)
            if owner is None:
                self.keys[key] = (holder, expires_at)
                taken.append(key)
            elif owner[0] != holder:
                for done in taken:
                    del self.keys[done]
                return False
        return True

    async def release(self, holder: str) -> None:
        for key in [k for k, (owner, _) in self.keys.items() if owner == holder]:
            del self.keys[key]

    async def purge(self, now: datetime) -> int:
        expired = [k for k, (_, expires) in self.keys.items() if expires <= now]
        for key in expired:
            del self.keys[key]
        return len(expired)


class MemoryWaitingRoom:
    def __init__(self) -> None:
        self.parked: dict[str, dict[tuple[str, str], Occurrence]] = {}

    async def park(self, occurrence: Occurrence) -> None:
        room = self.parked.setdefault(occurrence.ticket_id, {})
        room.setdefault((occurrence.event_id, occurrence.trigger.value), occurrence)

    async def waiting(self, ticket_id: str) -> list[Occurrence]:
        return sorted(self.parked.get(ticket_id, {}).values(), key=lambda o: o.at)

    async def release(self, occurrence: Occurrence) -> None:
        room = self.parked.get(occurrence.ticket_id, {})
        room.pop((occurrence.event_id, occurrence.trigger.value), None)
        if not room:
            self.parked.pop(occurrence.ticket_id, None)

    async def purge(self, before: datetime) -> int:
        old = [o for room in self.parked.values() for o in room.values() if o.at < before]
        for occurrence in old:
            await self.release(occurrence)
        return len(old)


class MemoryTicketStore:
    def __init__(self) -> None:
        self.tickets: dict[str, TicketView] = {}

    def _get(self, ticket_id: str) -> TicketView:
        return self.tickets.get(ticket_id) or TicketView(ticket_id=ticket_id)

    async def get(self, ticket_id: str) -> TicketView | None:
        return self.tickets.get(ticket_id)

    async def opened(self, view: TicketView) -> None:
        current = self._get(view.ticket_id)
        facts = {
            name: getattr(view, name)
            for name in (
                "number",
                "subject",
                "channel",
                "request_type",
                "priority",
                "language",
                "product",
                "references",
                "customer",
                "source_message_id",
                "opened_at",
            )
        }
        status = current.status or TicketStatus.NEW
        self.tickets[view.ticket_id] = replace(current, status=status, **facts)

    async def status_changed(
        self, ticket_id: str, status: TicketStatus, at: datetime, *, reopened: bool
    ) -> None:
        current = self._get(ticket_id)
        if current.status_at is not None and current.status_at > at:
            return
        reopened_at = at if reopened else current.reopened_at
        self.tickets[ticket_id] = replace(
            current,
            status=status,
            status_at=at,
            reopened_at=_later(current.reopened_at, reopened_at),
        )

    async def customer_wrote(self, ticket_id: str, at: datetime) -> None:
        current = self._get(ticket_id)
        self.tickets[ticket_id] = replace(
            current, last_customer_message_at=_later(current.last_customer_message_at, at)
        )

    async def agent_replied(self, ticket_id: str, at: datetime) -> None:
        current = self._get(ticket_id)
        self.tickets[ticket_id] = replace(
            current, last_agent_reply_at=_later(current.last_agent_reply_at, at)
        )

    async def updated(self, ticket_id: str, fields: Mapping[str, Any]) -> None:
        self.tickets[ticket_id] = replace(self._get(ticket_id), **dict(fields))

    async def assigned(
        self, ticket_id: str, *, agent_id: str, team: str | None, queue: str, at: datetime
    ) -> None:
        self.tickets[ticket_id] = replace(
            self._get(ticket_id), agent_id=agent_id, team=team, queue=queue
        )

    async def sla_applied(
        self, ticket_id: str, reply_due_at: datetime | None, at: datetime
    ) -> None:
        self.tickets[ticket_id] = replace(self._get(ticket_id), reply_due_at=reply_due_at)

    async def survey_facts(
        self,
        ticket_id: str,
        *,
        customer: CustomerRef,
        channel: Channel,
        language: str,
        request_type: str,
    ) -> None:
        current = self._get(ticket_id)
        self.tickets[ticket_id] = replace(
            current,
            customer=current.customer or customer,
            channel=current.channel or channel,
            language=current.language or language,
            request_type=current.request_type or RequestType(request_type),
        )


class MemoryAgentStore:
    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}

    async def save(self, agent: Agent) -> None:
        self.agents[agent.agent_id] = agent

    async def get(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id)


class MemoryPreferenceStore:
    def __init__(self) -> None:
        self.preferences: dict[str, Preferences] = {}

    async def get(self, customer_id: str) -> Preferences | None:
        return self.preferences.get(customer_id)

    async def save(self, preferences: Preferences) -> None:
        self.preferences[preferences.customer_id] = preferences


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    present = [m for m in (a, b) if m is not None]
    return max(present) if present else None
