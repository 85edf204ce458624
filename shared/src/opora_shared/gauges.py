"""Gauges read by polling: values that live in MongoDB, Kafka or a scheduler, read every
``interval_s`` seconds off the request path and reported as OpenTelemetry observable gauges
(and so on ``/metrics``). An observable gauge's callback is synchronous and runs at scrape time;
a read that needs I/O cannot run there, so the last reading is reported."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

log = logging.getLogger(__name__)

Attributes = dict[str, str]
Reading = list[tuple[Attributes, float]]


@dataclass(frozen=True)
class PolledGauge:
    name: str
    description: str
    read: Callable[[], Awaitable[Reading]]
    unit: str = "1"


class Poller:
    """Reads its gauges every ``interval_s`` seconds; a failed read keeps the last values."""

    def __init__(
        self,
        gauges: Sequence[PolledGauge],
        *,
        meter_provider: MeterProvider | None = None,
        interval_s: float = 15.0,
    ) -> None:
        self._gauges = gauges
        self._interval_s = interval_s
        self._last: dict[str, Reading] = {g.name: [] for g in gauges}
        self._task: asyncio.Task[None] | None = None
        meter = metrics.get_meter("opora", meter_provider=meter_provider)
        for gauge in gauges:
            meter.create_observable_gauge(
                gauge.name,
                callbacks=[self._observer(gauge.name)],
                unit=gauge.unit,
                description=gauge.description,
            )

    async def refresh(self) -> dict[str, Reading]:
        for gauge in self._gauges:
            try:
                self._last[gauge.name] = await gauge.read()
            except Exception:  # a rebalance, a MongoDB fail-over: keep the last reading
                log.warning("could not read a gauge", extra={"gauge": gauge.name}, exc_info=True)
        return dict(self._last)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gauges")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval_s)

    def _observer(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_: CallbackOptions) -> Iterable[Observation]:
            for attributes, value in self._last[name]:
                yield Observation(value, attributes)

        return observe
