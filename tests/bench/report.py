"""What a benchmark run reports: named metrics, tables for people, JSON files for comparing runs.

Every metric has a stable dotted key (``normaliser.end_to_end.per_core``); a later run is
compared with the previous one run with the same settings metric by metric, as the ratio
new/old, so benchmarks added later simply add keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
Better = Literal["higher", "lower"]
# A change smaller than this (or than the measured spread) is reported as noise.
NOISE_PCT = 5.0


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    value: float
    unit: str
    better: Better | None = "higher"  # None: context, not a target (e.g. a CPU share)
    spread_pct: float | None = None


@dataclass
class Section:
    """One benchmark's result: its own table for people, its metrics for comparison."""

    name: str
    title: str
    lines: list[str] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)


@dataclass
class RunResult:
    suite: str
    started_at: str
    quick: bool
    only: list[str]
    settings: dict[str, Any]  # what changes the numbers besides the code: only like runs compare
    machine: dict[str, Any]
    sections: list[Section] = field(default_factory=list)
    derived: list[Metric] = field(default_factory=list)

    def all_metrics(self) -> list[Metric]:
        return [m for s in self.sections for m in s.metrics] + self.derived

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _finite(
            {
                "schema_version": SCHEMA_VERSION,
                "suite": self.suite,
                "started_at": self.started_at,
                "quick": self.quick,
                "only": self.only,
                "settings": self.settings,
                "machine": self.machine,
                "metrics": {m.key: _metric_json(m) for m in self.all_metrics()},
                "sections": {
                    s.name: {"title": s.title, "details": s.details} for s in self.sections
                },
            }
        )
        return data


def _finite(value: Any) -> Any:
    """JSON has no NaN: an undefined number (no successful request, say) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _metric_json(metric: Metric) -> dict[str, Any]:
    data = asdict(metric)
    del data["key"]
    return data


def fmt(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, grouped in thousands when large."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Aligned columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return (indent + "  ".join([first, *rest])).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths), *map(line, rows)]


def render(result: RunResult) -> list[str]:
    out = [
        f"Opora {result.suite} benchmarks — {result.started_at}"
        + (" (quick: smoke-test durations, numbers are rough)" if result.quick else ""),
        f"machine: {result.machine['cpu_model']}, {result.machine['logical_cpus']} logical CPUs; "
        f"Python {result.machine['python']}; load average before start "
        f"{result.machine['load_average_before']}",
    ]
    for section in result.sections:
        out += ["", f"== {section.title}", *section.lines]
    if result.derived:
        out += ["", "== Derived"]
        out += table(
            ["metric", "value"],
            [[m.label, f"{fmt(m.value)} {m.unit}"] for m in result.derived],
        )
    return out


def save(result: RunResult, directory: Path, stamp: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.suite}-{stamp}.json"
    path.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    return path


def previous_run(
    directory: Path, suite: str, settings: dict[str, Any], exclude: Path | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """The newest earlier result of ``suite`` run with the same settings."""
    for path in sorted(directory.glob(f"{suite}-*.json"), reverse=True):
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("schema_version") == SCHEMA_VERSION and data.get("settings") == settings:
            return path, data
    return None


def comparison(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Metric by metric, new/old and whether that is better, worse or within the noise."""
    rows: list[list[str]] = []
    old_metrics: dict[str, Any] = old.get("metrics", {})
    for key, metric in new.get("metrics", {}).items():
        before = old_metrics.get(key)
        if before is None or not before.get("value") or metric.get("value") is None:
            continue
        ratio = metric["value"] / before["value"]
        noise = max(NOISE_PCT, metric.get("spread_pct") or 0.0, before.get("spread_pct") or 0.0)
        verdict = ""
        if metric.get("better") and abs(ratio - 1) * 100 > noise:
            improved = (ratio > 1) == (metric["better"] == "higher")
            verdict = "better" if improved else "WORSE"
        elif metric.get("better"):
            verdict = "~ noise"
        unit = metric.get("unit", "")
        rows.append(
            [
                metric.get("label", key),
                f"{fmt(before['value'])} {unit}",
                f"{fmt(metric['value'])} {unit}",
                f"{ratio:.2f}x",
                verdict,
            ]
        )
    if not rows:
        return ["  (no metric in common)"]
    return table(["metric", "previous", "now", "now/prev", ""], rows)
