"""feedback's wiring: settings, rules, broker, MongoDB, signed links, handlers, API, pages, jobs.

``create_app`` builds the real adapters unless it is handed others (``adapters=``): the tests
pass in-memory ones and get the very same wiring.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from opora_feedback.adapters import memory
from opora_feedback.adapters.repository import (
    MongoDetractorStore,
    MongoResponseStore,
    MongoSurveyStore,
    MongoTaskQueue,
    MongoTicketFactsStore,
)
from opora_feedback.adapters.rollups import MongoRollupStore
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.config import Settings
from opora_feedback.domain import service
from opora_feedback.domain.model import SurveyPolicy
from opora_feedback.domain.ports import (
    DetractorStore,
    ResponseStore,
    RollupStore,
    SurveyStore,
    TaskQueue,
    TicketFactsStore,
)
from opora_feedback.domain.rules import load_rules
from opora_feedback.entrypoints import auth, gauges, http, pages
from opora_feedback.entrypoints.jobs import PeriodicJob

NAME = "feedback"


@dataclass
class Adapters:
    facts: TicketFactsStore
    surveys: SurveyStore
    responses: ResponseStore
    detractors: DetractorStore
    outbox: TaskQueue
    comment_expiry: TaskQueue
    rollups: RollupStore
    clock: Clock = utc_now
    on_startup: Sequence[Hook] = field(default_factory=tuple)
    mongo: MongoConnection | None = None

    @classmethod
    def in_memory(cls, clock: Clock = utc_now) -> Adapters:
        return cls(
            facts=memory.MemoryTicketFacts(),
            surveys=memory.MemorySurveys(),
            responses=memory.MemoryResponses(),
            detractors=memory.MemoryDetractors(),
            outbox=memory.MemoryTaskQueue(),
            comment_expiry=memory.MemoryTaskQueue(),
            rollups=memory.MemoryRollups(),
            clock=clock,
        )


def create_app(
    settings: ServiceSettings | None = None,
    tracer_provider: TracerProvider | None = None,
    *,
    adapters: Adapters | None = None,
) -> FastAPI:
    settings = settings if isinstance(settings, Settings) else Settings()
    rules = load_rules(settings.rules_file)
    adapters = adapters or _real_adapters(settings)
    broker, publisher = connect(
        NAME, settings, publishes=FEEDBACK_EVENTS, tracer_provider=tracer_provider
    )
    policy = SurveyPolicy(public_base_url=settings.public_base_url, rules=rules)
    tokens = SignedSurveyTokens(
        settings.token_secret, ttl=policy.token_max_age, clock=adapters.clock
    )
    answering = service.Answering(
        surveys=adapters.surveys,
        responses=adapters.responses,
        detractors=adapters.detractors,
        outbox=adapters.outbox,
        comment_expiry=adapters.comment_expiry,
        publisher=publisher,
        policy=policy,
    )

    router = KafkaRouter()
    handlers.register(
        router,
        facts=adapters.facts,
        tokens=tokens,
        answering=answering,
        publisher=publisher,
        policy=policy,
        clock=adapters.clock,
    )
    if settings.rollups:
        handlers.register_rollups(router, rollups=adapters.rollups, zone=rules.timezone)
    broker.include_router(router)

    desk = http.SurveyDesk(
        tokens=tokens,
        answering=answering,
        rollups=adapters.rollups,
        policy=policy,
        clock=adapters.clock,
    )
    staff = auth.staff_guard(settings.api_keys, required=settings.auth_required)
    jobs = [
        PeriodicJob(
            "outbox",
            settings.outbox_interval_s,
            lambda: service.sweep_outbox(answering, now=adapters.clock()),
        ),
        PeriodicJob(
            "comment-retention",
            settings.retention_interval_s,
            lambda: service.expire_comments(
                adapters.responses, adapters.comment_expiry, now=adapters.clock()
            ),
        ),
    ]
    app = build_app(
        ServiceParts(
            name=NAME,
            description="Asks customers how we did, attributes their answers and reports on them.",
            broker=broker,
            routers=[http.build_router(desk, staff), pages.build_router(desk, staff)],
            on_startup=[*adapters.on_startup, *(job.start for job in jobs)],
            on_shutdown=[job.stop for job in jobs],
            mongo=adapters.mongo,
            tracer_provider=tracer_provider,
            gauges=gauges.rolling_scores(
                adapters.rollups,
                zone=rules.timezone,
                clock=adapters.clock,
                window_days=settings.score_window_days,
            ),
        )
    )
    app.state.desk = desk
    return app


def _real_adapters(settings: Settings) -> Adapters:
    db = MongoConnection(settings)
    responses = MongoResponseStore(db.db)
    outbox = MongoTaskQueue(db.db, "survey_outbox")
    comment_expiry = MongoTaskQueue(db.db, "comment_expiry")
    rollups = MongoRollupStore(db.db)

    async def carry_over_legacy_cells() -> None:
        # Before the rollup consumer starts (the broker starts after these hooks), so that
        # the facets it folds into already hold the days counted before facets existed.
        await rollups.carry_over_legacy_cells()

    return Adapters(
        facts=MongoTicketFactsStore(db.db),
        surveys=MongoSurveyStore(db.db),
        responses=responses,
        detractors=MongoDetractorStore(db.db),
        outbox=outbox,
        comment_expiry=comment_expiry,
        rollups=rollups,
        on_startup=[
            responses.create_indexes,
            outbox.create_indexes,
            comment_expiry.create_indexes,
            *([carry_over_legacy_cells] if settings.rollups else []),
        ],
        mongo=db,
    )


def run(argv: Sequence[str] | None = None) -> None:
    """The console script: serve (no arguments), or ``rebuild-rollups`` (see
    ``entrypoints/rebuild.py``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["rebuild-rollups"]:
        from opora_feedback.entrypoints import rebuild

        raise SystemExit(rebuild.main(args[1:]))
    if args not in ([], ["serve"]):
        raise SystemExit("usage: opora-feedback [serve | rebuild-rollups [--dry-run]]")
    run_service(NAME, Settings(), create_app)
