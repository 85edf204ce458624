"""feedback's JSON and CSV API: answers by link, and reports for staff with an API key."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from opora_feedback.domain import service
from opora_shared.contracts.common import RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyResponseRecordedV1

from ..conftest import STAFF


@pytest.fixture
def fold(adapters, published, rules):
    """Fold what the service published, as the rollup consumer would (with real offsets)."""

    async def run(_app: object) -> None:
        folded = [e for e in published if isinstance(e, SurveyIssuedV1 | SurveyResponseRecordedV1)]
        records = [service.Record(0, offset, e) for offset, e in enumerate(folded)]
        await service.fold_records(records, adapters.rollups, rules.timezone)

    return run


async def test_an_answer_through_the_api_is_created_then_repeated(client, issue_survey):
    token = await issue_survey()

    created = await client.post(f"/v1/surveys/{token}/responses", json={"score": 4})
    repeated = await client.post(f"/v1/surveys/{token}/responses", json={"score": 4})

    assert created.status_code == 201
    assert repeated.status_code == 200
    assert created.json()["survey_id"] == "t-1:csat"
    assert repeated.json()["revision"] == 1


async def test_the_api_answers_a_named_question(client, issue_survey):
    token = await issue_survey(request_type=RequestType.WARRANTY)

    created = await client.post(
        f"/v1/surveys/{token}/responses", json={"score": 7, "survey_type": "ces"}
    )

    assert created.status_code == 201
    assert created.json()["survey_type"] == "ces"


async def test_an_invalid_answer_names_the_field(client, issue_survey):
    token = await issue_survey()

    refused = await client.post(
        f"/v1/surveys/{token}/responses", json={"score": 1, "reasons": ["rude"]}
    )

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reasons"]


async def test_a_missing_score_names_the_field(client, issue_survey):
    token = await issue_survey()

    refused = await client.post(f"/v1/surveys/{token}/responses", json={"comment": "?"})

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "score"]


async def test_the_api_tells_forged_expired_and_closed_links_apart(client, issue_survey, clock):
    token = await issue_survey()
    await client.post(f"/v1/surveys/{token}/responses", json={"score": 2})
    clock.advance(timedelta(days=15))
    closed = await client.post(f"/v1/surveys/{token}/responses", json={"score": 5})
    clock.advance(timedelta(days=14))
    expired = await client.post(f"/v1/surveys/{token}/responses", json={"score": 5})
    forged = await client.post("/v1/surveys/forged.token/responses", json={"score": 5})

    assert (closed.status_code, expired.status_code, forged.status_code) == (409, 410, 404)


async def test_a_survey_can_be_read_by_its_link(client, issue_survey):
    token = await issue_survey(request_type=RequestType.LOYALTY)
    await client.post(f"/v1/surveys/{token}/responses", json={"score": 9})

    survey = (await client.get(f"/v1/surveys/{token}")).json()

    assert survey["questions"] == ["nps", "csat"]
    assert [(r["survey_type"], r["score"]) for r in survey["responses"]] == [("nps", 9)]


async def test_reports_need_an_api_key(client):
    refused = await client.get("/v1/reports")

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")


async def test_a_wrong_api_key_is_refused(client):
    refused = await client.get("/v1/reports", headers={"X-Api-Key": "guess"})

    assert refused.status_code == 401


async def test_a_report_by_agent_counts_issued_surveys_and_answers(app, client, issue_survey, fold):
    first = await issue_survey("t-1")
    await issue_survey("t-2")
    await client.post(f"/v1/surveys/{first}/responses", json={"score": 5})
    await fold(app)

    report = await client.get(
        "/v1/reports",
        params={"from": "2026-02-28", "to": "2026-02-28", "group_by": "agent"},
        headers=STAFF,
    )

    assert report.status_code == 200
    body = report.json()
    assert (body["from"], body["group_by"]) == ("2026-02-28", "agent")
    (anna,) = body["rows"]
    assert (anna["key"], anna["csat_issued"], anna["csat_percent"]) == ("anna", 2, 100.0)
    assert anna["csat_response_rate"] == 50.0


async def test_a_report_as_csv_has_a_header_and_a_total(app, client, issue_survey, fold):
    token = await issue_survey()
    await client.post(f"/v1/surveys/{token}/responses", json={"score": 1})
    await fold(app)

    report = await client.get(
        "/v1/reports.csv",
        params={"from": "2026-02-01", "to": "2026-02-28", "group_by": "team"},
        headers={"X-Api-Key": "lead-key-0123456789"},
    )

    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [r["team"] for r in rows] == ["appliances", "total"]
    assert rows[-1]["csat_percent"] == "0.0"
    assert rows[-1]["nps"] == ""


async def test_a_report_with_a_bad_period_names_the_parameter(client):
    refused = await client.get(
        "/v1/reports", params={"from": "2026-03-01", "to": "2026-02-01"}, headers=STAFF
    )

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "to"]


async def test_an_unknown_grouping_names_the_parameter(client):
    refused = await client.get("/v1/reports", params={"group_by": "planet"}, headers=STAFF)

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "group_by"]


async def test_the_reports_page_opens_with_basic_authentication(app, client, issue_survey, fold):
    token = await issue_survey()
    await client.post(f"/v1/surveys/{token}/responses", json={"score": 4})
    await fold(app)

    page = await client.get(
        "/reports",
        params={"from": "2026-02-01", "to": "2026-02-28", "group_by": "agent"},
        auth=("lead", "lead-key-0123456789"),
    )

    assert page.status_code == 200
    assert '<th scope="row">anna</th>' in page.text
    assert "<td>100%</td>" in page.text
    assert 'href="/v1/reports.csv?from=2026-02-01' in page.text
    assert "<script" not in page.text


async def test_staff_read_a_tickets_answers_with_their_comments(client, issue_survey):
    token = await issue_survey()
    await client.post(f"/v1/surveys/{token}/responses", json={"score": 2, "comment": "Долго"})

    found = await client.get("/v1/tickets/t-1/responses", headers=STAFF)

    assert [(r["score"], r["comment"]) for r in found.json()] == [(2, "Долго")]


async def test_staff_read_an_agents_recent_answers(client, issue_survey):
    token = await issue_survey()
    await client.post(f"/v1/surveys/{token}/responses", json={"score": 3})

    found = await client.get(
        "/v1/agents/anna/responses", params={"from": "2026-02-28"}, headers=STAFF
    )

    assert [r["survey_id"] for r in found.json()] == ["t-1:csat"]


async def test_the_reports_page_asks_a_browser_for_credentials(client):
    refused = await client.get("/reports")

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic realm=")


async def test_reports_can_be_opened_to_all_for_a_demo(settings, adapters):
    import httpx
    from opora_feedback.main import create_app

    app = create_app(settings.model_copy(update={"auth_required": False}), adapters=adapters)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        opened = await client.get("/v1/reports")

    assert opened.status_code == 200
