"""What notifications knows about a ticket: gathered from intake's, routing's and sla's events.

Follow-ups are decided when a fact arrives, but sent later; whether they still make sense (the
customer replied, the ticket was reopened) and whom to write to are read from this view at
send time. Each event updates only its own fields, so events from different topics may arrive
in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from opora_shared.contracts.common import Channel, CustomerRef, Priority, RequestType, TicketStatus

from opora_notifications.domain.rules import CancelIf, Conditions, WarrantyRules


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    number: str | None = None
    subject: str = ""
    channel: Channel | None = None
    request_type: RequestType | None = None
    priority: Priority | None = None
    language: str | None = None
    product: str | None = None
    references: dict[str, tuple[str, ...]] = field(default_factory=dict)
    customer: CustomerRef | None = None
    source_message_id: str | None = None
    opened_at: datetime | None = None
    status: TicketStatus | None = None
    status_at: datetime | None = None
    reopened_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    agent_id: str | None = None
    team: str | None = None
    queue: str | None = None
    reply_due_at: datetime | None = None

    @property
    def seen_opened(self) -> bool:
        return self.opened_at is not None

    @property
    def last_customer_activity(self) -> datetime | None:
        moments = [m for m in (self.opened_at, self.last_customer_message_at) if m is not None]
        return max(moments) if moments else None

    @property
    def messenger_conversation(self) -> str | None:
        """The inbound message a messenger ticket came from: the channel adapter answers in its
        chat (the contract carries no chat id, the adapter keeps the mapping)."""
        if self.channel is Channel.MESSENGER and self.source_message_id:
            return self.source_message_id
        return None

    @property
    def email_thread_id(self) -> str | None:
        """The customer's own ``Message-ID`` (``<…>``) when the ticket came by e-mail."""
        if self.channel is not Channel.EMAIL or not self.source_message_id:
            return None
        kind, _, core = self.source_message_id.partition(":")
        if kind != "email" or "@" not in core or core.startswith("sha256-"):
            return None
        return f"<{core}>"


def matches(
    conditions: Conditions, ticket: TicketView, *, level: int | None, metric: str | None
) -> bool:
    """Whether the ticket (and the trigger's level and metric) meet a rule's ``when``."""
    checks: list[bool] = []
    if conditions.request_type is not None:
        checks.append(ticket.request_type in conditions.request_type)
    if conditions.channel is not None:
        checks.append(ticket.channel in conditions.channel)
    if conditions.priority is not None:
        checks.append(ticket.priority in conditions.priority)
    if conditions.language is not None:
        checks.append((ticket.language or "").split("-")[0] in conditions.language)
    if conditions.level is not None:
        checks.append(level in conditions.level)
    if conditions.metric is not None:
        checks.append(metric in conditions.metric)
    return all(checks)


def cancellation(
    cancel_if: tuple[CancelIf, ...], ticket: TicketView, since: datetime
) -> CancelIf | None:
    """The first of ``cancel_if`` that became true after ``since`` (the trigger), or None."""
    happened = {
        CancelIf.CUSTOMER_REPLIED: ticket.last_customer_message_at,
        CancelIf.AGENT_REPLIED: ticket.last_agent_reply_at,
        CancelIf.STATUS_CHANGED: ticket.status_at,
        CancelIf.REOPENED: ticket.reopened_at,
    }
    for condition in cancel_if:
        moment = happened[condition]
        if moment is not None and moment > since:
            return condition
    return None


def warranty_end(ticket: TicketView, rules: WarrantyRules) -> datetime | None:
    """The warranty's end: a date intake found in the request (reference kind
    ``rules.end_reference``, ISO ``YYYY-MM-DD``), else the opening plus the assumed term."""
    if rules.end_reference:
        for value in ticket.references.get(rules.end_reference, ()):
            try:
                day = date.fromisoformat(value.strip())
            except ValueError:
                continue
            return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    if ticket.opened_at is None:
        return None
    return ticket.opened_at + rules.assumed_end_after_opening
