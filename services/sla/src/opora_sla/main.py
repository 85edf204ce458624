"""sla's wiring: settings, broker, MongoDB, timer scheduler, handlers and HTTP routes."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.sla import SLA_EVENTS
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.service import ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings
from opora_shared.timers import TimerScheduler

from opora_sla import handlers
from opora_sla.adapters.repository import MongoRepository
from opora_sla.config import Settings
from opora_sla.domain import service
from opora_sla.entrypoints.http import build_router

NAME = "sla"


def create_app(
    settings: ServiceSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    settings = settings if isinstance(settings, Settings) else Settings()
    broker, publisher = connect(
        NAME, settings, publishes=SLA_EVENTS, tracer_provider=tracer_provider
    )
    db = MongoConnection(settings)
    repo = MongoRepository(db.db)
    scheduler = TimerScheduler()

    router = KafkaRouter()
    handlers.register(router, repo, publisher, scheduler)
    broker.include_router(router)

    async def rearm_timers() -> None:
        # Runs before the broker starts: timers already due retry their publication until it
        # is up (the scheduler's backoff), rather than being lost.
        await service.recover(repo, publisher, scheduler)

    return build_app(
        ServiceParts(
            name=NAME,
            description="Applies SLA policies to tickets and raises warnings and breaches on time.",
            broker=broker,
            routers=[build_router(repo)],
            on_startup=[repo.create_indexes, rearm_timers],
            on_shutdown=[scheduler.shutdown],
            mongo=db,
            tracer_provider=tracer_provider,
        )
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
