"""routing's wiring: settings, broker, MongoDB, handlers and HTTP routes in one factory."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared import mongo
from opora_shared.contracts.routing import ROUTING_EVENTS
from opora_shared.messaging import EventPublisher, make_broker
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
    broker = make_broker(
        settings.kafka_bootstrap_servers, service=NAME, tracer_provider=tracer_provider
    )
    client = mongo.make_client(settings)
    repo = MongoRepository(mongo.database(client, settings))
    publisher = EventPublisher(broker, source=f"opora/{NAME}", events=ROUTING_EVENTS)

    router = KafkaRouter()
    handlers.register(router, repo, publisher)
    broker.include_router(router)

    async def close_client() -> None:
        await client.close()

    return build_app(
        ServiceParts(
            name=NAME,
            description="Assigns tickets to agents by skill, language and capacity.",
            broker=broker,
            routers=[build_router(repo)],
            on_startup=[repo.create_indexes],
            on_shutdown=[close_client],
            readiness={"mongodb": lambda: mongo.ping(client)},
            tracer_provider=tracer_provider,
        )
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
