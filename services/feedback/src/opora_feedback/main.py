"""feedback's wiring: settings, broker, MongoDB, signed links, handlers, API and pages.

``create_app`` builds the real adapters unless it is handed others (``adapters=``): the tests
pass in-memory fakes and get the very same wiring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.feedback import FEEDBACK_EVENTS
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.ports import Clock
from opora_shared.service import Hook, ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings

from opora_feedback import handlers
from opora_feedback.adapters.repository import (
    MongoResponseStore,
    MongoSurveyStore,
    MongoTicketFactsStore,
)
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.config import Settings
from opora_feedback.domain.model import SurveyPolicy
from opora_feedback.domain.ports import ResponseStore, SurveyStore, TicketFactsStore
from opora_feedback.entrypoints import http, pages

NAME = "feedback"


@dataclass
class Adapters:
    facts: TicketFactsStore
    surveys: SurveyStore
    responses: ResponseStore
    clock: Clock = utc_now
    on_startup: Sequence[Hook] = ()
    mongo: MongoConnection | None = None


def create_app(
    settings: ServiceSettings | None = None,
    tracer_provider: TracerProvider | None = None,
    *,
    adapters: Adapters | None = None,
) -> FastAPI:
    settings = settings if isinstance(settings, Settings) else Settings()
    adapters = adapters or _real_adapters(settings)
    broker, publisher = connect(
        NAME, settings, publishes=FEEDBACK_EVENTS, tracer_provider=tracer_provider
    )
    policy = SurveyPolicy(
        public_base_url=settings.public_base_url,
        token_ttl=timedelta(days=settings.token_ttl_days),
        edit_window=timedelta(days=settings.edit_window_days),
    )
    tokens = SignedSurveyTokens(settings.token_secret, ttl=policy.token_ttl, clock=adapters.clock)

    router = KafkaRouter()
    handlers.register(
        router, adapters.facts, adapters.surveys, tokens, publisher, policy, adapters.clock
    )
    broker.include_router(router)

    desk = http.SurveyDesk(
        tokens=tokens,
        surveys=adapters.surveys,
        responses=adapters.responses,
        publisher=publisher,
        policy=policy,
        clock=adapters.clock,
    )
    return build_app(
        ServiceParts(
            name=NAME,
            description="Asks customers how we did, and attributes their answers.",
            broker=broker,
            routers=[http.build_router(desk), pages.build_router(desk)],
            on_startup=adapters.on_startup,
            mongo=adapters.mongo,
            tracer_provider=tracer_provider,
        )
    )


def _real_adapters(settings: Settings) -> Adapters:
    db = MongoConnection(settings)
    responses = MongoResponseStore(db.db)

    return Adapters(
        facts=MongoTicketFactsStore(db.db),
        surveys=MongoSurveyStore(db.db),
        responses=responses,
        on_startup=[responses.create_indexes],
        mongo=db,
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
