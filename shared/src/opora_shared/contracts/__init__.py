"""Opora's public event contract: pydantic models, the topic catalogue, and the registry.

Versioning rule: a change that old consumers can read (a new optional field, a new event
type on a topic, a new enum value documented as open) keeps the type; anything else (a
removed or renamed field, a new required field, a changed meaning or type) is a new type
``…vN+1`` with a new model class, published beside the old one until consumers move.
"""

from __future__ import annotations

from opora_shared.contracts.base import Event, cloudevent_headers
from opora_shared.contracts.customers import CUSTOMER_EVENTS
from opora_shared.contracts.feedback import FEEDBACK_EVENTS, SURVEY_ANSWER_EVENTS
from opora_shared.contracts.inbound import INBOUND_EVENTS
from opora_shared.contracts.notifications import NOTIFICATION_EVENTS
from opora_shared.contracts.routing import ROUTING_EVENTS
from opora_shared.contracts.sla import SLA_EVENTS
from opora_shared.contracts.tickets import TICKET_EVENTS
from opora_shared.contracts.workspace import AGENT_EVENTS, TICKET_ACTION_EVENTS

ALL_EVENTS: tuple[type[Event], ...] = (
    *INBOUND_EVENTS,
    *AGENT_EVENTS,
    *TICKET_ACTION_EVENTS,
    *TICKET_EVENTS,
    *SURVEY_ANSWER_EVENTS,
    *CUSTOMER_EVENTS,
    *ROUTING_EVENTS,
    *SLA_EVENTS,
    *NOTIFICATION_EVENTS,
    *FEEDBACK_EVENTS,
)

EVENTS_BY_TYPE: dict[str, type[Event]] = {e.ce_type: e for e in ALL_EVENTS}

__all__ = ["ALL_EVENTS", "EVENTS_BY_TYPE", "Event", "cloudevent_headers"]
