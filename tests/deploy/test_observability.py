"""The alerting rules and dashboard in deploy/observability: well formed, each alert with a
runbook. That they read only metrics the services serve is checked against the running
services in tests/e2e/test_metrics.py."""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.observability import DASHBOARD, RUNBOOKS, metric_names, rules, series_read

ALERTS = rules()


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_every_alert_has_a_severity_a_summary_and_a_runbook_that_exists(rule) -> None:
    headings = {
        _anchor(line.lstrip("#").strip())
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }

    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["runbook_url"].split("#", 1)[1] in headings


def test_alert_names_are_unique() -> None:
    names = [r["alert"] for r in ALERTS]
    assert len(names) == len(set(names))


def test_the_dashboard_has_unique_panel_ids_and_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in dashboard["panels"]]

    assert len(ids) == len(set(ids))
    assert "datasource" in {v["name"] for v in dashboard["templating"]["list"]}


def test_metric_names_are_read_from_expressions_without_labels_or_functions() -> None:
    expr = 'sum by (job) (rate(foo_total{error_type!="", job=~"a.*"}[5m])) / bar_seconds'
    assert metric_names(expr) == {"foo_total", "bar_seconds"}


def test_the_rules_and_dashboard_read_the_red_lag_and_dead_letter_series() -> None:
    assert {
        "messaging_process_duration_seconds_count",
        "http_server_request_duration_seconds_count",
        "opora_kafka_consumer_lag",
        "opora_dead_letters_total",
        "opora_events_published_total",
    } <= series_read()
