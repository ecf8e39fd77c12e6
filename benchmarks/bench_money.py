"""csdesk.Money against prices.Money (Saleor's money type) on the same operations."""

from __future__ import annotations

import statistics
from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import get_currency_precision
from prices import Money as PricesMoney

from benchmarks._runner import Case, Result, measure, report
from csdesk import Money, allocate

GOAL = 1.2
ARITHMETIC = (
    "add",
    "subtract",
    "multiply by int",
    "multiply by Decimal",
    "compare <",
    "compare ==",
)


def saleor_allocate(total: PricesMoney, weights: list[Decimal]) -> list[PricesMoney]:
    """Saleor's split: quantize each proportional share, the last part takes the remainder."""
    precision = get_currency_precision(total.currency)
    exponent = Decimal(1).scaleb(-precision)
    weight_sum = sum(weights)
    parts = [
        PricesMoney(
            (total.amount * weight / weight_sum).quantize(exponent, rounding=ROUND_HALF_EVEN),
            total.currency,
        )
        for weight in weights[:-1]
    ]
    rest = total
    for part in parts:
        rest = rest - part
    return [*parts, rest]


def cases() -> list[Case]:
    a, b = Money("349.99", "CNY"), Money("524.98", "CNY")
    pa, pb = PricesMoney(Decimal("349.99"), "CNY"), PricesMoney(Decimal("524.98"), "CNY")
    factor = Decimal("0.85")
    raw = Decimal("1224.97")
    weights = [Decimal("799.00"), Decimal("1749.95"), Decimal("59.70"), Decimal("100.00")]
    total, ptotal = Money("300.00", "CNY"), PricesMoney(Decimal("300.00"), "CNY")
    return [
        Case("add", lambda: a + b, lambda: pa + pb),
        Case("subtract", lambda: a - b, lambda: pa - pb),
        Case("multiply by int", lambda: a * 5, lambda: pa * 5),
        Case("multiply by Decimal", lambda: a * factor, lambda: pa * factor),
        Case("compare <", lambda: a < b, lambda: pa < pb),
        Case("compare ==", lambda: a == b, lambda: pa == pb),
        Case("construct from Decimal", lambda: Money(raw, "CNY"), lambda: PricesMoney(raw, "CNY")),
        Case("quantize", lambda: (a * factor).quantize(), lambda: (pa * factor).quantize()),
        Case(
            "allocate 4 ways",
            lambda: allocate(total, weights),
            lambda: saleor_allocate(ptotal, weights),
            number=5_000,
        ),
    ]


def main() -> list[Result]:
    results = [measure(case) for case in cases()]
    report("Money", "prices", results)
    arithmetic = [r.ratio for r in results if r.name in ARITHMETIC]
    worst = max(arithmetic)
    print(
        f"arithmetic ratios: median {statistics.median(arithmetic):.2f}, worst {worst:.2f} "
        f"(goal <= {GOAL}): {'met' if worst <= GOAL else 'NOT met'}"
    )
    return results


if __name__ == "__main__":
    main()
