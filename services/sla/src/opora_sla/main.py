"""sla's wiring: settings, broker, MongoDB, policy files, the timer scheduler, handlers and HTTP
routes in one factory."""

from __future__ import annotations

import asyncio
from importlib import resources

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.sla import SLA_EVENTS
from opora_shared.gauges import PolledGauge, Reading
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.service import ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings

from opora_sla import handlers
from opora_sla.adapters.policy_files import PolicyFiles
from opora_sla.adapters.repository import MongoRepository, MongoVersions
from opora_sla.adapters.scheduler import HeapScheduler
from opora_sla.config import Settings
from opora_sla.domain import service
from opora_sla.domain.calendars.files import PACKAGE, SHIPPED_DIRECTORY
from opora_sla.domain.policies import SlaConfig
from opora_sla.domain.service import Desk
from opora_sla.entrypoints.http import TimersRead, build_router

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
    versions = MongoVersions(db.db)
    policies = PolicyFiles(versions, settings.policies_file, settings.calendars_file)
    scheduler = HeapScheduler(concurrency=settings.timer_concurrency)
    desk = Desk(repo=repo, publisher=publisher, timers=scheduler, policies=policies)

    async def fire(ticket_id: str, partition: int) -> None:
        await service.fire(ticket_id, desk, partition)

    scheduler.bind(fire)
    ownership = handlers.Ownership(desk, scheduler)
    router = KafkaRouter()
    handlers.register(router, desk, ownership)
    broker.include_router(router)
    watching: list[asyncio.Task[None]] = []

    async def on_policies_change(_: SlaConfig) -> None:
        await ownership.rescore()

    async def register_version() -> None:
        await policies.register()

    async def start_watching() -> None:
        watching.append(asyncio.create_task(policies.watch(on_policies_change)))

    async def stop_watching() -> None:
        for task in watching:
            task.cancel()
        await asyncio.gather(*watching, return_exceptions=True)

    def timers() -> TimersRead:
        return TimersRead(
            partitions=sorted(ownership.owned), armed=len(scheduler), next_due_at=scheduler.next_at
        )

    async def armed() -> Reading:
        return [({}, len(scheduler))]

    calendars = settings.calendars_file
    return build_app(
        ServiceParts(
            name=NAME,
            description="Applies SLA policies to tickets and raises warnings, breaches and "
            "escalations the moment they are due.",
            broker=broker,
            routers=[
                build_router(
                    desk,
                    history=versions.history,
                    calendars_directory=(
                        resources.files(PACKAGE).joinpath(SHIPPED_DIRECTORY)
                        if calendars is None
                        else calendars.parent
                    ),
                    timers=timers,
                )
            ],
            # Timers are armed when the consumer group assigns partitions (handlers.Ownership),
            # once the broker is up: a replica arms only the timers of the tickets it owns.
            on_startup=[repo.create_indexes, register_version, start_watching],
            on_shutdown=[stop_watching, ownership.stop, scheduler.shutdown],
            mongo=db,
            tracer_provider=tracer_provider,
            # Each replica arms the timers of the partitions it owns: sum over replicas.
            gauges=[PolledGauge("opora.sla.timers.armed", "Deadline timers armed", armed)],
        )
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
