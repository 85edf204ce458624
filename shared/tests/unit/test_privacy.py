"""What masking leaves of personal data."""

from __future__ import annotations

import pytest
from opora_shared.privacy import mask_email


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("ivan@example.com", "i***@example.com"),
        ("<ivan.petrov@example.com>", "i***@example.com"),
        ("a@b.c", "a***@b.c"),
        ("@example.com", "***@example.com"),
        ("not-an-address", "***"),
    ],
)
def test_an_email_keeps_its_first_letter_and_domain(address: str, masked: str) -> None:
    assert mask_email(address) == masked
