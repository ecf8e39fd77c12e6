from collections.abc import Callable
from typing import Any

import pytest

from csdesk import CorruptStateError, InvalidTransitionError, NaiveDatetimeError
from csdesk.workflows import (
    AfterSaleWorkflow,
    OrderWorkflow,
    RefundWorkflow,
    TicketWorkflow,
    Workflow,
    allowed_events,
    fire,
)
from csdesk.workflows._engine import _events
from tests.factories import (
    CUSTOMER,
    PLACED,
    new_case,
    new_order,
    new_refund,
    new_ticket,
    paid_order,
    payment,
)

WORKFLOWS: list[type[Workflow]] = [  # type: ignore[type-arg]
    OrderWorkflow,
    AfterSaleWorkflow,
    RefundWorkflow,
    TicketWorkflow,
]


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_every_machine_builds_so_callback_names_are_real(workflow: type[Workflow]) -> None:  # type: ignore[type-arg]
    # python-statemachine resolves callback names when a machine is built: a misspelled guard,
    # validator or action raises InvalidDefinition here.
    for state in workflow.states:
        factories: dict[type, Callable[[], Any]] = {
            OrderWorkflow: new_order,
            AfterSaleWorkflow: new_case,
            RefundWorkflow: new_refund,
            TicketWorkflow: new_ticket,
        }
        model = factories[workflow]()
        model.state = str(state.value)
        machine = workflow(model=model)
        assert [s.id for s in machine.configuration] == [state.id]


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_strict_flags(workflow: type[Workflow]) -> None:  # type: ignore[type-arg]
    assert workflow.allow_event_without_transition is False
    assert workflow.catch_errors_as_events is False
    assert workflow.atomic_configuration_update is True


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_no_event_shadows_an_engine_helper(workflow: type[Workflow]) -> None:  # type: ignore[type-arg]
    helpers = {"refuse", "emit", "detail", "after_transition", "send", "model"}
    assert not helpers & _events(workflow)


def test_success_moves_state_bumps_version_and_returns_events() -> None:
    order = new_order()
    events = fire(
        OrderWorkflow,
        order,
        "pay",
        actor=CUSTOMER,
        now=PLACED,
        payments=[payment(order)],
        idempotency_key="pay-1",
        causation_id="cmd-1",
    )
    assert (order.state, order.version) == ("processing", 1)
    assert [e.type for e in events] == ["order.paid"]
    event = events[0]
    assert event.aggregate.version == 1
    assert event.aggregate.kind == "order"
    assert event.idempotency_key == "pay-1"
    assert event.causation_id == "cmd-1"
    assert event.payload["from"] == "pending_payment"
    assert event.payload["to"] == "processing"


def test_no_transition_is_told_apart_from_a_failed_guard() -> None:
    order = paid_order()
    with pytest.raises(InvalidTransitionError) as no_transition:
        fire(OrderWorkflow, order, "deliver", actor=CUSTOMER, now=PLACED, signed_at=PLACED)
    assert no_transition.value.reason == "no_transition"
    assert "ship" in no_transition.value.allowed
    assert no_transition.value.state == "processing"
    assert no_transition.value.event == "deliver"
    assert no_transition.value.entity_id == "SO-1"


def test_unknown_event() -> None:
    order = new_order()
    with pytest.raises(InvalidTransitionError) as caught:
        fire(OrderWorkflow, order, "teleport", actor=CUSTOMER, now=PLACED)
    assert caught.value.reason == "unknown_event"
    assert set(caught.value.allowed) == {"pay", "expire", "cancel", "modify"}


def test_corrupt_state_names_the_value() -> None:
    from csdesk import InvalidInputError

    order = new_order()
    with pytest.raises(InvalidInputError):
        order.state = "teleported"  # type: ignore[assignment]
    assert order.state == "pending_payment"
    order.__dict__["state"] = "teleported"  # as a host's own store might hand it over
    with pytest.raises(CorruptStateError) as caught:
        fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, payments=[payment(order)])
    assert caught.value.value == "teleported"
    assert "teleported" in str(caught.value)
    assert "pending_payment" in caught.value.states
    assert order.version == 0


def test_naive_now_is_refused() -> None:
    order = new_order()
    with pytest.raises(NaiveDatetimeError):
        fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED.replace(tzinfo=None))


def test_failure_inside_an_action_leaves_the_model_unchanged() -> None:
    order = new_order()
    before = order.model_dump()
    from csdesk import LineDraft, Money

    # Re-placing with a discount larger than the new goods fails inside the action.
    tiny = [LineDraft(sku="X", name="x", quantity=1, unit_price=Money("1.00", "CNY"))]
    with pytest.raises(Exception, match="order_discount"):
        fire(
            OrderWorkflow, order, "modify", actor=CUSTOMER, now=PLACED, address="新地址", lines=tiny
        )
    assert order.model_dump() == before


def test_allowed_events_without_a_machine() -> None:
    assert allowed_events(OrderWorkflow, "pending_payment") == ("pay", "expire", "cancel", "modify")
    assert allowed_events(OrderWorkflow, "closed") == ()
    with pytest.raises(LookupError):
        allowed_events(OrderWorkflow, "nowhere")


def test_arguments_are_checked_before_anything_runs() -> None:
    from csdesk import InvalidInputError

    order = paid_order()
    before = order.model_dump()
    with pytest.raises(InvalidInputError) as misspelled:
        fire(
            OrderWorkflow,
            order,
            "cancel_lines",
            actor=CUSTOMER,
            now=PLACED,
            lines={"2": 1},
            reasn="typo",
        )
    assert "reasn" in [f.loc for f in misspelled.value.errors]
    with pytest.raises(InvalidInputError) as mistyped:
        fire(
            OrderWorkflow,
            order,
            "cancel_lines",
            actor=CUSTOMER,
            now=PLACED,
            lines=[("2", 1)],
            reason="oos",
        )
    assert mistyped.value.errors[0].loc.startswith("lines")
    with pytest.raises(InvalidInputError):
        fire(
            OrderWorkflow,
            order,
            "cancel_lines",
            actor=CUSTOMER,
            now=PLACED,
            lines={"2": True},
            reason="oos",
        )
    assert order.model_dump() == before


# -- the machine pool ------------------------------------------------------------------------------


def test_a_machine_serves_the_next_entity_of_its_class() -> None:
    import threading

    from csdesk.workflows._engine import _machines
    from tests.factories import CUSTOMER, PLACED, new_order, payment

    _machines.clear()
    first, second = new_order("SO-P1"), new_order("SO-P2")
    fire(OrderWorkflow, first, "pay", actor=CUSTOMER, now=PLACED, payments=[payment(first)])
    machine = _machines._idle()[OrderWorkflow]
    fire(OrderWorkflow, second, "pay", actor=CUSTOMER, now=PLACED, payments=[payment(second)])
    assert _machines._idle()[OrderWorkflow] is machine  # reused, not rebuilt
    assert machine.model is second
    assert (first.state, first.version, second.state, second.version) == (
        "processing", 1, "processing", 1,
    )  # fmt: skip
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(_machines._idle().get(OrderWorkflow)))
    thread.start()
    thread.join()
    assert seen == [None]  # another thread has its own machines


def test_a_failed_command_or_a_final_state_never_returns_its_machine() -> None:
    from csdesk import Money, Payment
    from csdesk.errors import TransitionRejectedError
    from csdesk.workflows._engine import _machines
    from tests.factories import CUSTOMER, PLACED, new_order

    _machines.clear()
    order = new_order("SO-P3")
    short = Payment(id="P-1", method="alipay", captured=Money("1.00", "CNY"), captured_at=PLACED)
    with pytest.raises(TransitionRejectedError):
        fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, payments=[short])
    assert OrderWorkflow not in _machines._idle()
    assert order.state == "pending_payment"
    assert order.version == 0
