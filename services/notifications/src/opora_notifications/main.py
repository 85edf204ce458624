"""notifications' wiring: settings, rules, templates, broker, MongoDB, channels, timers, routes.

``create_app`` builds the real adapters unless it is handed others (``adapters=``): the unit
tests pass in-memory ones and get the very same wiring. The rules, the staff directory and the
templates are loaded and checked here, so a mistake in any of them stops the start-up with a
message naming it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker, KafkaRouter
from opentelemetry.trace import TracerProvider
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import Channel
from opora_shared.contracts.notifications import NOTIFICATION_EVENTS
from opora_shared.messaging import connect
from opora_shared.mongo import MongoConnection
from opora_shared.ports import Clock
from opora_shared.service import Hook, ServiceParts, build_app, run_service
from opora_shared.settings import ServiceSettings
from opora_shared.timers import TimerScheduler

from opora_notifications import handlers
from opora_notifications.adapters.mailer import SmtpMailer
from opora_notifications.adapters.memory import MemoryWaitingRoom
from opora_notifications.adapters.repository import (
    MongoAgentStore,
    MongoNotificationStore,
    MongoPreferenceStore,
    MongoQuotas,
    MongoTicketStore,
    MongoWaitingRoom,
)
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.adapters.unsubscribe import UnsubscribeLinks
from opora_notifications.adapters.webhook import WebhookSender
from opora_notifications.config import Settings
from opora_notifications.domain.directory import load_directory
from opora_notifications.domain.ports import (
    AgentStore,
    NotificationStore,
    PreferenceStore,
    Quotas,
    Sender,
    TicketStore,
    Timers,
    WaitingRoom,
)
from opora_notifications.domain.rules import load_rules
from opora_notifications.domain.service import Notifier
from opora_notifications.entrypoints.http import build_router

NAME = "notifications"
log = logging.getLogger(__name__)


@dataclass
class Adapters:
    store: NotificationStore
    tickets: TicketStore
    agents: AgentStore
    preferences: PreferenceStore
    quotas: Quotas
    senders: Mapping[Channel, Sender]
    waiting: WaitingRoom = field(default_factory=MemoryWaitingRoom)
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    mongo: MongoConnection | None = None
    timers: Timers | None = None
    clock: Clock = field(default=utc_now)


def create_app(
    settings: ServiceSettings | None = None,
    tracer_provider: TracerProvider | None = None,
    *,
    adapters: Adapters | None = None,
) -> FastAPI:
    settings = settings if isinstance(settings, Settings) else Settings()
    rules = load_rules(settings.rules_file)
    directory = load_directory(settings.staff_file)
    renderer = JinjaRenderer.load(rules, settings.templates_dir)
    adapters = adapters or _real_adapters(settings)
    broker, publisher = connect(
        NAME, settings, publishes=NOTIFICATION_EVENTS, tracer_provider=tracer_provider
    )
    scheduler = TimerScheduler()
    timers: Timers = adapters.timers or scheduler
    links = (
        UnsubscribeLinks(settings.unsubscribe_secret, settings.public_base_url)
        if settings.unsubscribe_secret is not None
        else None
    )
    notifier = Notifier(
        store=adapters.store,
        tickets=adapters.tickets,
        waiting=adapters.waiting,
        agents=adapters.agents,
        preferences=adapters.preferences,
        quotas=adapters.quotas,
        renderer=renderer,
        senders=adapters.senders,
        publisher=publisher,
        rules=rules,
        directory=directory,
        timers=timers,
        clock=adapters.clock,
        policy=settings.delivery_policy(),
        unsubscribe_link=links.link if links else lambda _customer, _category: None,
    )

    router = KafkaRouter()
    handlers.register(router, notifier)
    broker.include_router(router)

    app = build_app(
        ServiceParts(
            name=NAME,
            description="Follow-ups to customers and alerts to staff: templated, timed exactly, "
            "sent once per intent over e-mail and webhooks.",
            broker=broker,
            routers=[
                build_router(
                    store=adapters.store,
                    preferences=adapters.preferences,
                    renderer=renderer,
                    rules=rules,
                    links=links,
                    clock=adapters.clock,
                )
            ],
            on_startup=adapters.on_startup,
            on_shutdown=[*adapters.on_shutdown, scheduler.shutdown],
            mongo=adapters.mongo,
            tracer_provider=tracer_provider,
        )
    )
    app.state.notifier = notifier
    _around_the_broker(app, broker, notifier, settings.graceful_timeout_s)
    return app


def _around_the_broker(
    app: FastAPI, broker: KafkaBroker, notifier: Notifier, graceful_timeout_s: float
) -> None:
    """Recover once the broker runs (outcomes a crash kept from Kafka are published again), and
    let sends under way finish before it stops (so none is left in doubt)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            await notifier.recover()
            try:
                yield state
            finally:
                await notifier.drain(graceful_timeout_s)

    app.router.lifespan_context = lifespan


def _real_adapters(settings: Settings) -> Adapters:
    db = MongoConnection(settings)
    store = MongoNotificationStore(db.db)
    quotas = MongoQuotas(db.db)
    waiting = MongoWaitingRoom(db.db)
    senders: dict[Channel, Sender] = {
        Channel.EMAIL: SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
            timeout_s=settings.smtp_timeout_s,
        )
    }
    webhooks: list[WebhookSender] = []
    for channel, hook in settings.webhooks.items():
        sender = WebhookSender(url=hook.url, secret=hook.secret, timeout_s=hook.timeout_s)
        senders[channel] = sender
        webhooks.append(sender)

    async def close_webhooks() -> None:
        await asyncio.gather(*(w.close() for w in webhooks))

    return Adapters(
        store=store,
        tickets=MongoTicketStore(db.db),
        agents=MongoAgentStore(db.db),
        preferences=MongoPreferenceStore(db.db),
        quotas=quotas,
        senders=senders,
        waiting=waiting,
        on_startup=[store.create_indexes, quotas.create_indexes, waiting.create_indexes],
        on_shutdown=[close_webhooks],
        mongo=db,
    )


def run() -> None:
    run_service(NAME, Settings(), create_app)
