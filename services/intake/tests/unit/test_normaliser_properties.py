"""Whatever a channel adapter sends, intake either refuses it as invalid or turns it into events.

For every inbound channel model: any JSON value, any object made of the model's field names,
any bytes, and valid payloads with fields replaced or bytes spliced in, either fail validation
with pydantic's ``ValidationError`` (a 422 over HTTP, a dead letter on Kafka) or validate, and
then ``accept_message`` completes, publishes events that read back from their own JSON, and
does the same again for a repeat. Nothing else may be raised: over HTTP that would be a 500,
and on Kafka a valid message dead-lettered or redelivered.

Generated strings stay at most 100 characters long: a ``source_message_id`` above 119
characters is a known failure, pinned by ``test_a_long_provider_message_id_opens_a_ticket``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opora_intake.domain.email import parse_mime
from opora_intake.domain.service import Policy, accept_message
from opora_intake.entrypoints.http import CHANNEL_MODELS
from opora_shared.contracts.common import Priority, RequestType
from opora_shared.contracts.inbound import INBOUND_EVENTS, InboundMessage
from opora_shared.testing import RecordingPublisher
from pydantic import ValidationError

from ..conftest import FakeRepository

FIXTURES = Path(__file__).parents[1] / "fixtures"
POLICY = Policy()
MAX_STRING = 100

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _first_payload(slug: str) -> dict[str, Any]:
    path = sorted((FIXTURES / "channels" / slug).glob("*.json"))[0]
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def _email_payload() -> dict[str, Any]:
    raw = (FIXTURES / "email" / "ru_gmail_reply_references.eml").read_bytes()
    return parse_mime(raw).model_dump(mode="json", exclude={"event_id", "occurred_at"})


VALID: dict[type[InboundMessage], dict[str, Any]] = {
    model: _email_payload() if slug == "email" else _first_payload(slug)
    for slug, model in CHANNEL_MODELS.items()
}
"""One valid payload per channel, the start of the mutations."""


# --- strategies ------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "Не работает",
        "гарантия",
        "заказ 40598812",
        "OP-000001",
        "iPhone 15 Pro",
        "где мой заказ?",
        "книга жалоб",
        "горит",
        "warranty has expired",
        "order #A-55120",
        "s/n SN12345678",
        "\u200b",
        "\ufeff",
        "\x00",
        "\r\n",
        "ё",
        "😀",
        "مرحبا",
        " ",
    ]
)
TEXT = st.text(max_size=MAX_STRING) | st.lists(_WORDS, max_size=4).map(" ".join)
"""Strings as customers and adapters write them: any characters, and the words rules look for."""

JSON_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value."""

OFFSETS = st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)).map(
    lambda delta: timezone(timedelta(minutes=delta // timedelta(minutes=1)))
)
EARLIEST, LATEST = datetime(1970, 1, 2), datetime(2200, 1, 1)
INSTANTS = (st.datetimes(EARLIEST, LATEST, timezones=OFFSETS) | st.datetimes(EARLIEST, LATEST)).map(
    datetime.isoformat
)
"""Timestamps as ISO 8601 strings, with an offset or (to be refused) without one."""
LANGUAGES = st.sampled_from(["ru", "en", "en-GB", "de", "xx", "RU", "ru_RU", "", "ru-"]) | TEXT
EMAILS = st.emails().map(str) | st.sampled_from(["ivan@пример.рф", "İ@example.com", "a@b"])
PHONES = st.from_regex(r"\A\+?[0-9]{5,15}\Z") | st.sampled_from(["+79161234567", "89031112233"])
CUSTOMERS = st.fixed_dictionaries(
    {},
    optional={
        "name": TEXT,
        "email": EMAILS,
        "phone": PHONES,
        "external_id": TEXT,
        "language": LANGUAGES,
    },
)
ATTACHMENTS = st.lists(
    st.fixed_dictionaries(
        {"filename": TEXT, "size_bytes": st.integers(min_value=-1, max_value=2**40)},
        optional={"content_type": TEXT, "url": TEXT},
    ),
    max_size=3,
)
MESSAGE_IDS = st.sampled_from(["<a@mail.example>", "<OP-000001@opora.invalid>", "<>", "a@b"]) | TEXT

PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "received_at": INSTANTS,
    "customer": CUSTOMERS,
    "language": LANGUAGES,
    "attachments": ATTACHMENTS,
    "request_type": st.sampled_from([*RequestType, "repair"]),
    "priority": st.sampled_from([*Priority, "critical"]),
    "fields": st.dictionaries(TEXT, TEXT, max_size=4)
    | st.just({"under_warranty": "no", "topic": "техника"}),
    "bot_transcript": st.lists(TEXT, max_size=4),
    "ivr_selections": st.lists(st.sampled_from(["1", "2", "2-7", "1-4", " ", "-", "9-9-9"]) | TEXT),
    "callback_requested": st.booleans(),
    "duration_s": st.integers(min_value=-1),
    "network": st.sampled_from(["telegram", "whatsapp", "vk", "viber", "icq"]),
    "kind": st.sampled_from(["visit", "complaint_book", "phone"]),
    "message_id": MESSAGE_IDS,
    "in_reply_to": MESSAGE_IDS | st.none(),
    "references": st.lists(MESSAGE_IDS, max_size=4),
    "to": st.lists(EMAILS | st.just("support+OP-000001@opora.example"), max_size=3),
}
"""Values of the right shape for a field, often valid, sometimes just not."""


def field_value(name: str) -> st.SearchStrategy[Any]:
    return JSON | PLAUSIBLE.get(name, TEXT)


MODELS = st.sampled_from(INBOUND_EVENTS)


@st.composite
def objects_of_fields(draw: st.DrawFn) -> tuple[type[InboundMessage], dict[str, Any]]:
    """An object whose keys are (some of) a model's field names, with any JSON values."""
    model = draw(MODELS)
    names = draw(st.lists(st.sampled_from(sorted(model.model_fields)), unique=True))
    return model, {name: draw(JSON) for name in names}


@st.composite
def mutated_payloads(draw: st.DrawFn) -> tuple[type[InboundMessage], dict[str, Any]]:
    """A valid payload under a new provider id (else it is a repeat of the example), with some
    fields replaced or removed."""
    model = draw(MODELS)
    payload = VALID[model] | {"source_message_id": f"mutant-{draw(st.uuids())}"}
    names = sorted(model.model_fields)
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            payload.pop(name, None)
        else:
            payload[name] = draw(field_value(name))
    return model, payload


@st.composite
def spliced_bytes(draw: st.DrawFn) -> tuple[type[InboundMessage], bytes]:
    """A valid payload's JSON with a run of its bytes replaced by arbitrary bytes."""
    model = draw(MODELS)
    raw = json.dumps(VALID[model], ensure_ascii=draw(st.booleans())).encode()
    start = draw(st.integers(0, len(raw)))
    end = draw(st.integers(start, min(len(raw), start + 16)))
    return model, raw[:start] + draw(st.binary(max_size=16)) + raw[end:]


# --- the property ----------------------------------------------------------------------------


async def refused_or_accepted(
    model: type[InboundMessage], value: Any, *, after_example: bool = False
) -> None:
    try:
        message = model.model_validate(value)
    except ValidationError:
        return
    await accepted_cleanly(message, after_example=after_example)


async def refused_or_accepted_json(
    model: type[InboundMessage], raw: bytes, *, after_example: bool = False
) -> None:
    try:
        message = model.model_validate_json(raw)
    except ValidationError:
        return
    await accepted_cleanly(message, after_example=after_example)


async def accepted_cleanly(message: InboundMessage, *, after_example: bool = False) -> None:
    """Accepted (``after_example``: into a desk that already holds the ticket of the channel's
    valid example, which the message may thread onto), then accepted again as a redelivery."""
    repo, publisher = FakeRepository(), RecordingPublisher()
    if after_example:
        example = type(message).model_validate(VALID[type(message)])
        await accept_message(example, repo, publisher, POLICY)
        publisher.published.clear()

    outcome = await accept_message(message, repo, publisher, POLICY)
    first = list(publisher.published)
    again = await accept_message(message, repo, publisher, POLICY)

    assert first
    for event in first:
        assert type(event).model_validate_json(event.model_dump_json()) == event
    assert again.repeat
    assert again.ticket_id == outcome.ticket_id
    assert [e.event_id for e in publisher.published[len(first) :]] == [e.event_id for e in first]


@PROPERTY
@given(MODELS, JSON)
async def test_any_json_value_is_refused_or_accepted_cleanly(
    model: type[InboundMessage], value: Any
) -> None:
    await refused_or_accepted(model, value)


@PROPERTY
@given(objects_of_fields())
async def test_any_object_of_the_models_fields_is_refused_or_accepted_cleanly(
    case: tuple[type[InboundMessage], dict[str, Any]],
) -> None:
    await refused_or_accepted(*case)


@PROPERTY
@given(mutated_payloads(), st.booleans())
async def test_a_valid_payload_with_fields_changed_is_refused_or_accepted_cleanly(
    case: tuple[type[InboundMessage], dict[str, Any]], after_example: bool
) -> None:
    await refused_or_accepted(*case, after_example=after_example)


@PROPERTY
@given(MODELS, st.binary(max_size=256))
async def test_any_bytes_are_refused_or_accepted_cleanly(
    model: type[InboundMessage], raw: bytes
) -> None:
    await refused_or_accepted_json(model, raw)


@PROPERTY
@given(spliced_bytes(), st.booleans())
async def test_a_valid_payload_with_bytes_spliced_in_is_refused_or_accepted_cleanly(
    case: tuple[type[InboundMessage], bytes], after_example: bool
) -> None:
    await refused_or_accepted_json(*case, after_example=after_example)


@pytest.mark.parametrize("model", INBOUND_EVENTS, ids=lambda model: model.channel.value)
async def test_each_channels_valid_example_is_accepted_cleanly(
    model: type[InboundMessage],
) -> None:
    await refused_or_accepted(model, VALID[model])


# --- what the properties found (each a 500 before its fix) ------------------------------


def _sms(**changes: Any) -> InboundMessage:
    return CHANNEL_MODELS["sms"].model_validate(VALID[CHANNEL_MODELS["sms"]] | changes)


async def test_a_long_provider_message_id_opens_a_ticket() -> None:
    await accepted_cleanly(_sms(source_message_id="x" * 128))


async def test_a_long_messenger_user_id_opens_a_ticket() -> None:
    messenger = CHANNEL_MODELS["messenger"]
    payload = VALID[messenger] | {"customer": {"external_id": "u" * 1000}}
    await accepted_cleanly(messenger.model_validate(payload))


async def test_a_long_run_of_model_suffixes_opens_a_ticket() -> None:
    await accepted_cleanly(_sms(text="iPhone 15" + " Pro" * 300))


def test_a_timestamp_without_an_offset_is_refused() -> None:
    sms = CHANNEL_MODELS["sms"]
    naive = VALID[sms] | {"received_at": datetime(2026, 11, 2, 9, 30).isoformat()}

    with pytest.raises(ValidationError):
        sms.model_validate(naive)
    sms.model_validate(VALID[sms] | {"received_at": datetime(2026, 11, 2, tzinfo=UTC)})
