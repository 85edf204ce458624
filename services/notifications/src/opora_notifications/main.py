"""notifications' wiring: settings, broker, MongoDB, SMTP, templates, handlers and routes.

``create_app`` builds the real adapters unless it is handed others (``adapters=``): the tests
pass in-memory fakes and get the very same wiring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI
from faststream.kafka import KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.notifications import NOTIFICATION_EVENTS
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.service import Hook, ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings

from opora_notifications import handlers
from opora_notifications.adapters.mailer import SmtpMailer
from opora_notifications.adapters.repository import MongoNotificationStore
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.config import Settings
from opora_notifications.domain.ports import Mailer, NotificationStore, Renderer
from opora_notifications.entrypoints.http import build_router

NAME = "notifications"


@dataclass
class Adapters:
    store: NotificationStore
    mailer: Mailer
    renderer: Renderer
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
        NAME, settings, publishes=NOTIFICATION_EVENTS, tracer_provider=tracer_provider
    )

    router = KafkaRouter()
    handlers.register(
        router, adapters.store, adapters.renderer, adapters.mailer, publisher, clock=utc_now
    )
    broker.include_router(router)

    return build_app(
        ServiceParts(
            name=NAME,
            description="Tells customers what happened to their requests: e-mail, exactly once.",
            broker=broker,
            routers=[build_router(adapters.store, adapters.renderer)],
            on_startup=adapters.on_startup,
            mongo=adapters.mongo,
            tracer_provider=tracer_provider,
        )
    )


def _real_adapters(settings: Settings) -> Adapters:
    db = MongoConnection(settings)
    store = MongoNotificationStore(db.db)
    mailer = SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        mail_from=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        timeout_s=settings.smtp_timeout_s,
    )

    return Adapters(
        store=store,
        mailer=mailer,
        renderer=JinjaRenderer.load(),  # compiles and test-renders every template, or raises
        on_startup=[store.create_indexes],
        mongo=db,
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
