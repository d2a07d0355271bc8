"""The Grafana dashboard in deploy/grafana/ queries exactly the metrics the code registers, as they are exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import trove_common.metrics  # noqa: F401  (registers every Trove metric in the default registry)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "trove.json"
# A metric name inside a PromQL expression: ours all start with trove_.
NAME = re.compile(r"\btrove_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported() -> dict[str, str]:
    """Every series name Prometheus will see from our metrics, mapped to the metric that exports it."""
    names = {}
    for family in REGISTRY.collect():
        if family.name.startswith("trove_"):
            for suffix in SUFFIXES[family.type]:
                names[family.name + suffix] = family.name
    return names


def _queried() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert exprs
    return {name for expr in exprs for name in NAME.findall(expr)}


def test_every_name_the_dashboard_queries_is_exported_by_the_code() -> None:
    unknown = _queried() - _exported().keys()
    assert not unknown, f"the dashboard queries metrics no process exports: {sorted(unknown)}"


def test_every_metric_the_code_exports_is_on_the_dashboard() -> None:
    shown = {_exported()[name] for name in _queried()}
    missing = set(_exported().values()) - shown
    assert not missing, f"metrics with no panel: {sorted(missing)}"


def test_the_dashboard_names_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [v["type"] for v in dashboard["templating"]["list"]] == ["datasource"]
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {"${datasource}"}
