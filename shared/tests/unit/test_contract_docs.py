"""The worked examples in docs/contracts.md are the exported ones, not hand-edited copies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from opora_shared.contracts.export import find_repo_root

REPO_ROOT = find_repo_root(Path(__file__).parent)
DOC = REPO_ROOT / "docs" / "contracts.md"
EXAMPLE_BLOCK = re.compile(r"<!-- example: (?P<ce_type>\S+) -->\n```json\n(?P<body>.*?)```", re.S)
DOCUMENTED = {m["ce_type"]: m["body"] for m in EXAMPLE_BLOCK.finditer(DOC.read_text("utf-8"))}


def test_contract_docs_show_the_email_and_telegram_examples() -> None:
    assert {"opora.inbound.email.v1", "opora.inbound.messenger.v1"} <= DOCUMENTED.keys()


@pytest.mark.parametrize("ce_type", sorted(DOCUMENTED))
def test_contract_docs_example_matches_the_exported_example(ce_type: str) -> None:
    exported = REPO_ROOT / "shared" / "contracts" / "examples" / f"{ce_type}.json"

    assert json.loads(DOCUMENTED[ce_type]) == json.loads(exported.read_text("utf-8"))
