"""The five services and every consumer group they join, for the suites that run them as
processes (end to end, chaos, benchmarks). feedback keeps its report rollups in a group of its
own."""

from __future__ import annotations

import opora_feedback.handlers
import opora_intake.handlers
import opora_notifications.handlers
import opora_routing.handlers
import opora_sla.handlers

SERVICES = ("intake", "routing", "sla", "notifications", "feedback")
GROUPS = (
    opora_intake.handlers.GROUP,
    opora_routing.handlers.GROUP,
    opora_sla.handlers.GROUP,
    opora_notifications.handlers.GROUP,
    opora_feedback.handlers.GROUP,
    opora_feedback.handlers.ROLLUP_GROUP,
)
