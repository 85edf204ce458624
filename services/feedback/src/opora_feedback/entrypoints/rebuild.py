"""``opora-feedback rebuild-rollups``: count every stored invitation and answer revision again,
and replace the report rollups with the result while the service runs.

    opora-feedback rebuild-rollups             # rebuild and switch (Kafka and MongoDB)
    opora-feedback rebuild-rollups --dry-run   # only say which rollup documents would change

It reads the service's settings (``OPORA_FEEDBACK_*``: MongoDB, Kafka, the rules file for the
reports' time zone). The rebuild holds the rollup consumer group while it runs (see
``adapters/rollup_group.py``), so the replicas stop folding without being stopped; it writes
the new rollups and a claim for every contribution they count into collections of a new
generation, switches readers and the folder to them with one write, leaves the group, and after
``--grace`` seconds drops the previous generation. The folder then resumes from the offsets the
group had committed: a record whose contribution the rebuild counted finds its claim taken and
is skipped, any later one is folded, so nothing is counted twice or left out. Until the switch
the reports show the previous rollups, which stop moving while the rebuild runs.

Exit status: 0 done (a dry run: nothing differs), 1 a dry run found differences, 2 the rebuild
failed and changed nothing the service reads.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import TextIO
from zoneinfo import ZoneInfo

from opora_shared.contracts.topics import FEEDBACK
from opora_shared.messaging import kafka_client_kwargs
from opora_shared.mongo import MongoConnection

from opora_feedback.adapters.repository import MongoResponseStore, MongoSurveyStore
from opora_feedback.adapters.rollup_group import RollupGroupError, RollupGroupHold
from opora_feedback.adapters.rollups import Layout, MongoRollupStore
from opora_feedback.config import Settings
from opora_feedback.domain.metrics import Tally
from opora_feedback.domain.rollups import Contribution, Node, Slice, differences, rebuild
from opora_feedback.domain.rules import load_rules
from opora_feedback.handlers import ROLLUP_GROUP

CLAIM_BATCH = 5_000
EXAMPLES = 10
GRACE_S = 5.0  # longer than readers keep the generation they looked up (GENERATION_TTL_S)


@dataclass
class Recount:
    """Rollups counted from what is stored."""

    nodes: dict[str, Node]
    surveys: int
    revisions: int


async def recount(
    surveys: MongoSurveyStore,
    responses: MongoResponseStore,
    zone: ZoneInfo,
    *,
    claim: Callable[[list[str]], Awaitable[int]] | None = None,
) -> Recount:
    """Every node from the stored invitations and answer revisions; ``claim`` is handed the
    keys of what was counted, in batches, as they are read."""
    width = len(Tally().packed())
    by_slice: dict[tuple[date, Slice], list[int]] = {}
    keys: list[str] = []
    read = {"surveys": 0, "revisions": 0}
    sources = (("surveys", surveys.counted(zone)), ("revisions", responses.counted(zone)))
    for name, source in sources:
        async for key, contribution in source:
            counts = by_slice.setdefault((contribution.day, contribution.slice), [0] * width)
            for index, value in enumerate(contribution.tally.packed()):
                counts[index] += value
            read[name] += 1
            if claim is not None:
                keys.append(key)
                if len(keys) >= CLAIM_BATCH:
                    await claim(keys)
                    keys = []
    if claim is not None and keys:
        await claim(keys)
    contributions = [Contribution(d, s, Tally(*c)) for (d, s), c in by_slice.items()]
    # Seconds of pure Python for a large history: off the event loop, so that the group hold
    # keeps heart-beating.
    nodes = await asyncio.to_thread(rebuild, contributions)
    return Recount(nodes, read["surveys"], read["revisions"])


async def rebuild_rollups(
    settings: Settings, *, dry_run: bool, grace_s: float = GRACE_S, out: TextIO = sys.stdout
) -> int:
    zone = load_rules(settings.rules_file).timezone
    mongo = MongoConnection(settings)
    rollups = MongoRollupStore(mongo.db)
    surveys, responses = MongoSurveyStore(mongo.db), MongoResponseStore(mongo.db)
    try:
        if dry_run:
            active = await rollups.layout(fresh=True)
            counted = await recount(surveys, responses, zone)
            stored = await rollups.all_nodes(active)
            differ = differences(stored, counted.nodes)
            print(_counted_line(counted), file=out)
            _print_differences(out, active, stored, counted.nodes, differ)
            return 1 if differ else 0
        async with RollupGroupHold(
            settings.kafka_bootstrap_servers,
            topic=FEEDBACK.name,
            group=ROLLUP_GROUP,
            security=kafka_client_kwargs(settings),
        ) as hold:
            print(f"holding the rollup group at offsets {_positions(hold.positions)}", file=out)
            active = await rollups.layout(fresh=True)
            target = Layout(max({active.generation, *await rollups.generations()}) + 1)
            await rollups.drop(target)  # what a rebuild that failed may have left

            async def claim(keys: list[str]) -> int:
                return await rollups.claim_rebuilt(target, keys)

            counted = await recount(surveys, responses, zone, claim=claim)
            print(_counted_line(counted), file=out)
            stored = await rollups.all_nodes(active)
            _print_differences(
                out, active, stored, counted.nodes, differences(stored, counted.nodes)
            )
            await rollups.replace_all(counted.nodes.values(), layout=target)
            await hold.check()
            await rollups.activate(target.generation)
            print(f"switched to generation {target.generation}", file=out)
        print("left the rollup group: the folder resumes from those offsets", file=out)
        await asyncio.sleep(grace_s)  # readers still on the previous generation move over
        for generation in sorted(await rollups.generations() - {target.generation}):
            dropped = await rollups.drop(Layout(generation))
            print(f"dropped generation {generation} ({len(dropped)} collections)", file=out)
        return 0
    except RollupGroupError as exc:
        print(f"rebuild abandoned, the rollups are as they were: {exc}", file=out)
        return 2
    finally:
        await mongo.close()


def _counted_line(counted: Recount) -> str:
    return (
        f"counted {counted.surveys:,} invitations and {counted.revisions:,} answer revisions "
        f"into {len(counted.nodes):,} rollup documents"
    )


def _positions(positions: Mapping[int, int | None]) -> str:
    return ", ".join(f"{p}: {'none' if o is None else o}" for p, o in sorted(positions.items()))


def _print_differences(
    out: TextIO,
    layout: Layout,
    stored: Mapping[str, Node],
    rebuilt: Mapping[str, Node],
    differ: Sequence[str],
) -> None:
    kinds: dict[str, int] = {}
    for node_id in differ:
        kind = Node(node_id).kind
        kind = "spans" if kind.startswith("span") else kind + "s"
        kinds[kind] = kinds.get(kind, 0) + 1
    by_kind = ", ".join(f"{kind} {count:,}" for kind, count in sorted(kinds.items()))
    print(
        f"the stored rollups (generation {layout.generation}, {len(stored):,} documents) and the "
        f"recount differ in {len(differ):,} documents" + (f" ({by_kind})" if differ else ""),
        file=out,
    )
    for node_id in differ[:EXAMPLES]:
        before, after = _total(stored.get(node_id)), _total(rebuilt.get(node_id))
        changed = [
            f"{f.name} {getattr(before, f.name)} → {getattr(after, f.name)}"
            for f in fields(Tally)
            if getattr(before, f.name) != getattr(after, f.name)
        ]
        print(
            f"  {node_id}: {', '.join(changed) or 'the same totals, other rows differ'}", file=out
        )
    if len(differ) > EXAMPLES:
        print(f"  … and {len(differ) - EXAMPLES:,} more", file=out)


def _total(node: Node | None) -> Tally:
    """A node's totals: a span's or month's total row, a facet's day totals."""
    if node is None:
        return Tally()
    if node.is_facet:
        found = Tally()
        for counts in node.table(0).values():  # every facet's first table is its day totals
            found = found + Tally(*counts)
        return found
    return node.rows.get("total", {}).get("", Tally())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="opora-feedback rebuild-rollups", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="compare the stored rollups with a recount only"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=GRACE_S,
        metavar="SECONDS",
        help="wait before dropping the previous generation (default %(default)s)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(rebuild_rollups(Settings(), dry_run=args.dry_run, grace_s=args.grace))
