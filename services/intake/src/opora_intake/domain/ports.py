"""The interfaces intake's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.feedback import SurveyAnswerReceivedV1
from opora_shared.contracts.tickets import TicketStatusChangedV1

from opora_intake.domain.identity import Identifier, StoredIdentifier
from opora_intake.domain.surveys import Invitation


@dataclass(frozen=True)
class TicketRecord:
    ticket_id: str
    number: str
    status: TicketStatus
    customer_id: str
    channel: Channel | None = None
    solved_at: datetime | None = None
    changed_by: str | None = None  # the inbound message behind the last status change
    previous_status: TicketStatus | None = None
    version: int = 0  # one more for every change of status (or of its automation)
    status_changed_at: datetime | None = None
    auto_change_at: datetime | None = None  # when the automation moves it on, if armed


@dataclass(frozen=True)
class StatusChange:
    """One change of a ticket out of ``version``: a new status, or (``disarm``) the same status
    with its automation called off. Only one change per version can be claimed."""

    ticket_id: str
    version: int
    status: TicketStatus
    previous_status: TicketStatus
    at: datetime
    changed_by: str | None
    auto_change_at: datetime | None = None
    disarm: bool = False
    event: TicketStatusChangedV1 | None = None
    """Kept with an automatic change until it is published, so a restart can publish it."""
    published: bool = False

    def applied_to(self, ticket: TicketRecord) -> TicketRecord:
        """The ticket (at this change's version) as this change leaves it."""
        if self.disarm:
            return replace(ticket, version=self.version + 1, auto_change_at=None)
        return replace(
            ticket,
            status=self.status,
            previous_status=self.previous_status,
            changed_by=self.changed_by,
            solved_at=self.at if self.status is TicketStatus.SOLVED else ticket.solved_at,
            version=self.version + 1,
            status_changed_at=self.at,
            auto_change_at=self.auto_change_at,
        )


class NumberTakenError(Exception):
    """Another ticket holds this number already: draw the next one and try again."""


@dataclass(frozen=True)
class Outcome:
    """What an inbound message became, kept so a redelivery republishes the same events."""

    ticket_id: str
    number: str
    opened: bool
    events: tuple[Event, ...]
    repeat: bool = False  # this message was accepted before (not stored: true on the repeat)

    @property
    def survey_answer(self) -> bool:
        """The message answered a survey instead of joining or opening a ticket."""
        return any(isinstance(event, SurveyAnswerReceivedV1) for event in self.events)


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: str
    name: str | None
    language: str
    tier: str
    identifiers: tuple[Identifier, ...]
    merged_into: str | None = None
    last_merged_into: str | None = None  # kept after an unmerge, to recognise a retried one
    merge_revision: int = 0  # counts merges and unmerges of this profile
    merged: tuple[str, ...] = ()  # profiles merged into this one
    suggestions: dict[str, tuple[str, ...]] = field(default_factory=dict)


class Repository(Protocol):
    # --- the dedup record of every inbound message ---
    async def find_outcome(self, message_key: str) -> Outcome | None: ...

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        """Store ``outcome`` unless one exists already; return the stored one."""
        ...

    # --- tickets ---
    async def find_ticket_by_key(self, key: str) -> TicketRecord | None:
        """The newest ticket holding thread ``key``."""
        ...

    async def find_ticket_by_number(self, number: str) -> TicketRecord | None: ...

    async def get_ticket(self, ticket_id: str) -> TicketRecord | None: ...

    async def create_ticket(self, record: TicketRecord, keys: Sequence[str]) -> TicketRecord:
        """Create the ticket unless it exists; return what is stored. Raises ``NumberTakenError``
        when another ticket holds ``record.number``."""
        ...

    async def add_keys(self, ticket_id: str, keys: Sequence[str]) -> None: ...

    async def set_status(
        self,
        ticket_id: str,
        status: TicketStatus,
        at: datetime,
        *,
        expected: Sequence[TicketStatus] | None = None,
        expected_version: int | None = None,
        changed_by: str | None = None,
        auto_change_at: datetime | None = None,
        event: TicketStatusChangedV1 | None = None,
    ) -> StatusChange | None:
        """Change the status (only from one of ``expected``, only at ``expected_version``, when
        given), storing when the automation is due in the new status; claimed for the ticket's
        version, so one change only is made out of each. Returns the change, or the one
        ``changed_by`` made before (a repeat, even if later changes followed); None when the
        ticket is unknown or not as expected. ``event`` is kept until ``mark_published``."""
        ...

    async def disarm(self, ticket_id: str, version: int, changed_by: str, at: datetime) -> bool:
        """Call off the ticket's automation at ``version`` (claiming that version, the status
        unchanged); False when another change claimed it first."""
        ...

    async def due_automations(self, before: datetime) -> list[TicketRecord]:
        """Tickets whose automation is due before ``before``."""
        ...

    async def unpublished_changes(self) -> list[StatusChange]:
        """Changes stored with an event that was not published yet (a crash in between)."""
        ...

    async def mark_published(self, ticket_id: str, version: int) -> None: ...

    async def next_number(self) -> int: ...

    # --- customers ---
    async def find_identifiers(self, identifiers: Sequence[Identifier]) -> list[StoredIdentifier]:
        """Profiles holding any of ``identifiers`` (by value), each resolved through merges."""
        ...

    async def save_customer(
        self,
        customer_id: str,
        *,
        name: str | None,
        language: str,
        identifiers: Sequence[Identifier],
    ) -> CustomerProfile:
        """Create the profile unless it exists, add ``identifiers`` to it; return it."""
        ...

    async def add_suggestions(
        self, customer_id: str, suggestions: dict[str, tuple[str, ...]]
    ) -> None: ...

    async def get_customer(self, customer_id: str) -> CustomerProfile | None: ...

    async def set_merged_into(self, customer_id: str, into: str | None) -> CustomerProfile | None:
        """Point ``customer_id`` at ``into`` (None: its own profile again); return it as it was."""
        ...

    # --- survey invitations, to recognise an answer texted back ---
    async def save_invitation(self, invitation: Invitation) -> None:
        """Keep the ticket's invitation (one per ticket) unless a later-issued one is kept
        already; drop the customer's invitations that expired long before it was issued."""
        ...

    async def open_invitations(self, customer_ids: Sequence[str], at: datetime) -> list[Invitation]:
        """The invitations of these profiles that have not expired at ``at``."""
        ...


class Timers(Protocol):
    """In-process timers (``opora_shared.timers.TimerScheduler``)."""

    def schedule(self, key: str, when: datetime, action: Callable[[], Awaitable[None]]) -> None: ...

    def cancel(self, key: str) -> None: ...
