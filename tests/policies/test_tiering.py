"""Table-driven tiering tests, from the seeds' and the references' cases (Chinese and English)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import Customer, Money, PolicyError, TicketPriority
from csdesk.policies import load_policy
from csdesk.policies.tiering import (
    Complaint,
    TieringPolicy,
    assess,
    tiering_policy,
)
from csdesk.replies import explain
from csdesk.sla import china_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
SEEDS = tiering_policy("seeds")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


# (id, complaint fields, customer tier, expected severity, urgency, priority, tier)
CASES: list[tuple[str, dict[str, Any], str, str, str, str, str]] = [
    (
        "inquiry-zh",
        {"text": "请问这个保温杯能装热水吗？", "category": "product_inquiry"},
        "regular",
        "S4",
        "U3",
        "P5",
        "ordinary",
    ),
    (
        "inquiry-en",
        {"text": "What's the warranty on this jacket?", "category": "product_inquiry"},
        "regular",
        "S4",
        "U3",
        "P5",
        "ordinary",
    ),
    (
        "late-zh",
        {"text": "快递三天没动了", "days_late": 3},
        "regular",
        "S3",
        "U3",
        "P4",
        "ordinary",
    ),
    (
        "late-en",
        {"text": "Parcel is 5 days late", "days_late": 5},
        "regular",
        "S3",
        "U3",
        "P4",
        "ordinary",
    ),
    (
        "wrong-item",
        {"text": "发错货了", "wrong_item": True},
        "regular",
        "S3",
        "U3",
        "P4",
        "ordinary",
    ),
    (
        "damaged",
        {"text": "The mug arrived broken", "damaged": True},
        "regular",
        "S3",
        "U3",
        "P4",
        "ordinary",
    ),
    ("complain-zh", {"text": "我要投诉"}, "regular", "S3", "U3", "P4", "ordinary"),
    ("complain-en", {"text": "I want to complain"}, "regular", "S3", "U3", "P4", "ordinary"),
    (
        "refund-overdue",
        {"text": "退款一周了还没到账", "refund_overdue_days": 7},
        "regular",
        "S3",
        "U3",
        "P4",
        "ordinary",
    ),
    ("hurry-zh", {"text": "马上给我退款！"}, "regular", "S3", "U2", "P3", "ordinary"),
    ("hurry-en", {"text": "I need this urgently"}, "regular", "S3", "U2", "P3", "ordinary"),
    ("liar-zh", {"text": "你们就是骗子"}, "regular", "S2", "U3", "P3", "ordinary"),
    ("scam-en", {"text": "This is a scam"}, "regular", "S2", "U3", "P3", "ordinary"),
    ("fake-zh", {"text": "假货！"}, "regular", "S2", "U3", "P3", "ordinary"),
    ("expose-zh", {"text": "我要去曝光你们"}, "regular", "S2", "U1", "P1", "serious"),
    (
        "media-en",
        {"text": "I'll post online and tell the media"},
        "regular",
        "S2",
        "U1",
        "P1",
        "serious",
    ),
    ("lawyer-zh", {"text": "我已经找了律师"}, "regular", "S1", "U3", "P2", "urgent"),
    ("lawyer-en", {"text": "My lawyer will contact you"}, "regular", "S1", "U3", "P2", "urgent"),
    ("12315-text", {"text": "再不处理我就打12315"}, "regular", "S1", "U3", "P2", "urgent"),
    ("12315-channel", {"public_channel": "12315"}, "regular", "S1", "U3", "P2", "urgent"),
    (
        "association",
        {"public_channel": "consumer_association"},
        "regular",
        "S1",
        "U3",
        "P2",
        "urgent",
    ),
    (
        "arbitration",
        {"public_channel": "platform_arbitration"},
        "regular",
        "S1",
        "U3",
        "P2",
        "urgent",
    ),
    ("social-post", {"public_channel": "social_post"}, "regular", "S2", "U3", "P3", "ordinary"),
    ("media-channel", {"public_channel": "media"}, "regular", "S2", "U3", "P3", "ordinary"),
    ("safety-flag", {"safety_risk": True}, "regular", "S1", "U3", "P2", "urgent"),
    ("allergy-zh", {"text": "孩子吃了之后过敏了"}, "regular", "S1", "U1", "P1", "serious"),
    ("fire-en", {"text": "The charger caught fire"}, "regular", "S1", "U1", "P1", "serious"),
    ("money-500", {"money_at_stake": cny("500.00")}, "regular", "S2", "U3", "P3", "ordinary"),
    ("money-499", {"money_at_stake": cny("499.99")}, "regular", "S3", "U3", "P4", "ordinary"),
    ("fraud-flag", {"fraud_suspected": True}, "regular", "S2", "U3", "P3", "ordinary"),
    ("chargeback-flag", {"chargeback": True}, "regular", "S2", "U3", "P3", "ordinary"),
    (
        "chargeback-en",
        {"text": "I will file a chargeback"},
        "regular",
        "S2",
        "U3",
        "P3",
        "ordinary",
    ),
    ("perishable", {"perishable": True, "days_late": 1}, "regular", "S3", "U1", "P2", "urgent"),
    ("blocked", {"customer_blocked": True}, "regular", "S3", "U1", "P2", "urgent"),
    (
        "deadline-12h",
        {"statutory_deadline_at": NOW + timedelta(hours=12)},
        "regular",
        "S3",
        "U1",
        "P2",
        "urgent",
    ),
    (
        "deadline-2d",
        {"statutory_deadline_at": NOW + timedelta(days=2)},
        "regular",
        "S3",
        "U2",
        "P3",
        "ordinary",
    ),
    (
        "deadline-5d",
        {"statutory_deadline_at": NOW + timedelta(days=5)},
        "regular",
        "S3",
        "U3",
        "P4",
        "ordinary",
    ),
    ("angry", {"sentiment": -0.8}, "regular", "S3", "U2", "P3", "ordinary"),
    ("grumpy", {"sentiment": -0.5}, "regular", "S3", "U3", "P4", "ordinary"),
    ("gold-late", {"days_late": 2}, "gold", "S2", "U3", "P3", "ordinary"),
    ("diamond-complain", {"text": "我要投诉"}, "diamond", "S2", "U3", "P3", "ordinary"),
    ("silver-late", {"days_late": 2}, "silver", "S3", "U3", "P4", "ordinary"),
    ("fullwidth", {"text": "ＬＡＷＹＥＲ ＮＯＷ"}, "regular", "S1", "U3", "P2", "urgent"),
    ("uppercase", {"text": "SCAM"}, "regular", "S2", "U3", "P3", "ordinary"),
    ("diamond-lawyer", {"text": "my lawyer"}, "diamond", "S1", "U3", "P2", "urgent"),
]


@pytest.mark.parametrize(
    ("case", "fields", "tier", "severity", "urgency", "priority", "expected_tier"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_complaint(
    case: str,
    fields: dict[str, Any],
    tier: str,
    severity: str,
    urgency: str,
    priority: str,
    expected_tier: str,
) -> None:
    complaint = Complaint(id=case, received_at=NOW, **fields)
    result = assess(complaint, policy=SEEDS, now=NOW, customer=Customer(id="C-1", tier=tier))
    assert (result.severity, result.urgency, result.priority, result.tier) == (
        severity,
        urgency,
        priority,
        expected_tier,
    ), result.trace
    assert result.route == SEEDS.routes[result.tier]
    assert result.priority == TicketPriority(priority.lower())  # one spelling: "p2" reads as P2
    assert result.trace[-1].code == "tier.matrix"


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_reasons_name_the_signal() -> None:
    complaint = Complaint(id="CP", received_at=NOW, text="骗子！我要去曝光", days_late=4)
    result = assess(complaint, policy=SEEDS, now=NOW)
    signals = {(s.stage, s.params.get("level"), s.code) for s in result.trace}
    assert ("severity", "S2", "tier.keyword") in signals
    assert ("urgency", "U1", "tier.keyword") in signals
    assert ("severity", "S3", "tier.days_late") in signals
    assert any(s.params.get("word") == "曝光" for s in result.trace)
    assert "曝光" in explain(result, "zh-CN")


def prior(days_ago: float, **fields: Any) -> Complaint:
    return Complaint(id=f"old-{days_ago}", received_at=NOW - timedelta(days=days_ago), **fields)


class TestRepeats:
    def complaint(self, **fields: Any) -> Complaint:
        return Complaint(
            id="new",
            received_at=NOW,
            order_id="SO-1",
            customer_id="C-1",
            issue="late_delivery",
            days_late=2,
            **fields,
        )

    def test_second_complaint_raises_priority(self) -> None:
        result = assess(
            self.complaint(), policy=SEEDS, now=NOW, history=[prior(2, order_id="SO-1")]
        )
        assert (result.priority, result.tier, result.repeat_count) == ("P3", "ordinary", 1)

    def test_third_escalates_tier_and_owner(self) -> None:
        history = [prior(2, order_id="SO-1"), prior(5, order_id="SO-1")]
        result = assess(self.complaint(), policy=SEEDS, now=NOW, history=history)
        assert (result.priority, result.tier, result.route) == ("P3", "urgent", "supervisor")
        assert [s.code for s in result.trace if "repeat" in s.code] == [
            "tier.repeat_priority",
            "tier.repeat_tier",
        ]

    def test_outside_the_window_does_not_count(self) -> None:
        result = assess(
            self.complaint(), policy=SEEDS, now=NOW, history=[prior(8, order_id="SO-1")]
        )
        assert (result.priority, result.repeat_count) == ("P4", 0)

    def test_same_issue_on_another_order(self) -> None:
        history = [prior(1, order_id="SO-9", customer_id="C-1", issue="late_delivery")]
        result = assess(self.complaint(), policy=SEEDS, now=NOW, history=history)
        assert result.repeat_count == 1

    def test_a_diamond_customers_second_complaint_jumps_the_queue(self) -> None:
        diamond = Customer(id="C-1", tier="diamond")
        first = assess(self.complaint(text="我要投诉"), policy=SEEDS, now=NOW, customer=diamond)
        second = assess(
            self.complaint(text="我要投诉"),
            policy=SEEDS,
            now=NOW,
            customer=diamond,
            history=[prior(1, order_id="SO-1")],
        )
        assert (first.priority, second.priority, second.tier) == ("P3", "P2", "urgent")


def test_samr_clocks_on_the_china_calendar() -> None:
    cal = china_calendar(
        weekly={d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    complaint = Complaint(
        id="CP", received_at=datetime(2026, 9, 28, 10, tzinfo=SHANGHAI), public_channel="12315"
    )
    result = assess(complaint, policy=SEEDS, now=complaint.received_at, calendar=cal)
    deadlines = {d.name: d.due.date() for d in result.deadlines}
    # 7 working days after 09-28: 09-29, 09-30, 10-08, 10-09, 10-10 (make-up Sat), 10-12, 10-13
    assert deadlines["accept_by"] == date(2026, 10, 13)
    assert "art. 14" in result.deadlines[0].source
    assert assess(complaint, policy=SEEDS, now=NOW).deadlines == ()  # no calendar, no clocks


def test_the_itil_preset_differs() -> None:
    complaint = Complaint(id="CP", received_at=NOW, text="my lawyer")
    assert assess(complaint, policy=tiering_policy("itil"), now=NOW).priority == "P4"


def test_changing_the_policy_file_changes_the_outcome(tmp_path: Path) -> None:
    from importlib import resources

    text = (resources.files("csdesk.policies") / "presets" / "tiering" / "seeds.toml").read_text(
        encoding="utf-8"
    )
    custom = tmp_path / "shop.toml"
    custom.write_text(
        text.replace('id = "seeds"', 'id = "shop"').replace(
            'U3 = "P4"\n\n[matrix.S4]', 'U3 = "P3"\n\n[matrix.S4]'
        ),
        encoding="utf-8",
    )
    policy = load_policy(TieringPolicy, custom, kind="tiering")
    complaint = Complaint(id="CP", received_at=NOW, days_late=2)
    assert assess(complaint, policy=SEEDS, now=NOW).priority == "P4"
    assert assess(complaint, policy=policy, now=NOW).priority == "P3"


def test_an_invalid_policy_file_names_the_key(tmp_path: Path) -> None:
    from importlib import resources

    text = (resources.files("csdesk.policies") / "presets" / "tiering" / "seeds.toml").read_text(
        encoding="utf-8"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('P1 = "serious"', 'P1 = "catastrophic"'), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(TieringPolicy, bad, kind="tiering")
    assert [f.loc for f in caught.value.errors] == ["tiers.P1"]


SEVERITY_RAISERS = {
    "safety_risk": True,
    "public_channel": "media",
    "fraud_suspected": True,
    "chargeback": True,
    "days_late": 3,
    "wrong_item": True,
    "damaged": True,
    "money_at_stake": Money("800.00", "CNY"),
    "text": "我已经找了律师",
}


@given(
    base=st.fixed_dictionaries(
        {},
        optional={
            "days_late": st.integers(0, 5),
            "perishable": st.booleans(),
            "sentiment": st.floats(-1, 1),
            "text": st.sampled_from(["", "马上", "投诉", "scam"]),
            "category": st.sampled_from(
                ["product_inquiry", "order_problem", "complaint_suggestion"]
            ),
        },
    ),
    extra=st.sampled_from(sorted(SEVERITY_RAISERS)),
    tier=st.sampled_from(["regular", "silver", "gold", "diamond"]),
)
def test_a_severity_signal_never_lowers_priority(
    base: dict[str, Any], extra: str, tier: str
) -> None:
    customer = Customer(id="C", tier=tier)
    before = assess(
        Complaint(id="a", received_at=NOW, **base), policy=SEEDS, now=NOW, customer=customer
    )
    fields = dict(base)
    if extra == "text":
        fields["text"] = base.get("text", "") + SEVERITY_RAISERS["text"]
    else:
        fields[extra] = SEVERITY_RAISERS[extra]
    after = assess(
        Complaint(id="a", received_at=NOW, **fields), policy=SEEDS, now=NOW, customer=customer
    )
    assert after.priority <= before.priority  # "P1" < "P2" < ...: never less urgent


def test_regulatory_deadlines_do_not_depend_on_the_zone_the_time_is_written_in() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from csdesk.policies import Complaint, assess, tiering_policy

    calendar = china_calendar(weekly={d: [("09:00", "18:00")] for d in ("mon", "tue", "wed")})
    moment = datetime(2026, 3, 3, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # 03-02 in UTC
    answers = []
    for zone in (ZoneInfo("Asia/Shanghai"), UTC, ZoneInfo("America/New_York")):
        complaint = Complaint(id="K-1", customer_id="C-1", text="投诉", public_channel="12315",
                              received_at=moment.astimezone(zone))  # fmt: skip
        result = assess(complaint, policy=tiering_policy("seeds"), now=moment, calendar=calendar)
        answers.append(tuple(d.due for d in result.deadlines))
    assert answers[0] == answers[1] == answers[2]
