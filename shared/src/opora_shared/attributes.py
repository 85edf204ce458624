"""Our own span and metric attributes: one prefix, ``opora.``, and this one list of them.

OpenTelemetry's semantic conventions come first (``messaging.*``, ``http.*``, ``db.*``,
``error.type``); these name what the conventions have no word for. None may carry personal
data: ticket, agent and event ids are opaque, and a customer is never named, written to or
called in an attribute. ``tests/e2e/test_traces.py`` checks that every ``opora.*`` attribute the
running services emit is listed here, and a unit test that ``docs/telemetry.md`` lists each.
"""

from __future__ import annotations

from typing import Final

TICKET_ID: Final = "opora.ticket_id"
EVENT_TYPE: Final = "opora.event_type"
TIMER: Final = "opora.timer"
QUEUE: Final = "opora.queue"
PRESENCE: Final = "opora.presence"
SURVEY_TYPE: Final = "opora.survey_type"

REGISTRY: Final[dict[str, str]] = {
    TICKET_ID: "The ticket a record, request or timer is about (an opaque id)",
    EVENT_TYPE: "The CloudEvents type of the contract event handled, e.g. "
    "opora.ticket.opened.v1 (the record's ce_type header)",
    TIMER: "What a timer firing is for, the kind its key names (offer, step, dispatch, "
    "deadline, auto…; timer when the key names none), on the span of a timer that fired",
    QUEUE: "A routing queue (metric attribute of opora.routing.tickets.waiting)",
    PRESENCE: "An agent presence: online, away, offline (metric attribute of opora.routing.agents)",
    SURVEY_TYPE: "A survey type: csat, nps, ces (metric attribute of opora.feedback.score and "
    "opora.feedback.responses)",
}
