"""The survey page a customer's link opens: language, accessible markup without JavaScript,
one-click rating confirmed by a POST, the thank-you page, and clear pages for bad links."""

from __future__ import annotations

import re
from datetime import timedelta

from opora_shared.contracts.common import RequestType


async def test_the_page_speaks_russian_to_a_russian_customer(client, issue_survey):
    token = await issue_survey(language="ru")

    page = await client.get(f"/s/{token}")

    assert page.status_code == 200
    assert '<html lang="ru">' in page.text
    assert "Добрый день, Иван!" in page.text
    assert "Насколько вы довольны" in page.text


async def test_the_page_speaks_english_to_an_english_customer(client, issue_survey):
    token = await issue_survey(language="en", name="Anna Smith")

    page = await client.get(f"/s/{token}")

    assert '<html lang="en">' in page.text
    assert "Hello, Anna!" in page.text


async def test_each_question_is_a_fieldset_with_a_legend_and_labelled_radios(client, issue_survey):
    token = await issue_survey(language="en", request_type=RequestType.WARRANTY)

    page = (await client.get(f"/s/{token}")).text

    assert page.count("<fieldset id=") == 2  # CSAT and CES
    assert "<legend>How satisfied are you" in page
    assert "The company made it easy to handle my issue" in page
    radios = re.findall(r'<input type="radio" id="([a-z]+-\d+)"', page)
    assert len(radios) == 5 + 7
    assert all(f'<label for="{radio}">' in page for radio in radios)
    assert '<label for="csat-comment">' in page


async def test_the_page_works_without_javascript(client, issue_survey):
    token = await issue_survey()

    page = (await client.get(f"/s/{token}")).text

    assert "<script" not in page
    assert f'<form method="post" action="{token}">' in page
    assert 'name="viewport" content="width=device-width' in page


async def test_the_page_escapes_what_the_customer_typed(client, issue_survey):
    token = await issue_survey(name="<script>alert(1)</script>")

    page = await client.get(f"/s/{token}")

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_one_click_link_chooses_the_score_and_stores_nothing(
    client, issue_survey, adapters
):
    token = await issue_survey(language="en")

    page = await client.get(f"/s/{token}?score=4")

    assert page.status_code == 200
    assert 'id="csat-4" name="csat" value="4" checked' in page.text
    assert "Your rating: 4 — satisfied." in page.text
    assert '<button type="submit" name="confirmed" value="1">Send my rating</button>' in page.text
    assert adapters.responses.current == {}


async def test_a_score_off_the_scale_in_the_link_chooses_nothing(client, issue_survey):
    token = await issue_survey(language="en")

    page = await client.get(f"/s/{token}?score=9")

    assert " checked>" not in page.text
    assert "Send my rating" not in page.text


async def test_a_score_of_digits_other_than_ascii_in_the_link_chooses_nothing(client, issue_survey):
    token = await issue_survey(language="en")

    page = await client.get(f"/s/{token}", params={"score": "²"})

    assert page.status_code == 200
    assert "Send my rating" not in page.text


async def test_sending_the_form_records_the_answers_and_shows_the_thanks(
    client, issue_survey, adapters
):
    token = await issue_survey()

    sent = await client.post(
        f"/s/{token}",
        data={"csat": "2", "csat_reasons": ["slow"], "csat_comment": "Долго", "ces": "3"},
    )
    thanks = await client.get(f"/s/{token}/thanks")

    assert sent.status_code == 303
    assert sent.headers["location"] == f"{token}/thanks"
    csat = adapters.responses.current["t-1:csat"]
    assert (csat.score, csat.reasons, csat.comment) == (2, ("slow",), "Долго")
    assert adapters.responses.current["t-1:ces"].score == 3
    assert "Спасибо за ответ!" in thanks.text
    assert "Изменить его можно по той же ссылке до 2026-03-14" in thanks.text


async def test_reasons_are_hidden_by_css_unless_a_low_score_is_chosen(client, issue_survey):
    token = await issue_survey(language="en")

    page = (await client.get(f"/s/{token}")).text

    assert ".q-csat:not(:has(#csat-1:checked, #csat-2:checked, #csat-3:checked)) .reasons" in page
    assert '<input type="checkbox" id="csat-reason-slow" name="csat_reasons" value="slow">' in page


async def test_sending_without_a_score_asks_again_with_an_error_summary(client, issue_survey):
    token = await issue_survey(language="en")

    page = await client.post(f"/s/{token}", data={})

    assert page.status_code == 422
    assert 'class="errors" role="alert"' in page.text
    assert '<a href="#csat">Choose a score for at least one question.</a>' in page.text


async def test_a_comment_without_a_score_is_kept_and_pointed_at(client, issue_survey):
    token = await issue_survey(language="en")

    page = await client.post(f"/s/{token}", data={"csat_comment": "Where is my fridge?"})

    assert page.status_code == 422
    assert '<a href="#csat">Choose a score to send your comment with it.</a>' in page.text
    assert "Where is my fridge?</textarea>" in page.text


async def test_a_replayed_link_shows_the_answer_so_far_and_can_change_it(
    client, issue_survey, adapters, clock
):
    token = await issue_survey(language="en")
    await client.post(f"/s/{token}", data={"csat": "2", "csat_comment": "<b>slow</b>"})
    clock.advance(timedelta(days=3))

    page = await client.get(f"/s/{token}")
    await client.post(f"/s/{token}", data={"csat": "5"})

    assert "You answered 2. You can change it until 2026-03-14." in page.text
    assert "&lt;b&gt;slow&lt;/b&gt;" in page.text
    assert 'id="csat-2" name="csat" value="2" checked' in page.text
    assert adapters.responses.current["t-1:csat"].revision == 2


async def test_after_the_edit_window_the_answer_is_shown_but_not_editable(
    client, issue_survey, clock
):
    token = await issue_survey(language="en", request_type=RequestType.OTHER)
    await client.post(f"/s/{token}", data={"csat": "2"})
    clock.advance(timedelta(days=15))

    page = await client.get(f"/s/{token}")
    sent = await client.post(f"/s/{token}", data={"csat": "5"})

    assert page.status_code == 200
    assert "<form" not in page.text
    assert "The answer can no longer be changed." in page.text
    assert sent.status_code == 409
    assert "Your answer can no longer be changed." in sent.text


async def test_a_forged_link_gets_a_clear_not_found_page(client):
    page = await client.get("/s/forged-token", headers={"Accept-Language": "ru-RU,ru;q=0.9"})

    assert page.status_code == 404
    assert "ссылка на опрос недействительна" in page.text


async def test_a_forged_link_cannot_answer(client, adapters):
    sent = await client.post("/s/forged-token", data={"csat": "1"})

    assert sent.status_code == 404
    assert adapters.responses.current == {}


async def test_an_expired_link_is_gone_in_the_survey_language(client, issue_survey, clock):
    token = await issue_survey(language="ru")
    clock.advance(timedelta(days=29))

    page = await client.get(f"/s/{token}", headers={"Accept-Language": "en"})

    assert page.status_code == 410
    assert "Срок действия этой ссылки истёк" in page.text


async def test_an_expired_link_cannot_answer(client, issue_survey, clock, adapters):
    token = await issue_survey()
    clock.advance(timedelta(days=29))

    sent = await client.post(f"/s/{token}", data={"csat": "5"})

    assert sent.status_code == 410
    assert adapters.responses.current == {}


async def test_survey_pages_are_not_cached_nor_framed(client, issue_survey):
    token = await issue_survey()

    page = await client.get(f"/s/{token}")

    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
