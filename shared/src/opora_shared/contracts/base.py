"""The base of every event model, and the CloudEvents 1.0 binary-mode headers set in one place.

An event travels as a Kafka record whose value is the JSON of the model and whose headers carry
the CloudEvents attributes (``ce_id``, ``ce_source``, ``ce_type``, ``ce_specversion``,
``ce_time``, ``content-type``) plus ``ce_subject`` (the partition key: the ticket, agent or
conversation id) and ``ce_dataschema`` (the exported JSON Schema's path). Consumers choose the
model by ``ce_type``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from opora_shared.contracts.topics import TopicSpec

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
SCHEMA_BASE = "https://opora.dev/contracts/schemas"

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(max_length=100_000)]
ShortText = Annotated[str, StringConstraints(max_length=1_000)]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    """Value objects inside events: immutable; unknown fields are ignored, so additions stay
    compatible."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)


class Event(Model):
    """An event on a topic of the catalogue.

    ``event_id`` is the idempotency key: a producer that derives it deterministically (for
    example from the ticket id and the metric) makes its redeliveries recognisable to every
    consumer. ``occurred_at`` is when the fact happened, not when it was published.
    """

    ce_type: ClassVar[str]
    topic: ClassVar[TopicSpec]
    key_field: ClassVar[str] = "ticket_id"

    event_id: Id = Field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: AwareDatetime = Field(default_factory=utc_now)

    @property
    def partition_key(self) -> str:
        """The partition key: the ticket id for ticket events, the agent id for agent events."""
        return str(getattr(self, self.key_field))

    @classmethod
    def schema_path(cls) -> str:
        return f"{SCHEMA_BASE}/{cls.ce_type}.json"


def source_of(producer: str) -> str:
    """The ``ce_source`` of a producer named in the topic catalogue, e.g. ``opora/intake``."""
    return f"opora/{producer}"


def cloudevent_headers(event: Event, *, source: str) -> dict[str, str]:
    """CloudEvents 1.0 binary-mode headers for ``event`` published by ``source``."""
    return {
        "ce_specversion": SPEC_VERSION,
        "ce_id": event.event_id,
        "ce_source": source,
        "ce_type": event.ce_type,
        "ce_time": event.occurred_at.isoformat(),
        "ce_subject": event.partition_key,
        "ce_dataschema": event.schema_path(),
        "content-type": CONTENT_TYPE,
    }
