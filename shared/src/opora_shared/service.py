"""The frame every service is built in: one FastAPI app owning the Kafka broker and clients.

A service's ``create_app()`` builds its broker, adapters and handlers and hands them to
:func:`build_app`, which adds the health probes, the AsyncAPI page, HTTP tracing and a lifespan
that starts the broker after the service's own start-up and stops it gracefully first.

FastAPI rather than ``AsgiFastStream`` is the outer app because intake's API needs path
parameters and OpenAPI, which ``AsgiFastStream``'s exact-path routes cannot serve; the broker
is the same FastStream broker either way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider

from opora_shared.gauges import PolledGauge, Poller
from opora_shared.lag import broker_consumers, consumer_lag
from opora_shared.mongo import MongoConnection
from opora_shared.settings import ServiceSettings
from opora_shared.telemetry import (
    PROMETHEUS_CONTENT_TYPE,
    Metrics,
    configure_logging,
    configure_metrics,
    configure_tracing,
    current_metrics,
    stable_semantic_conventions,
)

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
Check = Callable[[], Awaitable[bool]]

VERSION = "0.1.0"


@dataclass
class ServiceParts:
    """What a service contributes to its app."""

    name: str
    description: str
    broker: KafkaBroker
    routers: Sequence[APIRouter] = ()
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    readiness: dict[str, Check] = field(default_factory=dict)
    tracer_provider: TracerProvider | None = None
    mongo: MongoConnection | None = None
    """Probed by readiness and closed after the shutdown hooks."""
    metrics: Metrics | None = None
    """Served at ``/metrics``; the process's (:func:`configure_metrics`) when not given."""
    gauges: Sequence[PolledGauge] = ()
    """What operations watch (tickets waiting, timers armed…), read every 15 s."""

    @property
    def checks(self) -> dict[str, Check]:
        mongo = {"mongodb": self.mongo.ping} if self.mongo else {}
        return {**mongo, **self.readiness}

    @property
    def shutdown_hooks(self) -> Sequence[Hook]:
        return (*self.on_shutdown, *((self.mongo.close,) if self.mongo else ()))


def build_app(parts: ServiceParts) -> FastAPI:
    asyncapi = AsyncAPI(
        parts.broker,
        title=f"Opora {parts.name}",
        version=VERSION,
        description=parts.description,
    )

    metrics = parts.metrics or current_metrics()
    gauges = (
        Poller(
            [consumer_lag(broker_consumers(parts.broker)), *parts.gauges],
            meter_provider=metrics.provider,
        )
        if metrics
        else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for hook in parts.on_startup:
            await hook()
        await parts.broker.start()
        if gauges:
            gauges.start()
        log.info("service started", extra={"service": parts.name})
        try:
            yield
        finally:
            if gauges:
                await gauges.stop()
            await parts.broker.stop()
            for hook in parts.shutdown_hooks:
                await hook()
            log.info("service stopped", extra={"service": parts.name})

    app = FastAPI(
        title=f"Opora {parts.name}",
        version=VERSION,
        description=parts.description,
        lifespan=lifespan,
    )
    app.state.asyncapi = asyncapi
    app.state.broker = parts.broker
    app.include_router(_health_router(parts))
    app.include_router(_asyncapi_router(asyncapi))
    app.include_router(_metrics_router(metrics))
    for router in parts.routers:
        app.include_router(router)
    stable_semantic_conventions()  # before the first instrumentation reads the choice
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=parts.tracer_provider,
        meter_provider=metrics.provider if metrics else None,
        excluded_urls="health/.*,asyncapi.*,metrics",
    )
    return app


def _health_router(parts: ServiceParts) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        """The process is up and its event loop answers."""
        return {"status": "ok"}

    @router.get("/ready")
    async def ready(response: Response) -> dict[str, Any]:
        """Ready when the broker is connected and every dependency answers."""
        checks: dict[str, bool] = {"kafka": await _kafka_ready(parts.broker)}
        for name, check in parts.checks.items():
            try:
                checks[name] = await check()
            except Exception:  # a failing dependency is a "not ready", never a 500
                checks[name] = False
        ok = all(checks.values())
        response.status_code = 200 if ok else 503
        return {"status": "ok" if ok else "unavailable", "checks": checks}

    return router


async def _kafka_ready(broker: KafkaBroker) -> bool:
    try:
        return await broker.ping(timeout=2.0)
    except Exception:
        return False


def _metrics_router(metrics: Metrics | None) -> APIRouter:
    router = APIRouter(tags=["metrics"], include_in_schema=False)

    @router.get("/metrics")
    async def scrape() -> Response:
        """Prometheus scrape endpoint: RED per handler and route, consumer lag, domain gauges."""
        if metrics is None:
            return PlainTextResponse("metrics are not configured in this process", 503)
        return Response(metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)

    return router


def _asyncapi_router(asyncapi: AsyncAPI) -> APIRouter:
    router = APIRouter(tags=["asyncapi"], include_in_schema=False)

    @router.get("/asyncapi")
    async def page() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(asyncapi.to_specification(), try_it_out_path=None))

    @router.get("/asyncapi.json")
    async def as_json() -> JSONResponse:
        return JSONResponse(asyncapi.to_specification().to_jsonable())

    @router.get("/asyncapi.yaml")
    async def as_yaml() -> PlainTextResponse:
        return PlainTextResponse(asyncapi.to_specification().to_yaml(), media_type="text/yaml")

    return router


def run_service(
    name: str,
    settings: ServiceSettings,
    create_app: Callable[[ServiceSettings, TracerProvider], FastAPI],
) -> None:
    """The console-script body: logging, tracing, then uvicorn until SIGINT/SIGTERM."""
    configure_logging(name, settings.log_level)
    provider = configure_tracing(f"opora-{name}")
    metrics = configure_metrics(f"opora-{name}")
    app = create_app(settings, provider)
    served = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        async with served(running) as state:
            yield state
        # Here, not after uvicorn.run(): on SIGTERM uvicorn re-raises the signal once it has
        # shut down, and nothing after run() would execute. The last spans and metrics go out.
        provider.shutdown()
        metrics.shutdown()

    app.router.lifespan_context = lifespan
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
    )
