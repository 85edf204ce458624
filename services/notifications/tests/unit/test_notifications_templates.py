"""The templates: both languages, every channel, the greeting, escaping, strictness at load."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest
from opora_notifications.adapters.templates import JinjaRenderer, TemplateSetupError
from opora_notifications.domain.ports import TemplateContextError, UnknownTemplateError
from opora_notifications.domain.templates import catalogue

ACK = {
    "name": "Иван",
    "full_name": "Иван Петров",
    "number": "OP-000123",
    "subject": "Не включается",
    "product": "",
    "unsubscribe_url": "",
    "reply_due": "",
}


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    """The packaged templates in a directory a test may spoil."""
    packaged = resources.files("opora_notifications").joinpath("templates")
    target = tmp_path / "templates"
    with resources.as_file(packaged) as source:
        shutil.copytree(source, target)
    return target


def test_every_template_the_rules_name_loads_in_both_languages(rules, renderer) -> None:
    assert set(renderer.specs) == {r.template for r in rules.notifications}


def test_the_acknowledgement_in_russian_greets_by_name(renderer) -> None:
    mail = renderer.render("ticket_acknowledged", "ru", ACK)

    assert mail.text.startswith("Добрый день, Иван!")
    assert "Добрый день, Иван!" in (mail.html or "")


def test_the_acknowledgement_in_english_greets_by_name(renderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "name": "Ivan"})

    assert mail.text.startswith("Hello, Ivan!")


def test_without_a_name_the_greeting_still_reads_well(renderer) -> None:
    assert renderer.render("ticket_acknowledged", "en", {**ACK, "name": ""}).text.startswith(
        "Hello!"
    )


def test_a_language_without_templates_falls_back_to_english(renderer) -> None:
    assert renderer.render("ticket_acknowledged", "de", {**ACK, "name": "Ivan"}).text.startswith(
        "Hello, Ivan!"
    )


def test_the_subject_carries_the_ticket_number(renderer) -> None:
    assert renderer.render("ticket_acknowledged", "ru", ACK).subject == (
        "[OP-000123] Мы получили ваше обращение"
    )


def test_the_html_part_escapes_what_the_customer_typed(renderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "name": "<b>Ivan</b>"})

    assert "&lt;b&gt;Ivan&lt;/b&gt;" in (mail.html or "")
    assert "<b>Ivan</b>" not in (mail.html or "")


def test_the_subject_stays_on_one_line_whatever_the_context(renderer) -> None:
    mail = renderer.render("ticket_acknowledged", "en", {**ACK, "number": "OP-1\r\nBcc: x@y"})

    assert "\n" not in (mail.subject or "")
    assert "\r" not in (mail.subject or "")


def test_the_short_variant_has_no_subject_or_html(renderer) -> None:
    sms = renderer.render("ticket_acknowledged", "ru", ACK, short=True)

    assert sms.text == "Иван, заявка OP-000123 принята. Opora"
    assert sms.subject is None
    assert sms.html is None


def test_a_template_without_a_short_variant_cannot_go_by_sms(renderer) -> None:
    with pytest.raises(TemplateContextError):
        renderer.render("warranty_ending_reminder", "ru", {}, short=True)


def test_the_unsubscribe_link_appears_when_there_is_one(renderer) -> None:
    context = {**ACK, "unsubscribe_url": "https://opora.test/u/tok"}

    mail = renderer.render("ticket_acknowledged", "en", context)

    assert "https://opora.test/u/tok" in mail.text
    assert 'href="https://opora.test/u/tok"' in (mail.html or "")


def test_a_missing_variable_is_a_context_error(renderer) -> None:
    with pytest.raises(TemplateContextError):
        renderer.render("ticket_acknowledged", "en", {"name": "Ivan"})


def test_an_unknown_template_is_reported(renderer) -> None:
    with pytest.raises(UnknownTemplateError):
        renderer.render("no_such_template", "en", {})


def test_a_misspelt_variable_fails_the_load(rules, templates_copy: Path) -> None:
    path = templates_copy / "pending_reminder" / "en.txt"
    path.write_text(path.read_text().replace("{{ closes_on }}", "{{ closes_no }}"))

    with pytest.raises(TemplateSetupError, match=r"pending_reminder/en\.txt: unknown variable"):
        JinjaRenderer.load(rules, templates_copy)


def test_a_misspelt_variable_in_an_untaken_branch_fails_the_load(rules, templates_copy) -> None:
    path = templates_copy / "ticket_acknowledged" / "ru.html"
    path.write_text(path.read_text().replace("{{ reply_due }}", "{{ reply_deu }}"))

    with pytest.raises(TemplateSetupError, match="reply_deu"):
        JinjaRenderer.load(rules, templates_copy)


def test_a_syntax_error_fails_the_load_with_its_line(rules, templates_copy) -> None:
    path = templates_copy / "survey_invitation" / "ru.txt"
    source = path.read_text()
    line = source[: source.index("{% endif %}")].count("\n") + 1
    path.write_text(source.replace("{% endif %}", "{% endfi %}", 1))

    with pytest.raises(TemplateSetupError, match=rf"survey_invitation/ru\.txt:{line}:"):
        JinjaRenderer.load(rules, templates_copy)


def test_a_missing_variant_fails_the_load(rules, templates_copy) -> None:
    (templates_copy / "ticket_solved" / "en.short.txt").unlink()

    with pytest.raises(TemplateSetupError, match=r"ticket_solved/en\.short\.txt: missing"):
        JinjaRenderer.load(rules, templates_copy)


def test_a_staff_template_cannot_use_a_customers_variable(rules, templates_copy) -> None:
    path = templates_copy / "staff_detractor" / "en.txt"
    path.write_text(path.read_text() + "{{ unsubscribe_url }}\n")

    with pytest.raises(TemplateSetupError, match="unsubscribe_url"):
        JinjaRenderer.load(rules, templates_copy)


def test_the_sandbox_refuses_reaching_into_python(rules, templates_copy) -> None:
    path = templates_copy / "ticket_solved" / "en.txt"
    path.write_text("{{ name.__class__.__mro__ }}\n")

    with pytest.raises(TemplateSetupError, match="unsafe"):
        JinjaRenderer.load(rules, templates_copy)


def test_an_sms_template_longer_than_the_channel_allows_fails_the_load(
    rules, templates_copy
) -> None:
    (templates_copy / "ticket_solved" / "ru.short.txt").write_text("{{ number }} " + "x" * 400)

    with pytest.raises(TemplateSetupError, match="more than 320"):
        JinjaRenderer.load(rules, templates_copy)


def test_a_survey_template_gets_the_link_and_staff_templates_do_not(rules) -> None:
    specs = catalogue(rules)

    assert {"url", "expires_on"} <= specs["survey_invitation"].variables
    assert "url" not in specs["staff_sla_warning"].variables
    assert "unsubscribe_url" not in specs["staff_sla_warning"].variables
