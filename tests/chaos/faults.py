"""The fault driver: during the load, ``kill -9`` and restart each service, kill one of two
replicas, restart the Kafka broker; and, like a supervisor, restart any process that died by
itself (which is reported: nothing we did should kill a service).

Faults are spread evenly over the middle of the load. Service kills overlap (a service may be
killed while another is still starting); a broker restart waits for them and the next fault waits
for the broker, so that a service's readiness is never measured against a broker that is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Literal

from tests.chaos.stack import ChaosStack, ServiceProcess
from tests.services import SERVICES

Kind = Literal["kill -9 + restart", "kill -9 replica", "broker restart", "died, restarted"]


@dataclass(frozen=True)
class FaultPlan:
    kill_rounds: int = 1  # every service is killed and restarted this many times
    replicas: tuple[str, ...] = ("routing",)  # run twice; one of the two is killed for good
    broker_restarts: int = 1
    broker_signal: Literal["kill", "term"] = "kill"

    def faults(self) -> list[tuple[Kind, str]]:
        """In order: service kills round-robin, a replica kill after each round, the broker
        restarts spread among them."""
        kills: list[tuple[Kind, str]] = []
        for round_ in range(self.kill_rounds):
            kills += [("kill -9 + restart", s) for s in SERVICES]
            if round_ < len(self.replicas):
                kills.append(("kill -9 replica", self.replicas[round_]))
        kills += [("kill -9 replica", r) for r in self.replicas[self.kill_rounds :]]
        planned = list(kills)
        for n in range(self.broker_restarts):
            planned.insert(
                (n + 1) * len(kills) // (self.broker_restarts + 1) + n, ("broker restart", "kafka")
            )
        return planned


@dataclass
class Fault:
    kind: Kind
    target: str
    at_s: float  # since the load started
    recovered_s: float | None = None  # until ready (answering) again; None: not restarted
    error: str | None = None


@dataclass
class FaultDriver:
    stack: ChaosStack
    plan: FaultPlan
    injected: list[Fault] = field(default_factory=list)
    _busy: set[str] = field(default_factory=set)  # labels being restarted by us
    _killed: set[str] = field(default_factory=set)  # replicas killed for good

    async def run(self, duration_s: float, started: float) -> None:
        """Inject the plan's faults between 15 % and 80 % of ``duration_s``."""
        faults = self.plan.faults()
        if not faults:
            return
        first, last = 0.15 * duration_s, 0.8 * duration_s
        step = (last - first) / max(1, len(faults) - 1)
        running: set[asyncio.Task[None]] = set()
        for n, (kind, target) in enumerate(faults):
            await asyncio.sleep(max(0.0, started + first + n * step - time.monotonic()))
            fault = Fault(kind, target, time.monotonic() - started)
            self.injected.append(fault)
            if kind == "broker restart":
                await asyncio.gather(*running)
                running.clear()
                await self._guard(fault, self._broker(fault))
            else:
                task = asyncio.create_task(self._guard(fault, self._service(fault)))
                running.add(task)
        await asyncio.gather(*running)

    async def _guard(self, fault: Fault, action: Awaitable[None]) -> None:
        try:
            await action
        except Exception as error:  # reported, and the checker fails the run
            fault.error = f"{type(error).__name__}: {error}"

    async def _service(self, fault: Fault) -> None:
        process = self._target(fault)
        self._busy.add(process.label)
        try:
            if fault.kind == "kill -9 replica":
                await asyncio.to_thread(process.kill)
                self._killed.add(process.label)
            else:
                fault.recovered_s = await self.stack.kill_and_restart(process)
        finally:
            self._busy.discard(process.label)

    def _target(self, fault: Fault) -> ServiceProcess:
        replica = 1 if fault.kind == "kill -9 replica" else 0
        return next(
            p for p in self.stack.processes if p.name == fault.target and p.replica == replica
        )

    async def _broker(self, fault: Fault) -> None:
        fault.recovered_s = await self.stack.restart_broker(kill=self.plan.broker_signal == "kill")

    async def supervise(self, started: float) -> None:
        """Restart, and record, any process that exited without being killed by the plan."""
        while True:
            await asyncio.sleep(1.0)
            for process in list(self.stack.processes):
                if process.label in self._busy or process.label in self._killed:
                    continue
                if process.process is not None and process.process.poll() is not None:
                    code = process.process.returncode
                    fault = Fault("died, restarted", process.label, time.monotonic() - started)
                    fault.error = f"exited by itself with code {code}; log: {process.log_file}"
                    self.injected.append(fault)
                    self._busy.add(process.label)
                    try:
                        process.process = None
                        with contextlib.suppress(Exception):
                            process.spawn()
                            fault.recovered_s = await process.wait_ready(120.0)
                    finally:
                        self._busy.discard(process.label)
