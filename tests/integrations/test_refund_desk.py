import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from csdesk import (
    Actor,
    Customer,
    IdempotencyConflictError,
    InvalidTransitionError,
    LineDraft,
    Money,
    Order,
    OverRefundError,
    Payment,
    QuantityError,
    TransitionRejectedError,
)
from csdesk.errors import InvalidInputError
from csdesk.integrations import RefundDesk, SqliteStore
from csdesk.policies.refunds import refund_policy
from csdesk.workflows import CancelOrder, OrderWorkflow, fire

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CN = refund_policy("cn_default")
STAFF = Actor(kind="staff", id="agent-1")
BOSS = Actor(kind="staff", id="supervisor-1")
PSP = Actor(kind="platform", id="alipay")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def store_with_order(path: str | Path, *, split: bool = False) -> SqliteStore:
    store = SqliteStore(path)
    order = Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=AT,
        lines=[LineDraft(sku="TC", name="thermos", quantity=5, unit_price=cny("349.99"))],
        order_discount=cny("524.98"),
    )
    tenders = [Payment(id="P-1", method="alipay", captured=order.total, captured_at=AT)]
    if split:
        tenders = [
            Payment(id="P-1", method="store_credit", captured=cny("224.97"), captured_at=AT),
            Payment(id="P-2", method="alipay", captured=cny("1000.00"), captured_at=AT),
        ]
    fire(OrderWorkflow, order, "pay", actor=Actor(kind="customer"), now=AT, payments=tenders)
    store.insert(order)
    return store


def pay_out(desk: RefundDesk, refund_id: str) -> None:
    desk.fire(refund_id, "submit", actor=STAFF, now=AT)
    desk.fire(refund_id, "succeed", actor=PSP, now=AT, reference="psp-1")


def test_three_partial_refunds_then_nothing_left(tmp_path: Path) -> None:
    desk = RefundDesk(store_with_order(tmp_path / "d.db"))
    totals = []
    for index, units in enumerate((2, 1, 2)):
        quote, refunds = desk.request(
            "SO-1",
            idempotency_key=f"k{index}",
            lines={"1": units},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )
        totals.append(quote.total)
        for refund in refunds:
            pay_out(desk, refund.id)
    assert totals == [cny("489.99"), cny("244.99"), cny("489.99")]
    ledger = desk.ledger("P-1")
    assert (ledger.refunded, ledger.refundable) == (cny("1224.97"), cny("0.00"))
    with pytest.raises(OverRefundError, match=r"0\.00 CNY is refundable"):
        desk.request(
            "SO-1",
            idempotency_key="k9",
            lines={},
            reason="goodwill",
            goodwill=cny("0.01"),
            policy=CN,
            actor=STAFF,
            now=AT,
        )
    with pytest.raises(QuantityError):
        desk.request(
            "SO-1",
            idempotency_key="k10",
            lines={"1": 1},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )


def test_idempotency_contract(tmp_path: Path) -> None:
    desk = RefundDesk(store_with_order(tmp_path / "d.db"))
    first = desk.request(
        "SO-1",
        idempotency_key="dbl-click",
        lines={"1": 1},
        reason="no_reason",
        policy=CN,
        actor=STAFF,
        now=AT,
    )
    again = desk.request(
        "SO-1",
        idempotency_key="dbl-click",
        lines={"1": 1},
        reason="no_reason",
        policy=CN,
        actor=STAFF,
        now=AT,
    )
    assert again[0] == first[0]
    assert [r.id for r in again[1]] == [r.id for r in first[1]]
    assert len(desk.refunds("SO-1")) == 1
    assert desk.ledger("P-1").pending == cny("244.99")
    with pytest.raises(IdempotencyConflictError) as caught:
        desk.request(
            "SO-1",
            idempotency_key="dbl-click",
            lines={"1": 2},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )
    assert caught.value.existing == ("dbl-click:P-1",)


def test_split_tender_refunds_one_per_tender(tmp_path: Path) -> None:
    desk = RefundDesk(store_with_order(tmp_path / "d.db", split=True))
    quote, refunds = desk.request(
        "SO-1",
        idempotency_key="r1",
        lines={"1": 5},
        reason="no_reason",
        policy=CN,
        actor=STAFF,
        now=AT,
    )
    assert [(r.payment_id, r.amount) for r in refunds] == [
        ("P-1", cny("224.97")),
        ("P-2", cny("1000.00")),
    ]
    assert quote.coupon_restored == cny("524.98")


def test_authority_approval_failure_retry_and_reversal(tmp_path: Path) -> None:
    desk = RefundDesk(store_with_order(tmp_path / "d.db"))
    _, (refund,) = desk.request(
        "SO-1",
        idempotency_key="big",
        lines={"1": 5},
        reason="faulty",
        policy=CN,
        actor=STAFF,
        now=AT,
    )
    desk.fire(refund.id, "submit", actor=STAFF, now=AT, authority=cny("500"))
    assert desk.store.load(type(refund), refund.id).state == "pending_approval"
    with pytest.raises(TransitionRejectedError, match="own refund"):
        desk.fire(refund.id, "approve", actor=STAFF, now=AT)
    desk.fire(refund.id, "approve", actor=BOSS, now=AT, authority=cny("5000"))
    desk.fire(refund.id, "fail", actor=PSP, now=AT, failure_reason="card expired")
    assert desk.ledger("P-1").pending.is_zero  # the reservation is released
    desk.fire(refund.id, "retry", actor=STAFF, now=AT)
    assert desk.ledger("P-1").pending == cny("1224.97")
    desk.fire(refund.id, "succeed", actor=PSP, now=AT, reference="psp-2")
    with pytest.raises(TransitionRejectedError, match="payment provider"):
        desk.fire(refund.id, "reverse", actor=STAFF, now=AT)
    desk.fire(refund.id, "reverse", actor=PSP, now=AT, reference="rev-1")
    assert desk.ledger("P-1").refundable == cny("1224.97")
    stored = desk.store.load(type(refund), refund.id)
    assert (stored.state, stored.attempts, stored.approved_by) == ("reversed", 2, "supervisor-1")


def test_cancel_releases_and_unknown_transitions(tmp_path: Path) -> None:
    desk = RefundDesk(store_with_order(tmp_path / "d.db"))
    _, (refund,) = desk.request(
        "SO-1",
        idempotency_key="c",
        lines={"1": 1},
        reason="no_reason",
        policy=CN,
        actor=STAFF,
        now=AT,
    )
    with pytest.raises(InvalidTransitionError):
        desk.fire(refund.id, "succeed", actor=PSP, now=AT)
    desk.fire(refund.id, "cancel", actor=STAFF, now=AT, reason="customer kept it")
    assert desk.ledger("P-1").refundable == cny("1224.97")
    _, again = desk.request(
        "SO-1",
        idempotency_key="c2",
        lines={"1": 5},
        reason="no_reason",
        policy=CN,
        actor=STAFF,
        now=AT,
    )
    assert again[0].amount == cny("1224.97")  # the canceled request freed its units


def test_an_unpaid_order_is_not_refunded(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.db")
    order = Order.place(
        id="SO-2",
        customer=Customer(id="C"),
        placed_at=AT,
        lines=[LineDraft(sku="A", name="a", quantity=1, unit_price=cny("5"))],
    )
    store.insert(order)
    with pytest.raises(OverRefundError):
        RefundDesk(store).request(
            "SO-2",
            idempotency_key="x",
            lines={"1": 1},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )


def _request(path: str, key: str, units: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    desk = RefundDesk(SqliteStore(path, timeout=30))
    barrier.wait(timeout=30)
    # units > 0: a return of that many units; units < 0: a goodwill refund of -units yuan
    if units > 0:
        lines, reason, goodwill = {"1": units}, "no_reason", None
    else:
        lines, reason, goodwill = {}, "goodwill", cny(str(-units))
    try:
        _, refunds = desk.request(
            "SO-1",
            idempotency_key=key,
            lines=lines,
            reason=reason,
            goodwill=goodwill,
            policy=CN,
            actor=STAFF,
            now=AT,
        )
        results.put(("ok", tuple(r.id for r in refunds)))
    except OverRefundError:
        results.put(("over", ()))
    except QuantityError as error:
        results.put(("quantity", (str(error),)))
    finally:
        desk.store.close()


def race(path: Path, *calls: tuple[str, int]) -> list[tuple[str, tuple[str, ...]]]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(calls)), context.Queue()
    workers = [
        context.Process(target=_request, args=(str(path), key, units, barrier, results))
        for key, units in calls
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return sorted(results.get(timeout=5) for _ in workers)


def test_two_processes_same_key_make_one_refund(tmp_path: Path) -> None:
    store_with_order(tmp_path / "d.db").close()
    outcomes = race(tmp_path / "d.db", ("same-key", 2), ("same-key", 2))
    assert outcomes == [("ok", ("same-key:P-1",)), ("ok", ("same-key:P-1",))]
    with SqliteStore(tmp_path / "d.db") as store:
        desk = RefundDesk(store)
        assert len(desk.refunds("SO-1")) == 1
        assert desk.ledger("P-1").pending == cny("489.99")


def test_two_processes_racing_on_the_last_units(tmp_path: Path) -> None:
    with store_with_order(tmp_path / "d.db") as store:
        RefundDesk(store).request(
            "SO-1",
            idempotency_key="first",
            lines={"1": 4},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )
    outcomes = race(tmp_path / "d.db", ("a", 1), ("b", 1))
    assert [o[0] for o in outcomes] == ["ok", "quantity"], outcomes
    with SqliteStore(tmp_path / "d.db") as store:
        assert RefundDesk(store).ledger("P-1").refundable.is_zero


def test_two_processes_racing_on_the_last_refundable_money(tmp_path: Path) -> None:
    with store_with_order(tmp_path / "d.db") as store:
        RefundDesk(store).request(
            "SO-1",
            idempotency_key="first",
            lines={"1": 4},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )
    # 244.99 is left; two goodwill refunds of 200 with different keys race for it.
    outcomes = race(tmp_path / "d.db", ("a", -200), ("b", -200))
    assert [o[0] for o in outcomes] == ["ok", "over"], outcomes
    with SqliteStore(tmp_path / "d.db") as store:
        assert RefundDesk(store).ledger("P-1").refundable == cny("44.99")


def test_typed_commands_and_a_retry_gets_its_ledger(tmp_path: Path) -> None:
    from csdesk.workflows import FailRefund, RetryRefund, SubmitRefund, SucceedRefund

    desk = RefundDesk(store_with_order(tmp_path / "d.db"))
    _, refunds = desk.request(
        "SO-1", idempotency_key="k", lines={"1": 1}, reason="no_reason", policy=CN, actor=STAFF,
        now=AT,
    )  # fmt: skip
    refund = refunds[0].id
    desk.command(refund, SubmitRefund(), actor=STAFF, now=AT)
    desk.command(refund, FailRefund(failure_reason="bank timeout"), actor=PSP, now=AT)
    desk.command(refund, RetryRefund(), actor=STAFF, now=AT)  # the desk fills in the ledger
    desk.command(refund, SucceedRefund(reference="psp-9"), actor=PSP, now=AT)
    with pytest.raises(InvalidInputError, match="refund command"):
        desk.command(refund, CancelOrder(reason="x"), actor=STAFF, now=AT)  # type: ignore[arg-type]
