"""Hostile templates: escapes, exhaustion, recursion and leaks, each a csdesk error within 1 s.

Every payload here broke csdesk before the bounded sandbox (memory or CPU exhausted, a raw Python
exception, a leaked value) or is a known public sandbox-escape pattern. Each must end in a
`TemplateError` within one second, with less than 50 MB allocated while it ran, and with no value
from the context in the message.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from csdesk import Money, TemplateError, TemplateLimitError, TemplateSecurityError
from csdesk.replies import RenderLimits, render_string

NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)

PHONE = "13812345678"
EMAIL = "zhang.san@example.com"
ADDRESS = "上海市浦东新区世纪大道100号"
SECRET = "s3cr3t-t0ken-value"

CONTEXT = {
    "name": "张三丰",
    "phone": PHONE,
    "email": EMAIL,
    "address": ADDRESS,
    "amount": Money("128.50", "CNY"),
    "items": ["杯子", "袜子"],
    "s": "x" * 20_000,
    "n": 13812345678,
    "when": datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
    "d": {"token": SECRET, "password": SECRET, "api_key": SECRET, "phone": PHONE, "k": "v"},
    "price": Decimal("99.90"),
}
VALUES = (PHONE, EMAIL, ADDRESS, SECRET, "张三丰", "13812345678")

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ [].__class__ }}",
    "{{ {}.__class__ }}",
    "{{ name.__class__.__init__.__globals__ }}",
    "{{ name.format }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{{ name.format_map({}) }}",
    "{{ name.encode('utf-8') }}",
    "{{ name.upper() }}",
    "{{ amount.__class__ }}",
    "{{ amount.format('en') }}",
    "{{ amount._amount }}",
    "{{ amount.amount.as_tuple() }}",
    "{{ amount.currency.lower() }}",
    "{{ when.replace(year=1) }}",
    "{{ when.tzinfo }}",
    "{{ items.append(1) }}",
    "{{ items.pop() }}",
    "{{ items.__class__.__base__ }}",
    "{{ items.__len__() }}",
    "{{ d.items() }}",
    "{{ d.keys() }}",
    "{{ d.get('k') }}",
    "{{ d.update({}) }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ namespace() }}",
    "{{ lipsum.__globals__ }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ range(10) }}",
    "{{ dict(a=1) }}",
    "{{ amount.mro }}",
    "{% macro m() %}{% endmacro %}{{ m.__globals__ }}",
    "{% macro m() %}{% endmacro %}{{ m._func }}",
    "{% for i in items %}{{ loop.__class__ }}{% endfor %}",
    "{% for i in items %}{{ loop._iterator }}{% endfor %}",
    "{% include 'other' %}",
    "{% extends 'base' %}",
    "{% import 'os' as os %}",
    "{% from 'os' import system %}",
    "{{ items[0].__class__ }}",
    "{{ name['__class__'] }}",
    "{{ name[('__cla' ~ 'ss__')] }}",
    "{{ (1).__class__ }}",
    "{{ price.__class__ }}",
    "{{ price.sqrt() }}",
    "{{ __csdesk_formatter }}",
]

LEAKS = [
    "{{ d.token }}",
    "{{ d['password'] }}",
    "{{ d.api_key }}",
    "{{ d['tok' ~ 'en'] }}",
    "{{ '%(password)s' % d }}",
    "{{ '%s' % phone }}",
    "{{ d[phone] }}",
    "{{ d[name] }}",
    "{{ phone.missing }}",
    "{{ phone + 1 }}",
    "{{ phone|money }}",
    "{{ phone|date }}",
    "{{ phone|number }}",
    "{{ phone|plural }}",
    "{{ name|mask(phone) }}",
    "{{ amount|money(phone) }}",
    "{{ items|list(email) }}",
    "{{ when|date(s) }}",
    "{{ phone|truncate(-1) }}",
    "{{ n|truncate(3) }}",
    "{{ phone|replace(1, 2) }}",
    "{{ d[email] }}",
    "{{ items[phone] }}",
    "{{ email * email }}",
    "{{ n / 0 }}",
    "{{ address|join(1) }}",
]

EXHAUSTION = [
    "{{ ((['x'*20000]*20000)|join)|length }}",
    "{{ '%0900000000d' % 1 }}",
    "{{ 'a' * 100000 }}",
    "{{ 'abc' * 10000000 }}",
    "{{ s * 6 }}",
    "{{ [s] * 6 }}",
    "{{ [1] * 200000 }}",
    "{{ (s, s, s, s, s, s) }}",
    "{{ s ~ s ~ s ~ s ~ s ~ s }}",
    "{% set a = s %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a|length }}",
    "{% set a = s + s + s + s + s + s %}",
    "{% set a = [s] + [s] + [s] + [s] + [s] + [s] %}",
    "{{ s|replace('', s) }}",
    "{{ s|replace('x', 'yyyyyy') }}",
    "{{ s|join(s) }}",
    "{{ items|join(s * 5) }}",
    "{{ (s ~ s ~ s)|upper }}",
    "{{ [s, s, s, s, s, s]|list }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ 10 ** 1000 }}",
    "{{ 2 ** 64 ** 64 }}",
    "{{ (999999999999999 * 999999999999999 * 999999999999999) }}",
    "{{ 10 ** 30 * 10 ** 30 }}",
    "{{ 'x'|truncate(10 ** 9) * 10 ** 9 }}",
    "{% for i in 'x' * 50000 %}{{ i }}{% endfor %}",
    "{% for a in s %}{% for b in s %}x{% endfor %}{% endfor %}",
    "{% for a in s %}{{ s }}{% endfor %}",
    "{% for a in s %}" + "y" * 100 + "{% endfor %}",
    "{% for a in s %}{{ loop.cycle(s, s) }}{% endfor %}",
    "{% for a in s %}{% if a == 'y' %}{% endif %}{% endfor %}",
    "{% for a in s if a == 'y' %}{% endfor %}",
    "{% for a in items %}{% for b in s %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}",
    "{% macro m() %}{{ s }}{% endmacro %}{% for i in items %}{{ m() ~ m() ~ m() }}{% endfor %}",
    "{% set x %}{% for a in s %}{{ s }}{% endfor %}{% endset %}",
    "{% filter upper %}{% for a in s %}{{ s }}{% endfor %}{% endfilter %}",
    "{{ s }}{{ s }}",
    "{% for i in items %}{% for j in items %}{{ s }}{% endfor %}{% endfor %}",
    "{% set big = s ~ s ~ s ~ s %}{{ big ~ big }}",
]

RECURSION = [
    "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
    "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}",
    "{% for x in [1, 2] recursive %}{{ loop([x, x]) }}{% endfor %}",
    "{% macro m() %}{{ caller() }}{% endmacro %}"
    + "{% call m() %}" * 40
    + "x"
    + "{% endcall %}" * 40,
    "{% macro m() %}{{ caller() }}{% endmacro %}"
    "{% macro r() %}{% call m() %}{{ r() }}{% endcall %}{% endmacro %}{{ r() }}",
    "{% for a in [1] %}" * 30 + "{% endfor %}" * 30,
    "{% if 1 %}" * 100 + "{% endif %}" * 100,
    "{% filter upper %}" * 50 + "{% endfilter %}" * 50,
    "{% with a = 1 %}" * 40 + "{% endwith %}" * 40,
    "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
    "{{ " + "[" * 300 + "]" * 300 + " }}",
    "{{ " + "-" * 500 + "1 }}",
    "{{ " + "not " * 500 + "1 }}",
    "{{ 1" + " + 1" * 2000 + " }}",
    "{{ name" + ".a" * 500 + " }}",
    "{{ name" + "|upper" * 500 + " }}",
    "{{ x" + "[0]" * 500 + " }}",
    "{{ " + "(1, " * 300 + ")" * 300 + " }}",
]

SYNTAX = [
    "{{",
    "{% for %}",
    "{% endfor %}",
    "{{ 'unterminated }}",
    "{% if %}",
    "{{ a b }}",
    "{% set %}",
    "{% macro %}",
    "{{ 1 +* 2 }}",
    "{% endraw %}",
]

ALL = ESCAPES + LEAKS + EXHAUSTION + RECURSION + SYNTAX


def test_more_than_a_hundred_payloads() -> None:
    assert len(ALL) >= 100
    assert len(set(ALL)) == len(ALL)


@pytest.mark.parametrize("payload", ALL)
def test_payload_ends_in_a_csdesk_error_quickly_and_leaks_nothing(payload: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(TemplateError) as caught:
            render_string(payload, CONTEXT, locale="zh-CN", template_id="hostile", now=NOW)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert peak < 50_000_000, f"{peak / 1e6:.0f} MB"
    error = caught.value
    message = str(error)
    assert message.startswith("template hostile")
    assert message.count("template hostile") == 1, message  # the prefix is never doubled
    assert "object at 0x" not in message
    for value in VALUES:
        assert value not in message, message
    assert "Traceback" not in message


@pytest.mark.parametrize("payload", EXHAUSTION + RECURSION[:6])
def test_exhaustion_and_recursion_are_limit_or_security_errors(payload: str) -> None:
    with pytest.raises(TemplateSecurityError):
        render_string(payload, CONTEXT, locale="zh-CN", now=NOW)


@pytest.mark.parametrize(
    ("payload", "limit"),
    [
        ("{{ ((['x'*20000]*20000)|join)|length }}", "max_value"),
        ("{% for a in s %}{% for b in s %}x{% endfor %}{% endfor %}", "max_iterations"),
        ("{% for a in s %}{{ s }}{% endfor %}", "max_built"),
        ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "max_call_depth"),
        ("{% for a in [1] %}" * 30 + "{% endfor %}" * 30, "max_nesting"),
        ("{{ 1" + " + 1" * 2000 + " }}", "max_depth"),
        ("{{ s }}", "max_output"),
        ("x" * 30_000, "max_source"),
    ],
)
def test_each_limit_is_named(payload: str, limit: str) -> None:
    small = RenderLimits(max_output=10_000)
    with pytest.raises(TemplateLimitError) as caught:
        render_string(payload, CONTEXT, locale="zh-CN", limits=small, now=NOW)
    assert caught.value.limit == limit


def test_wall_time_limit() -> None:
    # Cheap iterations under the iteration limit, but a tiny time budget.
    limits = RenderLimits(max_seconds=0.001, max_iterations=10_000_000, max_built=100_000_000)
    with pytest.raises(TemplateLimitError) as caught:
        render_string("{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}", CONTEXT,
                      locale="en", limits=limits, now=NOW)  # fmt: skip
    assert caught.value.limit == "max_seconds"


def test_runtime_errors_carry_the_line_and_the_template_id_once() -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(
            "第一行\n第二行 {{ 1 / 0 }}", {}, locale="zh-CN", template_id="greet", now=NOW
        )
    assert caught.value.line == 2
    assert caught.value.template == "greet"
    assert str(caught.value) == "template greet (line 2): ZeroDivisionError: division by zero"
    with pytest.raises(TemplateError) as missing:
        render_string("a\nb\n{{ nope }}", {}, locale="en", template_id="greet", now=NOW)
    assert missing.value.line == 3
    assert str(missing.value).count("template") == 1


def test_syntax_errors_carry_the_template_id() -> None:
    with pytest.raises(TemplateError) as caught:
        render_string("ok\n{% for %}", {}, locale="en", template_id="greet", now=NOW)
    assert caught.value.template == "greet"
    assert caught.value.line == 2


def test_blocked_keys_are_dropped_from_the_context() -> None:
    text = render_string("{{ d }}", CONTEXT, locale="en", now=NOW).text
    assert SECRET not in text
    assert "token" not in text
    assert "'k': 'v'" in text


def test_context_subclasses_become_plain_values() -> None:
    class Sneaky(str):
        def secret(self) -> str:
            return SECRET

    result = render_string("{{ v }}{{ v|length }}", {"v": Sneaky("abc")}, locale="en", now=NOW)
    assert result.text == "abc3"
    with pytest.raises(TemplateError):
        render_string("{{ v.secret() }}", {"v": Sneaky("abc")}, locale="en", now=NOW)


@pytest.mark.parametrize(
    "context",
    [
        {"x": 1.5},
        {"x": Decimal("NaN")},
        {"x": Decimal("1e40")},
        {"x": 10**40},
        {1: "a"},
        {"x": object()},
        {"x": {2: "a"}},
    ],
)
def test_unplain_context_values_are_refused(context: dict[object, object]) -> None:
    with pytest.raises(TemplateSecurityError):
        render_string("{{ 1 }}", context, locale="en", now=NOW)  # type: ignore[arg-type]


def test_deep_or_cyclic_context_is_refused() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(TemplateSecurityError, match="nested deeper"):
        render_string("{{ 1 }}", {"x": cyclic}, locale="en", now=NOW)


def test_legitimate_templates_still_render() -> None:
    source = (
        "{% macro line(i) %}- {{ i }}{% endmacro %}"
        "{% for i in items %}{{ line(i) }}{% if not loop.last %}\n{% endif %}{% endfor %}"
        " {{ amount|money }} {{ name ~ '先生' }} {{ (items|join('、'))|length }}"
        " {{ 3 * 'ab' }} {{ [1, 2] + [3] }} {{ 7 % 3 }} {{ 2 ** 10 }}"
    )
    text = render_string(source, CONTEXT, locale="zh-CN", now=NOW).text
    assert text == "- 杯子\n- 袜子 ¥128.50 张三丰先生 5 ababab [1, 2, 3] 1 1024"


def test_bad_limits_are_refused() -> None:
    from csdesk.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        RenderLimits(max_output=0)
    with pytest.raises(TemplateError):
        render_string("x", {}, locale="en", limits={"max_output": 5}, now=NOW)  # type: ignore[arg-type]


def test_unknown_time_zone_is_a_csdesk_error() -> None:
    from csdesk.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="IANA"):
        render_string("x", {}, locale="en", tz="Mars/Olympus", now=NOW)
