"""OpenTelemetry spans and metrics (issue 19 item 1), with the SDK's in-memory exporters.

The scenario runs in a fresh interpreter (a tracer provider can be set once per process): an
order paid and refunded through the refund desk, a refund quote, a reply rendered, a
compensation decision, an SLA report with a breach, and a refund batch against the test shop.
The customer's name, phone and address are everywhere in the inputs and nowhere in the output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).parent / "telemetry_scripts" / "scenario.py"
PII = ("13812345678", "138****5678", "王小明", "文三路90号", "wang@example.com")


def _run() -> dict[str, Any]:
    result = subprocess.run([sys.executable, str(SCENARIO)], capture_output=True, text=True,
                            timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_spans_metrics_and_no_customer_data() -> None:
    found = _run()
    names = {span["name"] for span in found["spans"]}
    assert {"csdesk.workflow.command", "csdesk.decision", "csdesk.reply.render",
            "csdesk.shop.request", "csdesk.batch.row"} <= names, names  # fmt: skip
    pay = next(s for s in found["spans"] if s["attributes"].get("csdesk.command") == "pay")
    assert pay["attributes"] == {
        "csdesk.workflow": "order", "csdesk.command": "pay", "csdesk.entity_id": "SO-T1",
        "csdesk.state.from": "pending_payment", "csdesk.state.to": "processing",
    }  # fmt: skip
    refused = [s for s in found["spans"] if s["status"] == "ERROR"]
    assert refused, "the refused command's span ends in error"
    assert any(s["attributes"].get("csdesk.error.code") for s in refused)
    rows = [s for s in found["spans"] if s["name"] == "csdesk.batch.row"]
    assert sorted(s["attributes"]["csdesk.batch.outcome"] for s in rows) == [
        "done",
        "done",
        "invalid",
    ]
    shop = [s for s in found["spans"] if s["name"] == "csdesk.shop.request"]
    assert all(s["attributes"]["csdesk.http.status"] in (200, 201, 404) for s in shop)
    metrics = {m["name"]: m for m in found["metrics"]}
    assert metrics["csdesk.refunds"]["total"] == 3  # one by the desk, two by the batch
    assert metrics["csdesk.refund.amount"]["unit"] == "{minor_unit}"
    assert metrics["csdesk.compensation.granted"]["total"] > 0
    assert metrics["csdesk.sla.breaches"]["total"] >= 1
    everything = json.dumps(found, ensure_ascii=False)
    for secret in PII:
        assert secret not in everything, secret


def test_no_provider_set_costs_nothing() -> None:
    # The API's default meter provider is a `_ProxyMeterProvider` (with an underscore): it was
    # taken for a real one, and every decision built attributes and scrubbed them for nothing.
    import subprocess
    import sys

    code = (
        "from csdesk import _telemetry as t\n"
        "from opentelemetry import metrics\n"
        "print(type(metrics.get_meter_provider()).__name__ in t._INACTIVE, t.tracing())\n"
        "t.count('csdesk.x', 1, {})\n"
        "print(len(t._INSTRUMENTS))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "0"]
