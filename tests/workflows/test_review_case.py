"""Review-recovery cases (中差评处理): issue 20 item 4."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csdesk import Actor, CsdeskError, ReviewCase, ReviewCaseState
from csdesk.errors import InvalidInputError, PolicyError, TransitionRejectedError
from csdesk.models import Channel, RootCause
from csdesk.policies.compensation import (
    CustomerSnapshot,
    OrderSnapshot,
    compensation_policy,
    decide,
    review_analysis,
)
from csdesk.policies.review_recovery import ReviewRecoveryPolicy, review_recovery_policy
from csdesk.workflows import (
    ConfirmCause,
    DeclineReview,
    LogContact,
    MarkUnreachable,
    OfferCompensation,
    ResolveReview,
    next_contact_at,
    open_review_case,
    recovery_report,
    review_contacts_due,
    review_incident,
    run,
)
from tests.policies.compensation_helpers import AGENT

SHANGHAI = ZoneInfo("Asia/Shanghai")
POSTED = datetime(2026, 3, 5, 9, 30, tzinfo=SHANGHAI)
OPENED = datetime(2026, 3, 5, 10, 0, tzinfo=SHANGHAI)
POLICY = review_recovery_policy("seeds")
STAFF = Actor(kind="staff", id="agent-7")
SHOP = compensation_policy("shop_standard")
ORDER = OrderSnapshot.model_validate(
    {
        "id": "SO-1",
        "paid_total": {"amount": "136.50", "currency": "CNY"},
        "item_paid": {"amount": "128.50", "currency": "CNY"},
        "shipping_paid": {"amount": "8.00", "currency": "CNY"},
        "skus": ["MUG"],
    }
)
CUSTOMER = CustomerSnapshot.model_validate(
    {"id": "C-1", "received": {"30": {"amount": {"amount": "0", "currency": "CNY"}, "count": 0}}}
)


def new_case(rating: int = 1, **fields: Any) -> ReviewCase:
    case, events = open_review_case(
        id=fields.pop("id", "RV-1"),
        review_id="R-9",
        order_id="SO-1",
        customer_id=fields.pop("customer_id", "C-1"),
        rating=rating,
        posted_at=fields.pop("posted_at", POSTED),
        actor=Actor.system(),
        now=fields.pop("now", OPENED),
        sku=fields.pop("sku", "MUG"),
        **fields,
    )
    assert [e.type for e in events] == ["review_case.opened"]
    return case


def contact(
    case: ReviewCase,
    at: datetime,
    *,
    channel: str = "phone",
    reached: bool = False,
    note: str | None = None,
) -> Any:
    return run(
        case,
        LogContact(policy=POLICY, channel=channel, reached=reached, note=note),
        actor=STAFF,
        now=at,
    )


def test_a_negative_review_recovered_end_to_end() -> None:
    case = new_case()
    contact(case, OPENED, reached=False)  # no answer
    assert case.state is ReviewCaseState.CONTACTING
    contact(case, OPENED + timedelta(hours=2), reached=True, note="杯子碎了，回电 13812345678")
    run(case, ConfirmCause(root_cause="damaged"), actor=STAFF, now=OPENED + timedelta(hours=2))
    assert case.root_cause is RootCause.DAMAGED
    assert case.cause_confirmed_by == "agent-7"
    incident = review_incident(case, order=ORDER, customer=CUSTOMER)
    decision = decide(incident, policy=SHOP, agent=AGENT, now=OPENED + timedelta(hours=2))
    assert decision.offers  # the confirmed damage earns the recovery offer
    events = run(
        case, OfferCompensation(decision=decision), actor=STAFF, now=OPENED + timedelta(hours=2)
    )
    assert events[0].payload["compensation_key"] == decision.idempotency_key
    run(
        case,
        ResolveReview(note="refund of 10 accepted"),
        actor=STAFF,
        now=OPENED + timedelta(hours=3),
    )
    ended: str = case.state
    assert ended == "resolved"
    assert case.ended_at == OPENED + timedelta(hours=3)
    assert len(case.attempts) == 2
    assert "13812345678" not in repr(case.attempts[1])  # customer data is masked in repr


def test_the_first_attempt_is_by_phone() -> None:
    case = new_case()
    with pytest.raises(TransitionRejectedError, match="phone first"):
        contact(case, OPENED, channel="sms")
    assert case.state is ReviewCaseState.OPEN
    assert case.attempts == ()
    contact(case, OPENED)
    contact(case, OPENED + timedelta(hours=2), channel="sms")  # then SMS is fine


def test_no_harassment_the_gap_the_limit_and_the_channels() -> None:
    case = new_case()
    contact(case, OPENED)
    with pytest.raises(TransitionRejectedError, match="no harassment") as caught:
        contact(case, OPENED + timedelta(minutes=119))
    assert "2026-03-05T12:00:00+08:00" in str(caught.value)
    contact(case, OPENED + timedelta(minutes=120))
    with pytest.raises(TransitionRejectedError, match="not allowed"):
        contact(case, OPENED + timedelta(hours=5), channel="email")
    contact(case, OPENED + timedelta(hours=5))
    before = case.model_dump()
    with pytest.raises(TransitionRejectedError, match="limit is 3"):
        contact(case, OPENED + timedelta(hours=8))
    assert case.model_dump() == before


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("20:59", True),
        ("21:00", False),
        ("23:30", False),
        ("03:00", False),
        ("08:59", False),
        ("09:00", True),
    ],
)
def test_quiet_hours_are_the_customers_local_time(local: str, allowed: bool) -> None:
    hour, minute = map(int, local.split(":"))
    day = OPENED.date() + timedelta(days=1 if hour < 12 and local != "09:00" else 0)
    if local == "09:00":
        day = OPENED.date() + timedelta(days=1)
    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)
    case = new_case()
    if allowed:
        contact(case, at)
        assert len(case.attempts) == 1
    else:
        with pytest.raises(TransitionRejectedError, match="quiet hours"):
            contact(case, at)


def test_quiet_hours_follow_the_case_zone() -> None:
    # 21:30 in Shanghai is 14:30 in Berlin: a customer in Berlin may be called.
    case = new_case(zone="Europe/Berlin")
    contact(case, datetime(2026, 3, 5, 21, 30, tzinfo=SHANGHAI))
    assert len(case.attempts) == 1


def test_next_contact_at_respects_gap_and_quiet_hours() -> None:
    case = new_case()
    assert next_contact_at(case, POLICY, OPENED) == OPENED
    contact(case, datetime(2026, 3, 5, 20, 0, tzinfo=SHANGHAI))
    # 22:00 would be the gap's end, but it is quiet until 09:00 the next morning
    assert next_contact_at(case, POLICY, datetime(2026, 3, 5, 20, 30, tzinfo=SHANGHAI)) == (
        datetime(2026, 3, 6, 9, 0, tzinfo=SHANGHAI)
    )
    contact(case, datetime(2026, 3, 6, 9, 0, tzinfo=SHANGHAI))
    contact(case, datetime(2026, 3, 6, 11, 0, tzinfo=SHANGHAI))
    assert next_contact_at(case, POLICY, datetime(2026, 3, 6, 15, 0, tzinfo=SHANGHAI)) is None


def test_a_firm_refusal_ends_the_case_politely_and_stops_contact() -> None:
    case = new_case(rating=3)
    contact(case, OPENED, reached=True)
    with pytest.raises(InvalidInputError):
        run(case, DeclineReview(note=""), actor=STAFF, now=OPENED)  # the refusal must be noted
    run(case, DeclineReview(note="客户明确表示不需要联系，已致谢"), actor=STAFF, now=OPENED)
    assert case.state is ReviewCaseState.DECLINED
    with pytest.raises(CsdeskError):
        contact(case, OPENED + timedelta(hours=3))  # no more calls
    assert len(case.attempts) == 1


def test_resolve_and_decline_need_a_reached_customer() -> None:
    case = new_case()
    contact(case, OPENED, reached=False)
    for command in (ResolveReview(), DeclineReview(note="x")):
        with pytest.raises(TransitionRejectedError, match="not been reached"):
            run(case, command, actor=STAFF, now=OPENED)


def test_unreachable_after_the_attempts_or_the_days() -> None:
    case = new_case()
    contact(case, OPENED)
    with pytest.raises(TransitionRejectedError, match="keep trying"):
        run(case, MarkUnreachable(policy=POLICY), actor=STAFF, now=OPENED + timedelta(hours=3))
    run(case, MarkUnreachable(policy=POLICY), actor=STAFF, now=OPENED + timedelta(days=3))
    assert case.state is ReviewCaseState.UNREACHABLE
    used_up = new_case()
    for hours in (0, 2, 4):
        contact(used_up, OPENED + timedelta(hours=hours))
    run(used_up, MarkUnreachable(policy=POLICY), actor=STAFF, now=OPENED + timedelta(hours=5))
    assert used_up.state is ReviewCaseState.UNREACHABLE
    reached = new_case()
    contact(reached, OPENED, reached=True)
    with pytest.raises(TransitionRejectedError, match="was reached"):
        run(reached, MarkUnreachable(policy=POLICY), actor=STAFF, now=OPENED + timedelta(days=9))


def test_compensation_only_for_a_confirmed_cause_and_this_case() -> None:
    case = new_case()
    contact(case, OPENED, reached=True)
    unconfirmed = review_incident(case, order=ORDER, customer=CUSTOMER)
    assert unconfirmed.root_cause_confirmed is False
    nothing = decide(unconfirmed, policy=SHOP, agent=AGENT, now=OPENED)
    with pytest.raises(TransitionRejectedError, match="confirm the root cause first"):
        run(case, OfferCompensation(decision=nothing), actor=STAFF, now=OPENED)
    run(case, ConfirmCause(root_cause="late_delivery"), actor=STAFF, now=OPENED)
    other = new_case(id="RV-2")
    run(other, ConfirmCause(root_cause="damaged"), actor=STAFF, now=OPENED)
    foreign = decide(
        review_incident(other, order=ORDER, customer=CUSTOMER), policy=SHOP, agent=AGENT, now=OPENED
    )
    with pytest.raises(TransitionRejectedError, match="not for this case"):
        run(case, OfferCompensation(decision=foreign), actor=STAFF, now=OPENED)
    mine = decide(
        review_incident(case, order=ORDER, customer=CUSTOMER), policy=SHOP, agent=AGENT, now=OPENED
    )
    run(case, OfferCompensation(decision=mine), actor=STAFF, now=OPENED)
    with pytest.raises(TransitionRejectedError, match="offered already"):
        run(case, OfferCompensation(decision=mine), actor=STAFF, now=OPENED)


def test_good_reviews_open_no_case_and_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        new_case(rating=4)
    with pytest.raises(InvalidInputError):
        new_case(zone="Mars/Olympus")
    with pytest.raises(InvalidInputError):
        new_case(now=datetime(2026, 3, 5, 10, 0))
    with pytest.raises(PolicyError, match="first_channel"):
        ReviewRecoveryPolicy.from_data({**POLICY.model_dump(mode="json"), "first_channel": "email"})


def test_contacts_due_lists_the_unattempted_late_ones() -> None:
    fresh = new_case(id="RV-1", posted_at=OPENED)
    old = new_case(id="RV-2", posted_at=OPENED - timedelta(hours=30))
    older_tried = new_case(id="RV-3", posted_at=OPENED - timedelta(hours=40))
    contact(older_tried, OPENED)
    due = review_contacts_due([fresh, old, older_tried], POLICY, OPENED + timedelta(hours=1))
    assert [c.id for c in due] == ["RV-2"]


def test_the_cases_feed_review_analysis() -> None:
    cases = []
    for index, (rating, cause, sku, customer) in enumerate(
        [(1, "damaged", "MUG", "C-1"), (2, "damaged", "MUG", "C-2"), (3, None, "CUP", "C-1")]
    ):
        case = new_case(id=f"RV-{index}", rating=rating, sku=sku, customer_id=customer)
        contact(case, OPENED + timedelta(minutes=index), reached=index != 2)
        if cause:
            run(case, ConfirmCause(root_cause=cause), actor=STAFF, now=OPENED)
            run(case, ResolveReview(), actor=STAFF, now=OPENED + timedelta(hours=1))
        cases.append(case)
    report = recovery_report(cases)
    assert (report.cases, report.negative, report.neutral) == (3, 2, 1)
    assert report.by_outcome == {"contacting": 1, "resolved": 2}
    assert report.by_cause == {"damaged": 2, "unconfirmed": 1}
    assert report.by_sku == {"MUG": 2, "CUP": 1}
    assert report.reached_share == 1.0
    assert report.repeat_customers == {"C-1": 2}
    assert report.median_first_contact_hours == pytest.approx(0.5 + 1 / 60)
    incidents = [review_incident(c, order=ORDER, customer=CUSTOMER) for c in cases]
    analysis = review_analysis(incidents)
    assert analysis.by_cause["damaged"] == 2
    assert analysis.by_sku["MUG"] == 2


def test_channel_names_are_checked() -> None:
    case = new_case()
    with pytest.raises(CsdeskError):
        contact(case, OPENED, channel="pigeon")
    assert Channel.SMS.value == "sms"


def test_an_unknown_cause_is_refused_and_changes_nothing() -> None:
    case = new_case()
    before = case.model_dump()
    with pytest.raises(TransitionRejectedError, match="root_cause 'aliens' is not one of"):
        run(case, ConfirmCause(root_cause="aliens"), actor=STAFF, now=OPENED)
    assert case.model_dump() == before
