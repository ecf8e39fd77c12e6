"""Refund a five-unit line in three goes and get back exactly what was paid.

The line: 5 thermoses at 349.99 CNY with 524.98 CNY of order-level discount allocated to it, so the
customer paid 1224.97. Refunding 2, then 1, then 2 units with cumulative rounding gives 489.99,
244.99 and 489.99: 1224.97 in all. (Shopify's community thread on this very line reports 489.98
refunded and 734.98 left: 1224.96, a lost cent.)
"""

from csdesk import Money, prorate

paid = Money("349.99", "CNY") * 5 - Money("524.98", "CNY")
already = 0
refunds = []
for units in (2, 1, 2):
    share = prorate(paid, quantity=5, already=already, units=units)
    print(f"refund {units} unit(s) after {already}: {share.format('zh-CN')}")
    refunds.append(share)
    already += units

total = sum(refunds, Money.zero("CNY"))
print(f"refunded {total.format('zh-CN')} of {paid.format('zh-CN')} paid")
assert total == paid
