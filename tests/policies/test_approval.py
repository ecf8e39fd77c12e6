"""Instant approval (自动审核) and express refund (极速退款): issue 20 item 5."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk.errors import InvalidInputError, PolicyError
from csdesk.models import AfterSaleCase, CaseLine, CaseState, CaseType, CustomerTier
from csdesk.money import Money
from csdesk.policies import (
    ApprovalOutcome,
    ApprovalPolicy,
    ApprovalRequest,
    approval_policy,
    decide_approval,
    express_overdue,
)
from csdesk.replies import explain

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = approval_policy("shop_default")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def request(**changes: Any) -> ApprovalRequest:
    fields: dict[str, Any] = {
        "case_type": "return_and_refund",
        "reason": "no_reason",
        "amount": cny("59.00"),
        "customer_tier": "gold",
        "orders": 12,
        "refunds": 1,
        "return_rate": Decimal("0.05"),
    }
    fields.update(changes)
    return ApprovalRequest(**fields)


def codes(decision: Any) -> list[str]:
    return [step.code for step in decision.trace]


def test_a_small_no_reason_return_is_approved_with_express_refund() -> None:
    decision = decide_approval(request(), POLICY, now=NOW)
    assert decision.outcome is ApprovalOutcome.APPROVE
    assert decision.rule == "small_no_reason"
    assert decision.express is True
    assert decision.return_by == NOW + timedelta(days=15)
    assert decision.policy is not None
    assert decision.policy.id == "shop_default"
    # each rule passed over names the condition it failed on
    skipped = [s.params for s in decision.trace if s.code == "approval.rule_skipped"]
    assert skipped == [
        {"rule": "unshipped_refund", "condition": "case_types"},
        {"rule": "low_value_keep", "condition": "reasons"},
        {"rule": "faulty_needs_photos", "condition": "reasons"},
    ]


def test_an_unshipped_refund_only_request_is_approved_at_once() -> None:
    decision = decide_approval(
        request(case_type="refund_only", shipped=False, amount=cny("2999.00")), POLICY, now=NOW
    )
    assert (decision.outcome, decision.rule) == (ApprovalOutcome.APPROVE, "unshipped_refund")
    assert decision.express is False  # nothing comes back: express does not apply
    assert "approval.express_refused.no_return" in codes(decision)


def test_shipped_refund_only_goes_to_a_person() -> None:
    decision = decide_approval(
        request(case_type="refund_only", shipped=True, reason="changed_mind"), POLICY, now=NOW
    )
    assert decision.outcome is ApprovalOutcome.HUMAN
    assert decision.rule is None
    assert codes(decision)[-1] == "approval.otherwise"


def test_a_cheap_faulty_item_is_refunded_without_the_return() -> None:
    # 仅退款: the postage back would cost more than the goods.
    decision = decide_approval(request(reason="damaged", amount=cny("19.90")), POLICY, now=NOW)
    assert (decision.outcome, decision.rule) == (ApprovalOutcome.REFUND_ONLY, "low_value_keep")
    assert decision.express is False


def test_a_dearer_faulty_item_needs_photos_first() -> None:
    decision = decide_approval(request(reason="damaged", amount=cny("20.01")), POLICY, now=NOW)
    assert (decision.outcome, decision.rule) == (
        ApprovalOutcome.REQUIRE_EVIDENCE,
        "faulty_needs_photos",
    )
    skipped = {s.params["rule"]: s.params["condition"] for s in decision.trace[:-1]}
    assert skipped["low_value_keep"] == "max_amount"


def test_a_frequent_returner_goes_to_a_person() -> None:
    decision = decide_approval(request(refunds=4), POLICY, now=NOW)
    assert decision.outcome is ApprovalOutcome.HUMAN
    assert decision.trace[-2].params == {"rule": "small_no_reason", "condition": "max_refunds"}


def test_an_amount_in_a_currency_without_a_limit_does_not_match() -> None:
    decision = decide_approval(request(amount=Money("5.00", "EUR")), POLICY, now=NOW)
    assert decision.outcome is ApprovalOutcome.HUMAN


def test_a_risk_flag_sends_anything_to_a_person_before_the_rules() -> None:
    decision = decide_approval(
        request(risk_flags=frozenset({"address_mismatch", "new_device"})), POLICY, now=NOW
    )
    assert decision.outcome is ApprovalOutcome.HUMAN
    assert codes(decision) == ["approval.risk_flags"]
    assert decision.trace[0].params["flags"] == ["address_mismatch"]
    # a flag the policy does not name changes nothing
    calm = decide_approval(request(risk_flags=frozenset({"new_device"})), POLICY, now=NOW)
    assert calm.outcome is ApprovalOutcome.APPROVE


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"customer_tier": "regular"}, "tier"),
        ({"orders": 2}, "orders"),
        ({"return_rate": Decimal("0.31")}, "return_rate"),
        ({"return_rate": None}, "return_rate"),
        ({"express_open": 1}, "open"),
        ({"express_today": cny("19950.00")}, "per_day"),
    ],
)
def test_express_refund_is_refused_with_its_reason(changes: dict[str, Any], why: str) -> None:
    decision = decide_approval(request(**changes), POLICY, now=NOW)
    assert decision.outcome is ApprovalOutcome.APPROVE  # approved all the same, not express
    assert decision.express is False
    assert decision.return_by is None
    assert codes(decision)[-1] == f"approval.express_refused.{why}"


def test_express_refund_stops_at_its_amount_per_case() -> None:
    policy = ApprovalPolicy.from_data(
        {
            **POLICY.model_dump(mode="json"),
            "rules": [{"id": "all", "outcome": "approve"}],
        }
    )
    assert decide_approval(request(amount=cny("3000.00")), policy, now=NOW).express is True
    refused = decide_approval(request(amount=cny("3000.01")), policy, now=NOW)
    assert refused.express is False
    assert codes(refused)[-1] == "approval.express_refused.amount"


def test_express_refund_fills_the_day_to_its_limit_exactly() -> None:
    spent = cny("19941.00")
    assert decide_approval(request(express_today=spent), POLICY, now=NOW).express is True
    over = decide_approval(request(express_today=spent + cny("0.01")), POLICY, now=NOW)
    assert over.express is False


def test_every_step_is_worded_in_three_locales() -> None:
    decisions = [
        decide_approval(request(), POLICY, now=NOW),
        decide_approval(request(risk_flags=frozenset({"chargeback"})), POLICY, now=NOW),
        decide_approval(request(case_type="replacement", reason="lost"), POLICY, now=NOW),
        decide_approval(request(case_type="refund_only", shipped=False), POLICY, now=NOW),
    ]
    refusals: list[dict[str, Any]] = [
        {"customer_tier": "regular"},
        {"orders": 0},
        {"return_rate": None},
        {"express_open": 3},
        {"express_today": cny("20000.00")},
    ]
    for changes in refusals:
        decisions.append(decide_approval(request(**changes), POLICY, now=NOW))
    for decision in decisions:
        for locale in ("en", "zh-CN", "zh-TW"):
            text = explain(decision, locale, tz="Asia/Shanghai")
            assert "approval." not in text
            assert "{{" not in text
    english = explain(decisions[0], "en")
    assert "express refund: the money goes back when the return ships" in english
    assert "售后申请：通过（规则 small_no_reason）" in explain(decisions[0], "zh-CN")
    assert "金卡" not in explain(decisions[0], "zh-CN")  # tier only worded when it matters
    assert "普通 会员不享有" in explain(decisions[4], "zh-CN")
    assert "極速退款" in explain(decisions[0], "zh-TW")


def test_the_policy_is_data_with_errors_that_name_the_key() -> None:
    data = POLICY.model_dump(mode="json")
    with pytest.raises(PolicyError, match=r"rules\.0\.outcome"):
        ApprovalPolicy.from_data({**data, "rules": [{"id": "x", "outcome": "maybe"}]})
    with pytest.raises(PolicyError, match="repeated: twice"):
        ApprovalPolicy.from_data(
            {
                **data,
                "rules": [
                    {"id": "twice", "outcome": "approve"},
                    {"id": "twice", "outcome": "human"},
                ],
            }
        )
    with pytest.raises(PolicyError, match="max_return_rate"):
        ApprovalPolicy.from_data(
            {**data, "rules": [{"id": "x", "outcome": "approve", "when": {"max_return_rate": 2}}]}
        )
    assert ApprovalPolicy.from_data(data) == POLICY


def test_a_request_refuses_floats_and_naive_times() -> None:
    with pytest.raises(InvalidInputError):
        request(return_rate=0.05)
    with pytest.raises(InvalidInputError):
        decide_approval(request(), POLICY, now=datetime(2026, 3, 2, 10, 0))


def case(case_id: str, state: CaseState, type_: CaseType = CaseType.RETURN_AND_REFUND) -> Any:
    return AfterSaleCase(
        id=case_id,
        order_id="SO-1",
        type=type_,
        reason="no_reason",
        lines=(CaseLine(line_id="L1", requested=1),),
        requested_at=NOW - timedelta(days=30),
        state=state,
        shipped_before=True,
    )


def test_the_request_of_a_filed_case() -> None:
    made = ApprovalRequest.for_case(
        case("AS-1", CaseState.REQUESTED), amount=cny("10.00"), orders=3
    )
    assert (made.case_type, made.reason, made.shipped, made.orders) == (
        CaseType.RETURN_AND_REFUND,
        "no_reason",
        True,
        3,
    )


def test_express_refunds_whose_goods_never_came_are_found() -> None:
    refunded = {
        "AS-1": NOW - timedelta(days=15),
        "AS-2": NOW - timedelta(days=20),
        "AS-3": NOW - timedelta(days=40),  # the goods came: not overdue
        "AS-4": NOW - timedelta(days=14, hours=23),  # refunded recently
    }
    cases = [
        case("AS-1", CaseState.RETURN_IN_TRANSIT),
        case("AS-2", CaseState.RETURN_IN_TRANSIT),
        case("AS-3", CaseState.RECEIVED),
        case("AS-4", CaseState.RETURN_IN_TRANSIT),
        case("AS-5", CaseState.RETURN_IN_TRANSIT),  # not an express refund
    ]
    for item in cases:
        item.express_refunded_at = refunded.get(item.id)
    found = express_overdue(cases, days=15, now=NOW)
    assert [c.id for c in found] == ["AS-2", "AS-1"]  # oldest refund first
    with pytest.raises(InvalidInputError):
        express_overdue(cases, days=0, now=NOW)


@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2),
    reason=st.sampled_from(["no_reason", "damaged", "quality", "wrong_item", "changed_mind"]),
    case_type=st.sampled_from(list(CaseType)),
    tier=st.sampled_from(list(CustomerTier)),
    orders=st.integers(0, 50),
    refunds=st.integers(0, 10),
    rate=st.none() | st.decimals(min_value=0, max_value=1, places=2),
    flags=st.frozensets(st.sampled_from(["chargeback", "new_device", "fraud_suspected"])),
    shipped=st.none() | st.booleans(),
    today=st.decimals(min_value=0, max_value=Decimal(25_000), places=2),
)
def test_approval_invariants(
    amount: Decimal,
    reason: str,
    case_type: CaseType,
    tier: CustomerTier,
    orders: int,
    refunds: int,
    rate: Decimal | None,
    flags: frozenset[str],
    shipped: bool | None,
    today: Decimal,
) -> None:
    asked = ApprovalRequest(
        case_type=case_type,
        reason=reason,
        amount=cny(str(amount)),
        customer_tier=tier,
        orders=orders,
        refunds=refunds,
        return_rate=rate,
        risk_flags=flags,
        shipped=shipped,
        express_today=cny(str(today)),
    )
    decision = decide_approval(asked, POLICY, now=NOW)
    assert decision == decide_approval(asked, POLICY, now=NOW)  # deterministic
    if flags & set(POLICY.human_on_flags):
        assert decision.outcome is ApprovalOutcome.HUMAN
    if decision.express:
        assert decision.outcome is ApprovalOutcome.APPROVE
        assert case_type is CaseType.RETURN_AND_REFUND
        assert amount <= 3000
        assert today + amount <= 20_000
        assert tier is not CustomerTier.REGULAR
        assert orders >= 3
    if decision.outcome is not ApprovalOutcome.HUMAN:
        assert decision.rule is not None
    if amount > 3000:  # no rule of the preset approves more than its largest limit
        assert decision.outcome in {ApprovalOutcome.HUMAN, ApprovalOutcome.REQUIRE_EVIDENCE}
