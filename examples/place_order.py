"""Place an order with a line promotion, a store coupon, shipping and included VAT.

`Order.place` fixes what each line actually paid, split into list price, line discount, its share
of the coupon, its share of shipping and its tax, so that every later refund uses the price paid,
never the list price, and every column adds up to the order's totals exactly.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from csdesk import Customer, LineDraft, Money, Order


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


order = Order.place(
    id="SO-20261111-0042",
    customer=Customer(id="C-88001", tier="gold", name="张三丰", phone="13812345678"),
    placed_at=datetime(2026, 11, 11, 20, 15, tzinfo=ZoneInfo("Asia/Shanghai")),
    lines=[
        LineDraft(
            sku="DJ-900",
            name="羽绒服",
            quantity=1,
            unit_price=cny("899.00"),
            line_discount=cny("100.00"),
        ),
        LineDraft(sku="TC-500", name="保温杯", quantity=5, unit_price=cny("349.99")),
        LineDraft(
            sku="GC-100", name="礼品卡", quantity=1, unit_price=cny("100.00"), discountable=False
        ),
    ],
    order_discount=cny("300.00"),
    shipping_fee=cny("12.00"),
)

print(order.customer)  # contact fields print masked
for line in order.lines:
    split = line.split
    print(
        f"line {line.id} {line.sku}: list {split.list_price}, line discount {split.line_discount}, "
        f"coupon share {split.order_discount}, shipping {split.shipping} -> paid {line.paid}"
    )
print(f"order total {order.total.format('zh-CN')}")
assert sum(line.split.order_discount for line in order.lines) == order.order_discount
assert order.line("3").split.order_discount.is_zero  # gift cards take no coupon share
