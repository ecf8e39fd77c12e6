"""Hypothesis drives random event sequences through each workflow.

Every (state, event) pair either succeeds, moving the state along a declared transition and adding
exactly one to the version, or raises a csdesk error and leaves the model exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from csdesk import Actor, CsdeskError, LineDraft, Payment, Shipment
from csdesk.policies import timer_preset
from csdesk.workflows import AfterSaleWorkflow, OrderWorkflow, allowed_events, fire
from tests.factories import PLACED, cny, new_case, new_order

ACTORS = st.sampled_from(
    [Actor(kind="customer", id="C-1"), Actor(kind="staff", id="a"), Actor.system()]
)
TIMERS = st.sampled_from([timer_preset("cn_platform"), timer_preset("eu_crd"), None])
REASONS = st.sampled_from([None, "", "out of stock", "changed my mind"])


def order_payload(order: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "payments": st.lists(
                st.builds(
                    Payment,
                    id=st.just("P"),
                    method=st.just("alipay"),
                    captured=st.sampled_from([order.total, cny("1.00")]),
                    captured_at=st.just(PLACED),
                ),
                max_size=2,
            ),
            "reason": REASONS,
            "timers": TIMERS,
            "lines": st.one_of(
                st.dictionaries(
                    st.sampled_from(["1", "2", "3", "9"]),
                    st.integers(min_value=-1, max_value=6),
                    max_size=3,
                ),
                st.just([LineDraft(sku="A", name="a", quantity=1, unit_price=cny("500"))]),
            ),
            "address": st.sampled_from(["上海市浦东新区", ""]),
            "shipment": st.just(Shipment(id="S", carrier="SF", tracking_number="SF1")),
            "signed_at": st.sampled_from([PLACED, PLACED + timedelta(days=400)]),
            "refund_id": st.sampled_from(["SO-1-R1", "SO-1-R2", "nope"]),
            "open_cases": st.sampled_from([None, 0, 1]),
        },
    )


class Driver(RuleBasedStateMachine):
    workflow: Any
    model: Any

    def __init__(self) -> None:
        super().__init__()
        self.now = PLACED
        self.successes = 0

    def step(self, event: str, actor: Actor, payload: dict[str, Any], hours: int) -> None:
        self.now = self.now + timedelta(hours=hours)
        before = self.model.model_dump()
        state, version = self.model.state, self.model.version
        try:
            events = fire(self.workflow, self.model, event, actor=actor, now=self.now, **payload)
        except CsdeskError:
            assert self.model.model_dump() == before
            return
        self.successes += 1
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

    @rule(
        event=st.sampled_from(
            sorted(
                {e for s in OrderWorkflow.states for e in allowed_events(OrderWorkflow, s.value)}
                | {"teleport"}
            )
        ),
        actor=ACTORS,
        data=st.data(),
        hours=st.integers(min_value=0, max_value=24 * 20),
    )
    def send(self, event: str, actor: Actor, data: st.DataObject, hours: int) -> None:
        self.step(event, actor, data.draw(order_payload(self.model)), hours)

    @invariant()
    def money_is_consistent(self) -> None:
        owed = sum((r.amount for r in self.model.refunds_due), cny("0"))
        assert owed <= self.model.captured or not self.model.payments


class CaseMachine(Driver):
    workflow = AfterSaleWorkflow

    def __init__(self) -> None:
        super().__init__()
        self.model = new_case()
        self.now = self.model.requested_at

    @rule(
        event=st.sampled_from(
            sorted(
                {
                    e
                    for s in AfterSaleWorkflow.states
                    for e in allowed_events(AfterSaleWorkflow, s.value)
                }
            )
        ),
        actor=ACTORS,
        hours=st.integers(min_value=0, max_value=24 * 12),
        payload=st.fixed_dictionaries(
            {},
            optional={
                "reason": REASONS,
                "finding": st.sampled_from([None, "labels removed"]),
                "tracking_number": st.sampled_from([None, "", "YT1"]),
                "received": st.dictionaries(
                    st.sampled_from(["1", "2"]), st.integers(min_value=-1, max_value=3), max_size=2
                ),
                "condition": st.sampled_from([None, "resellable", "shiny", {"1": "damaged"}]),
                "timers": TIMERS,
            },
        ),
    )
    def send(self, event: str, actor: Actor, hours: int, payload: dict[str, Any]) -> None:
        self.step(event, actor, payload, hours)

    @invariant()
    def never_more_received_than_requested(self) -> None:
        for line in self.model.lines:
            assert 0 <= line.received <= line.requested


TestOrderWorkflow = OrderMachine.TestCase
TestOrderWorkflow.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
TestAfterSaleWorkflow = CaseMachine.TestCase
TestAfterSaleWorkflow.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
