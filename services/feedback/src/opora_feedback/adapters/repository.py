"""feedback's state in MongoDB.

Collections:

* ``tickets`` — ``_id`` = ticket id: ``number``, ``channel``, ``request_type``, ``language``,
  ``customer`` (the CustomerRef), ``opened_at``; ``agent_id``, ``team``, ``assigned_at`` from
  the latest assignment. Both kinds of event upsert their own fields, in either order.
* ``surveys`` — ``_id`` = ``<ticket id>:<type>`` (one per ticket and type): ``ticket_id``,
  ``survey_type``, ``number``, ``issued_at``, ``expires_at``, ``issued`` (the SurveyIssuedV1
  JSON with the attribution and link, republished unchanged on redelivery).
* ``survey_responses`` — ``_id`` = the survey id (one answer per ticket and type): ``score``,
  ``comment``, ``revision``, ``first_recorded_at``, ``updated_at``, and a copy of the
  attribution (``agent_id``, ``team``, ``channel``, ``request_type``) for reports.

Expiry is the application's (the token's age), not a TTL index: FerretDB has none.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from opora_feedback.domain.model import ConcurrentEditError, Survey, SurveyResponse, TicketFacts


class MongoTicketFactsStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db["tickets"]

    async def record_opened(self, event: TicketOpenedV1) -> None:
        await self.tickets.update_one(
            {"_id": event.ticket_id},
            {
                "$set": {
                    "number": event.number,
                    "channel": event.channel.value,
                    "request_type": event.request_type.value,
                    "language": event.language,
                    "customer": event.customer.model_dump(mode="json"),
                    "opened_at": event.occurred_at,
                }
            },
            upsert=True,
        )

    async def record_assignment(
        self, ticket_id: str, *, agent_id: str, team: str | None, assigned_at: datetime
    ) -> None:
        # A stale assignment matches no document, and its upsert then collides on ``_id``.
        with contextlib.suppress(DuplicateKeyError):
            await self.tickets.update_one(
                {
                    "_id": ticket_id,
                    "$or": [
                        {"assigned_at": {"$exists": False}},
                        {"assigned_at": {"$lte": assigned_at}},
                    ],
                },
                {"$set": {"agent_id": agent_id, "team": team, "assigned_at": assigned_at}},
                upsert=True,
            )

    async def get(self, ticket_id: str) -> TicketFacts | None:
        doc = await self.tickets.find_one({"_id": ticket_id})
        if doc is None:
            return None
        return TicketFacts(
            ticket_id=ticket_id,
            number=doc.get("number"),
            channel=Channel(doc["channel"]) if doc.get("channel") else None,
            request_type=RequestType(doc["request_type"]) if doc.get("request_type") else None,
            customer=CustomerRef.model_validate(doc["customer"]) if doc.get("customer") else None,
            language=doc.get("language") or "en",
            agent_id=doc.get("agent_id"),
            team=doc.get("team"),
        )


class MongoSurveyStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.surveys = db["surveys"]

    async def add(self, survey: Survey) -> Survey:
        issued = survey.issued
        inserted = await insert_once(
            self.surveys,
            {
                "_id": survey.survey_id,
                "ticket_id": survey.ticket_id,
                "survey_type": survey.survey_type.value,
                "number": survey.number,
                "issued_at": issued.occurred_at,
                "expires_at": issued.expires_at,
                "issued": issued.model_dump(mode="json"),
            },
        )
        if inserted:
            return survey
        stored = await self.get(survey.survey_id)
        assert stored is not None, "a duplicate key means the survey exists"
        return stored

    async def get(self, survey_id: str) -> Survey | None:
        doc = await self.surveys.find_one({"_id": survey_id})
        if doc is None:
            return None
        return Survey(issued=SurveyIssuedV1.model_validate(doc["issued"]), number=doc.get("number"))


class MongoResponseStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.responses = db["survey_responses"]

    async def create_indexes(self) -> None:
        await self.responses.create_index(
            [("survey_type", ASCENDING), ("score", ASCENDING)], name="by_type_and_score"
        )

    async def get(self, survey_id: str) -> SurveyResponse | None:
        doc = await self.responses.find_one({"_id": survey_id})
        return _response(doc) if doc else None

    async def save(self, response: SurveyResponse, *, survey: Survey) -> None:
        fields: Document = {
            "ticket_id": response.ticket_id,
            "survey_type": response.survey_type.value,
            "score": response.score,
            "comment": response.comment,
            "revision": response.revision,
            "first_recorded_at": response.first_recorded_at,
            "updated_at": response.updated_at,
            "agent_id": survey.issued.agent_id,
            "team": survey.issued.team,
            "channel": survey.issued.channel.value,
            "request_type": survey.issued.request_type.value,
        }
        if response.revision == 1:
            if not await insert_once(self.responses, {"_id": response.survey_id, **fields}):
                raise ConcurrentEditError(response.survey_id)
            return
        result = await self.responses.update_one(
            {"_id": response.survey_id, "revision": response.revision - 1}, {"$set": fields}
        )
        if result.matched_count == 0:
            raise ConcurrentEditError(response.survey_id)

    async def count(self, survey_type: SurveyType, *, min_score: int | None = None) -> int:
        query: dict[str, Any] = {"survey_type": survey_type.value}
        if min_score is not None:
            query["score"] = {"$gte": min_score}
        return await self.responses.count_documents(query)


def _response(doc: Document) -> SurveyResponse:
    return SurveyResponse(
        survey_id=doc["_id"],
        ticket_id=doc["ticket_id"],
        survey_type=SurveyType(doc["survey_type"]),
        score=int(doc["score"]),
        comment=doc.get("comment"),
        revision=int(doc["revision"]),
        first_recorded_at=doc["first_recorded_at"],
        updated_at=doc["updated_at"],
    )
