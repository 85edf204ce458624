"""What every benchmark is told: how long to run and where to put its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    quick: bool
    run_id: str  # unique per run: prefixes every message id, names the bench database
    work_dir: Path  # this run's scratch files (local stack data, service logs), removed after
    out_dir: Path  # results, and the logs worth keeping (a service's, when requests failed)
    seed: int = 20261102
    http_workers: int = 16
    http_warmup_s: float = 3.0
    http_duration_s: float = 20.0
    routing_agents: int | None = None  # None: the benchmark's own size for quick or full runs
    routing_tickets: int | None = None
    routing_rate: float = 0.0  # tickets/s published; 0: as fast as the producer takes them
    feedback_responses: int | None = None  # answers stored before reports are timed
