"""The rules file, as the service's use cases ask for it (``service.Rules``).

Reads ``RulesSource.current`` on every call, so a hot reload takes effect at the next decision:
a waiting ticket relaxes under the new steps, a new offer gets the new timeout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from opora_shared.contracts.common import Channel

from opora_routing.adapters.rules_file import RulesSource
from opora_routing.domain.model import CapacityPolicy, Ticket
from opora_routing.domain.rules import (
    RoutingRules,
    capacity_policy,
    escalate,
    match,
    offer_timeout_s,
    requirement_at,
)
from opora_routing.domain.service import Escalation, Placement


class FileRules:
    def __init__(self, source: RulesSource) -> None:
        self.source = source
        self.capacity: CapacityPolicy = capacity_policy(source.current)
        self.strategy = str(source.current.offers.strategy)
        self.return_open_tickets_on_offline = source.current.offers.return_open_tickets_on_offline

    def refresh(self, rules: RoutingRules) -> None:
        """Take over the settings of freshly loaded rules (the watcher's callback)."""
        self.capacity = capacity_policy(rules)
        self.strategy = str(rules.offers.strategy)
        self.return_open_tickets_on_offline = rules.offers.return_open_tickets_on_offline

    def place(self, ticket: Ticket, waited: timedelta) -> Placement:
        rules = self.source.current
        decision = requirement_at(ticket, match(ticket, rules), waited.total_seconds())
        after = decision.next_step_after_s
        return Placement(
            rule_id=decision.rule_id,
            rule_version=decision.rule_version,
            step=decision.step,
            requirement=decision.requirement,
            next_step_in=None if after is None else timedelta(seconds=after),
            why=decision.why,
        )

    def offer_timeout(self, channel: Channel) -> timedelta:
        return timedelta(seconds=offer_timeout_s(channel, self.source.current))

    def escalate(self, ticket: Ticket, kind: Literal["warning", "breach"]) -> Escalation:
        decision = escalate(ticket, kind, self.source.current)
        return Escalation(decision.priority, decision.queue, decision.team, decision.why)
