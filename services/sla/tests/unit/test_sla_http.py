"""sla's HTTP API over the in-memory desk: a ticket's metrics, its ledger, reports of targets
met, the policies in force, and what-if replays (with 422s naming the wrong field)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from opora_shared.contracts.common import Priority, TicketStatus
from opora_sla.domain import service
from opora_sla.domain.service import Desk
from opora_sla.domain.timeline import TicketFactEvent, fact_of
from opora_sla.entrypoints.http import build_router

from ..conftest import POLICIES, T0, assigned, opened, replied, status

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture
async def http(desk) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(build_router(desk))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
        yield client


async def record(desk: Desk, *events: TicketFactEvent) -> None:
    for event in events:
        await service.record_fact(fact_of(event), event.ticket_id, desk, partition=0)


async def test_a_ticket_s_metrics_show_where_each_clock_stands(desk, http, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await clock.advance(10 * MIN)

    response = await http.get("/v1/tickets/t-1/sla")

    assert response.status_code == 200
    body = response.json()
    assert (body["policy_id"], body["policy_version"], body["status"]) == ("standard", 1, "new")
    first = next(m for m in body["metrics"] if m["metric"] == "first_reply")
    assert (first["phase"], first["used_s"], first["remaining_s"]) == ("running", 600, 3000)


async def test_an_unknown_ticket_is_404(http) -> None:
    assert (await http.get("/v1/tickets/nope/sla")).status_code == 404
    assert (await http.get("/v1/tickets/nope/ledger")).status_code == 404


async def test_the_ledger_lists_what_happened_in_order(desk, http, clock) -> None:
    await record(desk, opened(priority=Priority.URGENT))
    await clock.advance(HOUR)

    response = await http.get("/v1/tickets/t-1/ledger")

    entries = response.json()["entries"]
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    breach = next(e for e in entries if e["kind"] == "breached" and e["metric"] == "first_reply")
    assert breach["event_type"] == "opora.sla.breached.v1"
    assert breach["detail"]["remaining_s"] == 0
    assert entries[0]["kind"] == "applied"


async def test_the_report_gives_the_share_of_targets_met_per_team(desk, http, clock) -> None:
    await record(
        desk,
        opened("fast", priority=Priority.URGENT),
        assigned("fast", at=T0, team="tier1"),
        replied("fast", at=T0 + 5 * MIN),
        opened("slow", priority=Priority.URGENT),
        assigned("slow", at=T0, team="tier2"),
    )
    await clock.advance(HOUR)

    response = await http.get(
        "/v1/reports/targets", params={"by": "team", "metric": "first_reply", "period": "day"}
    )

    body = response.json()
    rows = {row["group"]["team"]: (row["met"], row["missed"]) for row in body["rows"]}
    assert rows == {"tier1": (1, 0), "tier2": (0, 1)}
    assert {row["period"] for row in body["rows"]} == {"2026-11-02"}
    assert body["overall"]["share_met"] == 0.5


async def test_a_report_grouped_by_an_unknown_dimension_is_422(http) -> None:
    response = await http.get("/v1/reports/targets", params={"by": "planet"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "by", 0]


async def test_a_report_in_an_unknown_time_zone_is_422(http) -> None:
    response = await http.get("/v1/reports/targets", params={"tz": "Mars/Olympus"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "tz"]


async def test_a_report_since_an_instant_before_year_one_in_utc_is_422(http) -> None:
    # Found by the generated requests: year 1 at UTC+00:01 is year 0 in UTC, and gave a 500.
    response = await http.get("/v1/reports/targets", params={"since": "0001-01-01T00:00:00+00:01"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


async def test_a_what_if_up_to_an_instant_after_year_9999_in_utc_is_422(http) -> None:
    response = await http.post(
        "/v1/what-if", json={"policies": POLICIES, "opened_to": "9999-12-31T23:59:59-00:01"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "opened_to"]


async def test_the_policies_in_force_are_listed_with_their_version(http) -> None:
    body = (await http.get("/v1/policies")).json()

    assert body["version"] == 1
    assert [p["id"] for p in body["policies"]] == ["vip", "office", "standard"]
    assert body["policies"][2]["targets"]["first_reply"]["urgent"] == 3600


async def test_what_if_counts_the_breaches_a_draft_would_have_made(desk, http, clock) -> None:
    await record(
        desk,
        opened("t-1", priority=Priority.URGENT),
        replied("t-1", at=T0 + 40 * MIN),  # within 1 h, not within 30 min
        status("t-1", at=T0 + 50 * MIN, to=TicketStatus.SOLVED),
    )
    await clock.advance(HOUR)
    stricter = POLICIES.replace("first_reply:     {urgent: 1h,", "first_reply:     {urgent: 30m,")

    response = await http.post("/v1/what-if", json={"policies": stricter})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tickets"] == 1
    assert body["current"]["by_metric"]["first_reply"] == {
        "targets": 1,
        "breached": 0,
        "share_met": 1.0,
    }
    assert body["draft"]["by_metric"]["first_reply"]["breached"] == 1
    assert body["newly_breached"] == ["t-1"]


async def test_a_draft_that_does_not_validate_is_422_naming_its_field(http) -> None:
    broken = POLICIES.replace("urgent: 1h,", "urgent: soon,", 1)

    response = await http.post("/v1/what-if", json={"policies": broken})

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "policies"]
    assert "'soon' is not a duration" in problem["msg"]


async def test_a_draft_too_large_to_be_a_policies_file_is_refused_before_parsing(http) -> None:
    answer = await http.post("/v1/what-if", json={"policies": "policies: []\n" + "#" * 300_000})

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "policies"]
