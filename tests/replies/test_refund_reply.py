"""A refund quote as customer text in one call (issue 19 item 5).

A newcomer mapped the quote onto ``refund_breakdown`` by guesswork: payment names came out
untranslated ("原路退回alipay"), the apology said "¥0.00 优惠券" when there was no coupon, and a
quote's prorated ``list_price`` of ¥350.00 for one of four items sold at ¥349.99 became "商品
¥350.00", a price the customer never saw.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from csdesk import Customer, LineDraft, Money, Order, Payment
from csdesk.errors import InvalidInputError
from csdesk.policies.refunds import Refunded, quote_refund, refund_policy
from csdesk.replies import builtin_templates, refund_reply, render

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def thermos_order() -> Order:
    order = Order.place(
        id="SO-42", customer=Customer(id="C-1"), placed_at=NOW,
        lines=[LineDraft(sku="TC", name="保温杯", quantity=4, unit_price=cny("349.99"))],
        order_discount=cny("100.00"), shipping_fee=cny("12.00"),
    )  # fmt: skip
    order.payments = (
        Payment(id="P-1", method="alipay", captured=cny("1000.00"), captured_at=NOW),
        Payment(id="P-2", method="wechat_pay", captured=order.total - cny("1000.00"),
                captured_at=NOW),
    )  # fmt: skip
    return order


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh-CN", "您好，订单 SO-42 的退款明细：商品 ¥349.99，扣除已享优惠 ¥25.00，"
                  "合计退款 ¥324.99。退回方式：¥247.71 原路退回支付宝和¥77.28 原路退回微信支付。"
                  "预计 2026年11月26日 前到账。"),
        ("zh-TW", "您好，訂單 SO-42 的退款明細：商品 CN¥349.99，扣除已享優惠 CN¥25.00，合計退款 "
                  "CN¥324.99。退回方式：CN¥247.71 原路退回支付寶和CN¥77.28 原路退回微信支付。預計 "
                  "2026年11月26日 前到帳。"),
        ("en", "Hello, here is the refund for order SO-42: goods CN¥349.99, less the discount "
               "they had CN¥25.00; CN¥324.99 in all. It goes back as CN¥247.71 to your Alipay "
               "and CN¥77.28 to your WeChat Pay and should reach you by Nov 26, 2026."),
    ],
)  # fmt: skip
def test_one_unit_of_four_in_three_locales(locale: str, expected: str) -> None:
    order = thermos_order()
    quote = quote_refund(order, lines={"1": 1}, reason="no_reason", basis="cn_7day",
                         policy=refund_policy("cn_default"), now=NOW,
                         refunded=Refunded.of(order))  # fmt: skip
    reply = refund_reply(quote, order, locale=locale, arrives_by=date(2026, 11, 26), now=NOW)
    assert reply.text == expected
    assert "alipay" not in reply.text
    assert "0.00" not in reply.text  # no empty parts


def test_the_item_is_the_price_the_customer_saw() -> None:
    order = thermos_order()
    refunded = Refunded.of(order)
    shown = []
    for units in (1, 1, 2):  # the prorated list-price shares are 349.99 or 350.00
        quote = quote_refund(order, lines={"1": units}, reason="no_reason", basis="cn_7day",
                             policy=refund_policy("cn_default"), now=NOW,
                             refunded=refunded)  # fmt: skip
        refunded = refunded.after(quote)
        reply = refund_reply(quote, order, locale="zh-CN", arrives_by=date(2026, 11, 26), now=NOW)
        shown.append(reply.text.split("商品 ")[1].split("，")[0])
    assert shown == ["¥349.99", "¥349.99", "¥699.98"]


def test_store_credit_goodwill_and_tax_on_top() -> None:
    order = Order.place(
        id="SO-US", customer=Customer(id="C-2"), placed_at=NOW,
        lines=[LineDraft(sku="L", name="lamp", quantity=1, unit_price=Money("100.00", "USD"))],
        shipping_fee=Money("10.00", "USD"), tax_included=False, tax_percent="8",
    )  # fmt: skip
    order.payments = (Payment(id="P-1", method="card", captured=order.total, captured_at=NOW),)
    quote = quote_refund(order, lines={"1": 1}, reason="faulty", now=NOW,
                         policy=refund_policy("generic"), refunded=Refunded.of(order))  # fmt: skip
    reply = refund_reply(quote, order, locale="en", arrives_by=date(2026, 11, 24), now=NOW,
                         destination="store_credit")  # fmt: skip
    assert "goods $100.00; shipping $10.00; tax $8.80; $118.80 in all" in reply.text
    assert "to your store credit (as store credit, as you agreed" in reply.text
    gesture = quote_refund(order, lines={}, reason="goodwill", goodwill=Money("5.00", "USD"),
                           now=NOW, policy=refund_policy("generic"),
                           refunded=Refunded.of(order))  # fmt: skip
    said = refund_reply(gesture, order, locale="zh-CN", arrives_by=date(2026, 11, 26), now=NOW)
    assert "补偿 US$5.00" in said.text
    assert "商品" not in said.text
    with pytest.raises(InvalidInputError, match="is for order SO-US, not SO-42"):
        refund_reply(quote, thermos_order(), locale="en", arrives_by=date(2026, 11, 26), now=NOW)


def test_the_apology_leaves_out_a_coupon_it_did_not_give() -> None:
    apology = builtin_templates()["late_delivery_apology"]
    context = {"customer_name": "王女士", "order_id": "SO-42", "days_late": 2}
    without = render(apology, context, locale="zh-CN", now=NOW).text
    assert "优惠券" not in without
    assert "我们会持续跟进物流" in without
    zero = render(apology, context | {"coupon": cny("0.00")}, locale="zh-CN", now=NOW).text
    assert zero == without
    given = render(apology, context | {"coupon": cny("10.00")}, locale="zh-CN", now=NOW).text
    assert "¥10.00 无门槛优惠券" in given
