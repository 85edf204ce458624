"""The examples: one per event type, valid against the exported schemas, with CloudEvents
headers."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from opora_shared.contracts import ALL_EVENTS
from opora_shared.contracts.base import Event
from opora_shared.contracts.examples import ALL_EXAMPLES, EXAMPLES
from opora_shared.contracts.export import find_repo_root

CONTRACTS_DIR = find_repo_root(Path(__file__).parent) / "shared" / "contracts"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

event_types = pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda e: e.ce_type)


def exported(kind: str, event_type: type[Event]) -> dict[str, Any]:
    path = CONTRACTS_DIR / kind / f"{event_type.ce_type}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def headers_of(event_type: type[Event]) -> dict[str, str]:
    headers: dict[str, str] = exported("examples", event_type)["headers"]
    return headers


def test_contract_every_event_type_has_exactly_one_example() -> None:
    counts = Counter(type(example) for example in ALL_EXAMPLES)

    assert {t.ce_type for t in counts} == {t.ce_type for t in ALL_EVENTS}
    assert [t.ce_type for t, n in counts.items() if n != 1] == []
    assert all(type(EXAMPLES[t]) is t for t in ALL_EVENTS)


@event_types
def test_contract_example_validates_against_its_exported_schema(event_type: type[Event]) -> None:
    schema = exported("schemas", event_type)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    errors = [
        e.message for e in validator.iter_errors(EXAMPLES[event_type].model_dump(mode="json"))
    ]

    assert errors == []


@event_types
def test_contract_example_round_trips_through_its_model(event_type: type[Event]) -> None:
    value = exported("examples", event_type)["value"]

    parsed = event_type.model_validate_json(json.dumps(value))

    assert parsed == EXAMPLES[event_type]
    assert parsed.model_dump(mode="json") == value


@event_types
def test_contract_example_key_is_the_partition_key(event_type: type[Event]) -> None:
    assert exported("examples", event_type)["key"] == EXAMPLES[event_type].partition_key


@event_types
def test_contract_headers_declare_specversion_1_0(event_type: type[Event]) -> None:
    assert headers_of(event_type)["ce_specversion"] == "1.0"


@event_types
def test_contract_headers_carry_the_event_id(event_type: type[Event]) -> None:
    assert headers_of(event_type)["ce_id"] == EXAMPLES[event_type].event_id


@event_types
def test_contract_headers_name_a_producer_of_the_topic_as_source(event_type: type[Event]) -> None:
    assert headers_of(event_type)["ce_source"].removeprefix("opora/") in event_type.topic.producers


@event_types
def test_contract_headers_carry_the_event_type(event_type: type[Event]) -> None:
    assert headers_of(event_type)["ce_type"] == event_type.ce_type


@event_types
def test_contract_headers_time_is_rfc3339_and_the_occurrence_time(event_type: type[Event]) -> None:
    time = headers_of(event_type)["ce_time"]

    assert RFC3339.match(time), time
    assert datetime.fromisoformat(time) == EXAMPLES[event_type].occurred_at


@event_types
def test_contract_headers_declare_json_content_and_the_schema(event_type: type[Event]) -> None:
    headers = headers_of(event_type)

    assert headers["content-type"] == "application/json"
    assert headers["ce_dataschema"] == event_type.schema_path()
