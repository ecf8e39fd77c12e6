"""Typed workflow commands: one class per event, arguments declared once, checked by mypy too.

The lines marked ``# type: ignore[...]`` are the proof that mypy sees a misspelt or mistyped
argument: mypy --strict runs over the tests with ``warn_unused_ignores``, so if mypy stopped
flagging one of them the suite would fail.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from statemachine.engines.sync import SyncEngine

from csdesk import (
    CaseState,
    InvalidInputError,
    NaiveDatetimeError,
    OrderState,
    RefundState,
    Shipment,
    TicketState,
)
from csdesk.models import AfterSaleCase, Order, Refund, ReviewCase, ReviewCaseState, Ticket
from csdesk.policies import timer_preset
from csdesk.workflows import (
    AfterSaleWorkflow,
    ApproveCase,
    CancelOrder,
    ChangeTicket,
    Command,
    DeliverOrder,
    MarkReturnShipped,
    OrderWorkflow,
    PayOrder,
    RefundWorkflow,
    ReviewCaseWorkflow,
    TicketWorkflow,
    Workflow,
    command_types,
    due_commands,
    fire,
    run,
)
from csdesk.workflows._engine import _FlatEngine, _is_flat, _Record
from tests.factories import (
    CUSTOMER,
    PLACED,
    SIGNED,
    STAFF,
    SYSTEM,
    new_case,
    new_order,
    new_ticket,
    paid_order,
    payment,
)

WORKFLOWS: dict[type[Workflow[Any]], tuple[type[Any], type[Any]]] = {
    OrderWorkflow: (Order, OrderState),
    AfterSaleWorkflow: (AfterSaleCase, CaseState),
    RefundWorkflow: (Refund, RefundState),
    TicketWorkflow: (Ticket, TicketState),
    ReviewCaseWorkflow: (ReviewCase, ReviewCaseState),
}


@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_every_event_has_one_command_bound_to_its_workflow(workflow: type[Workflow[Any]]) -> None:
    table = command_types(workflow)
    assert set(table) == {
        event.id for state in workflow.states for t in state.transitions for event in t.events
    }
    for event, command in table.items():
        assert command.event == event
        assert command.workflow is workflow
        assert command.__doc__, f"{command.__name__} needs a docstring"


def test_command_names_mean_one_thing() -> None:
    names = [c.__name__ for w in WORKFLOWS for c in command_types(w).values()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_states_are_the_models_enum(workflow: type[Workflow[Any]]) -> None:
    model, enum = WORKFLOWS[workflow]
    members: set[Any] = set(enum.__members__.values())
    assert {state.value for state in workflow.states} == members
    assert all(type(state.value) is enum for state in workflow.states)
    assert model.model_fields["state"].annotation is enum
    assert _is_flat(workflow)


def test_a_misspelt_argument_is_caught_by_mypy_and_at_run_time() -> None:
    order = new_order()
    with pytest.raises(InvalidInputError, match="paymnets"):
        PayOrder(paymnets=[payment(order)])  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="reason"):
        CancelOrder(reason=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="reason"):
        CancelOrder()  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="CancelOrder is a order command"):
        run(new_ticket(), CancelOrder(reason="x"), actor=STAFF, now=PLACED)  # type: ignore[misc]
    assert order.version == 0


def test_fire_validates_against_the_same_declarations() -> None:
    order = new_order()
    with pytest.raises(InvalidInputError) as caught:
        fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, paymnets=[payment(order)])
    assert {"paymnets", "payments"} <= {f.loc for f in caught.value.errors}
    assert order.version == 0


def test_run_and_fire_record_the_same_events() -> None:
    typed, named = new_order(), new_order()
    by_run = run(typed, PayOrder(payments=[payment(typed)]), actor=CUSTOMER, now=PLACED)
    by_fire = fire(
        OrderWorkflow, named, "pay", actor=CUSTOMER, now=PLACED, payments=[payment(named)]
    )
    assert [e.payload for e in by_run] == [e.payload for e in by_fire]
    assert typed.model_dump() == named.model_dump()


def test_commands_are_frozen_and_take_lists_as_tuples() -> None:
    order = new_order()
    command = PayOrder(payments=[payment(order)])
    assert isinstance(command.payments, tuple)
    with pytest.raises(InvalidInputError):
        command.payments = ()  # type: ignore[misc]
    assert ChangeTicket(tags=["vip", "refund"]).tags == ("vip", "refund")


def test_naive_datetimes_and_blank_strings_are_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        DeliverOrder(signed_at=datetime(2026, 3, 1, 15, 0))
    with pytest.raises(InvalidInputError, match="tracking_number"):
        MarkReturnShipped(tracking_number="   ")


def test_a_command_outside_any_workflow_is_refused() -> None:
    class Stray(Command[Order]):
        """Not listed in a workflow."""

        event = "pay"

    with pytest.raises(InvalidInputError, match="not listed"):
        run(new_order(), Stray(), actor=STAFF, now=PLACED)


def test_states_are_enum_members_that_compare_as_strings() -> None:
    order = paid_order()
    state: str = order.state
    assert state == "processing"
    assert order.state is OrderState.PROCESSING
    assert order.model_dump(mode="json")["state"] == "processing"
    assert Order.model_validate_json(order.model_dump_json()).state is OrderState.PROCESSING


def test_due_commands_are_ready_to_run() -> None:
    cn = timer_preset("cn_platform")
    unpaid = new_order()
    commands = due_commands(unpaid, PLACED + timedelta(hours=24), cn)
    assert [c.event for c in commands] == ["expire"]
    for command in commands:
        run(unpaid, command, actor=SYSTEM, now=PLACED + timedelta(hours=24))
    assert unpaid.state == OrderState.CANCELED

    case = new_case()
    late = case.requested_at + timedelta(days=5)
    for command in due_commands(case, late, cn):
        run(case, command, actor=SYSTEM, now=late)
    assert case.state == CaseState.AWAITING_RETURN
    commands = due_commands(case, late + timedelta(days=30), cn)
    assert [type(c).__name__ for c in commands] == ["ShipBackTimeout"]


def test_the_flat_engine_moves_exactly_as_the_stock_engine() -> None:
    class StockOrders(OrderWorkflow):
        def _get_engine(self) -> SyncEngine:
            return SyncEngine(self)

    def walk(workflow: type[OrderWorkflow]) -> list[Any]:
        order = new_order()
        parcel = Shipment(id="S-1", carrier="SF", tracking_number="SF1")
        steps: list[tuple[str, dict[str, Any], datetime]] = [
            ("modify", {"address": "上海市"}, PLACED),
            ("pay", {"payments": [payment(order)]}, PLACED),
            ("cancel_lines", {"lines": {"2": 1}, "reason": "oos"}, PLACED),
            ("deliver", {"signed_at": SIGNED}, SIGNED),  # no transition: refused
            ("settle_refund", {"refund_id": "SO-1-R1"}, PLACED),
            ("ship", {"shipment": parcel}, PLACED),
            ("complete", {}, PLACED),  # no transition from shipped
        ]
        seen: list[Any] = []
        for event, arguments, now in steps:
            machine = workflow(model=order)
            machine._record = _Record()
            command = command_types(OrderWorkflow)[event].model_validate(arguments)
            try:
                machine.send(event, command=command, actor=STAFF, now=now)
                seen.append((event, str(order.state), machine._record.details))
            except Exception as error:  # the same refusal on both engines
                seen.append((event, type(error).__name__))
        seen.append(order.model_dump(mode="json"))
        return seen

    assert isinstance(OrderWorkflow(model=new_order())._engine, _FlatEngine)
    assert walk(OrderWorkflow) == walk(StockOrders)


def test_approve_takes_no_arguments() -> None:
    case = new_case()
    run(case, ApproveCase(), actor=STAFF, now=SIGNED + timedelta(days=3))
    assert case.state == CaseState.AWAITING_RETURN
    assert case.version == 2


def test_a_command_shows_its_policy_by_id() -> None:
    command = due_commands(new_order(), PLACED + timedelta(hours=24), timer_preset("cn_platform"))[
        0
    ]
    assert repr(command) == "ExpireOrder(timers=TimerPreset(id='cn_platform', version='2026.1'))"
