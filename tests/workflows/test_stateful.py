"""Hypothesis drives random event sequences through each workflow.

Every (state, event) pair either succeeds, moving the state along a declared transition and adding
exactly one to the version, or raises a csdesk error and leaves the model exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from csdesk import Actor, CsdeskError, LineDraft, Money, Payment, Shipment
from csdesk.models import ExchangeItem
from csdesk.policies import return_policy, timer_preset
from csdesk.policies.review_recovery import review_recovery_policy
from csdesk.workflows import (
    AfterSaleWorkflow,
    OrderWorkflow,
    ReviewCaseWorkflow,
    TicketWorkflow,
    allowed_events,
    command_types,
    fire,
    open_case,
    open_review_case,
    open_ticket,
)
from tests.factories import PLACED, SIGNED, cny, delivered_order, new_case, new_order

SUCCESSES: set[tuple[str, str, str]] = set()
ACTORS = st.sampled_from(
    [Actor(kind="customer", id="C-1"), Actor(kind="staff", id="a"), Actor.system()]
)
TIMERS = st.sampled_from([timer_preset("cn_platform"), timer_preset("eu_crd"), None])
# Weighted towards valid values: Hypothesis explores the invalid ones too, but walks that are
# always refused would never get past the first state.
REASONS = st.sampled_from(["out of stock", "changed my mind", "", None])


def payload(
    workflow: Any, event: str, options: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """The arguments the event takes (values sometimes invalid), now and then one more."""
    command = command_types(workflow).get(event)
    names = set(command.model_fields) if command else set()
    relevant = {name: options[name] for name in sorted(names) if name in options}
    stray = sorted(name for name in options if name not in names)
    extra: st.SearchStrategy[dict[str, Any]] = st.just({})
    if stray:
        extra = st.one_of(
            st.just({}), st.just({}), st.dictionaries(st.sampled_from(stray), st.none(), max_size=1)
        )
    return st.tuples(st.fixed_dictionaries(relevant), extra).map(
        lambda parts: {**parts[1], **parts[0]}
    )


def order_options(order: Any) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "payments": st.lists(
            st.builds(
                Payment,
                id=st.just("P"),
                method=st.just("alipay"),
                captured=st.sampled_from([order.total, order.total, cny("1.00")]),
                captured_at=st.just(PLACED),
            ),
            min_size=1,
            max_size=2,
        ),
        "reason": REASONS,
        "timers": TIMERS,
        "lines": st.one_of(
            st.just({"2": 1}),
            st.just({"1": 2, "3": 1}),
            st.dictionaries(
                st.sampled_from(["1", "2", "3", "9"]),
                st.integers(min_value=-1, max_value=6),
                max_size=3,
            ),
            st.just([LineDraft(sku="A", name="a", quantity=1, unit_price=cny("500"))]),
        ),
        "address": st.sampled_from(["上海市浦东新区世纪大道100号", ""]),
        "shipment": st.builds(
            Shipment,
            id=st.sampled_from(["S-a", "S-b", "S-c"]),
            carrier=st.just("SF"),
            tracking_number=st.just("SF1"),
            lines=st.sampled_from([{}, {"1": 2}, {"1": 3}, {"2": 3, "3": 1}, {"1": 9}, {"9": 1}]),
        ),
        "shipment_id": st.sampled_from(["S-a", "S-b", "S-c", "nope"]),
        "add": st.sampled_from(
            [
                (),
                [LineDraft(sku="MUG", name="mug", quantity=1, unit_price=cny("59.00"))],
                [LineDraft(sku="BIG", name="big", quantity=2, unit_price=cny("900.00"))],
            ]
        ),
        "reduce": st.sampled_from([{}, {"1": 1}, {"2": 3}, {"1": 9}]),
        "remove": st.sampled_from([(), ["3"], ["9"]]),
        "payment": st.builds(
            Payment,
            id=st.sampled_from(["P-bal", "P"]),
            method=st.just("alipay"),
            captured=st.sampled_from(
                [order.balance_due or cny("1.00"), cny("1800.00"), cny("1.00")]
            ),
            captured_at=st.just(PLACED),
        ),
        "signed_at": st.sampled_from([PLACED, PLACED + timedelta(days=400)]),
        "refund_id": st.sampled_from(["SO-1-R1", "SO-1-R2", "nope"]),
        "open_cases": st.sampled_from([0, 1]),
    }


CASE_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "reason": REASONS,
    "express": st.booleans(),
    "finding": st.sampled_from(["labels removed", None]),
    "exclusion": st.sampled_from([None, "custom-made"]),
    "tracking_number": st.sampled_from(["YT1", "", None]),
    "received": st.one_of(
        st.just({"1": 2}),
        st.just({"1": 1}),
        st.dictionaries(
            st.sampled_from(["1", "2"]), st.integers(min_value=-1, max_value=3), max_size=2
        ),
    ),
    "condition": st.sampled_from(["resellable", {"1": "damaged"}, "shiny", None]),
    "timers": TIMERS,
}


def events_of(workflow: Any) -> list[str]:
    return sorted({e for s in workflow.states for e in allowed_events(workflow, s.value)})


def pick_event(workflow: Any, state: str, extra: list[str] | None = None) -> st.SearchStrategy[str]:
    """Mostly an event the state has a transition for, sometimes any event at all."""
    anything = st.sampled_from([*events_of(workflow), *(extra or [])])
    here = allowed_events(workflow, state)
    return st.one_of(st.sampled_from(here), anything) if here else anything


class Driver(RuleBasedStateMachine):
    workflow: Any
    model: Any

    def __init__(self) -> None:
        super().__init__()
        self.now = PLACED

    def step(self, event: str, actor: Actor, arguments: dict[str, Any], hours: int) -> None:
        self.now = self.now + timedelta(hours=hours)
        before = self.model.model_dump()
        state, version = self.model.state, self.model.version
        try:
            events = fire(self.workflow, self.model, event, actor=actor, now=self.now, **arguments)
        except CsdeskError:
            assert self.model.model_dump() == before
            return
        SUCCESSES.add((self.workflow.workflow_name, state, event))
        assert event in allowed_events(self.workflow, state)
        assert self.model.version == version + 1
        assert events
        assert all(e.aggregate.version == version + 1 for e in events)
        assert events[0].payload["from"] == state
        assert events[0].payload["to"] == self.model.state


class OrderMachine(Driver):
    workflow = OrderWorkflow

    def __init__(self) -> None:
        super().__init__()
        self.model = new_order()
        self.gap: Money | None = None

    @rule(
        # Forward events are weighted up so that walks get past payment and shipment.
        event=st.sampled_from(
            [
                *events_of(OrderWorkflow),
                "teleport",
                *["pay", "ship", "deliver", "deliver_parcel", "settle_refund", "edit"] * 3,
                *["pay_balance"] * 2,
            ]
        ),
        actor=ACTORS,
        data=st.data(),
        hours=st.sampled_from([0, 1, 30, 24 * 11, 24 * 20]),
    )
    def send(self, event: str, actor: Actor, data: st.DataObject, hours: int) -> None:
        arguments = data.draw(payload(OrderWorkflow, event, order_options(self.model)))
        self.step(event, actor, arguments, hours)

    @invariant()
    def parcels_add_up(self) -> None:
        order = self.model
        shipped = order.shipped_units()
        for line in order.lines:
            assert shipped.get(line.id, 0) + order.canceled_units.get(line.id, 0) <= line.quantity
        left = order.unshipped_units()
        if order.state == "partially_shipped":
            assert left
            assert order.shipments
        if order.state in {"shipped", "delivered"}:
            assert not left
        if order.state == "delivered":
            assert order.delivered_at is not None

    @invariant()
    def edits_conserve_money(self) -> None:
        order = self.model
        if not order.payments or order.state in {"canceled", "closed"}:
            return
        kept = sum(
            (
                line.refund_split(units=line.quantity - order.canceled_units.get(line.id, 0)).paid
                for line in order.lines
                if line.quantity > order.canceled_units.get(line.id, 0)
            ),
            cny("0"),
        )
        owed = sum((due.amount for due in order.refunds_due), cny("0"))
        # A payment may capture more than the total; whatever it was, edits keep it unchanged.
        gap = order.captured + (order.balance_due or cny("0")) - owed - kept
        if self.gap is None:
            self.gap = gap
        assert gap == self.gap

    @invariant()
    def refunds_never_exceed_what_was_captured(self) -> None:
        owed = sum((r.amount for r in self.model.refunds_due), cny("0"))
        assert owed <= self.model.captured or not self.model.payments


class CaseMachine(Driver):
    workflow = AfterSaleWorkflow

    def __init__(self) -> None:
        super().__init__()
        self.model = new_case()
        self.now = self.model.requested_at

    @rule(actor=ACTORS, hours=st.integers(min_value=0, max_value=24 * 12), data=st.data())
    def send(self, actor: Actor, hours: int, data: st.DataObject) -> None:
        event = data.draw(pick_event(AfterSaleWorkflow, self.model.state))
        self.step(event, actor, data.draw(payload(AfterSaleWorkflow, event, CASE_OPTIONS)), hours)

    @invariant()
    def never_more_received_than_requested(self) -> None:
        for line in self.model.lines:
            assert 0 <= line.received <= line.requested

    @invariant()
    def an_express_refund_is_never_undone(self) -> None:
        case = self.model
        if case.express_refunded_at is not None:
            assert case.express_refund
            assert case.state != "canceled"


class ExchangeMachine(Driver):
    """Issue 18 item 1: an exchange with a price difference either way, in any order."""

    workflow = AfterSaleWorkflow

    def __init__(self) -> None:
        super().__init__()
        order = delivered_order()
        self.case_price = cny("399.00")
        self.model, _ = open_case(
            order,
            id="AS-X",
            type="exchange",
            lines={"1": 1},
            reason="size",
            actor=Actor(kind="customer", id="C-1"),
            now=SIGNED + timedelta(days=1),
            policy=return_policy("cn_consumer_law"),
            exchange=[ExchangeItem(line_id="1", units=1, sku="NEW", unit_price=self.case_price)],
        )
        self.now = SIGNED + timedelta(days=1)

    @rule(actor=ACTORS, hours=st.integers(min_value=0, max_value=24 * 3), data=st.data())
    def send(self, actor: Actor, hours: int, data: st.DataObject) -> None:
        event = data.draw(pick_event(AfterSaleWorkflow, self.model.state))
        difference = self.model.difference or cny("1.00")
        options = {
            **CASE_OPTIONS,
            "received": st.sampled_from([{"1": 1}, {"1": 0}]),
            "payment": st.builds(
                Payment,
                id=st.just("P-d"),
                method=st.just("alipay"),
                captured=st.sampled_from([difference, cny("1.00")]),
                captured_at=st.just(PLACED),
            ),
            "shipment": st.just(Shipment(id="X-1", carrier="SF", tracking_number="SF9")),
            "choice": st.sampled_from(["chat: 没货就退款", ""]),
        }
        self.step(event, actor, data.draw(payload(AfterSaleWorkflow, event, options)), hours)

    @invariant()
    def the_difference_is_settled_once(self) -> None:
        case = self.model
        owed = case.difference is not None and case.difference.amount > 0
        if case.state in {"resolving", "resolved"} and owed:
            assert case.difference_payment is not None
        if case.state == "resolved":
            assert case.replacement_shipment is not None or case.converted_to_refund
        assert not (case.replacement_shipment is not None and case.converted_to_refund)


TICKET_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "body": st.sampled_from(["hello", None]),
    "follow_up_in": st.sampled_from([None, timedelta(days=2), timedelta(0)]),
    "priority": st.sampled_from(["P2", "P9", None]),
    "assignee": st.sampled_from(["agent-1", None]),
    "note": st.sampled_from(["called back", None]),
    "score": st.sampled_from([1, 4, 5, 11]),
    "level": st.sampled_from([1, 2, 5]),
    "to": st.sampled_from(["supervisor", ""]),
    "reason": st.sampled_from(["first reply breached", ""]),
    "to_group": st.sampled_from(["after_sales", "pre_sales", "logistics", ""]),
    "ping_pong_window": st.just(timedelta(hours=24)),
    "start": st.sampled_from([PLACED, PLACED + timedelta(days=30)]),
    "end": st.sampled_from([PLACED + timedelta(hours=1), PLACED]),
}


class TicketMachine(Driver):
    """Issue 20: transfers (with ping-pong), escalations, follow-ups and ratings in any order."""

    workflow = TicketWorkflow

    def __init__(self) -> None:
        super().__init__()
        self.model, _ = open_ticket(
            id="T-1",
            category="order_problem",
            customer_id="C-1",
            actor=Actor.system(),
            now=PLACED,
            group="pre_sales",
        )

    @rule(actor=ACTORS, hours=st.sampled_from([0, 1, 30]), data=st.data())
    def send(self, actor: Actor, hours: int, data: st.DataObject) -> None:
        event = data.draw(pick_event(TicketWorkflow, self.model.state, ["teleport"]))
        self.step(event, actor, data.draw(payload(TicketWorkflow, event, TICKET_OPTIONS)), hours)

    @rule(
        event=st.sampled_from(["solve", "follow_up", "rate", "transfer", "escalate"]),
        team=st.sampled_from(["after_sales", "logistics", "pre_sales"]),
        level=st.integers(1, 4),
    )
    def valid_command(self, event: str, team: str, level: int) -> None:
        """Valid arguments for the desk's events, so walks reach them often (by staff)."""
        valid: dict[str, dict[str, Any]] = {
            "solve": {"follow_up_in": timedelta(days=1)},
            "follow_up": {"note": "客户表示满意"},
            "rate": {"score": 5},
            "transfer": {"to_group": team, "reason": "its team"},
            "escalate": {"level": level, "to": "supervisor", "reason": "breached"},
        }
        self.step(event, Actor(kind="staff", id="agent-1"), valid[event], 1)

    @invariant()
    def transfers_and_escalations_add_up(self) -> None:
        ticket = self.model
        assert 0 <= ticket.escalation_level <= 4
        if ticket.transfers:
            assert ticket.group == ticket.transfers[-1].to_group
        for earlier, later in pairwise(ticket.transfers):
            assert later.from_group == earlier.to_group
        if ticket.followed_up_at is not None:
            assert ticket.follow_up_at is not None


REVIEW_POLICY = review_recovery_policy("seeds")
REVIEW_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "policy": st.just(REVIEW_POLICY),
    "channel": st.sampled_from(["phone", "phone", "sms", "email", "pigeon"]),
    "reached": st.booleans(),
    "note": st.sampled_from(["客户表示理解", "", None]),
    "root_cause": st.sampled_from(["damaged", "late_delivery", "aliens"]),
}


class ReviewMachine(Driver):
    """Issue 20 item 4: contact attempts never break the policy's limits, whatever the order."""

    workflow = ReviewCaseWorkflow

    def __init__(self) -> None:
        super().__init__()
        self.model, _ = open_review_case(id="RV-1", review_id="R-1", order_id="SO-1",
                                         customer_id="C-1", rating=1, posted_at=PLACED,
                                         actor=Actor.system(), now=PLACED)  # fmt: skip

    @rule(actor=ACTORS, minutes=st.sampled_from([0, 30, 150, 60 * 11, 60 * 24 * 3]),
          data=st.data())  # fmt: skip
    def send(self, actor: Actor, minutes: int, data: st.DataObject) -> None:
        event = data.draw(pick_event(ReviewCaseWorkflow, self.model.state, ["teleport"]))
        arguments = data.draw(payload(ReviewCaseWorkflow, event, REVIEW_OPTIONS))
        self.step(event, actor, arguments, 0)
        self.now += timedelta(minutes=minutes)

    @invariant()
    def no_harassment(self) -> None:
        attempts = self.model.attempts
        assert len(attempts) <= REVIEW_POLICY.max_attempts
        if attempts:
            assert attempts[0].channel == "phone"
        for earlier, later in pairwise(attempts):
            assert later.at - earlier.at >= timedelta(minutes=REVIEW_POLICY.min_gap_minutes)
        for attempt in attempts:
            assert not REVIEW_POLICY.quiet(attempt.at, self.model.zone)
        if self.model.state in {"resolved", "declined"}:
            assert self.model.reached


TestOrderWorkflow = OrderMachine.TestCase
TestOrderWorkflow.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
TestAfterSaleWorkflow = CaseMachine.TestCase
TestAfterSaleWorkflow.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
TestExchangeWorkflow = ExchangeMachine.TestCase
TestExchangeWorkflow.settings = settings(max_examples=50, stateful_step_count=20, deadline=None)
TestTicketWorkflow = TicketMachine.TestCase
TestTicketWorkflow.settings = settings(max_examples=50, stateful_step_count=25, deadline=None)
TestReviewCaseWorkflow = ReviewMachine.TestCase
TestReviewCaseWorkflow.settings = settings(max_examples=50, stateful_step_count=20, deadline=None)


def test_the_random_walks_reach_most_transitions() -> None:
    """Guard against a driver whose payloads are always refused: it would test nothing."""
    if not SUCCESSES:  # run alone (-k): walk first
        TestOrderWorkflow("runTest").runTest()
        TestAfterSaleWorkflow("runTest").runTest()
        TestTicketWorkflow("runTest").runTest()
        TestReviewCaseWorkflow("runTest").runTest()
        TestExchangeWorkflow("runTest").runTest()
    order = {(s, e) for w, s, e in SUCCESSES if w == "order"}
    case = {(s, e) for w, s, e in SUCCESSES if w == "aftersale"}
    ticket = {(s, e) for w, s, e in SUCCESSES if w == "ticket"}
    review = {(s, e) for w, s, e in SUCCESSES if w == "review_case"}
    assert len(order) >= 5, sorted(order)
    assert len(case) >= 6, sorted(case)
    assert len(ticket) >= 15, sorted(ticket)
    assert {e for _, e in ticket} >= {"transfer", "escalate", "follow_up", "rate"}, sorted(ticket)
    assert len(review) >= 5, sorted(review)
    exchange_events = {e for w, _, e in SUCCESSES if w == "aftersale"}
    assert {"pay_difference", "ship_replacement"} <= exchange_events, sorted(exchange_events)
