"""The checker itself, on made-up observations: it must see a double, a loss and an overbooking
(a chaos run that passes proves nothing if its checker cannot fail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opora_shared.contracts.common import Channel, CustomerRef
from opora_shared.contracts.routing import TicketAssignedV1, TicketOfferedV1
from opora_shared.contracts.tickets import TicketOpenedV1

from tests.chaos.check import Observed, Record, check_requests, check_routing
from tests.chaos.load import Ledger, Request

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def opened(ticket_id: str, key: str, event_id: str) -> TicketOpenedV1:
    return TicketOpenedV1(
        event_id=event_id,
        ticket_id=ticket_id,
        number=f"OP-{ticket_id}",
        channel=Channel.CHAT,
        customer=CustomerRef(customer_id=f"c-{ticket_id}"),
        source_message_id=key,
        occurred_at=T0,
    )


def observed(*events: object, stored: dict[str, list[dict[str, object]]] | None = None) -> Observed:
    records = [Record("t", 0, n, e) for n, e in enumerate(events)]  # type: ignore[arg-type]
    base: dict[str, list[dict[str, object]]] = {
        "intake.inbound_outcomes": [{"_id": "chat:m1"}, {"_id": "chat:m2"}],
        "routing.assignments": [],
        "routing.agent_loads": [],
        "feedback.survey_responses": [],
    }
    return Observed(records, base | (stored or {}), None, [], T0)  # type: ignore[arg-type]


def ledger_of(*smids: str) -> Ledger:
    ledger = Ledger()
    for n, smid in enumerate(smids):
        request = Request(n, Channel.CHAT, f"conv-{n}", smid, "http", False, accepted=True)
        ledger.requests[request.key] = request
    return ledger


def violations(invariants: list, name_part: str) -> list[str]:  # type: ignore[type-arg]
    return next(i.violations for i in invariants if name_part in i.name)


def test_an_accepted_request_that_opened_two_tickets_is_a_double() -> None:
    seen = observed(opened("t1", "chat:m1", "e1"), opened("t1b", "chat:m1", "e2"))
    found = violations(check_requests(seen, ledger_of("m1")), "exactly one")
    assert found == ["chat:m1 (http): 2 events"]


def test_a_redelivered_event_with_the_same_id_is_not_a_double() -> None:
    seen = observed(opened("t1", "chat:m1", "e1"), opened("t1", "chat:m1", "e1"))
    assert violations(check_requests(seen, ledger_of("m1")), "exactly one") == []


def test_an_accepted_request_without_a_ticket_is_lost() -> None:
    seen = observed(opened("t1", "chat:m1", "e1"))
    found = violations(check_requests(seen, ledger_of("m1", "m2")), "exactly one")
    assert found == ["chat:m2 (http): 0 events"]


def test_a_third_chat_held_at_once_by_an_agent_with_two_chat_slots_is_overbooking() -> None:
    events: list[object] = []
    for n in range(3):
        ticket = f"t{n}"
        events.append(opened(ticket, f"chat:m{n}", f"o{n}"))
        offer = TicketOfferedV1(
            ticket_id=ticket,
            queue="q",
            offer_id=f"offer-{n}",
            agent_id="chaos-agent-0",
            expires_at=T0 + timedelta(minutes=1),
            occurred_at=T0 + timedelta(seconds=n),
        )
        assigned = TicketAssignedV1(
            ticket_id=ticket, queue="q", agent_id="chaos-agent-0", offer_id=offer.offer_id
        )
        events += [offer, assigned]
    found = violations(check_routing(observed(*events)), "over capacity")
    assert len(found) == 1
    assert found[0].startswith("chaos-agent-0 held 3 chat")
