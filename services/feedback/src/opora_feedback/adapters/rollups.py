"""Rollups in MongoDB: ``rollup_claims`` (one per counted survey issue or answer revision) and
one collection per kind of node: ``rollup_spans_<level>`` (0 = days … 11), ``rollup_months``
and ``rollup_facets_<YYYY_MM>_<kind>`` per month and kind of facet. Keeping each level, month
and kind apart keeps every collection small: FerretDB 1.24 on SQLite looks a document up by
``_id`` by reading the table until it finds it (its ``_id`` index is not used for queries), so
a report's reads cost what their collections hold, not what all rollups hold, and a filtered
report's what its months hold, not what all history holds. A facet's tables are stored
zlib-compressed, one field each: a month of one channel's rows is a hundred kilobytes of JSON,
FerretDB reads every byte of a collection per lookup, and a report unpacks only the table it
reads.

**Generations.** Those names are generation 0's; ``opora-feedback rebuild-rollups`` writes a
complete new set, ``rollup_g<n>_…``, and then switches ``rollup_generation`` (``_id``
``active``) to it, one document written, so readers and the folder move from one complete set to
the other. Readers look the generation up at most every ``generation_ttl_s``; the folder every
batch.

Only the rollup folder writes here, and the folder is one consumer at a time (see
``adapters/assignor.py``); each node still changes only from the ``version`` it was read at,
so a consumer that lost its partitions moments ago cannot overwrite the new owner's work on
MongoDB, and on FerretDB (whose conditional updates are not atomic) re-reads and folds again.
A node remembers the last Kafka offset of each partition it counted (a facet: for each of its
days), so a batch redelivered after a crash between two node writes is counted once in every
node.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from opora_shared.contracts.base import utc_now
from opora_shared.mongo import Document, insert_once
from opora_shared.ports import Clock
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from opora_feedback.domain.rollups import (
    Contribution,
    Node,
    Positioned,
    by_node,
    carry_over,
    facet_ids,
    fold,
    legacy_cells,
)

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
FOLD_ATTEMPTS = 5
FOLD_CONCURRENCY = 4
GENERATION_TTL_S = 1.0  # how long readers keep the active generation they looked up
GENERATIONS = "rollup_generation"
ACTIVE = "active"
LEGACY_CELLS = "rollup_cells"  # the days' full crosses, before facets (generation 0 only)
LEGACY_CARRIED = "legacy-cells-carried-over"
REBUILT = -1  # the partition and offset of a claim the rebuild made
TABLE = "t"  # a facet's tables are fields t0, t1, …, each zlib-compressed JSON


class RollupWriteConflictError(RuntimeError):
    """A node kept changing under the folder: another consumer is writing it."""


@dataclass(frozen=True)
class Layout:
    """The collection names of one generation of rollups."""

    generation: int

    @property
    def prefix(self) -> str:
        return "rollup_" if self.generation == 0 else f"rollup_g{self.generation}_"

    @property
    def claims(self) -> str:
        return self.prefix + "claims"

    def collection(self, node_id: str) -> str:
        node = Node(node_id)
        kind = node.kind
        if kind == "facet":
            facets = node.facet_kind.name.replace("+", "_")
            return f"{self.prefix}facets_{node.month:%Y_%m}_{facets}"
        if kind == "month":
            return self.prefix + "months"
        return f"{self.prefix}spans_{kind.removeprefix('span')}"

    def owns(self, name: str) -> bool:
        """Whether the collection ``name`` belongs to this generation."""
        return name in (self.claims, self.prefix + "months") or name.startswith(
            (self.prefix + "spans_", self.prefix + "facets_")
        )


class MongoRollupStore:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        clock: Clock = utc_now,
        generation_ttl_s: float = GENERATION_TTL_S,
    ) -> None:
        self.db = db
        self.clock = clock
        self.generation_ttl_s = generation_ttl_s
        self._layout: tuple[float, Layout] | None = None

    async def layout(self, *, fresh: bool = False) -> Layout:
        """The active generation's names; looked up again when ``fresh`` or older than the
        TTL."""
        now = time.monotonic()
        if not fresh and self._layout and now - self._layout[0] < self.generation_ttl_s:
            return self._layout[1]
        doc = await self.db[GENERATIONS].find_one({"_id": ACTIVE})
        layout = Layout(int(doc["generation"]) if doc else 0)
        self._layout = (now, layout)
        return layout

    # --- the folder --------------------------------------------------------------------------

    async def admit(self, entries: Sequence[tuple[str, Positioned]]) -> list[Positioned]:
        claims = self.db[(await self.layout(fresh=True)).claims]
        docs = [
            {"_id": key, "partition": entry.partition, "offset": entry.offset}
            for key, entry in entries
        ]
        refused: set[int] = set()
        try:
            await claims.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            refused = {int(e["index"]) for e in errors}
        admitted: list[Positioned] = []
        for index, (key, entry) in enumerate(entries):
            if index in refused:
                claim = await claims.find_one({"_id": key})
                # Ours from an attempt that died before folding: still to be counted. A claim
                # the rebuild made (partition -1) means the rebuild counted it.
                mine = claim is not None and (claim["partition"], claim["offset"]) == (
                    entry.partition,
                    entry.offset,
                )
                if not mine:
                    continue
            admitted.append(entry)
        return admitted

    async def fold(self, entries: Iterable[Positioned]) -> int:
        layout = await self.layout(fresh=True)
        # Nodes are independent (each keeps its own positions), so they are folded a few at a
        # time: the server reads and writes some while this process packs others.
        gate = asyncio.Semaphore(FOLD_CONCURRENCY)

        async def one(node_id: str, node_entries: list[Positioned]) -> bool:
            async with gate:
                return await self._fold_node(layout, node_id, node_entries)

        changed = await asyncio.gather(*(one(i, e) for i, e in sorted(by_node(entries).items())))
        return sum(changed)

    async def _fold_node(self, layout: Layout, node_id: str, entries: list[Positioned]) -> bool:
        for _ in range(FOLD_ATTEMPTS):
            node = await self._read_one(layout, node_id) or Node(node_id)
            if not fold(node, entries):
                return False
            if await self._write(layout, node):
                return True
            log.warning(
                "a rollup node changed while it was folded; folding again", extra={"node": node_id}
            )
        raise RollupWriteConflictError(f"rollup node {node_id} kept changing")

    async def _write(self, layout: Layout, node: Node) -> bool:
        doc = self._document(node, version=node.version + 1)
        nodes = self.db[layout.collection(node.node_id)]
        if node.version == 0:
            return await insert_once(nodes, {"_id": node.node_id, **doc})
        # The version is checked by a read just before the write rather than in the filter:
        # FerretDB pushes down only a lone ``_id`` and would read every node for the pair.
        current = await nodes.find_one({"_id": node.node_id}, {"version": 1})
        if current is None or int(current["version"]) != node.version:
            return False
        await nodes.replace_one({"_id": node.node_id}, doc)
        return True

    def _document(self, node: Node, *, version: int) -> Document:
        if node.is_facet:
            tables, positions = node.pack_facet()
            return {
                **{f"{TABLE}{i}": zlib.compress(t.encode(), 6) for i, t in tables.items()},
                "positions": positions,
                "version": version,
                "updated_at": self.clock(),
            }
        return {
            "packed": node.pack(),
            "offsets": {str(p): o for p, o in sorted(node.offsets.items())},
            "version": version,
            "updated_at": self.clock(),
        }

    # --- readers -----------------------------------------------------------------------------

    async def read(self, node_ids: Sequence[str]) -> dict[str, Node]:
        layout = await self.layout()
        # Concurrent point reads: a report's wait is then about its slowest read, not the sum.
        nodes = await asyncio.gather(*(self._read_one(layout, i) for i in node_ids))
        return {node.node_id: node for node in nodes if node is not None}

    async def _read_one(self, layout: Layout, node_id: str) -> Node | None:
        # One point read per node: FerretDB answers only a single ``_id`` equality without
        # reading every document into memory; ``$in`` would decode the whole collection.
        doc = await self.db[layout.collection(node_id)].find_one({"_id": node_id})
        return None if doc is None else _node(doc)

    async def all_nodes(self, layout: Layout) -> dict[str, Node]:
        """Every node of a generation (for comparing it with a rebuild)."""
        found: dict[str, Node] = {}
        for name in sorted(await self.db.list_collection_names()):
            if layout.owns(name) and name != layout.claims:
                async for doc in self.db[name].find({}):
                    found[str(doc["_id"])] = _node(doc)
        return found

    # --- rebuilding --------------------------------------------------------------------------

    async def replace_all(
        self, nodes: Iterable[Node], *, layout: Layout | None = None, batch: int = 500
    ) -> int:
        """Write ``nodes`` as they are into empty collections (a rebuild, or seeding), into the
        active generation unless told another."""
        layout = layout or await self.layout(fresh=True)
        by_collection: dict[str, list[Document]] = defaultdict(list)
        for node in nodes:
            by_collection[layout.collection(node.node_id)].append(
                {"_id": node.node_id, **self._document(node, version=1)}
            )
        written = 0
        for name, docs in by_collection.items():
            for start in range(0, len(docs), batch):
                await self.db[name].insert_many(docs[start : start + batch], ordered=False)
            written += len(docs)
        return written

    async def claim_rebuilt(self, layout: Layout, keys: Sequence[str]) -> int:
        """Claim the contributions a rebuild counted, so that the folder skips their records
        when it reads them (again) after the switch; keys claimed already are left alone."""
        if not keys:
            return 0
        docs = [{"_id": key, "partition": REBUILT, "offset": REBUILT} for key in keys]
        try:
            await self.db[layout.claims].insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return len(keys) - len(errors)
        return len(keys)

    async def drop(self, layout: Layout) -> list[str]:
        """Drop a generation's collections (generation 0's with the legacy day cells)."""
        dropped = []
        for name in sorted(await self.db.list_collection_names()):
            if layout.owns(name) or (layout.generation == 0 and name == LEGACY_CELLS):
                await self.db.drop_collection(name)
                dropped.append(name)
        return dropped

    async def generations(self) -> set[int]:
        """The generations that have collections."""
        found: set[int] = set()
        for name in await self.db.list_collection_names():
            if name.startswith("rollup_g") and name != GENERATIONS:
                number = name.removeprefix("rollup_g").split("_", 1)[0]
                if number.isdigit():
                    found.add(int(number))
            elif Layout(0).owns(name) or name == LEGACY_CELLS:
                found.add(0)
        return found

    async def activate(self, generation: int) -> None:
        """Switch readers and the folder to ``generation``: one document, written at once."""
        await self.db[GENERATIONS].replace_one(
            {"_id": ACTIVE},
            {"generation": generation, "activated_at": self.clock()},
            upsert=True,
        )
        self._layout = None

    # --- the days' full crosses kept before facets ---------------------------------------------

    async def carry_over_legacy_cells(self) -> int:
        """Add the day documents of ``rollup_cells`` (before facets) to the facets of generation
        0, each day with the Kafka positions it had folded, once: a facet that has a day
        already keeps it. Runs at start-up, before the folder; returns the days carried over."""
        if LEGACY_CELLS not in await self.db.list_collection_names():
            return 0
        if await self.db[GENERATIONS].find_one({"_id": LEGACY_CARRIED}) is not None:
            return 0
        layout = await self.layout(fresh=True)
        if layout.generation != 0:  # a rebuild counted everything again
            return 0
        cells = self.db[LEGACY_CELLS]
        by_month: dict[date, list[str]] = defaultdict(list)
        async for doc in cells.find({}, {"_id": 1}):
            node_id = str(doc["_id"])
            if node_id.startswith("c:"):
                by_month[date.fromisoformat(node_id[2:]).replace(day=1)].append(node_id)
        carried = 0
        for month, ids in sorted(by_month.items()):
            parts: dict[str, list[tuple[date, dict[int, int], list[Contribution]]]] = {}
            async for doc in cells.find({"_id": {"$in": ids}}):
                if not doc.get("packed"):
                    continue
                contributions = legacy_cells(str(doc["_id"]), doc["packed"])
                offsets = {int(p): int(o) for p, o in (doc.get("offsets") or {}).items()}
                for facet_id, touching in _by_facet(contributions).items():
                    day = touching[0].day
                    parts.setdefault(facet_id, []).append((day, offsets, touching))
                carried += 1
            for facet_id, days in sorted(parts.items()):
                await self._carry(layout, facet_id, days)
            log.info(
                "legacy rollup cells carried over to facets",
                extra={"month": f"{month:%Y-%m}", "days": len(ids)},
            )
        await self.db[GENERATIONS].replace_one(
            {"_id": LEGACY_CARRIED}, {"days": carried, "at": self.clock()}, upsert=True
        )
        return carried

    async def _carry(
        self,
        layout: Layout,
        facet_id: str,
        days: list[tuple[date, dict[int, int], list[Contribution]]],
    ) -> None:
        for _ in range(FOLD_ATTEMPTS):
            node = await self._read_one(layout, facet_id) or Node(facet_id)
            changed = [carry_over(node, day, offsets, found) for day, offsets, found in days]
            if not any(changed) or await self._write(layout, node):
                return
        raise RollupWriteConflictError(f"rollup node {facet_id} kept changing")


def _by_facet(contributions: Iterable[Contribution]) -> dict[str, list[Contribution]]:
    grouped: dict[str, list[Contribution]] = defaultdict(list)
    for contribution in contributions:
        for facet_id in facet_ids(contribution.day, contribution.slice):
            grouped[facet_id].append(contribution)
    return grouped


def _node(doc: Document) -> Node:
    node_id, version = str(doc["_id"]), int(doc["version"])
    if not node_id.startswith("f:"):
        return Node.unpack(node_id, doc.get("packed"), doc.get("offsets") or {}, version)
    tables = {
        int(name.removeprefix(TABLE)): zlib.decompress(packed).decode()
        for name, packed in doc.items()
        if name.startswith(TABLE) and name.removeprefix(TABLE).isdigit()
    }
    return Node.unpack_facet(node_id, tables, doc.get("positions"), version)
