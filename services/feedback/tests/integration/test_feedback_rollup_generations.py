"""The rollup store against a real MongoDB-wire server: the days counted before facets existed
(``rollup_cells``) carried over to facets once, a record such a day counted not counted again,
and readers and the folder moving together to an activated generation.

The server comes from the session ``infra`` fixture; each test uses a database of its own.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from opora_feedback.adapters.rollups import Layout, MongoRollupStore
from opora_feedback.domain import reports, service
from opora_feedback.domain.metrics import answer_tally
from opora_feedback.domain.rollups import Contribution, Filters, Positioned, Slice, rebuild
from opora_shared.contracts.feedback import SurveyType
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration
DAY = date(2026, 2, 27)


@pytest.fixture
async def db(infra, database_name):
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5_000
    )
    yield client[database_name]
    await client.drop_database(database_name)
    await client.close()


def legacy_day(day: date, offsets: dict[str, int], *rows: list[Any]) -> dict[str, Any]:
    """A day document as feedback stored it before facets: the day's full cross."""
    return {"_id": f"c:{day.isoformat()}", "packed": json.dumps(rows), "offsets": offsets}


ANNA = ["anna", "appliances", "email", "warranty"]
BORIS = ["boris", "appliances", "chat", "warranty"]


async def by_agent(store: MongoRollupStore, day: date, **filters: str) -> dict[str, int]:
    query = reports.ReportQuery(day, day, reports.GroupBy.AGENT, Filters(**filters))
    made = await service.report(query, store)
    return {row.key: row.tally.csat_responses for row in made.rows}


async def test_legacy_day_cells_are_carried_over_to_facets_once(db):
    await db["rollup_cells"].insert_many(
        [
            legacy_day(DAY, {"0": 12}, [*ANNA, 2, 2, 1], [*BORIS, 1, 1]),
            legacy_day(date(2026, 3, 1), {"0": 15, "1": 4}, [*ANNA, 1, 1, 0, 1]),
        ]
    )
    store = MongoRollupStore(db)

    carried = await store.carry_over_legacy_cells()
    again = await store.carry_over_legacy_cells()
    await db["rollup_generation"].delete_many({})  # forget that it ran: each day is kept once
    once_more = await store.carry_over_legacy_cells()

    assert (carried, again, once_more) == (2, 0, 2)
    assert await by_agent(store, DAY, team="appliances") == {"anna": 2, "boris": 1}
    assert await by_agent(store, date(2026, 3, 1), channel="email") == {"anna": 1}


async def test_a_record_a_legacy_day_counted_is_not_counted_again(db):
    await db["rollup_cells"].insert_one(legacy_day(DAY, {"0": 12}, [*ANNA, 1, 1, 1]))
    store = MongoRollupStore(db)
    await store.carry_over_legacy_cells()
    where = Slice(*ANNA)

    # The batch the legacy day's record 12 was in, delivered again after the upgrade, and
    # the next record.
    await store.fold(
        [
            Positioned(0, 12, Contribution(DAY, where, answer_tally(SurveyType.CSAT, 1))),
            Positioned(0, 13, Contribution(DAY, where, answer_tally(SurveyType.CSAT, 5))),
        ]
    )

    assert await by_agent(store, DAY, agent="anna") == {"anna": 2}


async def test_readers_and_the_folder_move_to_an_activated_generation(db):
    store = MongoRollupStore(db, generation_ttl_s=0)
    where = Slice(*ANNA)
    counted = Contribution(DAY, where, answer_tally(SurveyType.CSAT, 5))
    await store.fold([Positioned(0, 1, counted)])  # generation 0
    await store.replace_all(rebuild([counted, counted]).values(), layout=Layout(1))
    await store.claim_rebuilt(Layout(1), ["t-1:csat:1"])

    await store.activate(1)
    admitted = await store.admit(
        [
            ("t-1:csat:1", Positioned(0, 2, counted)),  # the rebuild counted it
            ("t-2:csat:1", Positioned(0, 3, counted)),
        ]
    )
    await store.fold(admitted)

    assert [entry.offset for entry in admitted] == [3]
    assert await by_agent(store, DAY) == {"anna": 3}
    assert await by_agent(store, DAY, agent="anna") == {"anna": 3}
