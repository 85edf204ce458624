"""One customer profile across channels: strong links, suggestions, merges and unmerges."""

from __future__ import annotations

import pytest
from opora_intake.domain.service import accept_message, merge_customers, unmerge_customers
from opora_shared.contracts.customers import (
    CustomerIdentifierLinkedV1,
    CustomerMatchSuggestedV1,
    CustomerMergedV1,
)
from opora_shared.contracts.tickets import TicketMessageReceivedV1, TicketOpenedV1
from opora_shared.errors import PermanentError

from .messages import email, sms, walk_in, web_form


def customer_of(publisher) -> str:
    """The customer of the latest ticket event: a ticket opened, or a message threaded."""
    for event in reversed(publisher.published):
        if isinstance(event, TicketOpenedV1):
            return event.customer.customer_id
        if isinstance(event, TicketMessageReceivedV1):
            return event.customer_id
    raise AssertionError("no ticket event published")


async def test_the_same_verified_address_is_the_same_customer(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)
    first = customer_of(publisher)

    await accept_message(email("e-2", subject="другое"), repo, publisher, policy)

    assert customer_of(publisher) == first


async def test_phone_numbers_are_compared_in_one_format(repo, publisher, policy) -> None:
    await accept_message(sms("s-1", phone="+79161234567"), repo, publisher, policy)
    first = customer_of(publisher)
    await repo.set_status(next(iter(repo.tickets)), "closed", None)  # type: ignore[arg-type]

    await accept_message(
        sms("s-2", phone="89161234567", text="Новый вопрос"), repo, publisher, policy
    )

    assert customer_of(publisher) == first


async def test_an_address_typed_into_a_form_is_only_a_suggestion(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)
    by_mail = customer_of(publisher)

    await accept_message(web_form(email="ivan@example.com"), repo, publisher, policy)

    assert customer_of(publisher) != by_mail
    [suggested] = [e for e in publisher.published if isinstance(e, CustomerMatchSuggestedV1)]
    assert suggested.other_customer_id == by_mail


async def test_new_identifiers_are_announced_once(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)
    await accept_message(email("e-2", subject="другое"), repo, publisher, policy)

    linked = [e for e in publisher.published if isinstance(e, CustomerIdentifierLinkedV1)]
    assert [(e.kind, e.value, e.verified) for e in linked] == [("email", "ivan@example.com", True)]


async def test_a_walk_in_receipt_joins_the_profile(repo, publisher, policy) -> None:
    outcome = await accept_message(walk_in(), repo, publisher, policy)

    profile = await repo.get_customer(customer_of(publisher))
    assert ("receipt", outcome.number) in {(i.kind, i.value) for i in profile.identifiers}


async def test_a_merged_profile_resolves_to_the_survivor(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)
    survivor = customer_of(publisher)
    await accept_message(sms("s-1"), repo, publisher, policy)
    other = customer_of(publisher)
    await merge_customers(survivor, other, repo, publisher, actor="agent-1")

    await accept_message(sms("s-2", text="Новый вопрос по заказу 123"), repo, publisher, policy)

    assert customer_of(publisher) == survivor


async def test_an_unmerge_gives_the_profile_back(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)
    survivor = customer_of(publisher)
    await accept_message(sms("s-1"), repo, publisher, policy)
    other = customer_of(publisher)
    await merge_customers(survivor, other, repo, publisher, actor="agent-1")

    await unmerge_customers(survivor, other, repo, publisher, actor="agent-1")

    assert (await repo.get_customer(other)).merged_into is None


async def test_a_retried_merge_announces_the_same_event(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)
    survivor = customer_of(publisher)
    await accept_message(sms("s-1"), repo, publisher, policy)
    other = customer_of(publisher)

    first = await merge_customers(survivor, other, repo, publisher, actor="agent-1")
    again = await merge_customers(survivor, other, repo, publisher, actor="agent-1")

    assert isinstance(first, CustomerMergedV1)
    assert again.event_id == first.event_id


async def test_a_profile_cannot_be_merged_into_itself(repo, publisher, policy) -> None:
    await accept_message(email("e-1"), repo, publisher, policy)

    with pytest.raises(PermanentError):
        await merge_customers(
            customer_of(publisher), customer_of(publisher), repo, publisher, actor="a"
        )
