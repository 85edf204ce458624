"""The topic catalogue: every Kafka topic Opora uses, who writes it, who reads it, how it is keyed.

This module is the single source of truth for topic names. Services, the local stack's topic
creation, the exported AsyncAPI documents and (later) the Kubernetes KafkaTopic resources are all
derived from it, so a topic is never retyped by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

DAY_MS = 24 * 60 * 60 * 1000


class PartitionKey(StrEnum):
    """What a topic's record key is; records with the same key keep their order."""

    TICKET_ID = "ticket_id"
    AGENT_ID = "agent_id"
    CUSTOMER_ID = "customer_id"
    CONVERSATION = "conversation"  # the channel's own thread key: session id, call id, sender
    ORIGINAL = "original"  # a dead-letter record keeps the key of the record it replaces


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    description: str
    key: PartitionKey
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = 6
    retention_ms: int | None = 7 * DAY_MS  # None keeps records for ever
    compacted: bool = False
    config: dict[str, str] = field(default_factory=dict)

    @property
    def dead_letter(self) -> str:
        """The dead-letter topic that receives this topic's records that can never be processed."""
        base, _, version = self.name.rpartition(".")
        return f"{base}.dlq.{version}"

    def kafka_config(self) -> dict[str, str]:
        """Topic-level broker configuration (cleanup policy and retention)."""
        cfg = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if not self.compacted:
            cfg["retention.ms"] = str(self.retention_ms if self.retention_ms is not None else -1)
        cfg.update(self.config)
        return cfg


EXTERNAL_CHANNELS = "channel-adapters"
EXTERNAL_WORKSPACE = "agent-workspace"

INBOUND_MESSAGES = TopicSpec(
    name="intake.inbound-messages.v1",
    description="Raw customer messages published by channel adapters, one record per message.",
    key=PartitionKey.CONVERSATION,
    producers=(EXTERNAL_CHANNELS,),
    consumers=("intake",),
    retention_ms=14 * DAY_MS,
)
WORKSPACE_AGENTS = TopicSpec(
    name="workspace.agents.v1",
    description="Agent profiles and presence from the agent workspace.",
    key=PartitionKey.AGENT_ID,
    producers=(EXTERNAL_WORKSPACE, "intake"),
    consumers=("routing", "notifications"),
    # Profiles and presence share a key, so compaction would drop a profile behind a later
    # presence change; routing keeps the state itself, the topic keeps the history.
    retention_ms=None,
)
WORKSPACE_TICKET_ACTIONS = TopicSpec(
    name="workspace.ticket-actions.v1",
    description=(
        "What agents do to tickets in the workspace: accept or decline offers, reply, change "
        "status. intake republishes replies and status changes as canonical ticket events."
    ),
    key=PartitionKey.TICKET_ID,
    producers=(EXTERNAL_WORKSPACE, "intake"),
    consumers=("intake", "routing"),
    retention_ms=14 * DAY_MS,
)
TICKETS = TopicSpec(
    name="tickets.events.v1",
    description=(
        "Canonical ticket events: opened, message added, agent replied, status changed; and "
        "survey answers intake received by text message or IVR keypad, for feedback."
    ),
    key=PartitionKey.TICKET_ID,
    producers=("intake",),
    consumers=("routing", "sla", "notifications", "feedback"),
    retention_ms=30 * DAY_MS,
)
CUSTOMERS = TopicSpec(
    name="customers.events.v1",
    description=(
        "Customer profile changes: identifiers linked, profiles suggested as the same person, "
        "merged and unmerged."
    ),
    key=PartitionKey.CUSTOMER_ID,
    producers=("intake",),
    consumers=(),
    retention_ms=None,
)
ROUTING = TopicSpec(
    name="routing.events.v1",
    description="Routing decisions: queued, offered, assigned, escalated.",
    key=PartitionKey.TICKET_ID,
    producers=("routing",),
    consumers=("sla", "notifications", "feedback"),
    retention_ms=30 * DAY_MS,
)
SLA = TopicSpec(
    name="sla.events.v1",
    description="SLA policy applied, warnings, breaches and fulfilments per ticket and metric.",
    key=PartitionKey.TICKET_ID,
    producers=("sla",),
    consumers=("routing", "notifications"),
    retention_ms=30 * DAY_MS,
)
NOTIFICATIONS = TopicSpec(
    name="notifications.events.v1",
    description="Outcomes of notifications per intent and recipient: sent, failed, or not sent "
    "on purpose (cancelled or suppressed).",
    key=PartitionKey.TICKET_ID,
    producers=("notifications",),
    consumers=(),
    retention_ms=30 * DAY_MS,
)
FEEDBACK = TopicSpec(
    name="feedback.events.v1",
    description="Surveys sent, responses recorded and detractors found.",
    key=PartitionKey.TICKET_ID,
    producers=("feedback",),
    # feedback reads its own events too: its rollups group folds them into the reports.
    consumers=("notifications", "intake", "feedback"),
    retention_ms=30 * DAY_MS,
)

TOPICS: tuple[TopicSpec, ...] = (
    INBOUND_MESSAGES,
    WORKSPACE_AGENTS,
    WORKSPACE_TICKET_ACTIONS,
    TICKETS,
    CUSTOMERS,
    ROUTING,
    SLA,
    NOTIFICATIONS,
    FEEDBACK,
)


def dead_letter_topics() -> tuple[TopicSpec, ...]:
    """One dead-letter topic per consumed topic; records keep their original key and bytes."""
    return tuple(
        TopicSpec(
            name=t.dead_letter,
            description=f"Records from {t.name} that failed validation or processing for good.",
            key=PartitionKey.ORIGINAL,
            producers=t.consumers,
            consumers=(),
            partitions=1,
            retention_ms=30 * DAY_MS,
        )
        for t in TOPICS
    )


def all_topics() -> tuple[TopicSpec, ...]:
    """Every topic to create: the catalogue and its dead-letter topics."""
    return TOPICS + dead_letter_topics()
