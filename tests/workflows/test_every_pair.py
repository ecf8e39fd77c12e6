"""Every (state, event) pair of each workflow, exhaustively, with valid and invalid arguments.

The Hypothesis walks (test_stateful.py) explore sequences; this covers every pair for certain:
each call either succeeds along a declared transition, adding one to the version, or raises a csdesk
error and leaves the model exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from csdesk import CsdeskError, Shipment
from csdesk.policies import timer_preset
from csdesk.workflows import AfterSaleWorkflow, OrderWorkflow, RefundWorkflow, allowed_events, fire
from tests.factories import (
    PLACED,
    SIGNED,
    STAFF,
    SYSTEM,
    delivered_order,
    new_case,
    new_order,
    new_refund,
    paid_order,
    partially_shipped_order,
    payment,
    shipped_order,
)

CN = timer_preset("cn_platform")
LATER = SIGNED + timedelta(days=60)


def completed_order() -> Any:
    order = delivered_order()
    fire(OrderWorkflow, order, "complete", actor=SYSTEM, now=SIGNED)
    return order


def closed_order() -> Any:
    order = completed_order()
    fire(OrderWorkflow, order, "close", actor=SYSTEM, now=LATER, timers=CN, open_cases=0)
    return order


def canceled_order() -> Any:
    order = paid_order()
    fire(OrderWorkflow, order, "cancel", actor=STAFF, now=PLACED, reason="out of stock")
    return order


ORDERS: dict[str, Callable[[], Any]] = {
    "pending_payment": new_order,
    "processing": paid_order,
    "partially_shipped": partially_shipped_order,
    "shipped": shipped_order,
    "delivered": delivered_order,
    "completed": completed_order,
    "closed": closed_order,
    "canceled": canceled_order,
}


def case_in(state: str) -> Any:
    steps: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "requested": [],
        "approved": [],
        "awaiting_return": [("approve", {})],
        "return_in_transit": [("approve", {}), ("mark_shipped", {"tracking_number": "YT1"})],
        "received": [
            ("approve", {}),
            ("mark_shipped", {"tracking_number": "YT1"}),
            ("receive", {"received": {"1": 2}, "condition": "resellable"}),
        ],
        "resolving": [
            ("approve", {}),
            ("mark_shipped", {"tracking_number": "YT1"}),
            ("receive", {"received": {"1": 2}, "condition": "resellable"}),
            ("resolve", {}),
        ],
        "rejected": [("reject", {"reason": "used", "finding": "labels removed"})],
        "escalated": [("escalate", {})],
        "canceled": [("cancel", {"reason": "withdrawn"})],
    }
    if state == "approved":
        case = new_case(type="refund_only")
        fire(AfterSaleWorkflow, case, "approve", actor=STAFF, now=case.requested_at)
        return case
    if state == "resolved":
        case = case_in("resolving")
        fire(AfterSaleWorkflow, case, "complete", actor=STAFF, now=case.requested_at)
        return case
    case = new_case()
    for event, arguments in steps[state]:
        fire(AfterSaleWorkflow, case, event, actor=STAFF, now=case.requested_at, **arguments)
    return case


ORDER_ARGUMENTS: dict[str, dict[str, Any]] = {
    "pay": {"payments": [payment(new_order())]},
    "expire": {"timers": CN},
    "cancel": {"reason": "changed my mind"},
    "cancel_lines": {"lines": {"2": 1}, "reason": "out of stock"},
    "modify": {"address": "上海市浦东新区世纪大道100号"},
    "ship": {"shipment": Shipment(id="S-2", carrier="SF", tracking_number="SF2")},
    "deliver": {"signed_at": SIGNED},
    "deliver_parcel": {"shipment_id": "S-1", "signed_at": SIGNED},
    "edit": {"reduce": {"1": 1}},
    "auto_confirm": {"timers": CN},
    "close": {"timers": CN, "open_cases": 0},
    "settle_refund": {"refund_id": "SO-1-R1"},
}
CASE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "auto_approve": {"timers": CN},
    "reject": {"reason": "used", "finding": "labels removed"},
    "mark_shipped": {"tracking_number": "YT9"},
    "ship_back_timeout": {"timers": CN},
    "receive": {"received": {"1": 1}, "condition": "damaged"},
    "auto_receive": {"timers": CN},
    "cancel": {"reason": "withdrawn"},
}


def events(workflow: Any) -> list[str]:
    names = {e for s in workflow.states for e in allowed_events(workflow, s.value)}
    return [*sorted(names), "teleport"]


def check(
    workflow: Any, model: Any, event: str, arguments: dict[str, Any], now: Any, actor: Any = STAFF
) -> bool:
    before = model.model_dump()
    state, version = model.state, model.version
    try:
        fire(workflow, model, event, actor=actor, now=now, **arguments)
    except CsdeskError:
        assert model.model_dump() == before
        return False
    assert event in allowed_events(workflow, state)
    assert model.version == version + 1
    return True


@pytest.mark.parametrize("state", list(ORDERS))
def test_every_order_pair(state: str) -> None:
    successes = 0
    for event in events(OrderWorkflow):
        for arguments in (ORDER_ARGUMENTS.get(event, {}), {}, {"bogus": 1}):
            for now in (SIGNED, LATER):
                model = ORDERS[state]()
                assert model.state == state
                successes += check(OrderWorkflow, model, event, arguments, now)
    if allowed_events(OrderWorkflow, state):
        assert successes, f"no event succeeded from {state}"


@pytest.mark.parametrize("state", [str(s.value) for s in AfterSaleWorkflow.states])
def test_every_case_pair(state: str) -> None:
    successes = 0
    for event in events(AfterSaleWorkflow):
        for arguments in (CASE_ARGUMENTS.get(event, {}), {}, {"bogus": 1}):
            for hours in (0, 24 * 30):
                model = case_in(state)
                assert model.state == state
                now = model.requested_at + timedelta(hours=hours)
                successes += check(AfterSaleWorkflow, model, event, arguments, now)
    if allowed_events(AfterSaleWorkflow, state):
        assert successes, f"no event succeeded from {state}"


def refund_in(state: str) -> Any:
    from csdesk import Actor, PaymentLedger

    refund = new_refund()
    psp = Actor(kind="platform", id="psp")
    ledger = PaymentLedger.open("P-1", refund.amount * 10, at=SIGNED)
    paths: dict[str, list[tuple[str, Any, dict[str, Any]]]] = {
        "requested": [],
        "pending_approval": [("submit", STAFF, {"authority": refund.amount / 10})],
        "processing": [("submit", STAFF, {})],
        "succeeded": [("submit", STAFF, {}), ("succeed", psp, {})],
        "failed": [("submit", STAFF, {}), ("fail", psp, {"failure_reason": "declined"})],
        "canceled": [("cancel", STAFF, {"reason": "kept the goods"})],
        "reversed": [("submit", STAFF, {}), ("succeed", psp, {}), ("reverse", psp, {})],
    }
    for event, actor, arguments in paths[state]:
        fire(RefundWorkflow, refund, event, actor=actor, now=SIGNED, **arguments)
    return refund, ledger


@pytest.mark.parametrize("state", [str(s.value) for s in RefundWorkflow.states])
def test_every_refund_pair(state: str) -> None:
    from csdesk import Actor

    successes = 0
    for event in events(RefundWorkflow):
        for actor in (STAFF, Actor(kind="staff", id="boss"), Actor(kind="platform", id="psp")):
            _, ledger = refund_in(state)
            valid = {
                "retry": {"ledger": ledger},
                "fail": {"failure_reason": "declined"},
                "cancel": {"reason": "x"},
            }.get(event, {})
            for arguments in (valid, {"bogus": 1}):
                model, _ = refund_in(state)
                successes += check(RefundWorkflow, model, event, arguments, SIGNED, actor)
    if allowed_events(RefundWorkflow, state):
        assert successes, f"no event succeeded from {state}"


def ticket_in(state: str) -> Any:
    """A ticket in ``state``, solved ones with a follow-up scheduled (issue 20's new events)."""
    from csdesk.workflows import TicketWorkflow, open_ticket

    ticket, _ = open_ticket(id="T-1", category="order_problem", customer_id="C-1",
                            actor=SYSTEM, now=PLACED, group="pre_sales")  # fmt: skip
    steps: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "new": [],
        "open": [("reply", {"body": "hi"})],
        "pending": [("wait_for_customer", {})],
        "on_hold": [("hold", {})],
        "solved": [("solve", {"follow_up_in": timedelta(days=2)})],
        "closed": [("solve", {}), ("close", {})],
    }
    for event, arguments in steps[state]:
        fire(TicketWorkflow, ticket, event, actor=STAFF, now=PLACED, **arguments)
    return ticket


TICKET_ARGUMENTS: dict[str, dict[str, Any]] = {
    "reply": {"body": "hello"},
    "customer_message": {"body": "any news?"},
    "note": {"body": "called the carrier"},
    "solve": {"follow_up_in": timedelta(days=1)},
    "change": {"priority": "P2"},
    "follow_up": {"note": "all good"},
    "rate": {"score": 4},
    "escalate": {"level": 1, "to": "supervisor", "reason": "first reply breached"},
    "transfer": {"to_group": "after_sales", "reason": "a return question"},
    "outage": {"start": PLACED, "end": SIGNED, "reason": "IM system down"},
}


@pytest.mark.parametrize("state", ["new", "open", "pending", "on_hold", "solved", "closed"])
def test_every_ticket_pair(state: str) -> None:
    from csdesk.workflows import TicketWorkflow

    successes = 0
    for event in events(TicketWorkflow):
        for arguments in (TICKET_ARGUMENTS.get(event, {}), {}, {"bogus": 1}):
            for now in (SIGNED, LATER):
                model = ticket_in(state)
                assert model.state == state
                successes += check(TicketWorkflow, model, event, arguments, now)
    if allowed_events(TicketWorkflow, state):
        assert successes, f"no event succeeded from {state}"


def review_in(state: str) -> Any:
    """A review-recovery case in ``state`` (issue 20 item 4)."""
    from csdesk.policies.review_recovery import review_recovery_policy
    from csdesk.workflows import ReviewCaseWorkflow, open_review_case

    policy = review_recovery_policy("seeds")
    case, _ = open_review_case(id="RV-1", review_id="R-1", order_id="SO-1", customer_id="C-1",
                               rating=2, posted_at=PLACED, actor=SYSTEM, now=PLACED)  # fmt: skip
    steps: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "open": [],
        "contacting": [("contact", {"policy": policy, "channel": "phone", "reached": True})],
        "resolved": [
            ("contact", {"policy": policy, "channel": "phone", "reached": True}),
            ("resolve", {}),
        ],
        "declined": [
            ("contact", {"policy": policy, "channel": "phone", "reached": True}),
            ("decline", {"note": "no thanks"}),
        ],
        "unreachable": [("give_up", {"policy": policy})],
    }
    at = PLACED + timedelta(days=4)  # 10:00 in Shanghai: not the quiet hours
    for event, arguments in steps[state]:
        fire(ReviewCaseWorkflow, case, event, actor=STAFF, now=at, **arguments)
    return case


def review_arguments() -> dict[str, dict[str, Any]]:
    from csdesk.policies.compensation import CustomerSnapshot, OrderSnapshot, decide
    from csdesk.policies.compensation import compensation_policy as comp
    from csdesk.policies.review_recovery import review_recovery_policy
    from csdesk.workflows import review_incident
    from tests.policies.compensation_helpers import AGENT

    policy = review_recovery_policy("seeds")
    case = review_in("open")
    case.root_cause = "damaged"
    order = OrderSnapshot.model_validate(
        {
            "id": "SO-1",
            "paid_total": {"amount": "100.00", "currency": "CNY"},
            "item_paid": {"amount": "100.00", "currency": "CNY"},
            "shipping_paid": {"amount": "0.00", "currency": "CNY"},
        }
    )
    customer = CustomerSnapshot.model_validate(
        {"id": "C-1", "received": {"30": {"amount": {"amount": "0", "currency": "CNY"}}}}
    )
    incident = review_incident(case, order=order, customer=customer)
    decision = decide(incident, policy=comp("shop_standard"), agent=AGENT, now=PLACED)
    assert decision.offers
    return {
        "contact": {"policy": policy, "channel": "phone", "reached": True},
        "confirm_cause": {"root_cause": "damaged"},
        "offer": {"decision": decision},
        "resolve": {"note": "sorted"},
        "decline": {"note": "declined politely"},
        "give_up": {"policy": policy},
    }


@pytest.mark.parametrize("state", ["open", "contacting", "resolved", "declined", "unreachable"])
def test_every_review_case_pair(state: str) -> None:
    from csdesk.workflows import ReviewCaseWorkflow

    valid = review_arguments()
    successes = 0
    for event in events(ReviewCaseWorkflow):
        for arguments in (valid.get(event, {}), {}, {"bogus": 1}):
            for now in (PLACED + timedelta(days=4), LATER):
                model = review_in(state)
                if event == "offer" and model.state == "contacting":
                    model.root_cause = "damaged"
                assert model.state == state
                successes += check(ReviewCaseWorkflow, model, event, arguments, now)
    if allowed_events(ReviewCaseWorkflow, state):
        assert successes, f"no event succeeded from {state}"
