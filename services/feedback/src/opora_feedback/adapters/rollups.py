"""Rollups in MongoDB: ``rollup_claims`` (one per counted survey issue or answer revision) and
one collection per kind of node: ``rollup_spans_<level>`` (0 = days … 11), ``rollup_months``
and ``rollup_cells``. Keeping each level apart keeps every collection small: FerretDB 1.24 on
SQLite looks a document up by ``_id`` by reading the table until it finds it (its ``_id`` index
is not used for queries), so a report's reads cost what their collections hold, not what all
rollups hold.

Only the rollup folder writes here, and the folder is one consumer at a time (see
``adapters/assignor.py``); each node still changes only from the ``version`` it was read at,
so a consumer that lost its partitions moments ago cannot overwrite the new owner's work on
MongoDB, and on FerretDB (whose conditional updates are not atomic) re-reads and folds again.
A node remembers the last Kafka offset of each partition it counted, so a batch redelivered
after a crash between two node writes is counted once in every node.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from opora_shared.contracts.base import utc_now
from opora_shared.mongo import Document, insert_once
from opora_shared.ports import Clock
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from opora_feedback.domain.rollups import Node, Positioned, by_node, fold

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
FOLD_ATTEMPTS = 5


class RollupWriteConflictError(RuntimeError):
    """A node kept changing under the folder: another consumer is writing it."""


class MongoRollupStore:
    def __init__(self, db: AsyncDatabase[Document], *, clock: Clock = utc_now) -> None:
        self.db = db
        self.claims = db["rollup_claims"]
        self.clock = clock

    def _nodes(self, node_id: str) -> Any:
        kind = Node(node_id).kind
        if kind.startswith("span"):
            return self.db[f"rollup_spans_{kind[4:]}"]
        return self.db[f"rollup_{kind}s" if kind == "month" else "rollup_cells"]

    async def admit(self, entries: Sequence[tuple[str, Positioned]]) -> list[Positioned]:
        docs = [
            {"_id": key, "partition": entry.partition, "offset": entry.offset}
            for key, entry in entries
        ]
        refused: set[int] = set()
        try:
            await self.claims.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            refused = {int(e["index"]) for e in errors}
        admitted: list[Positioned] = []
        for index, (key, entry) in enumerate(entries):
            if index in refused:
                claim = await self.claims.find_one({"_id": key})
                # Ours from an attempt that died before folding: still to be counted.
                mine = claim is not None and (claim["partition"], claim["offset"]) == (
                    entry.partition,
                    entry.offset,
                )
                if not mine:
                    continue
            admitted.append(entry)
        return admitted

    async def fold(self, entries: Iterable[Positioned]) -> int:
        changed = 0
        for node_id, node_entries in sorted(by_node(entries).items()):
            if await self._fold_node(node_id, node_entries):
                changed += 1
        return changed

    async def _fold_node(self, node_id: str, entries: list[Positioned]) -> bool:
        for _ in range(FOLD_ATTEMPTS):
            node = (await self.read([node_id])).get(node_id) or Node(node_id)
            if not fold(node, entries):
                return False
            if await self._write(node):
                return True
            log.warning(
                "a rollup node changed while it was folded; folding again", extra={"node": node_id}
            )
        raise RollupWriteConflictError(f"rollup node {node_id} kept changing")

    async def _write(self, node: Node) -> bool:
        doc: Document = {
            "packed": node.pack(),
            "offsets": {str(p): o for p, o in sorted(node.offsets.items())},
            "version": node.version + 1,
            "updated_at": self.clock(),
        }
        nodes = self._nodes(node.node_id)
        if node.version == 0:
            return await insert_once(nodes, {"_id": node.node_id, **doc})
        # The version is checked by a read just before the write rather than in the filter:
        # FerretDB pushes down only a lone ``_id`` and would read every node for the pair.
        current = await nodes.find_one({"_id": node.node_id}, {"version": 1})
        if current is None or int(current["version"]) != node.version:
            return False
        await nodes.replace_one({"_id": node.node_id}, doc)
        return True

    async def read(self, node_ids: Sequence[str]) -> dict[str, Node]:
        # One point read per node: FerretDB answers only a single ``_id`` equality from its
        # index; ``$in`` would scan the whole collection.
        found: dict[str, Node] = {}
        for node_id in node_ids:
            doc = await self._nodes(node_id).find_one({"_id": node_id})
            if doc is not None:
                found[node_id] = Node.unpack(
                    node_id, doc.get("packed"), doc.get("offsets") or {}, int(doc["version"])
                )
        return found

    async def replace_all(self, nodes: Iterable[Node], *, batch: int = 1_000) -> int:
        """Write ``nodes`` as they are (a rebuild into empty collections, for seeding)."""
        now: datetime = self.clock()
        by_collection: dict[str, list[Document]] = defaultdict(list)
        for node in nodes:
            by_collection[self._nodes(node.node_id).name].append(
                {
                    "_id": node.node_id,
                    "packed": node.pack(),
                    "offsets": {str(p): o for p, o in node.offsets.items()},
                    "version": 1,
                    "updated_at": now,
                }
            )
        written = 0
        for name, docs in by_collection.items():
            for start in range(0, len(docs), batch):
                await self.db[name].insert_many(docs[start : start + batch], ordered=False)
            written += len(docs)
        return written
