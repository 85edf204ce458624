"""Masking of personal data before it reaches logs, spans or events meant for accounting."""

from __future__ import annotations


def mask_email(address: str) -> str:
    """``ivan.petrov@example.com`` → ``i***@example.com``."""
    local, at, domain = address.partition("@")
    if not at:
        return mask_text(address)
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """``+79161234567`` → ``+7*******67``: the country code and the last two digits stay."""
    digits = number.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def mask_text(text: str) -> str:
    """Free text (comments, messages) is never shown: only its length is."""
    return f"<{len(text)} chars>"


def mask_contact(value: str) -> str:
    return mask_email(value) if "@" in value else mask_phone(value)
