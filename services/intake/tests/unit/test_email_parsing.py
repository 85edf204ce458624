"""The e-mail channel: raw MIME and providers' parsed JSON become ``InboundEmailV1``."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opora_intake.domain.email import (
    EmailParseError,
    ParsedEmailV1,
    clean_text,
    normalise_message_id,
    parse_inbound_json,
    parse_mime,
    thread_references,
    ticket_number_in,
)
from opora_shared.contracts.inbound import InboundEmailV1
from pydantic import ValidationError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def mail(name: str) -> InboundEmailV1:
    return parse_mime(fixture(name))


# --- Russian mail in legacy charsets ---------------------------------------------------------


def test_windows1251_encoded_subject_and_sender_name_are_decoded() -> None:
    email = mail("ru_reply_windows1251_qp")

    assert email.subject == "Re: Где мой заказ?"
    assert email.customer.name == "Иван Петров"
    assert email.customer.email == "ivan.petrov@example.org"


def test_windows1251_reply_keeps_only_the_new_text_without_quote_and_signature() -> None:
    assert mail("ru_reply_windows1251_qp").text == (
        "Здравствуйте!\n\n"
        "Курьер так и не приехал, заказ № 5531 до сих пор не доставлен.\n"
        "Прошу перезвонить по телефону после 18:00."
    )


def test_koi8r_base64_reply_drops_the_original_message_block() -> None:
    email = mail("ru_koi8r_base64_original_message")

    assert email.subject == "Re: Ремонт по гарантии"
    assert email.text == (
        "Добрый день.\n\n"
        "Гарантийный талон прилагаю к письму, серийный номер SN-88213.\n"
        "Когда можно привезти пылесос в сервис?"
    )


def test_content_language_header_becomes_the_language() -> None:
    assert mail("ru_reply_windows1251_qp").language == "ru"
    assert mail("en_outlook_html_only_original_message").language == "en-US"


# --- HTML-only Outlook mail ------------------------------------------------------------------


def test_outlook_html_only_mail_becomes_text_without_signature_and_original_message() -> None:
    assert mail("en_outlook_html_only_original_message").text == (
        "Hi team,\n\n"
        "The replacement router you sent still drops the connection every few minutes.\n"
        "Firmware is 2.4.1, I have already done a factory reset twice."
    )


def test_html_body_is_kept_as_sent() -> None:
    html = mail("en_outlook_html_only_original_message").html

    assert html is not None
    assert html.startswith("<html")
    assert "-----Original Message-----" in html


# --- multipart mail with attachments ---------------------------------------------------------


def test_plain_part_of_multipart_alternative_is_the_text() -> None:
    assert mail("en_alternative_pdf_and_inline_image").text == (
        "Hello,\n\n"
        "Our card was charged twice for invoice 2026-1187, see the screenshot\n"
        "below and the invoice attached. Please refund the duplicate payment."
    )


def test_pdf_attachment_and_inline_image_are_listed_as_metadata() -> None:
    attachments = mail("en_alternative_pdf_and_inline_image").attachments

    assert [(a.filename, a.content_type, a.size_bytes) for a in attachments] == [
        ("screenshot.png", "image/png", 70),
        ("invoice-2026-1187.pdf", "application/pdf", 125),
    ]


def test_encoded_attachment_file_name_is_decoded() -> None:
    (attachment,) = mail("ru_gmail_reply_references").attachments

    assert attachment.filename == "Акт сверки октябрь.pdf"


def test_recipients_include_to_and_cc() -> None:
    assert mail("en_alternative_pdf_and_inline_image").to == (
        "support@help.example.com",
        "accounts@example.org",
    )


def test_delivered_to_counts_as_a_recipient_once() -> None:
    assert mail("ru_plus_address").to == ("support+op-000045@help.example.com",)


# --- threading -------------------------------------------------------------------------------


def test_gmail_reply_belongs_to_the_conversation_of_its_references_root() -> None:
    assert mail("ru_gmail_reply_references").conversation_id == "op-000321-open@help.example.com"


def test_reply_without_references_belongs_to_the_conversation_of_in_reply_to() -> None:
    raw = fixture("ru_reply_windows1251_qp").replace(
        b"References: <ticket-op-000123-ack@help.example.com>\r\n", b""
    )

    assert parse_mime(raw).conversation_id == "ticket-op-000123-ack@help.example.com"


def test_gmail_russian_reply_drops_the_quoted_history() -> None:
    assert mail("ru_gmail_reply_references").text == (
        "Добрый день!\n\nАкт сверки во вложении, прошу проверить сумму за октябрь."
    )


def test_thread_references_list_the_nearest_ancestor_first() -> None:
    assert thread_references(mail("ru_gmail_reply_references")) == (
        "op-000321-reply-1@help.example.com",
        "CAF7a1bQ3x9=w2Ld7@mail.example.com",
        "op-000321-open@help.example.com",
    )


def test_message_ids_keep_their_angle_bracket_form_in_the_event() -> None:
    email = mail("ru_gmail_reply_references")

    assert email.message_id == "<CAF7a1bQ_reply2+XyZ=abc@mail.example.com>"
    assert email.in_reply_to == "<op-000321-reply-1@help.example.com>"
    assert email.source_message_id == "CAF7a1bQ_reply2+XyZ=abc@mail.example.com"


def test_ticket_reference_in_the_subject_is_found() -> None:
    email = mail("en_subject_ticket_reference")

    assert ticket_number_in(email.subject, email.to, "OP") == "OP-000123"


def test_apple_mail_reply_drops_the_quote_and_sent_from_my_iphone() -> None:
    assert mail("en_subject_ticket_reference").text == (
        "Any update on the refund? It has been a week."
    )


def test_plus_address_names_the_ticket_in_upper_case() -> None:
    email = mail("ru_plus_address")

    assert ticket_number_in(email.subject, email.to, "OP") == "OP-000045"


def test_yandex_reply_drops_the_mobile_signature_and_the_ios_style_quote() -> None:
    assert mail("ru_plus_address").text == "Добрый вечер! Возврат до сих пор не пришёл на карту."


# --- identities and times --------------------------------------------------------------------


def test_mail_without_message_id_gets_an_id_from_its_content() -> None:
    email = mail("en_no_message_id")

    assert email.source_message_id.endswith("@opora.invalid")
    assert email.message_id == f"<{email.source_message_id}>"
    assert email.conversation_id == email.source_message_id


def test_mail_without_message_id_keeps_its_id_when_a_relay_adds_trace_headers() -> None:
    relayed = b"Received: from relay.example.net by mx.help.example.com\r\n" + fixture(
        "en_no_message_id"
    )

    assert parse_mime(relayed).source_message_id == mail("en_no_message_id").source_message_id


def test_made_up_message_id_uses_the_mailbox_domain() -> None:
    email = parse_mime(fixture("en_no_message_id"), mailbox_domain="help.example.com")

    assert email.message_id.endswith("@help.example.com>")


def test_redelivered_mail_yields_the_same_event() -> None:
    assert mail("en_subject_ticket_reference") == mail("en_subject_ticket_reference")


def test_overlong_message_id_is_digested_to_fit_the_id_contract() -> None:
    long_id = "x" * 300 + "@example.org"
    raw = fixture("en_subject_ticket_reference").replace(
        b"<7C1E0A52-9D1B-4F0E-8B0D-2E6A3C9B1F40@example.net>", f"<{long_id}>".encode()
    )

    email = parse_mime(raw)

    assert email.source_message_id.startswith("sha256-")
    assert email.source_message_id == normalise_message_id(long_id)
    assert email.message_id == f"<{long_id}>"


def test_received_at_given_by_the_caller_wins_over_the_date_header() -> None:
    arrival = datetime(2026, 11, 17, 6, 20, tzinfo=UTC)

    email = parse_mime(fixture("ru_reply_windows1251_qp"), received_at=arrival)

    assert email.received_at == arrival


def test_date_header_is_the_arrival_time_when_the_caller_gives_none() -> None:
    assert mail("ru_reply_windows1251_qp").received_at == datetime(
        2026, 11, 17, 6, 13, 58, tzinfo=UTC
    )


def test_mail_without_a_readable_date_arrives_now() -> None:
    raw = fixture("en_no_message_id").replace(
        b"Date: Thu, 19 Nov 2026 07:55:00 +0000", b"Date: sometime on Thursday"
    )
    before = datetime.now(UTC)

    assert parse_mime(raw).received_at >= before


# --- senders and malformed input -------------------------------------------------------------


def test_reply_to_is_the_customer_when_from_has_no_valid_address() -> None:
    raw = fixture("ru_reply_windows1251_qp").replace(
        b"<ivan.petrov@example.org>\r\nX-Mailer", b"<ivan.petrov>\r\nX-Mailer"
    )

    assert parse_mime(raw).customer.email == "ivan.petrov@example.org"


def test_mail_without_a_sender_address_is_rejected() -> None:
    with pytest.raises(EmailParseError):
        parse_mime(b"Subject: hello\r\n\r\nbody\r\n")


def test_body_in_an_unknown_charset_is_read_as_utf8() -> None:
    raw = (
        "From: a@example.com\r\nContent-Type: text/plain; charset=x-unknown-8bit\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nПривет"
    ).encode()

    assert parse_mime(raw).text == "Привет"


# --- providers' parsed JSON ------------------------------------------------------------------

POSTED = {
    "from": "Анна Кузнецова <anna.kuznetsova@example.com>",
    "to": "Служба поддержки <support+OP-000321@help.example.com>",
    "cc": "buh@example.com",
    "subject": "=?UTF-8?B?UmU6INCQ0LrRgiDRgdCy0LXRgNC60Lg=?=",
    "date": "Tue, 17 Nov 2026 13:31:04 +0300",
    "message-id": "<CAF7a1bQ_reply2@mail.example.com>",
    "in-reply-to": "<op-000321-reply-1@help.example.com>",
    "references": "<op-000321-open@help.example.com> <op-000321-reply-1@help.example.com>",
    "text": "Акт во вложении.\n\nС уважением,\nАнна\n\n"
    "пн, 16 нояб. 2026 г. в 12:00, Поддержка <support@help.example.com>:\n> Пришлите акт.",
    "headers": {"Content-Language": "ru-RU", "X-Mailgun-Sid": "WyIxIl0="},
    "attachments": [{"filename": "akt.pdf", "content-type": "application/pdf", "size": 52341}],
    "spam-score": 0.1,
}


def test_posted_json_becomes_the_same_event_shape_as_mime() -> None:
    email = parse_inbound_json(POSTED)

    assert email.customer.email == "anna.kuznetsova@example.com"
    assert email.subject == "Re: Акт сверки"
    assert email.text == "Акт во вложении."
    assert email.language == "ru-RU"
    assert email.conversation_id == "op-000321-open@help.example.com"
    assert email.to == ("support+OP-000321@help.example.com", "buh@example.com")
    assert [(a.filename, a.size_bytes) for a in email.attachments] == [("akt.pdf", 52341)]


def test_posted_json_with_only_html_gets_text_from_it() -> None:
    payload = {**POSTED, "text": None, "html": "<div>Акт <b>во вложении</b>.</div><p>Анна</p>"}

    assert parse_inbound_json(payload).text == "Акт во вложении.\n\nАнна"


def test_posted_json_received_at_wins_over_its_date() -> None:
    payload = {**POSTED, "received-at": "2026-11-17T10:32:00Z"}

    assert parse_inbound_json(payload).received_at == datetime(2026, 11, 17, 10, 32, tzinfo=UTC)


def test_posted_json_without_from_is_a_validation_error() -> None:
    payload = {key: value for key, value in POSTED.items() if key != "from"}

    with pytest.raises(ValidationError):
        parse_inbound_json(payload)


def test_posted_json_with_a_wrongly_typed_field_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse_inbound_json({**POSTED, "attachments": "akt.pdf"})


def test_posted_json_with_an_unusable_sender_is_a_parse_error() -> None:
    with pytest.raises(EmailParseError):
        parse_inbound_json({**POSTED, "from": "Анна Кузнецова"})


def test_parsed_email_schema_describes_every_field_for_openapi() -> None:
    schema = ParsedEmailV1.model_json_schema(by_alias=True)

    undocumented = [
        name for name, field in schema["properties"].items() if not field.get("description")
    ]
    assert undocumented == []
    assert {"from", "message-id", "in-reply-to"} <= schema["properties"].keys()


# --- cleaning the body -----------------------------------------------------------------------

REPLY = "Заказ не пришёл."


@pytest.mark.parametrize(
    "quote_header",
    [
        "On Mon, Nov 16, 2026 at 10:00 AM Opora Support <support@help.example.com> wrote:",
        "On Mon, Nov 16, 2026 at 10:00 AM Opora Support <\nsupport@help.example.com> wrote:",
        "пн, 16 нояб. 2026 г. в 12:00, Служба поддержки <support@help.example.com>:",
        "20 нояб. 2026 г., в 10:00, Иван <ivan@example.com>:",
        "20 нояб. 2026 г., в 10:00, Иван <ivan@example.com> написал(а):",
        '16.11.2026, 12:00, "Служба поддержки" <support@help.example.com>:',
        "16.11.2026 12:00, Служба поддержки пишет:",
        "Понедельник, 16 ноября 2026, 12:00 +03:00 от Поддержка <support@help.example.com>:",
        "-------- Исходное сообщение --------",
        "-------- Пересылаемое сообщение --------",
        "-----Original Message-----",
        "________________________________",
        "От: Служба поддержки <support@help.example.com>\nОтправлено: 16 ноября 2026 г. 12:00",
        "From: Opora Support\nSent: Monday, November 16, 2026 10:00 AM\nTo: Ivan",
    ],
)
def test_quoted_history_below_a_reply_header_is_dropped(quote_header: str) -> None:
    body = f"{REPLY}\n\n{quote_header}\nВаш заказ отправлен.\nПодробности в личном кабинете."

    assert clean_text(body) == REPLY


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nИван Петров\n+7 900 000-00-00",
        "С уважением,\nИван Петров\nООО «Ромашка»",
        "С уважением, Иван",
        "Best regards,\nJohn Smith",
        "Regards, John",
        "Thanks,\nEmma",
        "Sent from my iPhone",
        "Отправлено с iPhone",
        "Отправлено из мобильной Почты Mail.ru",
        "Get Outlook for Android",
    ],
)
def test_trailing_signature_is_dropped(signature: str) -> None:
    assert clean_text(f"{REPLY}\n\n{signature}\n") == REPLY


def test_lines_starting_with_a_quote_mark_are_dropped() -> None:
    assert clean_text(f"> Ваш заказ отправлен.\n{REPLY}\n> Спасибо") == REPLY


def test_valediction_followed_by_a_long_text_is_kept() -> None:
    body = "Thanks,\n" + "\n".join(f"step {n}: still broken" for n in range(12))

    assert clean_text(body) == body


def test_hyphen_list_is_not_taken_for_a_signature() -> None:
    body = "The invoice is wrong:\n- VAT is 18%\n- the address is old\nPlease fix it."

    assert clean_text(body) == body


def test_a_line_merely_mentioning_what_someone_wrote_is_kept() -> None:
    body = "On Monday I wrote: the parcel is damaged.\nNo one answered."

    assert clean_text(body) == body


def test_a_bare_forward_keeps_the_forwarded_text() -> None:
    body = "-------- Пересылаемое сообщение --------\nОт: Иван <ivan@example.com>\n\nСрочно!"

    assert clean_text(body) == body


# --- ticket numbers and message ids ----------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [OP-000123] Refund",
        "Re: Refund #op-000123",
        "Re: Refund (OP-000123)",
        "RE: RE: [ op-000123 ] Refund",
    ],
)
def test_ticket_reference_forms_in_a_subject_are_recognised(subject: str) -> None:
    assert ticket_number_in(subject, (), "OP") == "OP-000123"


def test_ticket_number_past_six_digits_keeps_all_of_them() -> None:
    assert ticket_number_in("Re: [OP-1234567] Refund", (), "OP") == "OP-1234567"


def test_bare_number_in_a_subject_is_not_taken_for_a_ticket_reference() -> None:
    assert ticket_number_in("Order OP-000123 is late", (), "OP") is None


def test_ticket_prefix_is_configurable() -> None:
    assert ticket_number_in("Re: [HD-000042] Hello", ("support+op-000001@x.example",), "hd") == (
        "HD-000042"
    )


def test_subject_reference_wins_over_a_plus_address() -> None:
    assert ticket_number_in("[OP-000002]", ("support+op-000001@x.example",), "OP") == "OP-000002"


def test_message_id_is_normalised_without_brackets_and_whitespace() -> None:
    assert normalise_message_id("  <abc.123@\r\n example.org>  ") == "abc.123@example.org"


# --- properties ------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)
PARSED_KEYS = ["from", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to"]
PARSED_KEYS += ["references", "text", "html", "headers", "attachments", "received-at"]
HEADER_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


def assert_publishable(email: InboundEmailV1) -> None:
    assert InboundEmailV1.model_validate_json(email.model_dump_json()) == email


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.binary(max_size=2_000))
def test_any_bytes_give_a_publishable_event_or_a_parse_error(raw: bytes) -> None:
    try:
        email = parse_mime(raw)
    except EmailParseError:
        return
    assert_publishable(email)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    st.sampled_from([fixture(name.stem) for name in sorted(FIXTURES.glob("*.eml"))]),
    st.data(),
)
def test_damaged_real_mail_gives_a_publishable_event_or_a_parse_error(
    raw: bytes, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, min(len(raw), start + 64)))
    damaged = raw[:start] + data.draw(st.binary(max_size=64)) + raw[end:]
    try:
        email = parse_mime(damaged)
    except EmailParseError:
        return
    assert_publishable(email)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    name=HEADER_TEXT,
    subject=HEADER_TEXT,
    body=st.text(alphabet=st.characters(codec="utf-8"), max_size=500),
    charset=st.sampled_from(["utf-8", "koi8-r", "windows-1251"]),
)
def test_subject_and_sender_survive_any_encoding_a_client_may_choose(
    name: str, subject: str, body: str, charset: str
) -> None:
    cyrillic = string.ascii_letters + "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЯ ,.!?-"
    name = "".join(c for c in name if c in cyrillic) or "Иван"
    subject = "".join(c for c in subject if c in cyrillic)
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec="ivan@example.org")
    message["To"] = "support@help.example.com"
    message["Subject"] = subject
    message.set_content("".join(c for c in body if c in cyrillic + "\n"), charset=charset)

    email = parse_mime(message.as_bytes())

    assert email.customer.email == "ivan@example.org"
    assert email.customer.name == (" ".join(name.split()) or None)
    assert email.subject == " ".join(subject.split())
    assert_publishable(email)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(JSON_VALUES)
def test_any_json_value_gives_an_event_or_a_value_error(payload: Any) -> None:
    try:
        email = parse_inbound_json(payload)
    except (ValidationError, EmailParseError):
        return
    assert_publishable(email)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.dictionaries(st.sampled_from(PARSED_KEYS), JSON_VALUES | HEADER_TEXT, max_size=14))
def test_json_of_the_parsed_shape_gives_an_event_or_a_value_error(payload: dict[str, Any]) -> None:
    try:
        email = parse_inbound_json({"from": "a@example.com", **payload})
    except (ValidationError, EmailParseError):
        return
    assert_publishable(email)
