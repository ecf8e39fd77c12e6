"""Split amounts by weight in currencies with 0, 2 and 3 minor-unit digits.

`allocate` works in the currency's minor units (from CLDR: JPY 0, CNY 2, BHD 3) by the largest
remainder method, so the parts always add up to the total, and never differ from their exact share
by a whole minor unit.
"""

from decimal import Decimal

from csdesk import Money, allocate

for total in (Money("1000", "JPY"), Money("100.00", "CNY"), Money("10.000", "BHD")):
    parts = allocate(total, [3, 3, 1])
    print(f"{total} split 3:3:1 -> {', '.join(str(part) for part in parts)}")
    assert sum(parts, Money.zero(total.currency)) == total

# Weights can be amounts: split a 300 CNY coupon over lines by their prices.
coupon = allocate(Money("300", "CNY"), [Money("799.00", "CNY"), Money("1749.95", "CNY")])
print(f"coupon shares: {coupon}")
# ...or Decimals: split a fee 1.5 : 1.
print(allocate(Money("0.05", "CNY"), [Decimal("1.5"), 1]))
