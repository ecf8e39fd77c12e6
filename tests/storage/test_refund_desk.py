import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from csdesk import (
    Actor,
    AfterSaleCase,
    CaseLine,
    CaseState,
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
from csdesk.errors import InvalidInputError, NotFoundError
from csdesk.policies.refunds import refund_policy
from csdesk.refund_desk import RefundDesk
from csdesk.storage import SqlStore
from csdesk.workflows import CancelOrder, OrderWorkflow, fire
from tests.storage.conftest import processes

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CN = refund_policy("cn_default")
STAFF = Actor(kind="staff", id="agent-1")
BOSS = Actor(kind="staff", id="supervisor-1")
PSP = Actor(kind="platform", id="alipay")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


_OPEN: list[SqlStore] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def opened(store: SqlStore) -> SqlStore:
    """Close ``store`` when the test ends."""
    _OPEN.append(store)
    return store


def store_with_order(url: str, *, split: bool = False) -> SqlStore:
    store = opened(SqlStore(url, upgrade=True))
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


def test_three_partial_refunds_then_nothing_left(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url))
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
    ledger = desk.ledger("SO-1", "P-1")
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


def test_idempotency_contract(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url))
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
    assert desk.ledger("SO-1", "P-1").pending == cny("244.99")
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


def test_split_tender_refunds_one_per_tender(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url, split=True))
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


def test_authority_approval_failure_retry_and_reversal(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url))
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
    assert desk.ledger("SO-1", "P-1").pending.is_zero  # the reservation is released
    desk.fire(refund.id, "retry", actor=STAFF, now=AT)
    assert desk.ledger("SO-1", "P-1").pending == cny("1224.97")
    desk.fire(refund.id, "succeed", actor=PSP, now=AT, reference="psp-2")
    with pytest.raises(TransitionRejectedError, match="payment provider"):
        desk.fire(refund.id, "reverse", actor=STAFF, now=AT)
    desk.fire(refund.id, "reverse", actor=PSP, now=AT, reference="rev-1")
    assert desk.ledger("SO-1", "P-1").refundable == cny("1224.97")
    stored = desk.store.load(type(refund), refund.id)
    assert (stored.state, stored.attempts, stored.approved_by) == ("reversed", 2, "supervisor-1")


def test_cancel_releases_and_unknown_transitions(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url))
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
    assert desk.ledger("SO-1", "P-1").refundable == cny("1224.97")
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


def test_an_unpaid_order_is_not_refunded(db_url: str) -> None:
    store = opened(SqlStore(db_url, upgrade=True))
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
    desk = RefundDesk(SqlStore(path))
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


def race(path: str, *calls: tuple[str, int]) -> list[tuple[str, tuple[str, ...]]]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(calls)), context.Queue()
    workers = [
        context.Process(target=_request, args=(path, key, units, barrier, results))
        for key, units in calls
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


def test_processes_with_the_same_key_make_one_refund(db_url: str) -> None:
    store_with_order(db_url).close()
    count = processes(db_url)
    outcomes = race(db_url, *[("same-key", 2)] * count)
    assert outcomes == [("ok", ("same-key:P-1",))] * count
    with SqlStore(db_url) as store:
        desk = RefundDesk(store)
        assert len(desk.refunds("SO-1")) == 1
        assert desk.ledger("SO-1", "P-1").pending == cny("489.99")


def test_processes_racing_on_the_last_units(db_url: str) -> None:
    with store_with_order(db_url) as store:
        RefundDesk(store).request(
            "SO-1",
            idempotency_key="first",
            lines={"1": 4},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )
    count = processes(db_url)
    outcomes = race(db_url, *[(f"k{n}", 1) for n in range(count)])
    assert [o[0] for o in outcomes] == ["ok"] + ["quantity"] * (count - 1), outcomes
    with SqlStore(db_url) as store:
        assert RefundDesk(store).ledger("SO-1", "P-1").refundable.is_zero


def test_processes_racing_on_the_last_refundable_money(db_url: str) -> None:
    with store_with_order(db_url) as store:
        RefundDesk(store).request(
            "SO-1",
            idempotency_key="first",
            lines={"1": 4},
            reason="no_reason",
            policy=CN,
            actor=STAFF,
            now=AT,
        )
    # 244.99 is left; goodwill refunds of 200 with different keys race for it.
    count = processes(db_url)
    outcomes = race(db_url, *[(f"k{n}", -200) for n in range(count)])
    assert [o[0] for o in outcomes] == ["ok"] + ["over"] * (count - 1), outcomes
    with SqlStore(db_url) as store:
        assert RefundDesk(store).ledger("SO-1", "P-1").refundable == cny("44.99")


def test_typed_commands_and_a_retry_gets_its_ledger(db_url: str) -> None:
    from csdesk.workflows import FailRefund, RetryRefund, SubmitRefund, SucceedRefund

    desk = RefundDesk(store_with_order(db_url))
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


# -- regressions from issue 15 (each failed on the SQLite-only desk) ----------------------------


def _resolving_case(order_id: str, case_id: str, units: int) -> AfterSaleCase:
    return AfterSaleCase(
        id=case_id,
        order_id=order_id,
        type="return_and_refund",
        reason="no_reason",
        statutory_basis="cn_7day",
        lines=(CaseLine(line_id="1", requested=units, received=units),),
        requested_at=AT,
        state=CaseState.RESOLVING,
        version=4,
    )


def test_two_orders_whose_payments_share_an_id_never_share_money(db_url: str) -> None:
    store = store_with_order(db_url)  # SO-1 captured 1224.97 as P-1
    small = Order.place(
        id="SO-9",
        customer=Customer(id="C-9"),
        placed_at=AT,
        lines=[LineDraft(sku="S", name="s", quantity=1, unit_price=cny("10.00"))],
    )
    tender = Payment(id="P-1", method="alipay", captured=small.total, captured_at=AT)
    fire(OrderWorkflow, small, "pay", actor=Actor(kind="customer"), now=AT, payments=[tender])
    store.insert(small)
    desk = RefundDesk(store)
    desk.request("SO-1", idempotency_key="big", lines={}, reason="goodwill",
                 goodwill=cny("500.00"), policy=CN, actor=STAFF, now=AT)  # fmt: skip
    with pytest.raises(OverRefundError, match=r"10\.00 CNY is refundable"):
        desk.request("SO-9", idempotency_key="steal", lines={}, reason="goodwill",
                     goodwill=cny("500.00"), policy=CN, actor=STAFF, now=AT)  # fmt: skip
    with pytest.raises(NotFoundError):  # the refused request left nothing, not even a ledger
        desk.ledger("SO-9", "P-1")
    assert desk.ledger("SO-1", "P-1").pending == cny("500.00")


def test_a_case_is_refunded_once_whatever_the_key(db_url: str) -> None:
    store = store_with_order(db_url)
    store.insert(_resolving_case("SO-1", "AS-1", 2))
    desk = RefundDesk(store)
    _, first = desk.request("SO-1", idempotency_key="agent-a", lines={"1": 2}, reason="no_reason",
                            case_id="AS-1", policy=CN, actor=STAFF, now=AT)  # fmt: skip
    with pytest.raises(TransitionRejectedError, match="agent-a") as caught:
        desk.request("SO-1", idempotency_key="agent-b", lines={"1": 1}, reason="no_reason",
                     case_id="AS-1", policy=CN, actor=STAFF, now=AT)  # fmt: skip
    assert first[0].id in str(caught.value)
    assert len(desk.refunds("SO-1")) == 1


def test_a_refund_fits_its_case(db_url: str) -> None:
    store = store_with_order(db_url)
    store.insert(_resolving_case("SO-7", "AS-7", 1))  # another order's case
    store.insert(_resolving_case("SO-1", "AS-1", 1))
    desk = RefundDesk(store)
    with pytest.raises(InvalidInputError, match="is for order SO-7"):
        desk.request("SO-1", idempotency_key="x", lines={"1": 1}, reason="no_reason",
                     case_id="AS-7", policy=CN, actor=STAFF, now=AT)  # fmt: skip
    with pytest.raises(QuantityError, match="covers 1 unit"):
        desk.request("SO-1", idempotency_key="y", lines={"1": 3}, reason="no_reason",
                     case_id="AS-1", policy=CN, actor=STAFF, now=AT)  # fmt: skip
    assert desk.refunds("SO-1") == []


def test_shipping_a_cancellation_owed_is_not_refunded_again(db_url: str) -> None:
    # Issue 15: cancel_lines owed line B's share with its shipping; a later full refund of line
    # A repaid all the shipping again (215.00 refunded on 210.00 paid).
    order = Order.place(
        id="SO-5",
        customer=Customer(id="C-5"),
        placed_at=AT,
        lines=[
            LineDraft(sku="A", name="a", quantity=1, unit_price=cny("100.00")),
            LineDraft(sku="B", name="b", quantity=1, unit_price=cny("100.00")),
        ],
        shipping_fee=cny("10.00"),
    )
    paid = Payment(id="P-5", method="alipay", captured=order.total, captured_at=AT)
    fire(OrderWorkflow, order, "pay", actor=Actor(kind="customer"), now=AT, payments=[paid])
    fire(OrderWorkflow, order, "cancel_lines", actor=STAFF, now=AT, lines={"2": 1}, reason="oos")
    owed = order.refunds_due[0].amount
    store = opened(SqlStore(db_url, upgrade=True))
    store.insert(order)
    desk = RefundDesk(store)
    quote, _ = desk.request("SO-5", idempotency_key="rest", lines={"1": 1}, reason="faulty",
                            policy=CN, actor=STAFF, now=AT)  # fmt: skip
    assert owed + quote.total == order.total == cny("210.00")
    assert quote.shipping == cny("5.00")
    with pytest.raises(OverRefundError):  # what the cancellation owes is not refundable twice
        desk.request("SO-5", idempotency_key="more", lines={}, reason="goodwill",
                     goodwill=cny("0.01"), policy=CN, actor=STAFF, now=AT)  # fmt: skip
