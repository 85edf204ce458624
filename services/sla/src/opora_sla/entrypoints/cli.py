"""``opora-sla-what-if``: replay past tickets under a draft policies file and say how many
targets would have been breached, next to the policies in force.

    opora-sla-what-if draft-policies.yaml [--calendars draft-calendars.yaml]
                      [--from 2026-01-01] [--to 2026-02-01] [--json]

It reads the tickets from sla's database (the ``OPORA_SLA_MONGODB_*`` settings) and the
policies in force from ``OPORA_SLA_POLICIES_FILE`` / ``OPORA_SLA_CALENDARS_FILE`` (or the
packaged ones); it writes nothing. Exit status 2 when a draft file does not validate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from opora_shared.contracts.base import utc_now
from opora_shared.mongo import MongoConnection

from opora_sla.adapters.repository import MongoRepository, MongoVersions
from opora_sla.config import Settings
from opora_sla.domain.calendars import CalendarError, load_calendars
from opora_sla.domain.policies import PolicyError, SlaConfig, load_policies
from opora_sla.domain.whatif import Side, WhatIf, what_if
from opora_sla.entrypoints.http import what_if_read


def what_if_main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    try:
        current = SlaConfig.build(
            load_policies(settings.policies_file), load_calendars(settings.calendars_file)
        )
        calendars = load_calendars(args.calendars) if args.calendars else current.calendars
        draft = SlaConfig.build(load_policies(args.policies), calendars, version=0)
    except (PolicyError, CalendarError) as error:
        print(error, file=sys.stderr)
        return 2
    report, version = asyncio.run(_replay(settings, current, draft, args.since, args.until))
    if args.json:
        print(json.dumps(what_if_read(report, version).model_dump(mode="json"), indent=2))
    else:
        print("\n".join(render(report, version, args.since, args.until)))
    return 0


async def _replay(
    settings: Settings,
    current: SlaConfig,
    draft: SlaConfig,
    since: datetime | None,
    until: datetime | None,
) -> tuple[WhatIf, int]:
    db = MongoConnection(settings)
    try:
        version = await MongoVersions(db.db).find(current.fingerprint) or 0
        repo = MongoRepository(db.db)
        records = [r async for r in repo.records(opened_from=since, opened_to=until)]
    finally:
        await db.close()
    return what_if(records, current.with_version(version), draft, utc_now()), version


def render(
    report: WhatIf, version: int, since: datetime | None, until: datetime | None
) -> list[str]:
    span = f"opened {_day(since) or 'any time'} .. {_day(until) or 'now'}"
    now_label = f"in force (v{version})" if version else "in force"
    lines = [
        f"What if: {report.tickets} tickets {span}, replayed up to "
        f"{report.until.isoformat(timespec='seconds')}",
        "",
        f"  {'':<24}{now_label:>16}{'draft':>12}",
    ]

    def line(label: str, now: object, draft: object) -> None:
        lines.append(f"  {label:<24}{now!s:>16}{draft!s:>12}")

    current, draft = report.current, report.draft
    line("tickets with a policy", current.tickets_with_policy, draft.tickets_with_policy)
    line("tickets breached", current.tickets_breached, draft.tickets_breached)
    line("targets decided", current.total.targets, draft.total.targets)
    line("targets breached", current.total.breached, draft.total.breached)
    line("share met", _share(current), _share(draft))
    metrics = sorted(set(current.by_metric) | set(draft.by_metric))
    if metrics:
        lines += ["", "  breached / decided, by metric:"]
        for metric in metrics:
            now_tally, draft_tally = current.by_metric.get(metric), draft.by_metric.get(metric)
            line(
                f"  {metric.value}",
                f"{now_tally.breached}/{now_tally.targets}" if now_tally else "-",
                f"{draft_tally.breached}/{draft_tally.targets}" if draft_tally else "-",
            )
    lines.append("")
    lines.append(
        f"The draft breaches {report.newly_breached_count} tickets the policies in force do "
        f"not{_examples(report.newly_breached)}, and no longer breaches "
        f"{report.no_longer_breached_count}{_examples(report.no_longer_breached)}."
    )
    return lines


def _share(side: Side) -> str:
    return f"{100 * side.total.share_met:.1f} %" if side.total.targets else "-"


def _examples(ticket_ids: list[str]) -> str:
    return f" (e.g. {', '.join(ticket_ids[:5])})" if ticket_ids else ""


def _day(at: datetime | None) -> str | None:
    return at.date().isoformat() if at else None


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or ISO 8601 time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opora-sla-what-if", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("policies", type=Path, help="the draft policies file (YAML)")
    parser.add_argument("--calendars", type=Path, help="a draft calendars file (YAML)")
    parser.add_argument(
        "--from", dest="since", type=_instant, help="tickets opened at or after (UTC if no zone)"
    )
    parser.add_argument("--to", dest="until", type=_instant, help="tickets opened before")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser
