"""The e-mail templates: both languages, the name, the number, escaping, strictness."""

from __future__ import annotations

import pytest
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.domain.model import TEMPLATES
from opora_notifications.domain.ports import TemplateContextError, UnknownTemplateError

ACK = {"name": "Иван", "number": "OP-000123", "subject": "Не включается"}


@pytest.fixture(scope="module")
def renderer() -> JinjaRenderer:
    return JinjaRenderer.load()


def test_every_template_loads_and_renders_its_example_in_every_language() -> None:
    renderer = JinjaRenderer.load()

    assert set(renderer.templates) == set(TEMPLATES)


def test_acknowledgement_in_russian_greets_by_name(renderer: JinjaRenderer) -> None:
    mail = renderer.render("ticket_acknowledged", "ru", ACK)

    assert "Добрый день, Иван" in mail.text
    assert "Добрый день, Иван" in mail.html


def test_acknowledgement_in_english_greets_by_name(renderer: JinjaRenderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "name": "Ivan"})

    assert "Hello, Ivan" in mail.text
    assert "Hello, Ivan" in mail.html


def test_acknowledgement_without_a_name_still_greets(renderer: JinjaRenderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "name": ""})

    assert mail.text.startswith("Hello!")


def test_unsupported_language_falls_back_to_english(renderer: JinjaRenderer) -> None:
    mail = renderer.render("ticket_acknowledged", "de", {**ACK, "name": "Ivan"})

    assert "Hello, Ivan" in mail.text


def test_acknowledgement_subject_carries_the_ticket_number(renderer: JinjaRenderer) -> None:
    assert renderer.render("ticket_acknowledged", "ru", ACK).subject == (
        "[OP-000123] Мы получили ваше обращение"
    )


def test_html_part_escapes_what_the_customer_typed(renderer: JinjaRenderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "name": "<b>Ivan</b>"})

    assert "&lt;b&gt;Ivan&lt;/b&gt;" in mail.html
    assert "<b>Ivan</b>" not in mail.html


def test_subject_stays_on_one_line_whatever_the_context(renderer: JinjaRenderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "number": "OP-1\r\nBcc: x@y"})

    assert "\n" not in mail.subject
    assert "\r" not in mail.subject


def test_survey_invitation_links_to_the_survey(renderer: JinjaRenderer) -> None:
    context = {"name": "Ivan", "url": "https://opora.test/s/tok", "expires_on": "2026-03-28"}

    mail = renderer.render("survey_invitation", "en", context)

    assert "https://opora.test/s/tok" in mail.text
    assert 'href="https://opora.test/s/tok"' in mail.html


def test_a_missing_variable_is_a_context_error(renderer: JinjaRenderer) -> None:
    with pytest.raises(TemplateContextError):
        renderer.render("ticket_acknowledged", "en", {"name": "Ivan"})


def test_an_unknown_template_is_reported(renderer: JinjaRenderer) -> None:
    with pytest.raises(UnknownTemplateError):
        renderer.render("no_such_template", "en", {})
