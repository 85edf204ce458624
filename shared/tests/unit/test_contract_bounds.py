"""Integers the services store are bounded by what MongoDB stores: a bigger one is refused at
validation (a 422 or a dead-letter record) instead of failing the save with a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opora_shared.contracts.common import MAX_STORED_INT, Attachment
from opora_shared.contracts.inbound import InboundCallV1
from pydantic import ValidationError

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts/examples"


def test_an_attachment_larger_than_mongodb_stores_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        Attachment(filename="scan.pdf", size_bytes=MAX_STORED_INT + 1)

    assert [e["loc"] for e in refused.value.errors()] == [("size_bytes",)]


def test_the_largest_storable_attachment_size_is_accepted() -> None:
    assert Attachment(filename="scan.pdf", size_bytes=MAX_STORED_INT).size_bytes == MAX_STORED_INT


def test_a_call_longer_than_mongodb_stores_is_refused() -> None:
    call = json.loads((EXAMPLES / f"{InboundCallV1.ce_type}.json").read_text())["value"]
    call["duration_s"] = MAX_STORED_INT + 1

    with pytest.raises(ValidationError) as refused:
        InboundCallV1.model_validate(call)

    assert [e["loc"] for e in refused.value.errors()] == [("duration_s",)]
