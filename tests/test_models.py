import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from csdesk import (
    CurrencyMismatchError,
    Customer,
    CustomerTier,
    InvalidInputError,
    InvalidOrderError,
    LineDraft,
    Money,
    NaiveDatetimeError,
    Order,
    OrderState,
    PaidSplit,
    Payment,
    PrecisionError,
    QuantityError,
    Shipment,
)
from tests import strategies as cs

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLACED = datetime(2026, 11, 11, 20, 15, tzinfo=SHANGHAI)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def place(**overrides: Any) -> Order:
    arguments: dict[str, Any] = {
        "id": "SO-1",
        "customer": Customer(id="C-1"),
        "placed_at": PLACED,
        "lines": [
            LineDraft(
                sku="A",
                name="jacket",
                quantity=1,
                unit_price=cny("899.00"),
                line_discount=cny("100.00"),
            ),
            LineDraft(sku="B", name="thermos", quantity=5, unit_price=cny("349.99")),
            LineDraft(sku="C", name="socks", quantity=3, unit_price=cny("19.90")),
        ],
        "order_discount": cny("300.00"),
        "shipping_fee": cny("12.00"),
        "tax": cny("266.98"),
    }
    arguments.update(overrides)
    return Order.place(**arguments)


class TestMoneyAsPydanticField:
    class Holder(BaseModel):
        price: Money

    def test_validates_from_dict_and_from_money(self) -> None:
        assert self.Holder(price={"amount": "12.30", "currency": "CNY"}).price == cny("12.30")
        assert self.Holder(price=cny("1")).price == cny("1")

    def test_serialises_amount_as_string(self) -> None:
        holder = self.Holder(price=cny("12.30"))
        assert holder.model_dump() == {"price": {"amount": "12.30", "currency": "CNY"}}
        assert json.loads(holder.model_dump_json()) == {
            "price": {"amount": "12.30", "currency": "CNY"}
        }
        assert self.Holder.model_validate_json(holder.model_dump_json()) == holder

    def test_refuses_json_numbers(self) -> None:
        with pytest.raises(ValueError, match="float"):
            self.Holder.model_validate_json('{"price": {"amount": 12.3, "currency": "CNY"}}')

    def test_refuses_extra_keys(self) -> None:
        with pytest.raises(ValueError, match="exactly the keys"):
            self.Holder.model_validate({"price": {"amount": "1", "currency": "CNY", "x": 1}})

    def test_json_schema(self) -> None:
        schema = self.Holder.model_json_schema()["properties"]["price"]
        assert schema["required"] == ["amount", "currency"]
        assert schema["properties"]["amount"]["type"] == "string"
        assert schema["properties"]["currency"]["pattern"] == "^[A-Z]{3}$"


class TestCustomer:
    def test_contact_fields_are_masked_when_shown(self) -> None:
        customer = Customer(
            id="C-1",
            tier="diamond",
            name="张三丰",
            phone="13812345678",
            email="zhang@example.com",
            address="浙江省杭州市西湖区文三路90号",
        )
        shown = repr(customer) + str(customer)
        for raw in ("三丰", "13812345678", "zhang@", "文三路"):
            assert raw not in shown
        assert customer.masked == {
            "name": "张**",
            "phone": "138****5678",
            "email": "z****@example.com",
            "address": "浙江省杭州市*********",
        }
        assert customer.phone == "13812345678"  # raw when asked for explicitly
        assert customer.tier is CustomerTier.DIAMOND

    def test_unknown_zone_and_locale_are_refused(self) -> None:
        with pytest.raises(InvalidInputError, match="time_zone"):
            Customer(id="C-1", time_zone="Mars/Olympus")
        with pytest.raises(InvalidInputError, match="locale"):
            Customer(id="C-1", locale="xx-??")

    def test_extra_fields_are_refused(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            Customer(id="C-1", vip=True)  # type: ignore[call-arg]
        assert caught.value.errors[0].loc == "vip"

    def test_immutable(self) -> None:
        customer = Customer(id="C-1")
        with pytest.raises(InvalidInputError, match="frozen"):
            customer.tier = CustomerTier.GOLD  # type: ignore[misc]
        assert customer.tier is CustomerTier.REGULAR


class TestNaiveDatetimes:
    def test_model_field_is_named(self) -> None:
        with pytest.raises(NaiveDatetimeError) as caught:
            Payment(id="P-1", method="alipay", captured=cny("10"), captured_at=datetime(2026, 1, 1))
        assert caught.value.field == "captured_at"
        assert "captured_at" in str(caught.value)
        assert caught.value.code == "naive_datetime"

    def test_nested_field_path_is_named(self) -> None:
        order = place()
        data = order.model_dump()
        data["shipments"] = [
            {
                "id": "S1",
                "carrier": "SF",
                "tracking_number": "SF1",
                "promised_delivery": "2026-11-14T18:00:00",
            }
        ]
        with pytest.raises(NaiveDatetimeError) as caught:
            Order.model_validate(data)
        assert caught.value.field == "shipments.0.promised_delivery"

    def test_place_refuses_naive_placed_at(self) -> None:
        with pytest.raises(NaiveDatetimeError) as caught:
            place(placed_at=datetime(2026, 11, 11, 20, 15))
        assert caught.value.field == "placed_at"

    def test_delay_refuses_naive_now(self) -> None:
        parcel = Shipment(id="S", carrier="SF", tracking_number="1", promised_delivery=PLACED)
        with pytest.raises(NaiveDatetimeError):
            parcel.delay(now=datetime(2026, 11, 20))


class TestPlace:
    def test_split_conserves_every_total(self) -> None:
        order = place()
        assert [line.id for line in order.lines] == ["1", "2", "3"]
        assert sum(line.split.order_discount for line in order.lines) == cny("300.00")
        assert sum(line.split.shipping for line in order.lines) == cny("12.00")
        goods_tax = sum((line.split.tax for line in order.lines), cny("0"))
        assert order.shipping_tax + goods_tax == cny("266.98")
        assert order.total == cny("899.00") - cny("100.00") + cny("1749.95") + cny("59.70") - cny(
            "300.00"
        ) + cny("12.00")

    def test_discount_goes_by_price_after_line_discounts(self) -> None:
        order = place(shipping_fee=None, tax=None)
        # weights 799.00 : 1749.95 : 59.70
        assert [line.split.order_discount for line in order.lines] == [
            cny("91.89"),
            cny("201.25"),
            cny("6.86"),
        ]
        assert order.line("1").paid == cny("707.11")

    def test_non_discountable_lines_take_no_discount(self) -> None:
        lines = [
            LineDraft(sku="A", name="a", quantity=1, unit_price=cny("100")),
            LineDraft(
                sku="G", name="gift card", quantity=1, unit_price=cny("100"), discountable=False
            ),
        ]
        order = place(lines=lines, order_discount=cny("30"), shipping_fee=None, tax=None)
        assert order.line("2").split.order_discount == cny("0")
        assert order.line("1").split.order_discount == cny("30")

    def test_free_lines_share_shipping_by_units(self) -> None:
        lines = [
            LineDraft(sku="A", name="a", quantity=1, unit_price=cny("0")),
            LineDraft(sku="B", name="b", quantity=3, unit_price=cny("0")),
        ]
        order = place(lines=lines, order_discount=None, shipping_fee=cny("8"), tax=None)
        assert [line.split.shipping for line in order.lines] == [cny("2"), cny("6")]

    def test_tax_exclusive_adds_tax_to_what_is_paid(self) -> None:
        lines = [LineDraft(sku="A", name="a", quantity=2, unit_price=Money("10.00", "USD"))]
        order = place(
            lines=lines,
            order_discount=None,
            shipping_fee=None,
            tax=Money("1.60", "USD"),
            tax_included=False,
        )
        assert order.total == Money("21.60", "USD")

    def test_per_line_tax(self) -> None:
        lines = [
            LineDraft(sku="A", name="rice", quantity=1, unit_price=cny("109"), tax=cny("9.00")),
            LineDraft(sku="B", name="pan", quantity=1, unit_price=cny("113"), tax=cny("13.00")),
        ]
        order = place(lines=lines, order_discount=None, shipping_fee=None, tax=None)
        assert order.tax == cny("22.00")
        assert [line.split.tax for line in order.lines] == [cny("9.00"), cny("13.00")]

    def test_per_line_and_order_tax_together_are_refused(self) -> None:
        lines = [LineDraft(sku="A", name="a", quantity=1, unit_price=cny("109"), tax=cny("9"))]
        with pytest.raises(InvalidOrderError, match="per line"):
            place(lines=lines, tax=cny("1"), order_discount=None)

    def test_lines_as_mappings(self) -> None:
        order = place(
            lines=[
                {
                    "sku": "A",
                    "name": "a",
                    "quantity": 2,
                    "unit_price": {"amount": "5", "currency": "CNY"},
                }
            ],
            order_discount=None,
            tax=None,
        )
        assert order.total == cny("22.00")

    @pytest.mark.parametrize(
        ("overrides", "error"),
        [
            ({"lines": []}, InvalidOrderError),
            ({"order_discount": cny("5000")}, InvalidOrderError),
            ({"order_discount": cny("-1")}, InvalidOrderError),
            ({"shipping_fee": Money("12", "USD")}, CurrencyMismatchError),
            ({"tax": cny("1.001")}, PrecisionError),
            (
                {
                    "lines": [
                        LineDraft(
                            sku="A",
                            name="a",
                            quantity=1,
                            unit_price=cny("1"),
                            line_discount=cny("2"),
                        )
                    ]
                },
                InvalidOrderError,
            ),
            (
                {
                    "lines": [
                        LineDraft(sku="A", name="a", quantity=1, unit_price=cny("1")),
                        LineDraft(sku="B", name="b", quantity=1, unit_price=Money("1", "USD")),
                    ]
                },
                CurrencyMismatchError,
            ),
            (
                {
                    "lines": [
                        LineDraft(id="x", sku="A", name="a", quantity=1, unit_price=cny("1")),
                        LineDraft(id="x", sku="B", name="b", quantity=1, unit_price=cny("1")),
                    ],
                    "order_discount": None,
                },
                InvalidInputError,
            ),
        ],
    )
    def test_bad_orders_are_refused(
        self, overrides: dict[str, Any], error: type[Exception]
    ) -> None:
        with pytest.raises(error):
            place(**overrides)

    def test_quantity_must_be_positive(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            LineDraft(sku="A", name="a", quantity=0, unit_price=cny("1"))
        assert caught.value.errors[0].loc == "quantity"

    def test_unknown_line(self) -> None:
        with pytest.raises(InvalidInputError, match="has no line '9'"):
            place().line("9")

    def test_json_round_trip(self) -> None:
        order = place()
        assert Order.model_validate_json(order.model_dump_json()) == order

    def test_tampered_split_is_refused_on_load(self) -> None:
        data = json.loads(place().model_dump_json())
        data["lines"][0]["split"]["shipping"]["amount"] = "9.99"
        with pytest.raises(InvalidInputError, match="shipping shares sum"):
            Order.model_validate(data)

    def test_state_and_version_are_assignable_and_validated(self) -> None:
        order = place()
        order.state = "processing"  # type: ignore[assignment]
        assert order.state is OrderState.PROCESSING  # a string is read into the enum
        order.state = OrderState.SHIPPED
        with pytest.raises(InvalidInputError):
            order.state = "teleported"  # type: ignore[assignment]
        assert order.state is OrderState.SHIPPED
        order.version = 1
        with pytest.raises(InvalidInputError):
            order.version = -1
        assert (order.state, order.version) == ("shipped", 1)


class TestRefundSplit:
    def test_parts_of_the_worked_example(self) -> None:
        split = PaidSplit(
            list_price=cny("1749.95"),
            line_discount=cny("0"),
            order_discount=cny("524.98"),
            shipping=cny("0"),
            tax=cny("0"),
        )
        shares = [
            split.prorate(quantity=5, already=a, units=u) for a, u in ((0, 2), (2, 1), (3, 2))
        ]
        assert [s.paid for s in shares] == [cny("489.99"), cny("244.99"), cny("489.99")]

    def test_out_of_range_units(self) -> None:
        line = place().line("2")
        with pytest.raises(QuantityError):
            line.refund_split(units=4, already=2)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    currency = draw(st.sampled_from(["JPY", "CNY", "BHD"]))
    count = draw(st.integers(min_value=1, max_value=6))
    drafts = []
    for _ in range(count):
        unit = draw(cs.money(currency, max_units=10**7))
        quantity = draw(st.integers(min_value=1, max_value=20))
        discount = draw(
            st.one_of(
                st.integers(min_value=0, max_value=unit.minor_units * quantity),
                st.just(unit.minor_units * quantity),
            )
        )
        drafts.append(
            LineDraft(
                sku="S",
                name="n",
                quantity=quantity,
                unit_price=unit,
                line_discount=Money.from_minor(discount, currency),
                discountable=draw(st.booleans()),
            )
        )
    base = sum(
        (
            (d.unit_price * d.quantity - (d.line_discount or Money.zero(currency)))
            for d in drafts
            if d.discountable
        ),
        Money.zero(currency),
    )
    order_discount = Money.from_minor(
        draw(st.one_of(st.integers(0, base.minor_units), st.just(base.minor_units))), currency
    )
    return Order.place(
        id="O",
        customer=Customer(id="C"),
        placed_at=PLACED,
        lines=drafts,
        order_discount=order_discount,
        shipping_fee=draw(cs.money(currency, max_units=10**5)),
        tax=draw(cs.money(currency, max_units=10**6)),
        tax_included=draw(st.booleans()),
    )


@given(order=orders(), data=st.data())
def test_refunding_every_unit_returns_every_part_exactly(order: Order, data: st.DataObject) -> None:
    zero = Money.zero(order.currency)
    refunded = zero
    for line in order.lines:
        already = 0
        parts: list[PaidSplit] = []
        while already < line.quantity:
            units = data.draw(st.integers(min_value=1, max_value=line.quantity - already))
            parts.append(line.refund_split(units=units, already=already))
            already += units
        for name in ("list_price", "line_discount", "order_discount", "shipping", "tax"):
            assert sum((getattr(p, name) for p in parts), zero) == getattr(line.split, name)
        for part in parts:
            assert part.paid >= zero
            assert part.line_discount + part.order_discount <= part.list_price
        refunded += sum((p.paid for p in parts), zero)
    assert refunded == order.total
    exclusive_tax = zero if order.tax_included else order.tax
    goods = sum((line.split.list_price - line.split.line_discount for line in order.lines), zero)
    assert order.total == goods - order.order_discount + order.shipping_fee + exclusive_tax


def test_shipment_delay() -> None:
    promised = datetime(2026, 11, 14, 18, tzinfo=SHANGHAI)
    parcel = Shipment(id="S", carrier="SF", tracking_number="1", promised_delivery=promised)
    assert parcel.delay(now=promised - timedelta(hours=1)) == timedelta(0)
    # 02:00 UTC is 10:00 in Shanghai: 2 days 16 hours after the promised 18:00
    assert parcel.delay(now=datetime(2026, 11, 17, 2, tzinfo=UTC)) == timedelta(days=2, hours=16)
    delivered = parcel.model_copy(update={"delivered_at": promised + timedelta(days=1)})
    assert delivered.delay(now=promised + timedelta(days=9)) == timedelta(days=1)
    assert Shipment(id="S", carrier="SF", tracking_number="1").delay(now=promised) == timedelta(0)


def test_payment_must_capture_a_positive_quantized_amount() -> None:
    for amount in ("0", "-1", "1.001"):
        with pytest.raises(InvalidInputError, match="captured"):
            Payment(id="P", method="card", captured=cny(amount), captured_at=PLACED)
    payment = Payment(id="P", method="wechat_pay", captured=cny("10"), captured_at=PLACED)
    assert payment.captured.amount == Decimal("10")
