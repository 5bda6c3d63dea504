"""config/grafana-dashboard.json: valid JSON whose every query names metrics the host exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from workflowapp.metrics import NAMES

DASHBOARD = Path(__file__).resolve().parent.parent / "config" / "grafana-dashboard.json"
SERIES = {f"{name}{suffix}" for name in NAMES for suffix in ("", "_bucket", "_count", "_sum")}


def queries() -> list[str]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in document["panels"] for target in panel["targets"]]


def test_every_query_names_only_exported_metrics() -> None:
    found = queries()
    assert found
    for expr in found:
        named = set(re.findall(r"\bworkflowapp_[a-z_]+", expr))
        assert named, expr
        assert named <= SERIES, f"{expr}: {named - SERIES} is not exported"


def test_the_dashboard_covers_what_an_operator_asks() -> None:
    text = " ".join(queries())
    for wanted in ("workflowapp_calls_total", 'outcome!="ok"', "histogram_quantile(0.99",
                   "workflowapp_tokens_total", "workflowapp_upstream_retries_total",
                   "workflowapp_in_flight_calls"):
        assert wanted in text, wanted
