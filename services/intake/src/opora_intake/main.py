"""intake's wiring: settings, broker, MongoDB, handlers and HTTP routes in one factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.customers import CUSTOMER_EVENTS
from opora_shared.contracts.feedback import SURVEY_ANSWER_EVENTS
from opora_shared.contracts.tickets import TICKET_EVENTS
from opora_shared.contracts.workspace import (
    AGENT_EVENTS,
    OfferAcceptedV1,
    OfferDeclinedV1,
    TicketTransferRequestedV1,
)
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.service import ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings
from opora_shared.timers import TimerScheduler

from opora_intake import handlers
from opora_intake.adapters.repository import MongoRepository
from opora_intake.config import Settings
from opora_intake.domain.automations import Automation, load_automations
from opora_intake.domain.classification import load_rules
from opora_intake.domain.service import Policy
from opora_intake.entrypoints.auth import AdapterAuth, BodySizeLimit, body_limits
from opora_intake.entrypoints.http import build_router

NAME = "intake"
FORWARDED_ACTIONS = (OfferAcceptedV1, OfferDeclinedV1, TicketTransferRequestedV1)


def create_app(
    settings: ServiceSettings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    settings = settings if isinstance(settings, Settings) else Settings()
    broker, publisher = connect(
        NAME,
        settings,
        publishes=(
            *TICKET_EVENTS,
            *SURVEY_ANSWER_EVENTS,
            *CUSTOMER_EVENTS,
            *AGENT_EVENTS,
            *FORWARDED_ACTIONS,
        ),
        tracer_provider=tracer_provider,
    )
    policy = Policy(
        number_prefix=settings.ticket_number_prefix,
        reopen_window=timedelta(days=settings.reopen_window_days),
        phone_region=settings.phone_region,
        rules=load_rules(settings.rules_file),
    )
    db = MongoConnection(settings)
    repo = MongoRepository(db.db)
    timers = TimerScheduler(tracer_provider=tracer_provider)
    automation = Automation(
        repo=repo,
        publisher=publisher,
        rules=load_automations(settings.automations_file),
        timers=timers,
        clock=timers.clock.now,
    )

    router = KafkaRouter()
    handlers.register(router, repo, publisher, policy, automation)
    broker.include_router(router)

    app = build_app(
        ServiceParts(
            name=NAME,
            description="Normalises customer requests from every channel into tickets.",
            broker=broker,
            routers=[build_router(repo, publisher, policy, AdapterAuth(settings), automation)],
            on_startup=[repo.create_indexes],
            on_shutdown=[timers.shutdown],
            mongo=db,
            tracer_provider=tracer_provider,
        )
    )
    _recover_once_the_broker_runs(app, automation)
    # Outermost, so an oversized body is refused before it is read, parsed or authenticated.
    app.add_middleware(BodySizeLimit, limit_for=body_limits(settings))
    return app


def _recover_once_the_broker_runs(app: FastAPI, automation: Automation) -> None:
    """Arm the automations' timers at start, once the broker runs: a change a crash kept from
    Kafka is published then, and a timer already due may publish at once."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            await automation.recover()
            yield state

    app.router.lifespan_context = lifespan


def run() -> None:
    run_service(NAME, Settings(), create_app)
