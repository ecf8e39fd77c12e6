"""Run csdesk with the OpenTelemetry SDK's in-memory exporters; print spans and metrics as JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

from csdesk import Actor, Customer, LineDraft, Money, Order, Payment  # noqa: E402
from csdesk.errors import CsdeskError  # noqa: E402
from csdesk.integrations.refund_batch import Journal, MappingOrders, read_rows, run_batch  # noqa: E402
from csdesk.integrations.shop_api import AsyncShopClient, RetryPolicy  # noqa: E402
from csdesk.policies import Refunded, quote_refund, refund_policy  # noqa: E402
from csdesk.policies.compensation import compensation_policy, decide  # noqa: E402
from csdesk.refund_desk import RefundDesk  # noqa: E402
from csdesk.replies import builtin_templates, render  # noqa: E402
from csdesk.storage import SqlStore  # noqa: E402
from csdesk.testing.shop_server import ShopBackend, create_app, serve  # noqa: E402
from csdesk.workflows import PayOrder, run  # noqa: E402

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
customer = Customer(id="C-T1", name="王小明", phone="13812345678", email="wang@example.com")


def order(order_id: str) -> Order:
    placed = Order.place(id=order_id, customer=customer, placed_at=NOW,
                         lines=[LineDraft(sku="TC", name="thermos", quantity=2,
                                          unit_price=Money("100.00", "CNY"))],
                         shipping_address="浙江省杭州市西湖区文三路90号")  # fmt: skip
    paid = Payment(id="P-1", method="alipay", captured=placed.total, captured_at=NOW)
    run(placed, PayOrder(payments=[paid]), actor=Actor(kind="customer", id="C-T1"), now=NOW)
    return placed


first = order("SO-T1")
again = Payment(id="P-2", method="alipay", captured=first.total, captured_at=NOW)
with contextlib.suppress(CsdeskError):  # paid already: the workflow refuses
    run(first, PayOrder(payments=[again]), actor=Actor(kind="customer"), now=NOW)
quote = quote_refund(first, lines={"1": 1}, reason="no_reason", policy=refund_policy("cn_default"),
                     now=NOW, refunded=Refunded.of(first))  # fmt: skip
with SqlStore.memory() as store:
    store.insert(first)
    RefundDesk(store).request("SO-T1", idempotency_key="k1", lines={"1": 1}, reason="no_reason",
                              policy=refund_policy("cn_default"), actor=Actor(kind="staff", id="a"),
                              now=NOW)  # fmt: skip
render(builtin_templates()["please_wait"], {"minutes": 3}, locale="zh-CN", now=NOW,
       slots={"topic": "王小明 13812345678 的订单"})  # fmt: skip
from csdesk.policies.compensation import Agent  # noqa: E402
from csdesk.policies.compensation.samples import sample_incidents  # noqa: E402

policy = compensation_policy("shop_standard")
agent = Agent(id="agent-1", role="supervisor")
for incident in sample_incidents(30, seed=3, start=NOW):
    decide(incident, policy=policy, agent=agent, now=incident.occurred_at)

from csdesk.calendars import BusinessCalendar  # noqa: E402
from csdesk.sla import SlaPolicy, sla_report  # noqa: E402
from csdesk.workflows import open_ticket  # noqa: E402

first_reply = {"metric": "first_reply", "minutes": 30, "business_hours": False}
sla = SlaPolicy.from_data(
    {"id": "t", "version": "1", "as_of": "2026-03-01", "source": "test",
     "targets": {"p2": [first_reply]}}
)  # fmt: skip
ticket, events = open_ticket(id="T-1", category="order_problem", priority="p2",
                             customer_id="C-T1", actor=Actor(kind="customer", id="C-T1"),
                             now=NOW, subject="王小明 13812345678 催发货")  # fmt: skip
office = BusinessCalendar(tz="Asia/Shanghai", weekly={d: [("00:00", "24:00")] for d in
                          ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})  # fmt: skip
sla_report(ticket, events, policies=[sla], calendar=office, now=NOW + timedelta(hours=2))

with tempfile.TemporaryDirectory() as folder:
    root = Path(folder)
    backend = ShopBackend(root / "shop.db")
    second = order("SO-T2")
    backend.add_orders([second])
    csv = root / "b.csv"
    csv.write_text("order_id,lines,amount,currency,reason,key\nSO-T2,,5.00,CNY,goodwill,a\n"
                   "SO-T2,,6.00,CNY,goodwill,b\nSO-NONE,,1.00,CNY,goodwill,c\n")  # fmt: skip

    async def batch() -> None:
        with serve(create_app(backend, token="t")) as url:
            async with AsyncShopClient(url, token="t", retry=RetryPolicy(attempts=1)) as client:
                with Journal(root / "j.db", source="b", digest="d") as journal:
                    await run_batch(read_rows(csv, namespace="n"),
                                    orders=MappingOrders({"SO-T2": second}),
                                    policy=refund_policy("cn_default"), now=NOW, client=client,
                                    journal=journal)  # fmt: skip

    asyncio.run(batch())
    backend.close()

provider.force_flush()
found_metrics: list[dict[str, Any]] = []
data = reader.get_metrics_data()
for resource in data.resource_metrics if data else []:
    for scope in resource.scope_metrics:
        for metric in scope.metrics:
            points: list[Any] = list(metric.data.data_points)
            found_metrics.append({
                "name": metric.name, "unit": metric.unit,
                "total": sum(p.value for p in points),
                "attributes": [dict(p.attributes) for p in points],
            })  # fmt: skip
print(json.dumps({
    "spans": [{"name": s.name, "attributes": dict(s.attributes or {}),
               "status": s.status.status_code.name} for s in spans.get_finished_spans()],
    "metrics": found_metrics,
}, ensure_ascii=False))  # fmt: skip
