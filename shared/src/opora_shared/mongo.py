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


def make_client(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(),
        appname=settings.service_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5_000,
        connect=False,
    )


def database(
    client: AsyncMongoClient[Document], settings: ServiceSettings
) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]


async def ping(client: AsyncMongoClient[Document]) -> bool:
    await client.admin.command("ping")
    return True


async def insert_once(collection: Any, document: Document) -> bool:
    """Insert a document keyed by a unique ``_id``; False when it was already there."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True
