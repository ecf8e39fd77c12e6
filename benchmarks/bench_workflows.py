"""One csdesk workflow command against the same transition done with raw python-statemachine.

Both sides drive the same machine class (`OrderWorkflow` is a python-statemachine StateChart) on
the same order with the same payload: ``pay`` with one payment, whose validator checks the amount
and whose action records the payment. The raw side builds the machine and sends the event; csdesk's
`fire` adds what the facade is for: checking the stored state, a snapshot to restore on failure,
the version bump and the `DomainEvent` it returns. The model is reset between calls on both sides.

csdesk lends one machine per workflow class and thread from command to command (the entity swapped
in), so it does not pay python-statemachine's per-instance callback registration each time, and
runs flat machines on python-statemachine's engine minus the searches for eventless transitions
and invocations they cannot have. The raw side builds a machine per command on the stock engine,
as a host using python-statemachine directly does. Issue 14's goal: csdesk at least 5x faster
(ratio <= 0.2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from statemachine.engines.sync import SyncEngine

from benchmarks._runner import Case, Result, measure, report
from csdesk import Actor, Customer, LineDraft, Money, Order, Payment
from csdesk.workflows import OrderWorkflow, allowed_events, run
from csdesk.workflows._engine import _Record
from csdesk.workflows.order import PayOrder

GOAL = 0.2
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class StockOrderWorkflow(OrderWorkflow):
    """The same machine on python-statemachine's stock engine."""

    def _get_engine(self) -> SyncEngine:
        return SyncEngine(self)


def _order() -> Order:
    return Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=NOW,
        lines=[
            LineDraft(sku="A", name="thermos", quantity=5, unit_price=Money("349.99", "CNY")),
            LineDraft(sku="B", name="socks", quantity=3, unit_price=Money("19.90", "CNY")),
        ],
        order_discount=Money("300.00", "CNY"),
    )


def cases() -> list[Case]:
    order = _order()
    pristine: dict[str, Any] = dict(vars(order))
    payment = Payment(id="P-1", method="alipay", captured=order.total, captured_at=NOW)
    actor = Actor(kind="customer", id="C-1")

    def reset() -> None:
        vars(order).clear()
        vars(order).update(pristine)

    def with_csdesk() -> None:
        reset()
        run(order, PayOrder(payments=[payment]), actor=actor, now=NOW)

    def raw() -> None:
        reset()
        machine = StockOrderWorkflow(model=order)
        machine._record = _Record()
        machine.send("pay", command=PayOrder(payments=[payment]), actor=actor, now=NOW)

    def list_allowed_raw() -> None:
        reset()
        [event.id for event in OrderWorkflow(model=order).allowed_events]

    def list_allowed_csdesk() -> None:
        reset()
        allowed_events(OrderWorkflow, order.state)

    return [
        Case("pay: build + send", with_csdesk, raw, number=300),
        Case("allowed events in a state", list_allowed_csdesk, list_allowed_raw, number=300),
    ]


def main() -> list[Result]:
    results = [measure(case, rounds=11) for case in cases()]
    report("Workflows", "raw python-statemachine", results)
    command = results[0]
    print(
        f"one command: csdesk {command.csdesk_ns / 1000:.0f} µs vs raw "
        f"{command.peer_ns / 1000:.0f} µs, ratio {command.ratio:.2f}, "
        f"{1 / command.ratio:.1f}x faster (goal <= {GOAL}, 5x): "
        f"{'met' if command.ratio <= GOAL else 'NOT met'}"
    )
    listing = results[1]
    print(
        f"allowed events without a machine: {listing.csdesk_ns / 1000:.2f} µs "
        f"(building a machine to ask: {listing.peer_ns / 1000:.0f} µs)"
    )
    return results


if __name__ == "__main__":
    main()
