"""Fixtures of intake's unit tests: its in-memory repository, a recording publisher, a policy."""

from __future__ import annotations

import pytest
from opora_intake.adapters.memory import MemoryRepository
from opora_intake.domain.service import Policy
from opora_shared.testing import RecordingPublisher

FakeRepository = MemoryRepository


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return Policy()
