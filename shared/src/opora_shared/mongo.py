"""MongoDB through PyMongo's asyncio API, in a way that works on MongoDB and FerretDB alike.

No transactions, change streams or TTL indexes (FerretDB has none of them): idempotency comes
from unique keys and upserts, expiry from the application.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
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
