"""The attribute registry: one prefix, and every entry documented in docs/telemetry.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from opora_shared.attributes import REGISTRY

DOC = Path(__file__).resolve().parents[3] / "docs" / "telemetry.md"


@pytest.mark.parametrize("attribute", sorted(REGISTRY))
def test_every_attribute_has_the_prefix_and_a_row_in_the_docs(attribute: str) -> None:
    assert attribute.startswith("opora.")
    assert f"| `{attribute}` |" in DOC.read_text(encoding="utf-8")
