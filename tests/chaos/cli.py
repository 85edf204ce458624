"""The command line of the long chaos run (``make chaos CHAOS_ARGS="--rate 50 --duration 600"``)."""

from __future__ import annotations

import argparse
import asyncio

from opora_localstack.paths import repo_paths

from tests.chaos.faults import FaultPlan
from tests.chaos.load import LoadShape
from tests.chaos.run import ChaosOptions, run_chaos


def parse(argv: list[str] | None = None) -> ChaosOptions:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos",
        description="Customers and agents at a steady rate while services, a replica and the "
        "broker are killed; then check that nothing accepted was lost or doubled.",
    )
    parser.add_argument("--rate", type=float, default=2.0, help="customer messages per second")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument(
        "--kill-rounds", type=int, default=3, help="times each service is killed and restarted"
    )
    parser.add_argument(
        "--replicas",
        default="routing,sla",
        help="services run twice, one of the two killed for good (comma-separated; '' none)",
    )
    parser.add_argument("--broker-restarts", type=int, default=1)
    parser.add_argument("--broker-signal", choices=("kill", "term"), default="kill")
    parser.add_argument("--settle-timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=20261110)
    parser.add_argument("--keep", action="store_true", help="keep the stack's data and logs")
    args = parser.parse_args(argv)
    local = repo_paths().root / ".local"
    return ChaosOptions(
        load=LoadShape(
            rate_per_s=args.rate, duration_s=args.duration, agents=args.agents, seed=args.seed
        ),
        faults=FaultPlan(
            kill_rounds=args.kill_rounds,
            replicas=tuple(r for r in args.replicas.split(",") if r),
            broker_restarts=args.broker_restarts,
            broker_signal=args.broker_signal,
        ),
        work_dir=local / "chaos-work",
        out_dir=local / "chaos",
        settle_timeout_s=args.settle_timeout,
        keep_work_dir=args.keep,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    result = asyncio.run(run_chaos(options))
    result.print()
    print(f"results: {result.write()}")
    if not result.ok:
        print(f"the stack's logs are kept in {options.work_dir / result.run_id}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
