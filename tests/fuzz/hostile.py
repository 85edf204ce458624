"""Hostile inputs for the bad-input battery, and what an acceptable refusal of them looks like.

The battery itself runs in ``tests/e2e/test_bad_input_http.py`` and
``tests/e2e/test_bad_input_topics.py``, beside the other end-to-end tests, so that it shares
their five service processes instead of starting five more. ``make test`` throws a bounded
number of generated requests at every operation; ``make fuzz`` sets ``OPORA_FUZZ_EXAMPLES``
higher (and also lets the generator send valid requests to the operations that change state,
which the short run keeps to invalid ones so that the rest of the session's tests meet no
strangers' agents).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "shared" / "contracts" / "openapi"

# Generated requests per operation (schemathesis) in the short run; `make fuzz` raises it.
EXAMPLES = int(os.environ.get("OPORA_FUZZ_EXAMPLES", "6"))
# The long run also sends valid requests to operations that open tickets or change agents.
LONG_RUN = EXAMPLES > 6

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
INJECTIONS = (SCRIPT, IMAGE, "{{7*7}}${7*7}<%= 7*7 %>", "'; DROP TABLE tickets; --")
INVALID_UTF8 = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x82\x28\xf0\x28\x8c\xbc"
DEPTH = 10_000
HUGE = 5 * 1024 * 1024


def deeply_nested(depth: int = DEPTH) -> bytes:
    """A JSON document ``depth`` levels deep (an object of arrays), syntactically valid."""
    return b'{"text": ' + b"[" * depth + b"]" * depth + b"}"


def huge_text(size: int = HUGE) -> str:
    return "я" * (size // 2)  # two bytes each in UTF-8


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str  # with its path parameters filled in
    template: str

    @property
    def id(self) -> str:
        return f"{self.service} {self.method} {self.template}"


def json_operations() -> Iterator[Operation]:
    """Every operation of the five published OpenAPI documents that takes a JSON body."""
    for document in sorted(OPENAPI.glob("*.json")):
        paths = json.loads(document.read_text("utf-8"))["paths"]
        for template, operations in paths.items():
            for method, spec in operations.items():
                content = spec.get("requestBody", {}).get("content", {})
                if "application/json" in content:
                    path = template
                    for parameter in spec.get("parameters", []):
                        if parameter.get("in") == "path":
                            path = path.replace("{" + parameter["name"] + "}", "fuzz-0001")
                    yield Operation(document.stem, method.upper(), path, template)


def reason_given(status: int, content_type: str, body: bytes) -> str:
    """Why a 4xx answer refused the request, as its body says; empty when it does not say.

    FastAPI's validation errors must name the field (``loc``) and what is wrong (``msg``);
    other JSON errors need a non-empty ``detail``; an HTML error page needs visible text.
    """
    if content_type.startswith("application/json"):
        try:
            detail = json.loads(body).get("detail")
        except (ValueError, AttributeError):
            return ""
        if isinstance(detail, list):
            parts = [
                f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}"
                for e in detail
                if isinstance(e, dict) and e.get("loc") and e.get("msg")
            ]
            return "; ".join(parts) if len(parts) == len(detail) and parts else ""
        return str(detail or "")
    if content_type.startswith("text/html"):
        return body.decode("utf-8", "replace").strip()
    return ""


def explained(response: Any) -> str:
    """An assertion message when ``response`` is a 5xx or an unexplained 4xx, else ''."""
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    if isinstance(content_type, list):  # schemathesis keeps every value of a header
        content_type = content_type[0] if content_type else ""
    body = response.content
    if status >= 500:
        return f"server error {status}: {body[:500]!r}"
    if 400 <= status < 500 and not reason_given(status, content_type, body):
        return f"{status} without a reason ({content_type}): {body[:500]!r}"
    return ""


def dead_processes(processes: dict[str, Any]) -> dict[str, int]:
    return {name: p.returncode for name, p in processes.items() if p.poll() is not None}


def not_ready(urls: dict[str, str], timeout_s: float = 30.0) -> list[str]:
    """The services whose ``/health/ready`` does not answer 200 within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    waiting = set(urls)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            try:
                with urllib.request.urlopen(f"{urls[name]}/health/ready", timeout=5) as answer:
                    if answer.status == 200:
                        waiting.discard(name)
            except OSError:
                pass
        if waiting:
            time.sleep(0.2)
    return sorted(waiting)
