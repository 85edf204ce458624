"""``python -m tests.bench``: run the benchmarks, print a table, save JSON, compare with the last.

    uv run --frozen python -m tests.bench                 # everything (what `make bench` runs)
    uv run --frozen python -m tests.bench --quick         # short durations: a smoke test
    uv run --frozen python -m tests.bench --only http     # one benchmark (repeatable)

Results go to ``.local/bench/<suite>-<timestamp>.json``; the previous file run with the same
settings (quick or not, HTTP workers and durations) is compared metric by metric. Child
processes (Kafka, FerretDB, the services) are stopped on every way out, Ctrl-C and SIGTERM
included.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from tests.bench import (
    bench_feedback,
    bench_http,
    bench_normaliser,
    bench_notifications,
    bench_pipeline,
    bench_routing,
    bench_sla,
    bench_tracing,
)
from tests.bench.measure import cpu_model
from tests.bench.options import Options
from tests.bench.report import (
    Metric,
    RunResult,
    Section,
    comparison,
    previous_run,
    render,
    save,
)

REPO = Path(__file__).resolve().parents[2]
SUITE = "intake"
BENCHMARKS: dict[str, Callable[[Options], Section]] = {
    "normaliser": bench_normaliser.run,
    "http": bench_http.run,
    "routing": bench_routing.run,
    "notifications": bench_notifications.run,
    "sla": bench_sla.run,
    "feedback": bench_feedback.run,
    "tracing": bench_tracing.run,
    "pipeline": bench_pipeline.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    selected: list[str] = args.only or list(BENCHMARKS)
    out_dir: Path = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now().astimezone()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    work_dir = Path(tempfile.mkdtemp(prefix=f"run-{stamp}-", dir=out_dir))
    options = Options(
        quick=args.quick,
        run_id=f"{stamp}-{work_dir.name.rsplit('-', 1)[-1].lower()}",
        work_dir=work_dir,
        out_dir=out_dir,
        http_workers=args.workers,
        http_duration_s=args.duration,
        http_warmup_s=args.warmup,
        routing_agents=args.routing_agents,
        routing_tickets=args.routing_tickets,
        routing_rate=args.routing_rate,
        feedback_responses=args.feedback_responses,
    )
    result = RunResult(
        suite=SUITE,
        started_at=now.isoformat(timespec="seconds"),
        quick=args.quick,
        only=selected,
        settings={
            "quick": args.quick,
            "http_workers": args.workers,
            "http_duration_s": args.duration,
            "http_warmup_s": args.warmup,
            "routing_agents": args.routing_agents,
            "routing_tickets": args.routing_tickets,
            "routing_rate": args.routing_rate,
            "feedback_responses": args.feedback_responses,
        },
        machine=_machine(),
    )
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    keep_work_dir = args.keep
    try:
        for name in selected:
            began = time.monotonic()
            _progress(f"running {name} ...")
            result.sections.append(BENCHMARKS[name](options))
            _progress(f"{name} done in {time.monotonic() - began:.0f} s")
    except KeyboardInterrupt as stop:
        _progress(f"interrupted ({stop or 'SIGINT'}); child processes were stopped")
        return 130
    except Exception:
        keep_work_dir = True
        _progress(f"failed; logs and data kept in {work_dir}")
        raise
    finally:
        _ignore_signals()
        if not keep_work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    result.derived = _derived(result.sections)
    print("\n".join(render(result)))
    path = save(result, out_dir, stamp)
    print(f"\nsaved {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    previous = previous_run(out_dir, SUITE, result.settings, exclude=path)
    if previous is not None:
        old_path, old = previous
        print(f"\n== Compared with {old_path.name} ({old.get('started_at')})")
        print("\n".join(comparison(old, result.to_json())))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short durations, for a smoke test")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only this benchmark"
    )
    parser.add_argument(
        "--workers", type=int, default=16, help="HTTP and tracing: concurrent clients"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="HTTP: measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="HTTP: warm-up seconds")
    parser.add_argument(
        "--routing-agents", type=int, help="routing: agents (default 100, quick 20)"
    )
    parser.add_argument(
        "--routing-tickets", type=int, help="routing: measured tickets (default 150, quick 40)"
    )
    parser.add_argument(
        "--routing-rate",
        type=float,
        default=0.0,
        help="routing: tickets/s published (default 0: as fast as possible)",
    )
    parser.add_argument(
        "--feedback-responses",
        type=int,
        help="feedback: answers stored before reports are timed (default 1,000,000, quick 50,000)",
    )
    parser.add_argument(
        "--out-dir", type=Path, default=REPO / ".local/bench", help="where results are saved"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep this run's scratch directory (service logs)"
    )
    return parser


def _derived(sections: Sequence[Section]) -> list[Metric]:
    """Numbers that relate one benchmark to another, when both ran."""
    by_name = {s.name: s for s in sections}
    derived: list[Metric] = []
    if "normaliser" in by_name and "http" in by_name:
        normaliser = by_name["normaliser"].metric("normaliser.end_to_end")
        http = by_name["http"].metric("http.requests_per_s")
        cpu = by_name["http"].metric("http.intake_cpu_ms_per_request")
        if normaliser and http and normaliser.value:
            derived.append(
                Metric(
                    "ratio.http_to_normaliser",
                    "HTTP ingest req/s ÷ normaliser msg/s per core",
                    http.value / normaliser.value,
                    "x",
                )
            )
        if normaliser and cpu and cpu.value:
            derived.append(
                Metric(
                    "ratio.normaliser_share_of_intake_cpu",
                    "normaliser work ÷ intake CPU per HTTP request",
                    (1000 / normaliser.value) / cpu.value,
                    "x",
                    better=None,
                )
            )
    if "routing" in by_name and "http" in by_name:
        assignments = by_name["routing"].metric("routing.assignments_per_s")
        http = by_name["http"].metric("http.requests_per_s")
        if assignments and http and http.value:
            # Above 1, routing keeps up with what intake takes in; below, a queue builds.
            derived.append(
                Metric(
                    "ratio.routing_to_http",
                    "routing assignments/s ÷ HTTP ingest req/s",
                    assignments.value / http.value,
                    "x",
                )
            )
    return derived


def _machine() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # Further signals must not cut the shutdown of the child processes short.
    _ignore_signals()
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
