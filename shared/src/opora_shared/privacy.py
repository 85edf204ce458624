"""Masking of personal data before it reaches logs, spans or events meant for accounting."""

from __future__ import annotations


def mask_email(address: str) -> str:
    """``<ivan.petrov@example.com>`` → ``i***@example.com``; the domain stays for debugging."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
