"""The survey page a customer's link opens: language, escaping, no JavaScript, clear errors."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from opora_feedback.config import Settings
from opora_feedback.main import Adapters, create_app
from opora_shared.testing import deliver


@pytest.fixture
def app(facts, surveys, responses, clock):
    settings = Settings(token_secret="page-test-secret-0123456789")
    return create_app(
        settings, adapters=Adapters(facts=facts, surveys=surveys, responses=responses, clock=clock)
    )


@pytest.fixture
async def broker(app):
    async with TestKafkaBroker(app.state.broker) as broker:
        yield broker


@pytest.fixture
async def client(app, broker):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        yield client


@pytest.fixture
def issue_survey(broker, surveys, events):
    """Open and solve a ticket through Kafka; return the token of the survey link issued."""

    async def issue(*, name="Иван Петров", language="ru") -> str:
        for event in (events.ticket_opened(name=name, language=language), events.status_changed()):
            await deliver(broker, event)
        return surveys.surveys["t-1:csat"].issued.url.rsplit("/s/", 1)[1]

    return issue


async def test_the_page_speaks_russian_to_a_russian_customer(client, issue_survey):
    token = await issue_survey(language="ru")

    page = await client.get(f"/s/{token}")

    assert page.status_code == 200
    assert '<html lang="ru">' in page.text
    assert "Добрый день, Иван!" in page.text
    assert "Насколько вы довольны" in page.text


async def test_the_page_offers_five_labelled_buttons_in_a_plain_form(client, issue_survey):
    token = await issue_survey(language="en")

    page = await client.get(f"/s/{token}")

    assert '<form method="post">' in page.text
    assert page.text.count('<button type="submit" name="score"') == 5
    assert 'aria-label="Rate 5: very satisfied"' in page.text
    assert '<label for="comment">' in page.text
    assert "<script" not in page.text


async def test_the_page_escapes_what_the_customer_typed(client, issue_survey):
    token = await issue_survey(name="<script>alert(1)</script>")

    page = await client.get(f"/s/{token}")

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_forged_link_gets_a_clear_not_found_page(client):
    page = await client.get("/s/forged-token", headers={"Accept-Language": "ru-RU,ru;q=0.9"})

    assert page.status_code == 404
    assert "ссылка на опрос недействительна" in page.text


async def test_an_expired_link_is_gone(client, issue_survey, clock):
    token = await issue_survey()
    clock.advance(timedelta(days=29))

    page = await client.get(f"/s/{token}")

    assert page.status_code == 410
    assert "Срок действия этой ссылки истёк" in page.text


async def test_posting_the_form_records_the_answer_and_thanks(client, issue_survey, responses):
    token = await issue_survey()

    page = await client.post(f"/s/{token}", data={"score": "4", "comment": "Быстро"})

    assert page.status_code == 200
    assert "Спасибо за ответ!" in page.text
    assert responses.responses["t-1:csat"].score == 4
    assert responses.responses["t-1:csat"].comment == "Быстро"


async def test_the_page_shows_the_answer_so_far(client, issue_survey):
    token = await issue_survey()
    await client.post(f"/s/{token}", data={"score": "4", "comment": "<b>Быстро</b>"})

    page = await client.get(f"/s/{token}")

    assert "Ваша оценка: 4" in page.text
    assert 'value="4" aria-describedby="scale-hint"' in page.text
    assert "&lt;b&gt;Быстро&lt;/b&gt;" in page.text


async def test_posting_without_a_score_asks_again(client, issue_survey):
    token = await issue_survey()

    page = await client.post(f"/s/{token}", data={"comment": "?"})

    assert page.status_code == 422
    assert "выберите оценку от 1 до 5" in page.text


async def test_changing_the_answer_after_the_window_is_a_conflict(client, issue_survey, clock):
    token = await issue_survey()
    await client.post(f"/s/{token}", data={"score": "2"})
    clock.advance(timedelta(days=15))

    page = await client.post(f"/s/{token}", data={"score": "5"})

    assert page.status_code == 409
    assert "Ответ больше нельзя изменить" in page.text
