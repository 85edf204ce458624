"""feedback's Kafka entry points.

* group ``feedback``: ticket and routing facts, the solve that issues a survey, and the answers
  intake received by text message or IVR (``SurveyAnswerReceivedV1``);
* group ``feedback-rollups``: feedback's own events, read back in batches and folded into the
  rollups by a single consumer (``SingleOwnerAssignor`` gives it every partition).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from faststream import AckPolicy
from faststream.kafka import KafkaMessage, KafkaRouter
from opora_shared.contracts.base import Event
from opora_shared.contracts.feedback import (
    SurveyAnswerReceivedV1,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
)
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1, TicketUpdatedV1
from opora_shared.contracts.topics import FEEDBACK, ROUTING, TICKETS
from opora_shared.messaging import Subscription
from opora_shared.ports import Clock, Publisher
from pydantic import ValidationError

from opora_feedback.adapters.assignor import SingleOwnerAssignor
from opora_feedback.domain import service
from opora_feedback.domain.model import SurveyPolicy
from opora_feedback.domain.ports import RollupStore, SurveyTokens, TicketFactsStore

GROUP = "feedback"
ROLLUP_GROUP = "feedback-rollups"
ROLLUP_BATCH = 500

log = logging.getLogger(__name__)

_FOLDED: dict[str, type[Event]] = {
    SurveyIssuedV1.ce_type: SurveyIssuedV1,
    SurveyResponseRecordedV1.ce_type: SurveyResponseRecordedV1,
}


def register(
    router: KafkaRouter,
    *,
    facts: TicketFactsStore,
    tokens: SurveyTokens,
    answering: service.Answering,
    publisher: Publisher,
    policy: SurveyPolicy,
    clock: Clock,
) -> None:
    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(event: TicketOpenedV1) -> None:
        await service.remember_opened(event, facts)

    @tickets.on(TicketUpdatedV1)
    async def on_ticket_updated(event: TicketUpdatedV1) -> None:
        await service.remember_updated(event, facts)

    @tickets.on(TicketStatusChangedV1)
    async def on_status_changed(event: TicketStatusChangedV1) -> None:
        await service.issue_survey(
            event,
            facts=facts,
            surveys=answering.surveys,
            tokens=tokens,
            publisher=publisher,
            policy=policy,
            clock=clock,
        )

    @tickets.on(SurveyAnswerReceivedV1)
    async def on_survey_answer(event: SurveyAnswerReceivedV1) -> None:
        await service.record_channel_answer(event, answering=answering)

    routing = Subscription(router, ROUTING, group=GROUP)

    @routing.on(TicketAssignedV1)
    async def on_ticket_assigned(event: TicketAssignedV1) -> None:
        await service.remember_assignment(event, facts)


def register_rollups(router: KafkaRouter, *, rollups: RollupStore, zone: ZoneInfo) -> None:
    @router.subscriber(
        FEEDBACK.name,
        group_id=ROLLUP_GROUP,
        batch=True,
        max_records=ROLLUP_BATCH,
        batch_timeout_ms=200,
        partition_assignment_strategy=(SingleOwnerAssignor,),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        title=f"{ROLLUP_GROUP}:{FEEDBACK.name}",
        description="feedback's own events, folded into the report rollups by one consumer",
    )
    async def fold_into_rollups(_: list[Any], message: KafkaMessage) -> None:
        records = _records(message.raw_message)
        folded = await service.fold_records(records, rollups, zone)
        log.debug("folded into rollups", extra={"records": len(records), "nodes": folded})


def _records(raw: Any) -> list[service.Record]:
    """feedback's own survey events in a batch, with their positions; other types skipped."""
    found: list[service.Record] = []
    batch: Sequence[Any] = raw if isinstance(raw, tuple | list) else (raw,)
    for record in batch:
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        event_type = _FOLDED.get(headers.get("ce_type", ""))
        if event_type is None or record.value is None:
            continue
        try:
            event = event_type.model_validate_json(record.value)
        except ValidationError as exc:  # our own events: a broken one is a bug to see in logs
            log.error(
                "an unreadable feedback event was left out of the rollups",
                extra={"partition": record.partition, "offset": record.offset, "error": str(exc)},
            )
            continue
        found.append(service.Record(record.partition, record.offset, event))
    return found
