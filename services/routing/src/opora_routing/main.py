"""routing's wiring: settings, broker, MongoDB, handlers and HTTP routes in one factory."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared import attributes
from opora_shared.contracts.routing import ROUTING_EVENTS
from opora_shared.contracts.workspace import Presence
from opora_shared.gauges import PolledGauge, Reading
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.service import ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings
from opora_shared.timers import TimerScheduler

from opora_routing import handlers
from opora_routing.adapters.policy import FileRules
from opora_routing.adapters.repository import MongoRepository
from opora_routing.adapters.rules_file import RulesSource
from opora_routing.config import Settings
from opora_routing.domain import service
from opora_routing.domain.rules import RoutingRules
from opora_routing.domain.service import Desk
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
    source = RulesSource(settings.rules_file)
    rules = FileRules(source)
    timers = TimerScheduler()
    desk = Desk(repo=repo, publisher=publisher, rules=rules, timers=timers)

    router = KafkaRouter()
    handlers.register(router, desk)
    broker.include_router(router)
    watching: list[asyncio.Task[None]] = []

    async def on_rules_change(new: RoutingRules) -> None:
        rules.refresh(new)
        await service.dispatch(desk)  # a relaxed rule may let waiting tickets through now

    async def start_watching() -> None:
        watching.append(asyncio.create_task(source.watch(on_rules_change)))

    async def stop_watching() -> None:
        for task in watching:
            task.cancel()
        await asyncio.gather(*watching, return_exceptions=True)

    async def rearm_timers() -> None:
        await service.recover(desk)

    async def waiting() -> Reading:
        """Every queue of the rules in force, at zero when empty (a dashboard line, not a gap),
        and any other queue tickets still wait in (the rules changed under them)."""
        per = await repo.waiting_per_queue()
        queues = sorted(source.current.queues | per.keys())
        return [({attributes.QUEUE: q}, per.get(q, 0)) for q in queues]

    async def agents() -> Reading:
        per = await repo.agents_per_presence()
        return [({attributes.PRESENCE: p.value}, per.get(p.value, 0)) for p in Presence]

    return build_app(
        ServiceParts(
            name=NAME,
            description="Offers tickets to agents by rules, skills, capacity, priority, deadline.",
            broker=broker,
            routers=[build_router(repo)],
            on_startup=[repo.create_indexes, rearm_timers, start_watching],
            on_shutdown=[stop_watching, timers.shutdown],
            mongo=db,
            tracer_provider=tracer_provider,
            # Read from MongoDB: every replica reports the same numbers (take the max).
            gauges=[
                PolledGauge("opora.routing.tickets.waiting", "Tickets waiting, per queue", waiting),
                PolledGauge("opora.routing.agents", "Agents known, per presence", agents),
            ],
        )
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
