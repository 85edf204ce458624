"""MongoDB through PyMongo's asyncio API, in a way that works on MongoDB and FerretDB alike.

No transactions, change streams or TTL indexes (FerretDB has none of them): idempotency comes
from unique keys and upserts, expiry from the application.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from opora_shared.settings import ServiceSettings

Document = dict[str, Any]


class MongoConnection:
    """A service's one MongoDB client and its database; ``build_app`` probes and closes it."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.mongodb_uri.get_secret_value(),
            appname=settings.service_name,
            tz_aware=True,
            serverSelectionTimeoutMS=5_000,
            connect=False,
        )
        self.db: AsyncDatabase[Document] = self.client[settings.mongodb_database]

    async def ping(self) -> bool:
        await self.client.admin.command("ping")
        return True

    async def close(self) -> None:
        await self.client.close()


async def insert_once(collection: Any, document: Document) -> bool:
    """Insert a document keyed by a unique ``_id``; False when it was already there."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


UPSERT_ATTEMPTS = 3


async def upsert(collection: Any, query: Document, update: Document) -> Document:
    """``find_one_and_update`` with ``upsert`` returning the document after the update.

    Two writers upserting the same ``_id`` at once can both miss and both insert; the loser
    gets a duplicate-key error although the document now exists. Trying again then finds it
    and applies the update, which is what the server's own retry does for simple filters on
    MongoDB 4.2+ but not on FerretDB.
    """
    for attempt in range(UPSERT_ATTEMPTS):
        try:
            found = await collection.find_one_and_update(
                query, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            if attempt == UPSERT_ATTEMPTS - 1:
                raise
            continue
        if found is None:  # an upsert that returns the document after it always finds one
            raise RuntimeError("upsert returned no document")
        return dict(found)
    raise AssertionError("unreachable")
