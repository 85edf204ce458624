"""Breaking-change guard: today's models against the schemas committed in git.

For every committed ``shared/contracts/schemas/*.json`` the current model must still exist under
the same ``ce_type``, and in the event and in every nested object it shares with the committed
schema it must not remove a property, add a required property or change a property's JSON
type. A change that fails here needs a new versioned type (see docs/contracts.md), not an edit.

The baseline is the git revision ``OPORA_CONTRACTS_BASELINE`` (default ``HEAD``; set it to
``origin/main`` in CI), so re-exporting the files does not silence the guard. Where that
revision has no exported schemas yet, the files in the working tree are the baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.export import event_schema, find_repo_root

Schema = dict[str, Any]

REPO_ROOT = find_repo_root(Path(__file__).parent)
SCHEMAS_DIR = "shared/contracts/schemas"
BASELINE = os.environ.get("OPORA_CONTRACTS_BASELINE", "HEAD")

# ce_types removed on purpose, after a deprecation note in docs/contracts.md.
RETIRED: frozenset[str] = frozenset()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout


def committed_schemas() -> dict[str, Schema]:
    """The committed schemas by ce_type."""
    names = (_git("ls-tree", "--name-only", f"{BASELINE}:{SCHEMAS_DIR}") or "").split()
    texts: dict[str, str] = {}
    for name in names:
        text = _git("show", f"{BASELINE}:{SCHEMAS_DIR}/{name}") if name.endswith(".json") else None
        if text is not None:
            texts[name] = text
    if not texts:
        texts = {p.name: p.read_text("utf-8") for p in (REPO_ROOT / SCHEMAS_DIR).glob("*.json")}
    return {name.removesuffix(".json"): json.loads(text) for name, text in sorted(texts.items())}


BASELINE_SCHEMAS = committed_schemas()
STILL_PUBLISHED = [t for t in BASELINE_SCHEMAS if t not in RETIRED]


def objects(schema: Schema) -> dict[str, Schema]:
    """The event and each nested object definition, by name."""
    found = {"(event)": schema}
    for name, definition in schema.get("$defs", {}).items():
        if "properties" in definition:
            found[name] = definition
    return found


def shared_objects(old: Schema, new: Schema) -> list[tuple[str, Schema, Schema]]:
    new_objects = objects(new)
    return [(n, o, new_objects[n]) for n, o in objects(old).items() if n in new_objects]


def json_types(prop: Schema, schema: Schema) -> frozenset[str]:
    """The JSON types a property allows, following ``$ref`` and ``anyOf``/``oneOf``."""
    if "$ref" in prop:
        return json_types(schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]], schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in prop:
            return frozenset().union(*(json_types(p, schema) for p in prop[combinator]))
    declared = prop.get("type", "any")
    return frozenset([declared] if isinstance(declared, str) else declared)


def removed_properties(old: Schema, new: Schema) -> list[str]:
    return [
        f"{name}.{prop}"
        for name, old_obj, new_obj in shared_objects(old, new)
        for prop in old_obj["properties"]
        if prop not in new_obj["properties"]
    ]


def added_required_properties(old: Schema, new: Schema) -> list[str]:
    return [
        f"{name}.{prop}"
        for name, old_obj, new_obj in shared_objects(old, new)
        for prop in sorted(set(new_obj.get("required", [])) - set(old_obj.get("required", [])))
    ]


def changed_types(old: Schema, new: Schema) -> list[str]:
    changes = []
    for name, old_obj, new_obj in shared_objects(old, new):
        for prop, old_prop in old_obj["properties"].items():
            if prop not in new_obj["properties"]:
                continue  # reported as removed
            before, after = json_types(old_prop, old), json_types(new_obj["properties"][prop], new)
            if before != after:
                changes.append(f"{name}.{prop}: {sorted(before)} -> {sorted(after)}")
    return changes


def current_schema(ce_type: str) -> Schema:
    return event_schema(EVENTS_BY_TYPE[ce_type])


CURRENT = [t for t in STILL_PUBLISHED if t in EVENTS_BY_TYPE]


def test_contract_baseline_has_schemas() -> None:
    assert BASELINE_SCHEMAS, f"no committed schemas under {SCHEMAS_DIR}"


@pytest.mark.parametrize("ce_type", STILL_PUBLISHED)
def test_contract_type_still_exists_with_the_same_ce_type(ce_type: str) -> None:
    assert ce_type in EVENTS_BY_TYPE, f"{ce_type} was removed; publish it until it is retired"
    assert current_schema(ce_type)["x-opora"]["ce_type"] == ce_type


@pytest.mark.parametrize("ce_type", CURRENT)
def test_contract_no_property_was_removed(ce_type: str) -> None:
    assert removed_properties(BASELINE_SCHEMAS[ce_type], current_schema(ce_type)) == []


@pytest.mark.parametrize("ce_type", CURRENT)
def test_contract_no_required_property_was_added(ce_type: str) -> None:
    assert added_required_properties(BASELINE_SCHEMAS[ce_type], current_schema(ce_type)) == []


@pytest.mark.parametrize("ce_type", CURRENT)
def test_contract_no_property_changed_its_json_type(ce_type: str) -> None:
    assert changed_types(BASELINE_SCHEMAS[ce_type], current_schema(ce_type)) == []


SAMPLE: Schema = {
    "$defs": {
        "Customer": {
            "properties": {"phone": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            "type": "object",
        }
    },
    "properties": {
        "ticket_id": {"type": "string"},
        "subject": {"type": "string"},
        "customer": {"$ref": "#/$defs/Customer"},
    },
    "required": ["ticket_id"],
    "type": "object",
}


def changed_sample(**properties: Schema) -> Schema:
    sample: Schema = json.loads(json.dumps(SAMPLE))
    sample["properties"].update(properties)
    return sample


def test_contract_guard_reports_a_removed_property() -> None:
    new = changed_sample()
    del new["$defs"]["Customer"]["properties"]["phone"]

    assert removed_properties(SAMPLE, new) == ["Customer.phone"]


def test_contract_guard_reports_a_new_required_property() -> None:
    new = changed_sample(priority={"type": "string"})
    new["required"].append("priority")

    assert added_required_properties(SAMPLE, new) == ["(event).priority"]


def test_contract_guard_reports_a_changed_json_type() -> None:
    new = changed_sample(subject={"type": "integer"})

    assert changed_types(SAMPLE, new) == ["(event).subject: ['string'] -> ['integer']"]


def test_contract_guard_accepts_a_new_optional_property() -> None:
    new = changed_sample(product={"anyOf": [{"type": "string"}, {"type": "null"}]})

    assert removed_properties(SAMPLE, new) == []
    assert added_required_properties(SAMPLE, new) == []
    assert changed_types(SAMPLE, new) == []
