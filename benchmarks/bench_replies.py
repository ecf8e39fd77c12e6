"""A 5-variable reply with money and a date: csdesk's render_string against raw sandboxed Jinja2.

The peer is what a careful shop would write by hand: a Jinja2 ImmutableSandboxedEnvironment with
StrictUndefined, the template compiled once, Babel formatting through filters with a cached
`Locale`. csdesk adds the context check, the bounded operators, the result object and its
variable list. Both produce the same text (asserted).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency
from jinja2.sandbox import ImmutableSandboxedEnvironment

from benchmarks._runner import Case, Result, measure, report
from csdesk import Money
from csdesk.replies import render_string

NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)

GOAL = 1.3
SOURCE = (
    "{{ name }}您好，订单 {{ order_id }} 的 {{ item }} 已为您退款 {{ amount|money }}，"
    "预计 {{ when|datetime('short') }} 前到账。"
)


def cases() -> list[Case]:
    context: dict[str, Any] = {
        "name": "张先生",
        "order_id": "SO-20261111-0042",
        "item": "保温杯",
        "amount": Money("309.74", "CNY"),
        "when": datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
    }
    locale = Locale.parse("zh_CN")
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.filters["money"] = lambda m: format_currency(m.amount, m.currency, locale=locale)
    env.filters["datetime"] = lambda d, f="medium": format_datetime(
        d, format=f, tzinfo=d.tzinfo, locale=locale
    )
    template = env.from_string(SOURCE)
    ours = render_string(SOURCE, context, locale="zh-CN", now=NOW).text
    theirs = template.render(context)
    assert ours == theirs, (ours, theirs)
    return [
        Case(
            "render 5 variables",
            lambda: render_string(SOURCE, context, locale="zh-CN", now=NOW),
            lambda: template.render(context),
            number=2000,
        )
    ]


def main() -> list[Result]:
    results = [measure(case, rounds=21) for case in cases()]
    report("Replies", "raw Jinja2 sandbox", results)
    verdict = "met" if results[0].ratio <= GOAL else "NOT met"
    print(f"ratio {results[0].ratio:.2f} (goal <= {GOAL}): {verdict}")
    return results


if __name__ == "__main__":
    main()
