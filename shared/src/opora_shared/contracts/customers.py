"""Customer profile events, published by intake on ``customers.events.v1``, keyed by customer id.

intake keeps one profile per customer across channels. It links an identifier to a profile on
its own only when the identifier is verified by the channel it arrived on (the sender of an
e-mail, the caller's number, a messenger account); a weaker match (an address typed into a form,
the same name) becomes a suggestion for a person to confirm. Merges and unmerges are explicit
and reversible.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from opora_shared.contracts.base import Event, Id, ShortText
from opora_shared.contracts.topics import CUSTOMERS


class IdentifierKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    ACCOUNT = "account"  # a messenger, chat or social account: "<network>:<id>"
    RECEIPT = "receipt"  # a walk-in or complaint-book receipt number


class CustomerEvent(Event):
    topic: ClassVar = CUSTOMERS
    key_field: ClassVar[str] = "customer_id"

    customer_id: Id


class CustomerIdentifierLinkedV1(CustomerEvent):
    """An identifier now belongs to the profile."""

    ce_type: ClassVar[str] = "opora.customer.identifier-linked.v1"

    kind: IdentifierKind
    value: ShortText = Field(description="Normalised: lower-case e-mail, E.164 phone, …")
    verified: bool = Field(description="Whether the channel vouched for it")
    source: ShortText = Field(description="The inbound message or request that brought it")


class CustomerMatchSuggestedV1(CustomerEvent):
    """Two profiles look like the same person, on evidence too weak to merge them unasked."""

    ce_type: ClassVar[str] = "opora.customer.match-suggested.v1"

    other_customer_id: Id
    evidence: tuple[ShortText, ...] = Field(description="e.g. 'email ivan@… typed in a form'")


class CustomerMergedV1(CustomerEvent):
    """``merged_customer_id`` now resolves to ``customer_id``; undone by an unmerge."""

    ce_type: ClassVar[str] = "opora.customer.merged.v1"

    merged_customer_id: Id
    actor: ShortText = Field(description="Who merged: an agent id, or 'system'")
    reason: ShortText | None = None


class CustomerUnmergedV1(CustomerEvent):
    """A merge undone: ``merged_customer_id`` is its own profile again."""

    ce_type: ClassVar[str] = "opora.customer.unmerged.v1"

    merged_customer_id: Id
    actor: ShortText
    reason: ShortText | None = None


CUSTOMER_EVENTS: tuple[type[CustomerEvent], ...] = (
    CustomerIdentifierLinkedV1,
    CustomerMatchSuggestedV1,
    CustomerMergedV1,
    CustomerUnmergedV1,
)
