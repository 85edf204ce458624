"""Polled gauges: what the last reading said is what a scrape sees."""

from __future__ import annotations

from opora_shared.gauges import PolledGauge, Poller, Reading
from opora_shared.telemetry import configure_metrics


class Source:
    def __init__(self) -> None:
        self.value = 3.0
        self.failing = False

    async def read(self) -> Reading:
        if self.failing:
            raise ConnectionError("MongoDB is failing over")
        return [({"queue": "billing"}, self.value)]


def _waiting(scrape: str) -> list[str]:
    return [line for line in scrape.splitlines() if line.startswith("opora_tickets_waiting{")]


async def test_a_scrape_reports_the_last_reading() -> None:
    metrics = configure_metrics("opora-test", make_global=False)
    source = Source()
    poller = Poller(
        [PolledGauge("opora.tickets.waiting", "d", source.read)], meter_provider=metrics.provider
    )

    await poller.refresh()

    [line] = _waiting(metrics.exposition().decode())
    assert 'queue="billing"' in line
    assert line.endswith(" 3.0")


async def test_a_failed_reading_keeps_the_previous_values() -> None:
    metrics = configure_metrics("opora-test", make_global=False)
    source = Source()
    poller = Poller(
        [PolledGauge("opora.tickets.waiting", "d", source.read)], meter_provider=metrics.provider
    )
    await poller.refresh()
    source.value, source.failing = 9.0, True

    await poller.refresh()

    [line] = _waiting(metrics.exposition().decode())
    assert line.endswith(" 3.0")
