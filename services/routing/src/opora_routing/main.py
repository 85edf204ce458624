"""routing's wiring: settings, broker, MongoDB, handlers and HTTP routes in one factory."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.routing import ROUTING_EVENTS
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.service import ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings

from opora_routing import handlers
from opora_routing.adapters.repository import MongoRepository
from opora_routing.config import Settings
from opora_routing.entrypoints.http import build_router

NAME = "routing"


def create_app(
    settings: ServiceSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    settings = settings if isinstance(settings, Settings) else Settings()
    broker, publisher = connect(
        NAME, settings, publishes=ROUTING_EVENTS, tracer_provider=tracer_provider
    )
    db = MongoConnection(settings)
    repo = MongoRepository(db.db)

    router = KafkaRouter()
    handlers.register(router, repo, publisher)
    broker.include_router(router)

    return build_app(
        ServiceParts(
            name=NAME,
            description="Assigns tickets to agents by skill, language and capacity.",
            broker=broker,
            routers=[build_router(repo)],
            on_startup=[repo.create_indexes],
            mongo=db,
            tracer_provider=tracer_provider,
        )
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
