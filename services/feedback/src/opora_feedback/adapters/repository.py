"""feedback's state in MongoDB (or FerretDB): tickets' facts, invitations, answers and their
revisions, the outbox, comment expiry and detractor claims. See the README's data model.

Uniqueness is always a document's ``_id``: one invitation per ticket, one revision ``n`` per
answer, one detractor per invitation. Writers that race insert the same ``_id`` and all but one
get a duplicate-key error, which on FerretDB (no transactions; conditional updates that are not
atomic under concurrency) is the only claim that holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyIssuedV1, SurveyType
from opora_shared.contracts.tickets import TicketOpenedV1, TicketUpdatedV1
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from opora_feedback.domain.model import (
    ConcurrentEditError,
    Survey,
    SurveyResponse,
    TicketFacts,
)
from opora_feedback.domain.rollups import Contribution, Slice, issue_counted, revision_counted


class MongoTicketFactsStore:
    """``tickets``: what the ticket and routing events told, upserted field by field."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db["tickets"]

    async def record_opened(self, event: TicketOpenedV1) -> None:
        await self.tickets.update_one(
            {"_id": event.ticket_id},
            {
                "$set": {
                    "number": event.number,
                    "channel": event.channel.value,
                    "customer": event.customer.model_dump(mode="json"),
                    "opened_at": event.occurred_at,
                    # Kept apart from a later TicketUpdatedV1's, which a redelivered opening
                    # must not undo.
                    "opened_request_type": event.request_type.value,
                    "opened_language": event.language,
                },
            },
            upsert=True,
        )

    async def record_updated(self, event: TicketUpdatedV1) -> None:
        fields: Document = {}
        if event.request_type is not None:
            fields["request_type"] = event.request_type.value
        if event.language is not None:
            fields["language"] = event.language
        if fields:
            await self.tickets.update_one({"_id": event.ticket_id}, {"$set": fields}, upsert=True)

    async def record_assignment(
        self, ticket_id: str, *, agent_id: str, team: str | None, assigned_at: datetime
    ) -> None:
        # A ticket's assignments arrive in order on one partition, read by one consumer: the
        # comparison can be made here, and the update filter stays a lone ``_id``, the only
        # filter FerretDB answers from its index rather than by reading every ticket.
        known = await self.tickets.find_one({"_id": ticket_id}, {"assigned_at": 1})
        if known and known.get("assigned_at") and known["assigned_at"] > assigned_at:
            return
        await self.tickets.update_one(
            {"_id": ticket_id},
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
            request_type=_request_type(doc.get("request_type") or doc.get("opened_request_type")),
            customer=CustomerRef.model_validate(doc["customer"]) if doc.get("customer") else None,
            language=doc.get("language") or doc.get("opened_language") or "en",
            agent_id=doc.get("agent_id"),
            team=doc.get("team"),
        )


def _request_type(value: str | None) -> RequestType | None:
    return RequestType(value) if value else None


class MongoSurveyStore:
    """``surveys``: one invitation per ticket (``_id`` = ticket id)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.surveys = db["surveys"]

    async def add(self, survey: Survey) -> Survey:
        issued = survey.issued
        inserted = await insert_once(
            self.surveys,
            {
                "_id": survey.ticket_id,
                "survey_id": survey.survey_id,
                "questions": [q.value for q in survey.questions],
                "number": survey.number,
                "issued_at": issued.occurred_at,
                "expires_at": issued.expires_at,
                "issued": issued.model_dump(mode="json"),
            },
        )
        if inserted:
            return survey
        stored = await self.get(survey.ticket_id)
        assert stored is not None, "a duplicate key means the invitation exists"
        return stored

    async def get(self, ticket_id: str) -> Survey | None:
        doc = await self.surveys.find_one({"_id": ticket_id})
        if doc is None:
            return None
        return Survey(issued=SurveyIssuedV1.model_validate(doc["issued"]), number=doc.get("number"))

    async def counted(self, zone: ZoneInfo) -> AsyncIterator[tuple[str, Contribution]]:
        """What every stored invitation counts in the rollups (for rebuilding them)."""
        async for doc in self.surveys.find({}, {"questions": 1, "issued_at": 1, "issued": 1}):
            issued = doc["issued"]
            yield issue_counted(
                str(doc["_id"]),
                [SurveyType(q) for q in doc["questions"]],
                doc["issued_at"],
                Slice.of(
                    issued.get("agent_id"),
                    issued.get("team"),
                    issued["channel"],
                    issued["request_type"],
                ),
                zone,
            )


class MongoResponseStore:
    """``survey_revisions`` (``_id`` = ``<answer id>:<revision>``, every revision, the claim)
    and ``survey_responses`` (``_id`` = answer id, a copy of the latest revision, for reads)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.responses = db["survey_responses"]
        self.revisions = db["survey_revisions"]

    async def create_indexes(self) -> None:
        await self.responses.create_index(
            [("agent_id", ASCENDING), ("updated_at", DESCENDING)], name="by_agent_and_time"
        )

    async def get(self, response_id: str) -> SurveyResponse | None:
        doc = await self.responses.find_one({"_id": response_id})
        return _response(doc) if doc else None

    async def revision(self, response_id: str, revision: int) -> SurveyResponse | None:
        doc = await self.revisions.find_one({"_id": f"{response_id}:{revision}"})
        return _response(doc) if doc else None

    async def save(self, response: SurveyResponse, *, survey: Survey) -> None:
        doc = _document(response, survey)
        if not await insert_once(
            self.revisions, {**doc, "_id": f"{response.response_id}:{response.revision}"}
        ):
            await self._roll_forward(response.response_id, response.revision, survey)
            raise ConcurrentEditError(response.response_id)
        # Nobody else holds revision 1, so there is no current answer to compare with: an
        # insert, which a unique index checks, instead of a lookup of a missing document.
        first = response.revision == 1
        if first and await insert_once(self.responses, {**doc, "_id": response.response_id}):
            return
        await self._set_current(response, doc)

    async def settle(self, response: SurveyResponse, *, survey: Survey) -> None:
        await self._set_current(response, _document(response, survey))

    async def _roll_forward(self, response_id: str, taken: int, survey: Survey) -> None:
        """Revision ``taken`` exists: bring the current answer up to the latest revision, which
        a writer that died between its claim and the copy may have left behind."""
        latest = None
        revision = taken
        while (found := await self.revision(response_id, revision)) is not None:
            latest, revision = found, revision + 1
        if latest is not None:
            await self.settle(latest, survey=survey)

    async def _set_current(self, response: SurveyResponse, doc: Document) -> None:
        # Only forwards. The check is a read, not a filter: FerretDB pushes down only a lone
        # ``_id`` and would read every answer for ``{_id, revision}``. A slower writer of an
        # older revision can still land in between; the next edit then collides with the newer
        # revision's claim and rolls the copy forward (``save``).
        current = await self.responses.find_one({"_id": response.response_id}, {"revision": 1})
        if current is not None and int(current["revision"]) >= response.revision:
            return
        await self.responses.replace_one({"_id": response.response_id}, doc, upsert=True)

    async def for_ticket(self, ticket_id: str) -> list[SurveyResponse]:
        found = []
        for survey_type in SurveyType:  # one point read each: no scan on any server
            response = await self.get(f"{ticket_id}:{survey_type.value}")
            if response is not None:
                found.append(response)
        return found

    async def for_agent(
        self, agent_id: str, *, since: datetime, until: datetime, limit: int
    ) -> list[SurveyResponse]:
        cursor = (
            self.responses.find({"agent_id": agent_id, "updated_at": {"$gte": since, "$lt": until}})
            .sort("updated_at", DESCENDING)
            .limit(limit)
        )
        return [_response(doc) async for doc in cursor]

    async def counted(self, zone: ZoneInfo) -> AsyncIterator[tuple[str, Contribution]]:
        """What every stored revision counts in the rollups (for rebuilding them): revisions
        rather than the current answers, because each is one ``SurveyResponseRecordedV1`` and
        a current answer may trail its latest revision for a moment (see ``_set_current``)."""
        fields = ("survey_type", "score", "previous_score", "issued_at", *_ATTRIBUTION)
        async for doc in self.revisions.find({}, dict.fromkeys(fields, 1)):
            yield revision_counted(
                str(doc["_id"]),
                SurveyType(doc["survey_type"]),
                int(doc["score"]),
                doc.get("previous_score"),
                doc["issued_at"],
                Slice.of(doc.get("agent_id"), doc.get("team"), doc["channel"], doc["request_type"]),
                zone,
            )

    async def forget_comment(self, response_id: str, revision: int) -> None:
        await self.revisions.update_one(
            {"_id": f"{response_id}:{revision}"}, {"$set": {"comment": None}}
        )
        # The answer cannot change meanwhile: comments outlive the edit window (the rules
        # insist), so a lone-``_id`` update after the check races nothing.
        current = await self.responses.find_one({"_id": response_id}, {"revision": 1})
        if current is not None and int(current["revision"]) == revision:
            await self.responses.update_one({"_id": response_id}, {"$set": {"comment": None}})


_ATTRIBUTION = ("agent_id", "team", "channel", "request_type")


def _document(response: SurveyResponse, survey: Survey) -> Document:
    issued = survey.issued
    return response_fields(
        response,
        agent_id=issued.agent_id,
        team=issued.team,
        channel=issued.channel.value,
        request_type=issued.request_type.value,
        issued_at=issued.occurred_at,
    )


def response_fields(
    response: SurveyResponse,
    *,
    agent_id: str | None,
    team: str | None,
    channel: str,
    request_type: str,
    issued_at: datetime,
) -> Document:
    """A revision as stored (without ``_id``): the answer and the attribution copied from its
    invitation, so that answers can be listed by agent without reading the invitations."""
    return {
        "ticket_id": response.ticket_id,
        "survey_type": response.survey_type.value,
        "score": response.score,
        "comment": response.comment,
        "reasons": list(response.reasons),
        "revision": response.revision,
        "previous_score": response.previous_score,
        "first_recorded_at": response.first_recorded_at,
        "updated_at": response.updated_at,
        "via": response.via,
        "sources": list(response.sources),
        "agent_id": agent_id,
        "team": team,
        "channel": channel,
        "request_type": request_type,
        "issued_at": issued_at,
    }


def _response(doc: Document) -> SurveyResponse:
    survey_type = SurveyType(doc["survey_type"])
    return SurveyResponse(
        response_id=f"{doc['ticket_id']}:{survey_type.value}",
        ticket_id=doc["ticket_id"],
        survey_type=survey_type,
        score=int(doc["score"]),
        comment=doc.get("comment"),
        reasons=tuple(doc.get("reasons") or ()),
        revision=int(doc["revision"]),
        first_recorded_at=doc["first_recorded_at"],
        updated_at=doc["updated_at"],
        via=doc.get("via") or "web",
        previous_score=doc.get("previous_score"),
        sources=tuple(doc.get("sources") or ()),
    )


class MongoTaskQueue:
    """A small keyed collection of pending work (``_id`` = key, ``due_at``)."""

    def __init__(self, db: AsyncDatabase[Document], name: str) -> None:
        self.tasks = db[name]

    async def create_indexes(self) -> None:
        await self.tasks.create_index([("due_at", ASCENDING)], name="by_due_time")

    async def put(self, key: str, due_at: datetime) -> None:
        await self.tasks.update_one({"_id": key}, {"$set": {"due_at": due_at}}, upsert=True)

    async def due(self, now: datetime, limit: int) -> list[str]:
        cursor = self.tasks.find({"due_at": {"$lte": now}}, {"_id": 1}).sort("due_at").limit(limit)
        return [str(doc["_id"]) async for doc in cursor]

    async def done(self, key: str) -> None:
        await self.tasks.delete_one({"_id": key})


class MongoDetractorStore:
    """``detractors``: the one detractor event of an invitation (``_id`` = its survey id)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.detractors = db["detractors"]

    async def claim(self, event: DetractorFoundV1) -> DetractorFoundV1:
        doc: dict[str, Any] = {"_id": event.survey_id, "event": event.model_dump(mode="json")}
        if await insert_once(self.detractors, doc):
            return event
        stored = await self.detractors.find_one({"_id": event.survey_id})
        assert stored is not None, "a duplicate key means the detractor was claimed"
        return DetractorFoundV1.model_validate(stored["event"])
