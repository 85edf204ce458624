"""Timing, statistics and CPU accounting shared by the benchmarks.

Rates are reported per core: items divided by the CPU seconds of the measuring thread, so that
other processes competing for the machine change them much less than a wall-clock rate. Both
are kept. Every measurement is repeated in rounds after a warm-up; the median is the number,
half the min-max range over the median its spread.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float

    @property
    def spread_pct(self) -> float:
        """Half the range as a percentage of the median: ±x %."""
        return 0.0 if self.median == 0 else 50.0 * (self.high - self.low) / self.median


def summarise(values: Sequence[float]) -> Summary:
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return Summary(median, ordered[0], ordered[-1])


@dataclass(frozen=True)
class Round:
    items: int
    wall_s: float
    cpu_s: float


@dataclass(frozen=True)
class Rates:
    """The rounds of one measured stage."""

    rounds: tuple[Round, ...]

    @property
    def per_core(self) -> Summary:
        return summarise([r.items / r.cpu_s for r in self.rounds if r.cpu_s > 0])

    @property
    def wall(self) -> Summary:
        return summarise([r.items / r.wall_s for r in self.rounds])

    @property
    def cpu_busy(self) -> float:
        """CPU seconds over wall seconds: near 1 means the thread was rarely descheduled."""
        wall = sum(r.wall_s for r in self.rounds)
        return sum(r.cpu_s for r in self.rounds) / wall if wall else 0.0

    @property
    def items(self) -> int:
        return self.rounds[0].items

    @property
    def micros_per_item(self) -> float:
        return 1e6 / self.per_core.median


def measure(run_round: Callable[[], int], *, warmup: int, rounds: int) -> Rates:
    """Call ``run_round`` (which returns how many items it processed) ``warmup`` times
    unmeasured, then ``rounds`` times measured, each after a full garbage collection."""
    for _ in range(warmup):
        run_round()
    measured: list[Round] = []
    for _ in range(rounds):
        gc.collect()
        wall, cpu = time.perf_counter(), time.thread_time()
        items = run_round()
        measured.append(Round(items, time.perf_counter() - wall, time.thread_time() - cpu))
    return Rates(tuple(measured))


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of already sorted values."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- CPU use of processes and of the machine, from /proc ------------------------------------


def process_cpu_s(pid: int) -> tuple[float, float] | None:
    """(user, system) CPU seconds of ``pid`` (all its threads) so far; None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS  # utime, stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass(frozen=True)
class CpuUse:
    wall_s: float
    cores_by_process: dict[str, float]  # CPU seconds per wall second, per named process
    system_share: dict[str, float]  # of that, the part spent in the kernel
    machine_busy: float  # 0..1 of all logical CPUs

    @property
    def other_cores(self) -> float:
        """Cores busy with processes not named: other work on the machine."""
        busy = self.machine_busy * (os.cpu_count() or 1)
        return max(0.0, busy - sum(self.cores_by_process.values()))


class CpuMeter:
    """CPU used by named processes and by the machine between ``start()`` and ``stop()``."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self._start: dict[str, tuple[float, float]] = {}
        self._machine = (0, 0)
        self._wall = 0.0

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._machine = machine_ticks()
        self._start = {
            name: cpu for name, pid in self.pids.items() if (cpu := process_cpu_s(pid)) is not None
        }

    def stop(self) -> CpuUse:
        wall = time.perf_counter() - self._wall
        busy, total = machine_ticks()
        cores: dict[str, float] = {}
        system: dict[str, float] = {}
        for name, (user_before, sys_before) in self._start.items():
            after = process_cpu_s(self.pids[name])
            if after is not None and wall > 0:
                user, sys = after[0] - user_before, after[1] - sys_before
                cores[name] = (user + sys) / wall
                system[name] = sys / (user + sys) if user + sys else 0.0
        spent = total - self._machine[1]
        machine = (busy - self._machine[0]) / spent if spent else 0.0
        return CpuUse(wall, cores, system, machine)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"
