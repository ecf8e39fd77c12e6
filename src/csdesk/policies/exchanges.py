"""The exchange quote (换货): both legs of an exchange and the difference between them.

`quote_exchange` prices an exchange: the goods coming back at what the customer paid for them
(their paid share, with cumulative rounding over the line's earlier cases), the goods going out at
their price today, and the difference: the customer pays it, the shop refunds it, or it is even.
The answer is an `ExchangeQuote` in the decision envelope; `csdesk.workflows.open_case` records
its difference on the case, and `explain` words it for the customer's agent.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Customer, ExchangeItem, LineDraft, Money, Order
    >>> from csdesk.policies import return_policy
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"), placed_at=at,
    ...     lines=[LineDraft(sku="M", name="jacket M", quantity=1,
    ...                      unit_price=Money("899.00", "CNY"))])
    >>> item = ExchangeItem(line_id="1", units=1, sku="L", unit_price=Money("949.00", "CNY"))
    >>> quote = quote_exchange(order, [item], policy=return_policy("cn_consumer_law"), now=at)
    >>> str(quote.back), str(quote.out), str(quote.difference), quote.direction
    ('899.00 CNY', '949.00 CNY', '50.00 CNY', 'customer_pays')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar, Literal

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.decision import Decided, Policy, Step, step
from csdesk.errors import CurrencyMismatchError, InvalidInputError
from csdesk.models import ExchangeItem, Order
from csdesk.money import Money

__all__ = ["ExchangeQuote", "quote_exchange"]

Direction = Literal["customer_pays", "shop_refunds", "even"]


class ExchangeQuote(Decided):
    """Both legs of an exchange, in the decision envelope.

    Attributes:
        back: What the units coming back were paid (their paid share).
        out: What the goods going out cost today.
        difference: ``out − back``: positive, the customer pays it; negative, it is refunded.
        direction: ``customer_pays``, ``shop_refunds`` or ``even``.
        items: The goods going out.
    """

    answer_field: ClassVar[str] = "difference"

    order_id: str
    back: Money
    out: Money
    difference: Money
    direction: Direction
    items: tuple[ExchangeItem, ...]


@checked
def quote_exchange(
    order: Order,
    items: Sequence[ExchangeItem],
    *,
    policy: Policy,
    now: datetime,
    earlier: Mapping[str, int] | None = None,
) -> ExchangeQuote:
    """Price an exchange: the units back at their paid share, the goods out at their price.

    Args:
        order: The order the units come from.
        items: What goes out for which units of which line.
        policy: The policy the exchange is filed under (recorded on the quote).
        now: When the quote is made.
        earlier: Units per line already in the order's other cases (their shares come first,
            so that every unit's share adds up to the line's paid amount).

    Raises:
        InvalidInputError: no items, or an item for a line the order does not have.
        CurrencyMismatchError: an item priced in another currency than the order's.
    """
    require_aware(now, "now")
    listed = tuple(items)
    if not listed:
        raise InvalidInputError("an exchange quote needs at least one ExchangeItem")
    zero = Money.zero(order.currency)
    before = dict(earlier or {})
    trace: list[Step] = []
    back = out = zero
    for item in listed:
        if item.unit_price.currency != order.currency:
            raise CurrencyMismatchError(order.currency, item.unit_price.currency,
                                        operation="exchange")  # fmt: skip
        line = order.line(item.line_id)
        already = before.get(line.id, 0)
        paid = line.refund_split(units=item.units, already=already).paid
        before[line.id] = already + item.units
        price = item.unit_price * item.units
        back += paid
        out += price
        trace.append(step("back", "exchange.back", line=line.id, sku=line.sku,
                          units=item.units, paid=paid))  # fmt: skip
        trace.append(step("out", "exchange.out", sku=item.sku, units=item.units,
                          price=item.unit_price, amount=price.quantize()))  # fmt: skip
    difference = (out - back).quantize()
    direction: Direction = (
        "customer_pays" if difference > zero else "shop_refunds" if difference < zero else "even"
    )
    trace.append(step("difference", "exchange.difference", back=back, out=out.quantize(),
                      difference=difference, direction=direction))  # fmt: skip
    return ExchangeQuote.made(
        policy=policy.ref,
        trace=trace,
        decided_at=now,
        inputs=(order.id, listed, sorted((earlier or {}).items())),
        order_id=order.id,
        back=back,
        out=out.quantize(),
        difference=difference,
        direction=direction,
        items=listed,
    )
