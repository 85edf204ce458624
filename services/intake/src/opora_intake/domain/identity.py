"""Who wrote: the identifiers a message carries, normalised, and which of them the channel vouches
for.

A channel *verifies* the identifier it reached us through: the sender of an e-mail, the caller's
or texter's number, the messenger or chat account. Anything typed by hand (an address in a web
form, a phone number a clerk wrote into the complaint book, an e-mail given in a chat) is
unverified. Profiles are linked automatically only on verified identifiers on both sides; the
rest become suggestions (see ``resolve``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import phonenumbers
from opora_shared.contracts.common import Channel
from opora_shared.contracts.customers import IdentifierKind
from opora_shared.contracts.inbound import InboundMessage, InboundMessengerMessageV1

from opora_intake.domain.model import derived_id, fit_id

SHORT_TEXT_LIMIT = 1_000
"""The contracts' ``ShortText`` length, which identifier values must fit."""

_VERIFIED_BY_CHANNEL: Mapping[Channel, IdentifierKind] = {
    Channel.EMAIL: IdentifierKind.EMAIL,
    Channel.PHONE: IdentifierKind.PHONE,
    Channel.SMS: IdentifierKind.PHONE,
    Channel.MESSENGER: IdentifierKind.ACCOUNT,
    Channel.CHAT: IdentifierKind.ACCOUNT,
}


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: IdentifierKind
    value: str
    verified: bool

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


def normalise_phone(raw: str, default_region: str) -> str | None:
    """E.164 (``+79161234567``) or None when the number cannot be a real one."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifiers_of(message: InboundMessage, *, default_region: str = "RU") -> list[Identifier]:
    """The message's identifiers, verified first, each normalised so equal means equal."""
    contact = message.customer
    native = _VERIFIED_BY_CHANNEL.get(message.channel)
    found: list[Identifier] = []
    if contact.email:
        email = contact.email.strip().lower()
        found.append(Identifier(IdentifierKind.EMAIL, email, native is IdentifierKind.EMAIL))
    if contact.phone and (phone := normalise_phone(contact.phone, default_region)):
        found.append(Identifier(IdentifierKind.PHONE, phone, native is IdentifierKind.PHONE))
    if contact.external_id:
        network = (
            message.network
            if isinstance(message, InboundMessengerMessageV1)
            else message.channel.value
        )
        account = fit_id(network, contact.external_id.strip(), limit=SHORT_TEXT_LIMIT)
        found.append(Identifier(IdentifierKind.ACCOUNT, account, native is IdentifierKind.ACCOUNT))
    return sorted(found, key=lambda i: not i.verified)


@dataclass(frozen=True, slots=True)
class StoredIdentifier:
    """An identifier as a profile holds it."""

    customer_id: str
    identifier: Identifier


@dataclass(frozen=True)
class Resolution:
    """Which profile a message belongs to, what it adds to it, and what merits a look."""

    customer_id: str
    created: bool
    new_identifiers: tuple[Identifier, ...]
    suggestions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def new_customer_id(first: Identifier | None, fallback: str) -> str:
    """A profile id derived from what created it, so replicas that race create the same one."""
    if first is None:
        return derived_id("customer", "anonymous", fallback)
    return derived_id("customer", first.key, "verified" if first.verified else "typed")


def resolve(
    identifiers: Sequence[Identifier],
    stored: Iterable[StoredIdentifier],
    *,
    fallback: str,
) -> Resolution:
    """Pick the profile for ``identifiers`` given the profiles already holding any of them.

    * A verified identifier that a profile holds verified links to that profile (the first such,
      in the order of ``identifiers``);
    * otherwise the message gets the profile derived from its first identifier (found again next
      time the same identifier arrives the same way, created now if new);
    * every other profile holding one of the identifiers becomes a suggestion, with the evidence.
    """
    holders: dict[str, list[StoredIdentifier]] = {}
    for item in stored:
        holders.setdefault(item.identifier.value, []).append(item)

    chosen: str | None = None
    for identifier in identifiers:
        if not identifier.verified:
            continue
        for held in holders.get(identifier.value, ()):
            if held.identifier.kind is identifier.kind and held.identifier.verified:
                chosen = held.customer_id
                break
        if chosen:
            break
    first = identifiers[0] if identifiers else None
    created = chosen is None
    customer_id = chosen or new_customer_id(first, fallback)

    owned = {
        h.identifier.key for hs in holders.values() for h in hs if h.customer_id == customer_id
    }
    suggestions: dict[str, list[str]] = {}
    for identifier in identifiers:
        for held in holders.get(identifier.value, ()):
            if held.identifier.kind is not identifier.kind or held.customer_id == customer_id:
                continue
            how = "verified" if identifier.verified else "typed in"
            suggestions.setdefault(held.customer_id, []).append(
                f"{identifier.kind} {identifier.value} ({how}) is on both profiles"
            )
    return Resolution(
        customer_id=customer_id,
        created=created,
        new_identifiers=tuple(i for i in identifiers if i.key not in owned),
        suggestions={k: tuple(v) for k, v in suggestions.items()},
    )
