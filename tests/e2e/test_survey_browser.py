"""A customer answers the survey in a real headless Chromium, from the link in the e-mail.

The five services run as processes (``conftest.py``). An agent takes a web-form request, solves
it; feedback issues the survey and notifications e-mails the link through the loopback SMTP
server. Chromium (Debian's package, driven by Playwright, no browser download) opens the link
on a phone-sized screen: the customer picks a low score, a reason that appears only then, writes
a comment, rates the effort, sends with the keyboard and sees the thank-you page. The answer is
then in MongoDB and in the report. A one-click link from the same e-mail then changes the
rating within the edit window: the page opens with the score chosen, one button sends it.

Without Chromium or Playwright the test fails and says what to install; it never skips.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from opora_intake.entrypoints.auth import SIGNATURE_HEADER, sign
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerContact, RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1
from opora_shared.contracts.inbound import InboundWebFormV1
from opora_shared.contracts.routing import TicketAssignedV1, TicketOfferedV1
from opora_shared.contracts.topics import FEEDBACK, ROUTING
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    Presence,
    StatusSetV1,
    WorkspaceStatus,
)
from opora_shared.testing import KafkaTail, event_producer
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PHONE = {"width": 390, "height": 844}
RUN = uuid.uuid4().hex[:8]
SURVEY_LINK = re.compile(r"https?://[^\s\"'<>]+/s/[A-Za-z0-9_.\-]+")


def chromium_path() -> str:
    found = str(CHROMIUM) if CHROMIUM.is_file() else shutil.which("chromium")
    if not found:
        pytest.fail(
            "headless Chromium is needed for the survey browser test: install Debian's package "
            "(`apt-get install chromium`, as .ci/run does); Playwright must not download one",
            pytrace=False,
        )
    return found


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(
            "the Python package playwright is needed for the survey browser test "
            "(`uv sync --all-packages` installs feedback's dev group)",
            pytrace=False,
        )
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
        )
        context = await browser.new_context(
            viewport=PHONE, locale="ru-RU", java_script_enabled=False
        )
        page = await context.new_page()
        try:
            yield page
        finally:
            await context.close()
            await browser.close()


@pytest.fixture
async def publish(infra) -> AsyncIterator[Callable[[Event], Awaitable[None]]]:
    async with event_producer(infra.bootstrap_servers) as send:
        yield send


async def presence_of(services, agent_id: str, wanted: Presence, within: float = 60) -> None:
    """Wait until routing sees the agent with ``wanted`` presence."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=services.url("routing"), timeout=10) as http:
        while time.monotonic() < deadline:
            agents = {a["agent_id"]: a for a in (await http.get("/v1/agents")).json()}
            if agents.get(agent_id, {}).get("presence") == wanted.value:
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"routing never saw {agent_id} {wanted.value}")


@pytest.fixture
async def agent_id(services, publish) -> AsyncIterator[str]:
    """An agent of the support team, online for this test only: afterwards it goes offline,
    so that it takes none of the other tests' tickets."""
    agent = f"browser-agent-{RUN}"
    await publish(
        AgentProfileChangedV1(
            agent_id=agent,
            name="Пётр Иванов",
            skills={"technical": 5, "product:appliances": 5},
            languages=("ru", "en"),
            teams=("support",),
            capacity={Channel.WEB_FORM: 5, Channel.EMAIL: 5},
        )
    )
    await publish(AgentPresenceChangedV1(agent_id=agent, presence=Presence.ONLINE))
    await presence_of(services, agent, Presence.ONLINE)
    yield agent
    await publish(AgentPresenceChangedV1(agent_id=agent, presence=Presence.OFFLINE))
    await presence_of(services, agent, Presence.OFFLINE)


async def solved_ticket_with_survey(
    services, infra, publish, agent_id: str
) -> tuple[str, str, SurveyIssuedV1]:
    """The agent takes a customer's web-form request and solves it: the ticket id, the
    customer's address and the invitation feedback issued."""
    email = f"olga.{RUN}@example.com"
    async with KafkaTail(infra.bootstrap_servers, ROUTING.name, FEEDBACK.name) as tail:
        form = InboundWebFormV1(
            source_message_id=f"browser-form-{RUN}",
            conversation_id=f"browser-form-{RUN}",
            received_at=datetime.now(UTC),
            customer=CustomerContact(name="Ольга Смирнова", email=email),
            text="Здравствуйте! Посудомоечная машина после ремонта снова не сливает воду.",
            form_id="support",
            request_type=RequestType.TECHNICAL_SUPPORT,
        )
        body = form.model_dump_json().encode()
        async with httpx.AsyncClient(base_url=services.url("intake"), timeout=30) as http:
            created = await http.post(
                "/v1/inbound/web-form",
                content=body,
                headers={
                    "content-type": "application/json",
                    SIGNATURE_HEADER: sign(body, services.web_form_secret, int(time.time())),
                },
            )
        assert created.status_code == 201, created.text
        ticket_id = created.json()["ticket_id"]

        def about(kind: type[Event]) -> Callable[[Any], bool]:
            return lambda s: isinstance(s.event, kind) and s.event.ticket_id == ticket_id

        (offer,) = await tail.wait_for(about(TicketOfferedV1), timeout_s=60)
        assert isinstance(offer.event, TicketOfferedV1)
        await publish(
            OfferAcceptedV1(ticket_id=ticket_id, agent_id=agent_id, offer_id=offer.event.offer_id)
        )
        await tail.wait_for(about(TicketAssignedV1), timeout_s=60)
        await publish(
            StatusSetV1(ticket_id=ticket_id, agent_id=agent_id, status=WorkspaceStatus.SOLVED)
        )
        (issued,) = await tail.wait_for(about(SurveyIssuedV1), timeout_s=60)
    assert isinstance(issued.event, SurveyIssuedV1)
    return ticket_id, email, issued.event


async def survey_link_from_email(smtp, address: str, within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for message in list(smtp.messages):
            if address in str(message["To"]):
                found = SURVEY_LINK.search(_text(message))
                if found:
                    return found.group(0)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no e-mail with a survey link reached {address} within {within:.0f} s")


def _text(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "\n".join(
        part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        for part in parts
        if part.get_content_type() == "text/plain"
    )


async def contrast(page: Any, selector: str) -> float:
    """The WCAG contrast ratio between an element's text colour and its background."""
    ratio: float = await page.eval_on_selector(
        selector,
        """element => {
            const rgb = c => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
            const lum = ([r, g, b]) => {
                const f = v => {
                    v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                };
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            const clear = c => /rgba\\(0, 0, 0, 0\\)|transparent/.test(c);
            let node = element, background = 'rgba(0, 0, 0, 0)';
            while (node && clear(background)) {
                background = getComputedStyle(node).backgroundColor;
                node = node.parentElement;
            }
            if (clear(background)) background = 'rgb(255, 255, 255)';
            const [a, b] = [lum(rgb(getComputedStyle(element).color)), lum(rgb(background))];
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
    )
    return ratio


async def report_row(
    services, agent_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    row: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=10) as http:
        while time.monotonic() < deadline:
            report = await http.get(
                "/v1/reports",
                params={"group_by": "agent"},
                headers={"Authorization": f"Bearer {services.intake_api_key}"},
            )
            assert report.status_code == 200, report.text
            row = {r["key"]: r for r in report.json()["rows"]}.get(agent_id, {})
            if row and done(row):
                return row
            await asyncio.sleep(0.3)
    raise AssertionError(f"the report never showed the expected answer for {agent_id}: {row}")


async def test_a_customer_answers_the_survey_in_a_browser(
    services, infra, publish, agent_id, browser_page
) -> None:
    page = browser_page
    ticket_id, email, issued = await solved_ticket_with_survey(services, infra, publish, agent_id)
    link = (await survey_link_from_email(services.smtp, email)).split("?", 1)[0]
    assert link == issued.url

    opened = await page.goto(link)
    assert opened is not None
    assert opened.status == 200
    assert await page.get_attribute("html", "lang") == "ru"
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the page scrolls sideways on a phone"
    )
    reasons = page.locator(".q-csat .reasons")
    assert not await reasons.is_visible()

    await page.locator('label[for="csat-2"]').click()
    assert await page.get_by_role("radio", name="2 — скорее не доволен").is_checked()
    assert await reasons.is_visible()
    await page.get_by_label("Слишком долго").check()
    await page.get_by_label("Хотите что-нибудь добавить?").fill("Ждал мастера три дня")
    await page.locator('label[for="ces-3"]').click()
    assert await contrast(page, "button[type=submit]") >= 4.5
    assert await contrast(page, "legend") >= 4.5
    await page.get_by_role("button", name="Отправить", exact=True).focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/thanks$"))

    assert await page.locator("h1").inner_text() == "Спасибо за ответ!"
    async with AsyncMongoClient(infra.mongodb_uri) as client:
        stored = await client[services.database_of("feedback")]["survey_responses"].find_one(
            {"_id": f"{ticket_id}:csat"}
        )
    assert stored is not None
    assert (stored["score"], stored["reasons"], stored["comment"]) == (
        2,
        ["slow"],
        "Ждал мастера три дня",
    )
    assert stored["agent_id"] == issued.agent_id
    row = await report_row(
        services,
        issued.agent_id or "",
        lambda r: r["csat_responses"] == 1 and r["ces_responses"] == 1,
    )
    assert (row["csat_percent"], row["ces_average"]) == (0.0, 3.0)

    # The one-click link for 5 from the same e-mail: the page opens with 5 chosen, one button.
    await page.goto(f"{link}?score=5")
    assert await page.get_by_role("radio", name="5 — полностью доволен").is_checked()
    await page.get_by_role("button", name="Отправить оценку").click()
    await page.wait_for_url(re.compile(r"/thanks$"))

    row = await report_row(services, issued.agent_id or "", lambda r: r["csat_satisfied"] == 1)
    assert (row["csat_responses"], row["csat_percent"]) == (1, 100.0)
