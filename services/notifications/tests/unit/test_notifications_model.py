"""Which notification a fact calls for, and the ids that make it exactly-once."""

from __future__ import annotations

from opora_notifications.domain.model import (
    ACKNOWLEDGED,
    SURVEY_INVITATION,
    acknowledgement,
    message_id,
    notification_id,
    template_language,
)


def test_notification_id_is_stable_for_the_same_intent_ticket_and_recipient() -> None:
    first = notification_id(ACKNOWLEDGED, "t-1", "ivan@example.com")
    again = notification_id(ACKNOWLEDGED, "t-1", "ivan@example.com")

    assert first == again


def test_notification_id_ignores_the_case_and_padding_of_the_address() -> None:
    assert notification_id(ACKNOWLEDGED, "t-1", " Ivan@Example.com ") == notification_id(
        ACKNOWLEDGED, "t-1", "ivan@example.com"
    )


def test_notification_id_differs_per_intent_ticket_and_recipient() -> None:
    ids = {
        notification_id(ACKNOWLEDGED, "t-1", "ivan@example.com"),
        notification_id(SURVEY_INVITATION, "t-1", "ivan@example.com"),
        notification_id(ACKNOWLEDGED, "t-2", "ivan@example.com"),
        notification_id(ACKNOWLEDGED, "t-1", "anna@example.com"),
    }

    assert len(ids) == 4


def test_message_id_is_derived_from_the_notification_id() -> None:
    assert message_id("abc", "opora.local") == "<abc@opora.local>"


def test_languages_without_templates_fall_back_to_english() -> None:
    assert template_language("de") == "en"
    assert template_language(None) == "en"


def test_regional_russian_uses_the_russian_templates() -> None:
    assert template_language("ru-RU") == "ru"


def test_a_customer_without_email_gets_no_acknowledgement(ticket_opened) -> None:
    assert acknowledgement(ticket_opened(email=None)) is None


def test_acknowledgement_greets_by_first_name_in_the_ticket_language(ticket_opened) -> None:
    notification = acknowledgement(ticket_opened(name="Иван Петров", language="ru"))

    assert notification is not None
    assert notification.context["name"] == "Иван"
    assert notification.language == "ru"
    assert notification.context["number"] == "OP-000123"


def test_acknowledgement_masks_the_recipient(ticket_opened) -> None:
    notification = acknowledgement(ticket_opened(email="ivan.petrov@example.com"))

    assert notification is not None
    assert notification.recipient_masked == "i***@example.com"
