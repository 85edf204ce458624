"""Ticket automations: a pending ticket the customer never answers is solved, a solved ticket is
closed, each a set time after it entered that status (Zendesk's automations, which run hourly;
here every ticket has an exact timer).

**Durable.** The due time is stored on the ticket (``auto_change_at``, indexed) in the same
write that changes its status, and published on ``TicketStatusChangedV1`` so notifications can
warn the customer. Each process arms an in-process timer for what is due within
``horizon``, and at start, and again every half horizon, arms what the index says is due next.

**Exactly one change.** Any status change moves the ticket to its next *version*, and every
change out of a version is claimed by inserting ``<ticket>:<version>`` (FerretDB's conditional
updates are not atomic across connections; an insert of a unique ``_id`` is). So when the
timers of several replicas fire for the same ticket, or a timer and a customer message or an
agent's action arrive together, exactly one of them changes the ticket. The automatic change
is made ``by`` ``auto:<ticket>:<version>``, from which its event id derives: a second replica,
a retry or a restart publishes the same event.

**Called off** by whatever moves the ticket first: a customer message (pending → open), any
status change, and an agent's public reply to a pending ticket, which claims the version
without changing the status (notifications cancels its pending reminders on that reply too, so
the customer is never solved without the warning they were promised).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from opentelemetry import trace
from opora_shared import attributes
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.tickets import TicketStatusChangedV1
from opora_shared.contracts.workspace import ReplyPostedV1
from opora_shared.datafile import parse_yaml, read_source
from opora_shared.ports import Clock, Publisher
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from opora_intake.domain.model import derived_id, fit_id
from opora_intake.domain.ports import Repository, StatusChange, TicketRecord, Timers

log = logging.getLogger(__name__)

DEFAULT_AUTOMATIONS = ("opora_intake", "rules/automations.yaml")


class AutomationsError(ValueError):
    """The automations file cannot be read or does not validate."""


# --- the rules ----------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def _duration_or_off(value: Any) -> timedelta | None:
    """``"7d"``, ``"96h"``, ``"30m"``, ``"2w"``; ``off`` (YAML reads it as false) or null."""
    if value is None or value is False:
        return None
    if isinstance(value, timedelta):
        found_s = value.total_seconds()
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        found_s = float(found.group(1)) * _UNIT_S[found.group(2)]
    else:
        raise ValueError(f"expected a duration such as '7d', '96h' or '30m', or off; got {value!r}")
    if found_s <= 0:
        raise ValueError("must be longer than zero (or off)")
    return timedelta(seconds=found_s)


def _written(value: timedelta | None) -> str | bool:
    if value is None:
        return False
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_S[unit] == 0:
            return f"{seconds // _UNIT_S[unit]}{unit}"
    return f"{seconds}s"


DurationOrOff = Annotated[
    timedelta | None, BeforeValidator(_duration_or_off), PlainSerializer(_written)
]


class AutomationRules(BaseModel):
    """How long a ticket may sit in a status before the system moves it on; None: never."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    solve_pending_after: DurationOrOff = Field(
        default=timedelta(days=7),
        description="A pending ticket with no word from the customer this long is solved",
    )
    close_solved_after: DurationOrOff = Field(
        default=timedelta(days=4),
        description="A solved ticket is closed this long after it was solved",
    )

    def next_status(self, status: TicketStatus) -> TicketStatus | None:
        """What a ticket in ``status`` becomes when its time is up (None: nothing happens)."""
        if status is TicketStatus.PENDING and self.solve_pending_after is not None:
            return TicketStatus.SOLVED
        if status is TicketStatus.SOLVED and self.close_solved_after is not None:
            return TicketStatus.CLOSED
        return None

    def due(self, status: TicketStatus, since: datetime) -> datetime | None:
        """When a ticket that entered ``status`` at ``since`` is moved on, if nothing happens."""
        wait = {
            TicketStatus.PENDING: self.solve_pending_after,
            TicketStatus.SOLVED: self.close_solved_after,
        }.get(status)
        if wait is None:
            return None
        due = since + wait
        # To the millisecond, as MongoDB stores it: the time published is the time kept.
        return due.replace(microsecond=due.microsecond // 1000 * 1000)


OFF = AutomationRules(solve_pending_after=None, close_solved_after=None)


def parse_automations(raw: str, *, source: str = "<string>") -> AutomationRules:
    return parse_yaml(
        raw, AutomationRules, source=source, what="ticket automations", error=AutomationsError
    )


def load_automations(path: Path | None = None) -> AutomationRules:
    """The automations in ``path``, or the packaged ones; raises :class:`AutomationsError`."""
    raw, source = read_source(
        path, DEFAULT_AUTOMATIONS, what="ticket automations", error=AutomationsError
    )
    return parse_automations(raw, source=source)


# --- the timers ---------------------------------------------------------------------------------

REFILL_TIMER = "automations:refill"


def timer_key(ticket_id: str) -> str:
    return f"auto:{ticket_id}"


def automatic_change_by(ticket_id: str, version: int) -> str:
    """Who made an automatic change: the version it moved the ticket from, so the one change
    out of that version has one name and one event id wherever it is made."""
    return f"auto:{ticket_id}:{version}"


class Automation:
    """Arms, fires and calls off the automatic status changes of tickets."""

    def __init__(
        self,
        *,
        repo: Repository,
        publisher: Publisher,
        rules: AutomationRules,
        timers: Timers,
        clock: Clock,
        horizon: timedelta = timedelta(hours=6),
        max_concurrent: int = 8,
    ) -> None:
        self.repo = repo
        self.publisher = publisher
        self.rules = rules
        self.timers = timers
        self.clock = clock
        self.horizon = horizon
        self._firing = asyncio.Semaphore(max_concurrent)

    def due(self, status: TicketStatus, since: datetime) -> datetime | None:
        return self.rules.due(status, since)

    # --- arming -----------------------------------------------------------------------------

    def arm(self, ticket_id: str, when: datetime | None) -> None:
        """Plan the ticket's automatic change at ``when`` in this process (None: none is due).
        Beyond the horizon it is left to a later refill: a week of pending tickets costs no
        timers until their day approaches. A timer left from an older state is harmless: it
        reads the ticket when it fires and does what the ticket says then."""
        if when is None or when > self.clock() + self.horizon:
            return

        async def fire() -> None:
            await self.fire(ticket_id)

        self.timers.schedule(timer_key(ticket_id), when, fire)

    async def recover(self) -> int:
        """At start: publish the automatic changes a crash kept from Kafka, then arm what is due
        within the horizon. Returns how many timers were armed."""
        for kept in await self.repo.unpublished_changes():
            change = await self.repo.set_status(  # finds the kept change, completes it
                kept.ticket_id,
                kept.status,
                kept.at,
                expected_version=kept.version,
                changed_by=kept.changed_by,
            )
            if change is not None:
                await self._announce(change)
        return await self.refill()

    async def refill(self) -> int:
        now = self.clock()
        due = [
            ticket
            for ticket in await self.repo.due_automations(now + self.horizon)
            if self.rules.next_status(ticket.status) is not None
        ]
        for ticket in due:
            self.arm(ticket.ticket_id, ticket.auto_change_at)
        self.timers.schedule(REFILL_TIMER, now + self.horizon / 2, self._refill_quietly)
        log.info("ticket automations armed", extra={"timers": len(due)})
        return len(due)

    async def _refill_quietly(self) -> None:
        await self.refill()

    # --- firing -----------------------------------------------------------------------------

    async def fire(self, ticket_id: str) -> StatusChange | None:
        """The ticket's time is up: move it on, unless something moved it first. Reads the
        ticket as it is now, so a timer armed for an older state does no harm."""
        trace.get_current_span().set_attribute(attributes.TICKET_ID, ticket_id)
        async with self._firing:
            ticket = await self.repo.get_ticket(ticket_id)
            if ticket is None or ticket.auto_change_at is None:
                return None
            if ticket.auto_change_at > self.clock():
                self.arm(ticket_id, ticket.auto_change_at)
                return None
            target = self.rules.next_status(ticket.status)
            if target is None:  # turned off since it was armed
                return None
            change = await self._move_on(ticket, target)
        if change is None:
            return None
        try:
            await self._announce(change)
        except Exception:
            log.warning("automatic change not published yet; retrying", exc_info=True)
            self._announce_later(change)
        self.arm(ticket_id, change.auto_change_at)
        return change

    async def _move_on(self, ticket: TicketRecord, target: TicketStatus) -> StatusChange | None:
        assert ticket.auto_change_at is not None
        at = ticket.auto_change_at  # the same instant for every replica and retry
        by = automatic_change_by(ticket.ticket_id, ticket.version)
        next_due = self.rules.due(target, at)
        event = TicketStatusChangedV1(
            event_id=derived_id("ticket-status-changed", by),
            occurred_at=at,
            ticket_id=ticket.ticket_id,
            status=target,
            previous_status=ticket.status,
            actor="system",
            auto_change_at=next_due,
        )
        change = await self.repo.set_status(
            ticket.ticket_id,
            target,
            at,
            expected=(ticket.status,),
            expected_version=ticket.version,
            changed_by=by,
            auto_change_at=next_due,
            event=event,
        )
        if change is None:
            return None  # a customer, an agent or another change got there first
        log.info(
            "ticket moved on by automation",
            extra={"ticket_id": ticket.ticket_id, "from": ticket.status.value, "to": target.value},
        )
        return change

    async def _announce(self, change: StatusChange) -> None:
        if change.event is None or change.published:
            return
        await self.publisher.publish(change.event)
        await self.repo.mark_published(change.ticket_id, change.version)

    def _announce_later(self, change: StatusChange) -> None:
        async def announce() -> None:
            await self._announce(change)

        # The scheduler retries a failing action with backoff until it succeeds.
        key = f"announce:{change.ticket_id}:{change.version}"
        self.timers.schedule(key, self.clock(), announce)

    # --- calling off ------------------------------------------------------------------------

    async def on_reply(self, reply: ReplyPostedV1) -> bool:
        """An agent's public reply to a pending ticket, after it became pending, calls off its
        automatic solve (the reply that came with the change into pending does not). True when
        this reply called it off."""
        if not reply.public:
            return False
        ticket = await self.repo.get_ticket(reply.ticket_id)
        if ticket is None or ticket.status is not TicketStatus.PENDING:
            return False
        pending_since = ticket.status_changed_at
        if ticket.auto_change_at is None or (
            pending_since is not None and reply.occurred_at <= pending_since
        ):
            return False
        if not await self.repo.disarm(
            ticket.ticket_id, ticket.version, fit_id("reply", reply.event_id), reply.occurred_at
        ):
            return False
        self.timers.cancel(timer_key(ticket.ticket_id))
        log.info("automatic solve called off by a reply", extra={"ticket_id": ticket.ticket_id})
        return True
