"""The channel payloads in ``tests/fixtures/channels`` are what adapter authors copy: each must be
a valid contract payload, and must become the ticket its entry in ``expected.yaml`` describes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from opora_intake.domain.service import Policy, accept_message
from opora_intake.entrypoints.http import CHANNEL_MODELS
from opora_shared.contracts.common import Attachment, CustomerContact, RequestType
from opora_shared.contracts.inbound import InboundMessage
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.testing import RecordingPublisher
from pydantic import BaseModel

from ..conftest import FakeRepository

FIXTURES = Path(__file__).parents[1] / "fixtures" / "channels"
PAYLOADS = sorted(FIXTURES.glob("*/*.json"))
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (FIXTURES / "expected.yaml").read_text(encoding="utf-8")
)


def name_of(path: Path) -> str:
    return path.relative_to(FIXTURES).as_posix()


def payload_of(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def model_of(path: Path) -> type[InboundMessage]:
    return CHANNEL_MODELS[path.parent.name]


def message_of(path: Path) -> InboundMessage:
    return model_of(path).model_validate_json(path.read_bytes())


def unknown_keys(payload: dict[str, Any], model: type[BaseModel]) -> set[str]:
    return set(payload) - set(model.model_fields)


def opened(publisher: RecordingPublisher) -> TicketOpenedV1:
    [event] = [e for e in publisher.published if isinstance(e, TicketOpenedV1)]
    return event


fixture_files = pytest.mark.parametrize("path", PAYLOADS, ids=name_of)


def test_every_payload_has_expectations_and_every_expectation_a_payload() -> None:
    assert sorted(EXPECTED) == [name_of(path) for path in PAYLOADS]


def test_every_folder_is_an_inbound_channel_with_russian_and_english_examples() -> None:
    folders = {path.parent.name for path in PAYLOADS}

    assert folders <= set(CHANNEL_MODELS)
    for folder in folders:
        languages = {path.name[:3] for path in PAYLOADS if path.parent.name == folder}
        assert languages == {"ru_", "en_"}, folder


def test_the_examples_cover_every_request_type_in_both_languages() -> None:
    covered = {(e["request_type"], e["language"]) for e in EXPECTED.values()}

    for request_type in set(RequestType) - {RequestType.OTHER}:
        assert {(request_type.value, "ru"), (request_type.value, "en")} <= covered, request_type


@fixture_files
def test_the_payload_is_the_contract_json_an_adapter_sends(path: Path) -> None:
    payload = payload_of(path)
    model = model_of(path)

    model.model_validate(payload)
    # The contracts ignore unknown fields, so a misspelt one would silently do nothing.
    assert not unknown_keys(payload, model) - {"event_id", "occurred_at"}
    assert "event_id" not in payload
    assert "occurred_at" not in payload
    assert not unknown_keys(payload["customer"], CustomerContact)
    for attachment in payload.get("attachments", []):
        assert not unknown_keys(attachment, Attachment)


@fixture_files
async def test_the_payload_opens_the_expected_ticket(
    path: Path, repo: FakeRepository, publisher: RecordingPublisher, policy: Policy
) -> None:
    message = message_of(path)
    expected = EXPECTED[name_of(path)]

    outcome = await accept_message(message, repo, publisher, policy)

    ticket = opened(publisher)
    assert outcome.opened
    assert ticket.ticket_id == outcome.ticket_id
    assert ticket.channel is message.channel
    assert ticket.request_type == expected["request_type"], ticket.classification
    assert ticket.language == expected["language"], ticket.classification
    assert ticket.priority == expected["priority"], ticket.classification
    assert ticket.customer.language == expected["language"]
    for kind, values in expected.get("references", {}).items():
        assert set(values) <= set(ticket.references.get(kind, ())), ticket.references
    if "product" in expected:
        assert ticket.product == expected["product"]


@fixture_files
async def test_the_ticket_keeps_what_the_customer_sent(
    path: Path, repo: FakeRepository, publisher: RecordingPublisher, policy: Policy
) -> None:
    message = message_of(path)

    await accept_message(message, repo, publisher, policy)

    ticket = opened(publisher)
    assert ticket.text == message.text
    assert ticket.attachments == message.attachments
    assert ticket.occurred_at == message.received_at
    assert message.source_message_id in ticket.source_message_id


@fixture_files
async def test_the_same_payload_sent_again_is_a_repeat(
    path: Path, repo: FakeRepository, publisher: RecordingPublisher, policy: Policy
) -> None:
    first = await accept_message(message_of(path), repo, publisher, policy)

    again = await accept_message(message_of(path), repo, publisher, policy)

    assert again.repeat
    assert again.ticket_id == first.ticket_id
    assert len(repo.tickets) == 1


async def test_all_the_examples_arriving_at_one_desk_open_one_ticket_each(
    repo: FakeRepository, publisher: RecordingPublisher, policy: Policy
) -> None:
    outcomes = [await accept_message(message_of(p), repo, publisher, policy) for p in PAYLOADS]

    assert all(outcome.opened for outcome in outcomes)
    assert len({outcome.number for outcome in outcomes}) == len(PAYLOADS)
