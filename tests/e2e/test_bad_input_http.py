"""The bad-input battery over HTTP: every endpoint of the five services, as processes.

Generated requests (schemathesis, from the committed OpenAPI documents) and hand-made hostile
ones: bodies that are not UTF-8, JSON ten thousand levels deep, 5 MB strings, the wrong content
type, script and markup in text that ends up on pages and in e-mails, forged and replayed
signatures, forged, tampered and expired survey links. Whatever comes in, no answer is a 5xx,
every refusal is a 4xx that names the field or the reason, and after each test every process is
still running and ready. See ``tests/fuzz/hostile.py`` for the inputs and the long run.
"""

from __future__ import annotations

import asyncio
import http.client
import select
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_intake.entrypoints.auth import SIGNATURE_HEADER, sign
from opora_shared.contracts.common import CustomerContact, RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1
from opora_shared.contracts.inbound import InboundWebFormV1
from opora_shared.contracts.topics import FEEDBACK
from opora_shared.testing import FixedClock, KafkaTail
from pydantic import SecretStr
from schemathesis.generation import GenerationMode

from tests.fuzz.hostile import (
    EXAMPLES,
    HUGE,
    IMAGE,
    INVALID_UTF8,
    LONG_RUN,
    OPENAPI,
    SCRIPT,
    Operation,
    dead_processes,
    deeply_nested,
    explained,
    huge_text,
    json_operations,
    not_ready,
)

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:8]
TOKEN_SECRET = "e2e-only-secret-not-for-production"  # what tests/e2e/conftest.py gives feedback
OPERATIONS = list(json_operations())


@pytest.fixture(autouse=True)
def every_service_survives(services) -> Iterator[None]:
    """After each test no process has exited; after the module, every one is still ready."""
    yield
    assert not dead_processes(services.processes), {
        name: (services.logs / f"{name}.log").read_text(errors="replace")[-2000:]
        for name in dead_processes(services.processes)
    }


@pytest.fixture(autouse=True, scope="module")
def every_service_is_ready_afterwards(services) -> Iterator[None]:
    yield
    assert not not_ready({s: services.url(s) for s in services.processes})


def key_headers(services) -> dict[str, str]:
    """intake's adapter key, which the e2e stack also gives feedback's staff."""
    return {"X-Api-Key": services.intake_api_key or ""}


# ---------------------------------------------------------------------------------------------
# Generated requests, every operation of every published document


@schemathesis.serializer("message/rfc822")
def _raw_mail(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    generated = getattr(value, "data", value)
    if not isinstance(generated, bytes):
        generated = str(generated).encode("utf-8", "surrogatepass")
    return b"From: Fuzz <fuzz@example.com>\r\n" + generated


def _schema(service: str, *, reads: bool) -> Any:
    schema = schemathesis.openapi.from_path(OPENAPI / f"{service}.json")
    if not LONG_RUN:  # the coverage phase's hundreds of boundary cases are for `make fuzz`
        schema.config.phases.update(phases=["examples", "fuzzing"])
    if reads:
        return schema.include(method="GET")
    # Valid requests to these open tickets and bring agents online, whom the session's other
    # end-to-end tests would then meet; the short run sends them only invalid ones.
    if not LONG_RUN:
        schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
    return schema.exclude(method="GET")


def _has_operations(schema: Any) -> bool:
    return any(True for _ in schema.get_all_operations())


def _fuzz(service: str, *, reads: bool) -> Any:
    schema = _schema(service, reads=reads)
    if not _has_operations(schema):
        return None

    @pytest.mark.fuzz
    @schema.parametrize()
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not LONG_RUN,
        suppress_health_check=list(HealthCheck),
    )
    def test(case: schemathesis.Case[Any], services) -> None:
        response = case.call(
            base_url=services.url(service), headers=key_headers(services), timeout=60
        )
        assert not explained(response), (explained(response), case.as_curl_command())

    return test


for _service in ("intake", "routing", "sla", "notifications", "feedback"):
    for _reads, _kind in ((True, "reads"), (False, "writes")):
        _test = _fuzz(_service, reads=_reads)
        if _test is not None:
            globals()[f"test_generated_{_kind}_of_{_service}_are_answered_without_server_error"] = (
                _test
            )


# ---------------------------------------------------------------------------------------------
# Hostile bodies, every operation that takes JSON


def by_operation() -> Any:
    return pytest.mark.parametrize("operation", OPERATIONS, ids=[o.id for o in OPERATIONS])


async def _send(services, operation: Operation, content: bytes, content_type: str):
    async with httpx.AsyncClient(base_url=services.url(operation.service), timeout=60) as http:
        return await http.request(
            operation.method,
            operation.path,
            content=content,
            headers={**key_headers(services), "content-type": content_type},
        )


@by_operation()
async def test_a_body_that_is_not_utf8_is_refused_with_a_reason(services, operation) -> None:
    body = b'{"text": "' + INVALID_UTF8 + b'", "name": "' + INVALID_UTF8 + b'"}'
    response = await _send(services, operation, body, "application/json")
    assert 400 <= response.status_code < 500, response.text
    assert not explained(response), explained(response)


@by_operation()
async def test_json_ten_thousand_levels_deep_is_refused_with_a_reason(services, operation) -> None:
    response = await _send(services, operation, deeply_nested(), "application/json")
    assert 400 <= response.status_code < 500, response.text
    assert not explained(response), explained(response)


@by_operation()
async def test_a_five_megabyte_string_gets_no_server_error(services, operation) -> None:
    body = f'{{"text": "{huge_text()}", "comment": "{huge_text(HUGE // 5)}"}}'.encode()
    response = await asyncio.to_thread(_post_huge, services, operation, body)
    assert not explained(response), explained(response)


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes


def _post_huge(services, operation: Operation, body: bytes) -> RawResponse:
    """Over a socket of its own: the headers first, and the body only if the server did not
    already answer (intake refuses a body over its limit with 413 before reading it, and closes
    the connection, which an HTTP client still writing the body reports as a broken pipe)."""
    port = services.ports[operation.service]
    head = (
        f"{operation.method} {operation.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Api-Key: {services.intake_api_key}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head)
        answered, _, _ = select.select([sock], [], [], 2.0)
        if not answered:
            sock.sendall(body)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return RawResponse(answer.status, dict(answer.getheaders()), answer.read())


@by_operation()
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
async def test_the_wrong_content_type_is_refused_with_a_reason(
    services, operation, content_type
) -> None:
    response = await _send(services, operation, b'{"text": "hello"}', content_type)
    assert 400 <= response.status_code < 500, response.text
    assert not explained(response), explained(response)


async def test_a_raw_email_nested_ten_thousand_multiparts_deep_gets_no_server_error(
    services,
) -> None:
    parts = [b"From: Deep <deep@example.com>\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"]
    for level in range(10_000):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n')
    mail = parts[0] + "".join(parts[1:]).encode() + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    async with httpx.AsyncClient(base_url=services.url("intake"), timeout=120) as http:
        response = await http.post(
            "/v1/inbound/email/raw",
            content=mail,
            headers={**key_headers(services), "content-type": "message/rfc822"},
        )
    assert not explained(response), explained(response)


async def test_a_raw_email_that_is_not_utf8_gets_no_server_error(services) -> None:
    mail = b"From: =?utf-8?b?" + INVALID_UTF8 + b"?= <x@example.com>\r\nSubject: " + INVALID_UTF8
    mail += b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + INVALID_UTF8 * 100
    async with httpx.AsyncClient(base_url=services.url("intake"), timeout=60) as http:
        response = await http.post(
            "/v1/inbound/email/raw",
            content=mail,
            headers={**key_headers(services), "content-type": "message/rfc822"},
        )
    assert not explained(response), explained(response)


async def test_an_unknown_channel_is_refused_naming_the_known_ones(services) -> None:
    async with httpx.AsyncClient(base_url=services.url("intake"), timeout=30) as http:
        response = await http.post(
            f"/v1/inbound/{quote(IMAGE, safe='')}", json={}, headers=key_headers(services)
        )
    assert response.status_code == 404
    assert "web-form" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# Signatures: forged, replayed, malformed


def web_form(ref: str, *, name: str = "Иван") -> bytes:
    form = InboundWebFormV1(
        source_message_id=f"fuzz-{RUN}-{ref}",
        conversation_id=f"fuzz-{RUN}-{ref}",
        received_at=datetime.now(UTC),
        customer=CustomerContact(name=name, email=f"fuzz.{RUN}.{ref}@example.com"),
        text=f"Не работает стиральная машина. {SCRIPT} {IMAGE}",
        form_id="support",
        subject=IMAGE,
        fields={"order": SCRIPT},
        request_type=RequestType.TECHNICAL_SUPPORT,
    )
    return form.model_dump_json().encode()


async def post_signed(services, body: bytes, signature: str | bytes, channel: str = "web-form"):
    async with httpx.AsyncClient(base_url=services.url("intake"), timeout=30) as http:
        return await http.post(
            f"/v1/inbound/{channel}",
            content=body,
            headers={"content-type": "application/json", SIGNATURE_HEADER: signature},
        )


async def test_a_signature_made_with_another_secret_is_refused(services) -> None:
    body = web_form("forged")
    response = await post_signed(services, body, sign(body, "not-the-secret", int(time.time())))
    assert response.status_code == 401
    assert response.json()["detail"] == "bad signature"


async def test_a_signed_body_changed_in_transit_is_refused(services) -> None:
    body = web_form("changed")
    signature = sign(body, services.web_form_secret, int(time.time()))
    response = await post_signed(services, body.replace(b"support", b"billing"), signature)
    assert response.status_code == 401
    assert response.json()["detail"] == "bad signature"


async def test_a_request_replayed_after_the_window_is_refused(services) -> None:
    body = web_form("stale")
    signature = sign(body, services.web_form_secret, int(time.time()) - 600)
    response = await post_signed(services, body, signature)
    assert response.status_code == 401
    assert "window" in response.json()["detail"]


async def test_a_request_replayed_inside_the_window_repeats_the_first_outcome(services) -> None:
    body = web_form("replayed")
    signature = sign(body, services.web_form_secret, int(time.time()))
    first = await post_signed(services, body, signature)
    replayed = await post_signed(services, body, signature)
    assert first.status_code == 201, first.text
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {**first.json(), "repeat": True, "opened": True}


async def test_a_signature_for_another_channel_is_refused(services) -> None:
    body = web_form("other-channel")
    signature = sign(body, services.web_form_secret, int(time.time()))
    response = await post_signed(services, body, signature, channel="sms")
    assert response.status_code == 401
    assert "'sms'" in response.json()["detail"]


@pytest.mark.parametrize(
    "signature",
    [
        "garbage",
        "t=,v1=",
        "v1=" + "a" * 64,
        "t=1700000000",
        "t=1700000000,v1=" + "z" * 64,
        "t=1700000000,t=1700000001,v1=" + "a" * 64,
        "t=-5,v1=" + "a" * 64,
        "t=" + "9" * 400 + ",v1=" + "a" * 64,
        b"t=\xb2,v1=" + b"a" * 64,  # a superscript two, which str.isdigit() accepts
        b"t=\xff\xfe,v1=\xff",
        "t=1700000000,v1=" + SCRIPT,
    ],
    ids=lambda s: repr(s)[:40],
)
async def test_a_malformed_signature_header_is_refused_with_a_reason(services, signature) -> None:
    response = await post_signed(services, web_form("malformed"), signature)
    assert response.status_code == 401, response.text
    assert response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# Markup in text: escaped on the survey page, the reports page and in e-mails


@pytest.fixture(scope="module")
async def surveyed(infra, services) -> dict[str, str]:
    """A web-form ticket from a customer whose name is a script, solved, its survey issued."""
    body = web_form("surveyed", name=SCRIPT)
    async with KafkaTail(infra.bootstrap_servers, FEEDBACK.name) as tail:
        opened = await post_signed(
            services, body, sign(body, services.web_form_secret, int(time.time()))
        )
        assert opened.status_code == 201, opened.text
        ticket_id = opened.json()["ticket_id"]
        async with httpx.AsyncClient(base_url=services.url("intake"), timeout=30) as http:
            solved = await http.post(
                "/v1/workspace/status",
                json={"ticket_id": ticket_id, "agent_id": f"fuzz-{RUN}", "status": "solved"},
                headers=key_headers(services),
            )
        assert solved.status_code == 200, solved.text
        (issued,) = await tail.wait_for(
            lambda s: isinstance(s.event, SurveyIssuedV1) and s.event.ticket_id == ticket_id,
            timeout_s=90,
        )
    assert isinstance(issued.event, SurveyIssuedV1)
    return {
        "ticket_id": ticket_id,
        "token": issued.event.url.rstrip("/").rsplit("/", 1)[-1],
        "email": f"fuzz.{RUN}.surveyed@example.com",
    }


async def test_the_survey_page_escapes_the_customers_name(services, surveyed) -> None:
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        page = await http.get(f"/s/{surveyed['token']}")
    assert page.status_code == 200, page.text
    assert SCRIPT not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_the_survey_page_escapes_a_comment_it_shows_again(services, surveyed) -> None:
    form = urlencode({"csat_comment": IMAGE, "csat_reasons": SCRIPT})
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        page = await http.post(
            f"/s/{surveyed['token']}",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert page.status_code == 422, page.text
    assert IMAGE not in page.text
    assert SCRIPT not in page.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text


async def test_the_survey_page_ignores_a_score_that_is_not_plain_digits(services, surveyed) -> None:
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        page = await http.get(f"/s/{surveyed['token']}", params={"score": "²"})
    assert page.status_code == 200, page.text


async def test_a_survey_form_that_is_not_utf8_is_refused_with_a_reason(services, surveyed) -> None:
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        page = await http.post(
            f"/s/{surveyed['token']}",
            content=b"csat=" + INVALID_UTF8 + b"&csat_comment=" + INVALID_UTF8,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert page.status_code == 422, page.text
    assert not explained(page)


async def test_the_acknowledgement_email_escapes_the_customers_text(services, surveyed) -> None:
    mail = await _mail_to(services.smtp, surveyed["email"])
    html = [p for p in _parts(mail) if p.get_content_type() == "text/html"]
    for part in html:
        text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        assert SCRIPT not in text
        assert IMAGE not in text


async def test_the_reports_page_escapes_its_filters(services) -> None:
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        page = await http.get(
            "/reports",
            params={"agent": SCRIPT, "team": IMAGE, "from": SCRIPT},
            headers=key_headers(services),
        )
    assert page.status_code == 422, page.text
    assert SCRIPT not in page.text
    assert IMAGE not in page.text


async def test_a_template_preview_escapes_markup_in_its_variables(services) -> None:
    async with httpx.AsyncClient(base_url=services.url("notifications"), timeout=30) as http:
        templates = (await http.get("/v1/templates")).json()
        emails = [t for t in templates if "email" in t["channels"] and t["variables"]]
        assert emails, templates
        previews = [await _preview(http, t["name"], t["variables"]) for t in emails]
    for preview in previews:
        assert preview.status_code == 200, preview.text
        assert SCRIPT not in (preview.json()["html"] or "")


async def _preview(http: httpx.AsyncClient, name: str, variables: list[str]) -> httpx.Response:
    """A preview with markup in every text variable; those that are not text (a list of
    links) are left to their example values once the service names them."""
    context = dict.fromkeys(variables, SCRIPT)
    while True:
        response = await http.post(f"/v1/templates/{name}/preview", json={"context": context})
        refused = [v for v in context if response.status_code == 422 and v in response.text]
        if not refused:
            return response
        for variable in refused:
            del context[variable]


# ---------------------------------------------------------------------------------------------
# Survey and unsubscribe links: forged, tampered, expired


def _signed(ticket_id: str, *, secret: str = TOKEN_SECRET, days_ago: int = 0) -> str:
    clock = FixedClock(datetime.now(UTC) - timedelta(days=days_ago))
    return SignedSurveyTokens(SecretStr(secret), ttl=timedelta(days=30), clock=clock).sign(
        ticket_id
    )


def _tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


BAD_TOKENS = {
    "garbage": ("not-a-token", 404),
    "markup": (IMAGE, 404),
    "long": ("a" * 5000, 404),
    "tampered": (_tampered(_signed(f"fuzz-{RUN}")), 404),
    "forged": (_signed(f"fuzz-{RUN}", secret="another-secret-of-16-chars"), 404),
    "unknown ticket": (_signed(f"fuzz-{RUN}-none"), 404),
    "expired": (_signed(f"fuzz-{RUN}-old", days_ago=400), 410),
}
SURVEY_ROUTES = [
    ("GET", "/s/{}"),
    ("POST", "/s/{}"),
    ("GET", "/s/{}/thanks"),
    ("GET", "/v1/surveys/{}"),
    ("POST", "/v1/surveys/{}/responses"),
]


@pytest.mark.parametrize("route", SURVEY_ROUTES, ids=[" ".join(r) for r in SURVEY_ROUTES])
@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_a_bad_survey_link_is_refused_with_a_reason(services, route, kind) -> None:
    token, expected = BAD_TOKENS[kind]
    method, template = route
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        response = await http.request(
            method,
            template.format(quote(token, safe="")),
            **({"json": {"score": 5}} if template.startswith("/v1") and method == "POST" else {}),
            **({"data": {"csat": "5"}} if template.startswith("/s") and method == "POST" else {}),
        )
    assert response.status_code == expected, response.text
    assert not explained(response), explained(response)
    assert IMAGE not in response.text


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("kind", ["garbage", "markup", "long", "tampered"])
async def test_a_bad_unsubscribe_link_is_refused_with_a_reason(services, method, kind) -> None:
    token, _ = BAD_TOKENS[kind]
    async with httpx.AsyncClient(base_url=services.url("notifications"), timeout=30) as http:
        response = await http.request(method, f"/v1/unsubscribe/{quote(token, safe='')}")
    assert response.status_code == 404, response.text
    assert not explained(response), explained(response)


# ---------------------------------------------------------------------------------------------


async def _mail_to(smtp, address: str, within: float = 60.0) -> Message:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if address in str(message["To"]):
                return message  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no e-mail to {address} within {within:.0f} s")


def _parts(message: Message) -> list[Message]:
    return list(message.walk()) if message.is_multipart() else [message]
