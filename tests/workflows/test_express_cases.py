"""The approval policy's decision on a case: express refund and refund only (issue 20 item 5)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from csdesk import CaseState, TransitionRejectedError
from csdesk.money import Money
from csdesk.policies import ApprovalRequest, approval_policy, decide_approval, express_overdue
from csdesk.workflows import (
    ApproveCase,
    CancelCase,
    MarkReturnShipped,
    ReceiveReturn,
    ResolveCase,
    run,
)
from tests.factories import STAFF, SYSTEM, new_case

POLICY = approval_policy("shop_default")


def approval(case: Any, **changes: Any) -> Any:
    fields: dict[str, Any] = {"amount": Money("59.00", "CNY"), "customer_tier": "gold",
                              "orders": 12, "return_rate": Decimal("0.05")}  # fmt: skip
    fields.update(changes)
    return decide_approval(ApprovalRequest.for_case(case, **fields), POLICY, now=case.requested_at)


def test_express_refund_is_requested_when_the_return_ships() -> None:
    case = new_case()
    decision = approval(case)
    assert decision.express
    now = case.requested_at
    events = run(case, ApproveCase(approval=decision), actor=SYSTEM, now=now)
    assert events[0].payload["express_refund"] is True
    assert events[0].payload["approval_rule"] == "small_no_reason"
    assert case.state is CaseState.AWAITING_RETURN
    shipped = run(case, MarkReturnShipped(tracking_number="YT1"), actor=STAFF,
                  now=now + timedelta(days=1))  # fmt: skip
    requested = [e for e in shipped if e.type == "aftersale.refund_requested"]
    assert len(requested) == 1
    assert requested[0].payload["lines"] == {"1": 2}
    assert requested[0].payload["express"] is True
    assert case.express_refunded_at == now + timedelta(days=1)
    # the money went back: the case can no longer be canceled
    with pytest.raises(TransitionRejectedError, match="express refund was paid"):
        run(case, CancelCase(reason="changed mind"), actor=STAFF, now=now + timedelta(days=2))
    # found when the goods do not come
    assert express_overdue([case], days=15, now=now + timedelta(days=16)) == [case]
    # the goods come, one unit short: no second refund, the shortfall is reported
    run(case, ReceiveReturn(received={"1": 1}, condition="resellable"), actor=STAFF,
        now=now + timedelta(days=4))  # fmt: skip
    resolved = run(case, ResolveCase(), actor=STAFF, now=now + timedelta(days=4))
    types = [e.type for e in resolved]
    assert "aftersale.refund_requested" not in types
    short = next(e for e in resolved if e.type == "aftersale.express_shortfall")
    assert short.payload["lines"] == {"1": 1}
    assert express_overdue([case], days=15, now=now + timedelta(days=16)) == []


def test_a_whole_express_return_resolves_without_anything_more() -> None:
    case = new_case()
    now = case.requested_at
    run(case, ApproveCase(express=True), actor=STAFF, now=now)
    run(case, MarkReturnShipped(tracking_number="YT1"), actor=STAFF, now=now)
    run(case, ReceiveReturn(received={"1": 2}, condition="resellable"), actor=STAFF, now=now)
    resolved = run(case, ResolveCase(), actor=STAFF, now=now)
    assert [e.type for e in resolved] == ["aftersale.resolving"]


def test_refund_only_lets_the_customer_keep_the_goods() -> None:
    case = new_case()
    decision = approval(case, amount=Money("15.00", "CNY"))
    case.reason = "damaged"
    decision = approval(case, amount=Money("15.00", "CNY"))
    assert decision.outcome == "refund_only"
    run(case, ApproveCase(approval=decision), actor=SYSTEM, now=case.requested_at)
    assert case.state is CaseState.APPROVED  # no return to wait for
    assert case.keep_goods is True
    resolved = run(case, ResolveCase(), actor=SYSTEM, now=case.requested_at)
    requested = next(e for e in resolved if e.type == "aftersale.refund_requested")
    assert requested.payload["lines"] == {"1": 2}  # the requested units, none received


def test_only_an_approving_decision_approves() -> None:
    case = new_case()
    case.reason = "damaged"
    evidence = approval(case, amount=Money("59.00", "CNY"))
    assert evidence.outcome == "require_evidence"
    before = case.model_dump()
    with pytest.raises(TransitionRejectedError, match="not approve"):
        run(case, ApproveCase(approval=evidence), actor=SYSTEM, now=case.requested_at)
    assert case.model_dump() == before


def test_express_is_for_a_return_and_refund() -> None:
    case = new_case(type="exchange")
    with pytest.raises(TransitionRejectedError, match="express refund is for a return"):
        run(case, ApproveCase(express=True), actor=STAFF, now=case.requested_at)
    assert case.state is CaseState.REQUESTED


def test_the_express_refund_goes_through_the_refund_desk() -> None:
    # The refund desk refunds a return's received units; an express refund is paid while the
    # goods travel, so it covers the requested ones, once.
    from csdesk.policies import refund_policy
    from csdesk.refund_desk import RefundDesk
    from csdesk.storage import SqlStore
    from tests.factories import delivered_order

    order = delivered_order()
    case = new_case(order)
    store = SqlStore.memory()
    store.insert(order)
    store.insert(case)
    now = case.requested_at
    store.run(case.id, ApproveCase(express=True), actor=STAFF, now=now)
    events = store.run(case.id, MarkReturnShipped(tracking_number="YT1"), actor=STAFF, now=now)
    asked = next(e for e in events if e.type == "aftersale.refund_requested")
    lines: Any = asked.payload["lines"]
    desk = RefundDesk(store)
    same: dict[str, Any] = {
        "lines": lines,
        "reason": "no_reason",
        "basis": "cn_7day",
        "case_id": case.id,
        "policy": refund_policy("cn_default"),
        "actor": STAFF,
        "now": now,
    }
    quote, refunds = desk.request(order.id, idempotency_key=f"{case.id}:express", **same)
    assert quote.units == {"1": 2}
    assert refunds
    with pytest.raises(TransitionRejectedError, match="refunded already"):
        desk.request(order.id, idempotency_key=f"{case.id}:again", **same)
    store.close()


def test_refund_only_goes_through_the_refund_desk_without_the_goods() -> None:
    from csdesk.policies import refund_policy
    from csdesk.refund_desk import RefundDesk
    from csdesk.storage import SqlStore
    from tests.factories import delivered_order

    order = delivered_order()
    case = new_case(order)
    case.reason = "damaged"
    decision = approval(case, amount=Money("15.00", "CNY"))
    store = SqlStore.memory()
    store.insert(order)
    store.insert(case)
    now = case.requested_at
    store.run(case.id, ApproveCase(approval=decision), actor=SYSTEM, now=now)
    events = store.run(case.id, ResolveCase(), actor=SYSTEM, now=now)
    asked = next(e for e in events if e.type == "aftersale.refund_requested")
    lines: Any = asked.payload["lines"]
    quote, _ = RefundDesk(store).request(order.id, idempotency_key=f"{case.id}:keep",
                                         lines=lines, reason="faulty", case_id=case.id,
                                         policy=refund_policy("cn_default"), actor=SYSTEM,
                                         now=now)  # fmt: skip
    assert quote.units == {"1": 2}
    store.close()
