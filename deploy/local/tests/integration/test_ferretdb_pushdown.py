"""Patch 0002 narrows FerretDB's queries in SQL. Whatever it narrows, a filter must find exactly
what the same filter wrapped in ``$and`` finds: FerretDB pushes no ``$and`` down, so it decodes
every document and matches it in Go. A differential test over generated documents and filters.

(``--test-disable-pushdown`` cannot serve as the reference: in 1.24 ``find`` still passes its
filter down unless nested pushdown is enabled too.)
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opora_localstack import ferretdb, procs
from opora_localstack.paths import repo_paths
from pymongo import MongoClient
from pymongo.collection import Collection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


Pair = tuple[Collection[dict[str, Any]], Collection[dict[str, Any]]]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Two collections of the FerretDB this project builds: one queried as is, one through $and."""
    paths = repo_paths()
    ferretdb.ensure_binary(paths)
    server = ferretdb.FerretDB(tmp_path_factory.mktemp("ferretdb"), procs.free_port(), paths)
    server.start()
    client: MongoClient[dict[str, Any]] | None = None
    try:
        asyncio.run(server.wait_ready())
        client = MongoClient(server.uri)
        yield client["pushdown"]["pushed"], client["pushdown"]["in_go"]
    finally:
        if client is not None:
            client.close()
        server.stop()


def in_go(query: dict[str, Any]) -> dict[str, Any]:
    return {"$and": [query]}


# Few distinct values, so that generated filters often hit: "7" and 7 differ in type only.
WORDS = st.sampled_from(["a", "é<&>", 'q"t', "7"])
SCALARS = st.one_of(WORDS, st.sampled_from([7, True, None]))
VALUES = st.one_of(
    SCALARS,
    # FerretDB stores no arrays within arrays; documents within arrays it does.
    st.lists(st.one_of(SCALARS, st.fixed_dictionaries({"d": WORDS})), min_size=1, max_size=3),
    st.fixed_dictionaries({"d": WORDS}),
)
CONDITIONS = st.one_of(
    SCALARS,
    st.fixed_dictionaries({"$in": st.lists(SCALARS, max_size=3)}),
    st.fixed_dictionaries({"$ne": WORDS}),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A few documents, and a filter of one or two conditions on their fields."""
    ids = draw(st.lists(st.one_of(WORDS, st.integers(6, 8)), unique=True, max_size=6))
    docs = [{"_id": id_, **draw(st.dictionaries(st.sampled_from("abc"), VALUES))} for id_ in ids]
    keys = st.sampled_from(["_id", "a", "b", "c.d"])
    query = draw(st.dictionaries(keys, CONDITIONS, min_size=1, max_size=2))
    return docs, query


def ids(found: Any) -> list[str]:
    return sorted(repr(doc["_id"]) for doc in found)


def holding(pair: Pair, docs: list[dict[str, Any]]) -> Pair:
    """Both collections emptied, then given ``docs``."""
    for collection in pair:
        collection.delete_many({})
        if docs:
            collection.insert_many(docs)
    return pair


@given(case=cases())
@example(case=([{"_id": 1, "a": ["x", "y"]}, {"_id": 2, "a": "x"}], {"a": "x"}))
@settings(max_examples=300)
def test_a_pushed_down_find_matches_what_go_matches(
    pair: Pair, case: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    docs, query = case
    pushed, reference = holding(pair, docs)

    assert ids(pushed.find(query)) == ids(reference.find(in_go(query)))


@given(case=cases())
@settings(max_examples=60)
def test_a_pushed_down_update_changes_what_go_changes(
    pair: Pair, case: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    docs, query = case
    pushed, reference = holding(pair, docs)

    pushed.update_many(query, {"$set": {"touched": True}})
    reference.update_many(in_go(query), {"$set": {"touched": True}})

    assert ids(pushed.find({"touched": True})) == ids(reference.find({"touched": True}))
