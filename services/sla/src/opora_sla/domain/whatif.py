"""What if a draft policy had been in force: past tickets replayed under it and under the
policies in force, and how many targets each would have breached.

Both sides replay the same timelines up to the same instant, so the difference is the draft's
alone (not what was announced at the time under older versions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from opora_shared.contracts.sla import Metric

from opora_sla.domain.metrics import evaluate
from opora_sla.domain.model import TicketRecord
from opora_sla.domain.policies import SlaConfig

EXAMPLES = 20
"""How many tickets whose outcome the draft changes are named in a report."""


@dataclass
class Tally:
    targets: int = 0
    """Targets decided (met, missed, or missed and still running)."""
    breached: int = 0

    @property
    def share_met(self) -> float:
        return 1 - self.breached / self.targets if self.targets else 0.0


@dataclass
class Side:
    """One set of policies' verdict over the replayed tickets."""

    tickets_with_policy: int = 0
    tickets_breached: int = 0
    total: Tally = field(default_factory=Tally)
    by_metric: dict[Metric, Tally] = field(default_factory=dict)
    by_policy: dict[str, int] = field(default_factory=dict)
    """How many tickets each policy applied to."""


@dataclass
class WhatIf:
    until: datetime
    tickets: int = 0
    current: Side = field(default_factory=Side)
    draft: Side = field(default_factory=Side)
    newly_breached: list[str] = field(default_factory=list)
    """Tickets the draft breaches and the policies in force do not (the first few)."""
    no_longer_breached: list[str] = field(default_factory=list)
    newly_breached_count: int = 0
    no_longer_breached_count: int = 0


def what_if(
    records: Iterable[TicketRecord], current: SlaConfig, draft: SlaConfig, until: datetime
) -> WhatIf:
    report = WhatIf(until=until)
    for record in records:
        if record.opened_at is None:
            continue
        report.tickets += 1
        now_breached = _tally(report.current, record, current, until)
        draft_breached = _tally(report.draft, record, draft, until)
        if draft_breached and not now_breached:
            report.newly_breached_count += 1
            if len(report.newly_breached) < EXAMPLES:
                report.newly_breached.append(record.ticket_id)
        elif now_breached and not draft_breached:
            report.no_longer_breached_count += 1
            if len(report.no_longer_breached) < EXAMPLES:
                report.no_longer_breached.append(record.ticket_id)
    return report


def _tally(side: Side, record: TicketRecord, config: SlaConfig, until: datetime) -> bool:
    """Count one ticket's targets into ``side``; whether any was breached."""
    evaluation = evaluate(record.facts, config, until)
    if evaluation.policy is None:
        return False
    side.tickets_with_policy += 1
    policy_id = evaluation.policy.policy_id
    side.by_policy[policy_id] = side.by_policy.get(policy_id, 0) + 1
    breached = False
    for cycle in evaluation.cycles:
        if not cycle.measured:
            continue
        tally = side.by_metric.setdefault(cycle.metric, Tally())
        for counted in (tally, side.total):
            counted.targets += 1
            counted.breached += cycle.breached
        breached = breached or cycle.breached
    side.tickets_breached += breached
    return breached
