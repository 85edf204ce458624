"""One chaos run: start the stack, play the load while the fault driver strikes, let the system
settle, check the invariants, print the table and write the JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tests.chaos.check import Invariant, Settled, check_all, observe, settle
from tests.chaos.faults import Fault, FaultDriver, FaultPlan
from tests.chaos.load import Ledger, Load, LoadShape
from tests.chaos.stack import ChaosStack


@dataclass(frozen=True)
class ChaosOptions:
    load: LoadShape
    faults: FaultPlan
    work_dir: Path  # the stack's data and the services' logs
    out_dir: Path  # where the JSON goes
    settle_timeout_s: float = 90.0
    keep_work_dir: bool = False  # else removed when every invariant held


@dataclass
class ChaosResult:
    run_id: str
    options: ChaosOptions
    invariants: list[Invariant] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    settled: Settled | None = None
    timings: dict[str, float] = field(default_factory=dict)
    stack: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.invariants) and all(i.ok for i in self.invariants)

    def violations(self) -> dict[str, list[str]]:
        return {i.name: i.violations for i in self.invariants if i.violations}

    def load_summary(self) -> dict[str, Any]:
        ledger = self.ledger
        by_way = Counter(f"{r.via} {r.channel.value}" for r in ledger.accepted)
        return {
            "customer_messages": len(ledger.requests),
            "accepted": len(ledger.accepted),
            "follow_ups_accepted": sum(1 for r in ledger.accepted if r.follow_up),
            "unacknowledged": len(ledger.unacknowledged),
            "retried": sum(1 for r in ledger.requests.values() if r.attempts > 1),
            "resent_on_purpose": ledger.resent,
            "accepted_by_way": dict(sorted(by_way.items())),
            "offers_accepted": len(ledger.offers_accepted),
            "replies": len(ledger.replies),
            "solves": len(ledger.solves),
            "survey_answers": len(ledger.answers),
            "attempts_by_outcome": dict(sorted(ledger.http.items())),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "options": {
                "load": asdict(self.options.load),
                "faults": asdict(self.options.faults),
                "settle_timeout_s": self.options.settle_timeout_s,
            },
            "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
            "load": self.load_summary(),
            "faults": [asdict(f) for f in self.faults],
            "settled": asdict(self.settled) if self.settled else None,
            "invariants": [
                {
                    "name": i.name,
                    "ok": i.ok,
                    "checked": i.checked,
                    "violations": len(i.violations),
                    "examples": i.violations[:20],
                    "note": i.note,
                }
                for i in self.invariants
            ],
            "stack": self.stack,
        }

    def tables(self) -> list[Table]:
        faults = Table(title=f"chaos {self.run_id}: faults injected")
        for column in ("at s", "fault", "target", "back in s", "error"):
            faults.add_column(column, justify="right" if column.endswith(" s") else "left")
        for f in self.faults:
            back = "-" if f.recovered_s is None else f"{f.recovered_s:.1f}"
            faults.add_row(f"{f.at_s:.1f}", f.kind, f.target, back, f.error or "")
        load = Table(title="load")
        load.add_column("what")
        load.add_column("count", justify="right")
        for name, value in self.load_summary().items():
            load.add_row(
                name.replace("_", " "), json.dumps(value) if isinstance(value, dict) else str(value)
            )
        checks = Table(title="invariants")
        for column in ("invariant", "checked", "violations", "", "note / first violation"):
            checks.add_column(
                column, justify="right" if column in ("checked", "violations") else "left"
            )
        for i in self.invariants:
            detail = i.violations[0] if i.violations else i.note
            checks.add_row(
                i.name, str(i.checked), str(len(i.violations)), "ok" if i.ok else "FAIL", detail
            )
        return [faults, load, checks]

    def print(self, console: Console | None = None) -> None:
        console = console or Console(width=160)
        for table in self.tables():
            console.print(table)
        timings = ", ".join(f"{k} {v:.0f} s" for k, v in self.timings.items())
        console.print(f"[bold]{'PASS' if self.ok else 'FAIL'}[/bold] · {timings}")

    def write(self) -> Path:
        out = self.options.out_dir
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"chaos-{self.run_id}.json"
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2, default=str)
        path.write_text(text, encoding="utf-8")
        (out / "latest.json").write_text(text, encoding="utf-8")
        return path


async def run_chaos(options: ChaosOptions) -> ChaosResult:
    """The whole run; never raises for a violation (the result says), only when the stack
    itself cannot start."""
    # aiokafka logs every failed reconnection while the broker is away, thousands of lines
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    run_id = f"ch{uuid.uuid4().hex[:8]}"
    result = ChaosResult(run_id, options)
    clock = time.monotonic()
    stack = ChaosStack(options.work_dir / run_id, run_id)
    load: Load | None = None
    try:
        await stack.start(replicas=options.faults.replicas)
        result.timings["stack start"] = time.monotonic() - clock
        load = Load(
            options.load,
            run_id=run_id,
            intake_url=stack.url("intake"),
            api_key=stack.api_key,
            bootstrap_servers=stack.bootstrap_servers,
        )
        await load.start_agents()
        driver = FaultDriver(stack, options.faults)
        result.faults = driver.injected
        started = time.monotonic()
        supervisor = asyncio.create_task(driver.supervise(started))
        faults = asyncio.create_task(driver.run(options.load.duration_s, started))
        await load.run_customers()
        await faults
        result.timings["load"] = time.monotonic() - started
        settling = time.monotonic()
        result.settled = await settle(stack, lambda: load.busy, options.settle_timeout_s)
        result.timings["settle"] = time.monotonic() - settling
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        checking = time.monotonic()
        observed = await observe(stack)
        result.ledger = load.ledger
        result.invariants = check_all(observed, load.ledger, result.settled)
        result.invariants.append(_faults_held(driver.injected))
        result.timings["check"] = time.monotonic() - checking
        result.stack = stack.describe() | {
            "mails": len(observed.mail),
            "records": len(observed.records),
        }
    finally:
        if load is not None:
            await load.stop()
        await stack.stop()
        result.timings["total"] = time.monotonic() - clock
    if result.ok and not options.keep_work_dir:
        shutil.rmtree(stack.work_dir, ignore_errors=True)
    return result


def _faults_held(faults: list[Fault]) -> Invariant:
    """Every fault injected as planned, every process back, none died by itself."""
    invariant = Invariant("every fault injected and recovered from; no process died by itself")
    invariant.checked = len(faults)
    for fault in faults:
        if fault.error or fault.kind == "died, restarted":
            invariant.fail(f"{fault.kind} {fault.target}: {fault.error}")
    return invariant
