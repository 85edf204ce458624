"""What the shipped alerting rules and dashboard ask of the services' metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
RULES = OBSERVABILITY / "prometheus-rules.yaml"
DASHBOARD = OBSERVABILITY / "grafana" / "opora-overview.json"
RUNBOOKS = OBSERVABILITY / "runbooks.md"

# Series Prometheus makes itself, not a service.
PROMETHEUS_OWN = {"up"}
_FUNCTIONS = {
    "sum", "rate", "increase", "histogram_quantile", "label_values", "by", "and", "or",
    "unless", "on", "ignoring", "max", "min", "avg", "count", "without",
}  # fmt: skip
_NAME = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(?=\{|\[|\(|\)|\s|$)")


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """The series an expression reads (label names and values inside braces left out)."""
    outside_braces = re.sub(r"\{[^}]*\}", "{}", expr)
    outside_brackets = re.sub(r"\[[^\]]*\]", "[]", outside_braces)
    without_by = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", outside_brackets)
    return {
        name
        for name in _NAME.findall(without_by)
        if name not in _FUNCTIONS and not name.replace("_", "").isdigit()
    } - PROMETHEUS_OWN


def series_read() -> set[str]:
    """Every metric the rules and the dashboard read, as Prometheus names it."""
    exprs = [rule["expr"] for rule in rules()] + dashboard_queries()
    return set().union(*(metric_names(e) for e in exprs))


def scraped_names(exposition: str) -> set[str]:
    return {
        line.split("{", 1)[0].split(" ", 1)[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }
