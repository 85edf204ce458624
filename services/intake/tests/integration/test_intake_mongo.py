"""intake's MongoDB repository against a real MongoDB-wire server (FerretDB or MongoDB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from opora_intake.adapters.repository import MongoRepository
from opora_intake.domain.service import Policy, accept_message
from opora_intake.domain.surveys import Invitation
from opora_shared.contracts.common import Channel, CustomerContact
from opora_shared.contracts.feedback import SurveyType
from opora_shared.contracts.inbound import InboundSmsV1
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration


class Collect:
    def __init__(self) -> None:
        self.events: list[object] = []

    async def publish(self, event: object) -> None:
        self.events.append(event)


@pytest.fixture
async def repo(infra, database_name) -> AsyncIterator[MongoRepository]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    repository = MongoRepository(client[database_name])
    await repository.create_indexes()
    yield repository
    await client.drop_database(database_name)
    await client.close()


def sms(message_id: str, phone: str = "+79161234567") -> InboundSmsV1:
    return InboundSmsV1(
        source_message_id=message_id,
        conversation_id=phone,
        received_at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
        customer=CustomerContact(phone=phone),
        text="Когда привезут заказ?",
    )


async def test_a_redelivered_message_keeps_one_ticket_and_one_number(repo) -> None:
    publisher = Collect()
    first = await accept_message(sms("sms-1"), repo, publisher, policy=Policy())
    again = await accept_message(sms("sms-1"), repo, publisher, policy=Policy())

    assert (again.ticket_id, again.number) == (first.ticket_id, first.number)
    assert await repo.tickets.count_documents({}) == 1
    assert await repo.next_number() == 2


async def test_the_same_phone_resolves_to_one_customer_profile(repo) -> None:
    publisher = Collect()
    await accept_message(sms("sms-1"), repo, publisher, policy=Policy())
    await accept_message(sms("sms-2"), repo, publisher, policy=Policy())

    assert await repo.customers.count_documents({}) == 1


async def test_concurrent_new_tickets_all_get_distinct_numbers(repo) -> None:
    publisher = Collect()
    messages = [sms(f"sms-{n}", phone=f"+7916000{n:04d}") for n in range(20)]

    outcomes = await asyncio.gather(
        *(accept_message(m, repo, publisher, policy=Policy()) for m in messages)
    )

    assert len({o.number for o in outcomes}) == 20


async def test_start_up_over_duplicated_numbers_reports_them_instead_of_failing(
    infra, database_name, caplog
) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    repository = MongoRepository(client[f"{database_name}_dup"])
    await repository.tickets.insert_many(
        [{"_id": "t-1", "number": "OP-000007"}, {"_id": "t-2", "number": "OP-000007"}]
    )
    try:
        await repository.create_indexes()
    finally:
        await client.drop_database(f"{database_name}_dup")
        await client.close()

    assert "OP-000007" in caplog.text


ISSUED = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def invitation(ticket_id: str, issued_at: datetime = ISSUED, **changes: object) -> Invitation:
    fields: dict[str, object] = {
        "ticket_id": ticket_id,
        "survey_id": f"survey-{ticket_id}",
        "customer_id": "customer-1",
        "channel": Channel.SMS,
        "survey_type": SurveyType.CSAT,
        "questions": (SurveyType.CSAT,),
        "issued_at": issued_at,
        "send_after": issued_at,
        "expires_at": issued_at + timedelta(days=28),
    } | changes
    return Invitation(**fields)  # type: ignore[arg-type]


async def test_an_older_copy_of_an_invitation_leaves_the_newer_one_in_place(repo) -> None:
    await repo.save_invitation(invitation("t-1", survey_type=SurveyType.NPS))
    await repo.save_invitation(invitation("t-1", issued_at=ISSUED - timedelta(hours=1)))
    await repo.save_invitation(invitation("t-1", survey_type=SurveyType.NPS))  # redelivered

    [kept] = await repo.open_invitations(["customer-1"], ISSUED + timedelta(days=1))

    assert (kept.ticket_id, kept.survey_type, kept.issued_at) == ("t-1", SurveyType.NPS, ISSUED)


async def test_expired_invitations_are_not_open_and_long_expired_ones_are_removed(repo) -> None:
    await repo.save_invitation(invitation("t-old", issued_at=ISSUED - timedelta(days=60)))
    await repo.save_invitation(invitation("t-closing", expires_at=ISSUED + timedelta(days=1)))
    await repo.save_invitation(invitation("t-new"))

    still_open = await repo.open_invitations(["customer-1"], ISSUED + timedelta(days=2))

    assert [i.ticket_id for i in still_open] == ["t-new"]
    assert await repo.invitations.count_documents({}) == 2  # the one long expired is gone
