"""A refund quote in the customer's words: the ``refund_breakdown`` reply in one call.

`refund_reply` maps a `csdesk.policies.refunds.RefundQuote` onto the built-in ``refund_breakdown``
template: the goods at the prices the customer saw (unit price × units, not a prorated list
price a cent off), the discounts taken back, shipping, tax added on top (tax-exclusive prices),
deductions, the coupon restored, the total, and each tender by the name the customer knows
("¥80.00 原路退回支付宝", "¥80.00 to your Alipay"). Parts that are zero are left out.
"""

from __future__ import annotations

from datetime import date, datetime

from csdesk._checks import checked
from csdesk.models import Order, RefundDestination
from csdesk.money import Money
from csdesk.policies.refunds import RefundQuote
from csdesk.replies.catalog import ReplyTemplate, builtin_templates, render
from csdesk.replies.engine import RenderResult
from csdesk.replies.locales import locale_chain

__all__ = ["METHOD_NAMES", "refund_reply"]

METHOD_NAMES: dict[str, dict[str, str]] = {
    "zh-Hans": {
        "alipay": "支付宝", "wechat_pay": "微信支付", "unionpay": "银联卡", "card": "银行卡",
        "bank_transfer": "银行账户", "store_credit": "店铺余额", "gift_card": "礼品卡",
        "points": "积分", "cash_on_delivery": "货到付款所付款项",
    },
    "zh-Hant": {
        "alipay": "支付寶", "wechat_pay": "微信支付", "unionpay": "銀聯卡", "card": "銀行卡",
        "bank_transfer": "銀行帳戶", "store_credit": "店鋪餘額", "gift_card": "禮品卡",
        "points": "積分", "cash_on_delivery": "貨到付款所付款項",
    },
    "en": {
        "alipay": "Alipay", "wechat_pay": "WeChat Pay", "unionpay": "UnionPay card",
        "card": "card", "bank_transfer": "bank account", "store_credit": "store credit",
        "gift_card": "gift card", "points": "points",
        "cash_on_delivery": "cash-on-delivery payment",
    },
}  # fmt: skip
"""What each payment method is called in a customer reply, per wording locale."""

_TENDER = {"zh-Hans": "{amount} 原路退回{method}", "zh-Hant": "{amount} 原路退回{method}",
           "en": "{amount} to your {method}"}  # fmt: skip


@checked
def refund_reply(
    quote: RefundQuote,
    order: Order,
    *,
    locale: str,
    arrives_by: date,
    now: datetime,
    tz: str | None = None,
    destination: RefundDestination | str = RefundDestination.ORIGINAL,
    template: ReplyTemplate | None = None,
) -> RenderResult:
    """The ``refund_breakdown`` reply for ``quote`` on ``order``, in ``locale``.

    Args:
        quote: The refund, as quoted (`csdesk.policies.refunds.quote_refund`).
        order: Its order (the prices the customer saw).
        locale: The customer's locale (``zh-CN``, ``zh-TW``, ``en``…).
        arrives_by: When the money should be there (`csdesk.policies.estimate_arrival`).
        now: The instant the reply is for.
        tz: The customer's time zone.
        destination: Where the money goes, when the customer agreed to other than the tenders.
        template: Another template with the same variables (default: the built-in one).

    Raises:
        InvalidInputError: the quote is for another order.
    """
    from csdesk.errors import InvalidInputError

    if quote.order_id != order.id:
        raise InvalidInputError(f"the quote is for order {quote.order_id}, not {order.id}")
    chosen = template or builtin_templates()["refund_breakdown"]
    zero = Money.zero(order.currency)
    shelf = zero
    paid = zero
    tax = zero
    for line in quote.lines:
        shelf = shelf + order.line(line.line_id).unit_price * line.units
        paid = paid + (line.amount if order.tax_included else line.amount - line.tax)
        tax = tax + (zero if order.tax_included else line.tax)
    if not order.tax_included:
        tax = tax + (quote.shipping_tax or zero)
    deductions = quote.restocking_fee + quote.label_fee
    deductions = deductions + (quote.discount_lost or zero) + (quote.waived_shipping or zero)
    deductions = deductions + (quote.gift_deduction or zero)
    words = (locale_chain(locale, available=list(METHOD_NAMES)).text_locale or "en").replace(
        "_", "-"
    )
    names = METHOD_NAMES[words]
    where = RefundDestination(destination)
    tenders = []
    for share in quote.tenders:
        method = str(share.method) if where is RefundDestination.ORIGINAL else where.value
        amount = share.amount.format(locale)
        tenders.append(_TENDER[words].format(amount=amount, method=names.get(method, method)))
    lines_total = sum((line.amount for line in quote.lines), zero)
    context = {
        "order_id": order.id,
        "item": shelf,
        "discount": max(shelf - paid, zero),
        "shipping": quote.shipping,
        "tax": tax,
        "deductions": deductions,
        "coupon": quote.coupon_restored,
        "goodwill": quote.goods - lines_total,
        "total": quote.total,
        "tenders": tenders,
        "arrives_by": arrives_by,
        "destination": None if where is RefundDestination.ORIGINAL else where.value,
    }
    known = {variable.name for variable in chosen.variables}
    values = {k: v for k, v in context.items() if k in known and v is not None}
    return render(chosen, values, locale=locale, tz=tz, now=now)
