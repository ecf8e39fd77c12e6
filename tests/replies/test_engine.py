"""The sandbox against template-injection and resource-exhaustion payloads; the filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import BaseModel

from csdesk import Customer, Money, TemplateError, TemplateSecurityError, UnknownLocaleError
from csdesk.replies import MAX_OUTPUT, render_string

NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)

CONTEXT = {"name": "张三", "amount": Money("128.50", "CNY"), "items": ["杯子", "袜子"]}

# Jinja2 sandbox CVEs and public SSTI payload lists (PayloadsAllTheThings "Server Side Template
# Injection/Python.md", HackTricks "Jinja2 SSTI"), and resource exhaustion.
SECURITY_PAYLOADS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ name.__class__.__init__.__globals__ }}",
    "{{ name.format }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{{ name.format_map({}) }}",
    "{{ amount.__class__ }}",
    "{{ amount.format('en') }}",
    "{{ amount._amount }}",
    "{{ items.append(1) }}",
    "{{ items.__class__.__base__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ 'a' * 100000 }}",
    "{{ 'abc' * 10000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ 10 ** 1000 }}",
    "{% for i in 'x' * 50000 %}{{ i }}{% endfor %}",
    "{{ (999999999999999 * 999999999999999 * 999999999999999) }}",
    "{{ name.__len__() }}",
    "{{ amount.mro }}",
    "{{ ''|attr('__class__') }}",
    "{{ range(10) }}",
]


@pytest.mark.parametrize("payload", SECURITY_PAYLOADS)
def test_payloads_fail_with_a_csdesk_error_and_leak_nothing(payload: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(payload, CONTEXT, locale="zh-CN", now=NOW)
    message = str(caught.value)
    assert "object at 0x" not in message
    assert "globals" not in message.lower() or "__globals__" in payload


def test_at_least_twenty_five_payloads() -> None:
    assert len(SECURITY_PAYLOADS) >= 25


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__ }}",
        "{{ name.format }}",
        "{{ amount.format('en') }}",
        "{{ 'a' * 100000 }}",
        "{{ 9 ** 9 ** 9 }}",
    ],
)
def test_the_security_ones_are_security_errors(payload: str) -> None:
    with pytest.raises(TemplateSecurityError):
        render_string(payload, CONTEXT, locale="zh-CN", now=NOW)


def test_objects_are_refused_in_the_context() -> None:
    class Secret(BaseModel):
        token: str = "s3cr3t"

    with pytest.raises(TemplateSecurityError, match="plain values"):
        render_string("{{ x }}", {"x": Secret()}, locale="en", now=NOW)
    with pytest.raises(TemplateSecurityError):
        render_string("{{ c }}", {"c": Customer(id="C-1")}, locale="en", now=NOW)


def test_output_limit() -> None:
    with pytest.raises(TemplateSecurityError, match="longer"):
        render_string("{{ a }}{{ a }}{{ a }}", {"a": "x" * (MAX_OUTPUT // 2)}, locale="en", now=NOW)


def test_missing_variable_names_it() -> None:
    with pytest.raises(TemplateError, match="order_id"):
        render_string("您的订单 {{ order_id }}", {}, locale="zh-CN", now=NOW)


def test_syntax_error_has_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        render_string("line one\n{{ oops", {}, locale="en", now=NOW)
    assert caught.value.line == 2


class TestFilters:
    def test_money_formats_for_the_locale_and_never_rounds(self) -> None:
        amount = {"a": Money("1234.5", "CNY")}
        assert render_string("{{ a|money }}", amount, locale="zh-CN", now=NOW).text == "¥1,234.50"
        assert (
            render_string("{{ a|money }}", amount, locale="zh-Hant-TW", now=NOW).text
            == "CN¥1,234.50"
        )
        assert (
            render_string("{{ a|money('name') }}", amount, locale="zh-CN", now=NOW).text
            == "1,234.50人民币"
        )
        with pytest.raises(TemplateError, match="minor unit"):
            render_string("{{ a|money }}", {"a": Money("1.005", "CNY")}, locale="zh-CN", now=NOW)

    def test_dates_in_the_customers_zone(self) -> None:
        at = {"t": datetime(2026, 9, 30, 17, 0, tzinfo=UTC)}
        text = render_string(
            "{{ t|datetime('short') }}", at, locale="zh-CN", tz="Asia/Shanghai", now=NOW
        ).text
        assert text == "2026/10/1 01:00"
        assert render_string(
            "{{ d|date('long') }}", {"d": date(2026, 10, 8)}, locale="en", now=NOW
        ).text == ("October 8, 2026")

    def test_relative_time_both_ways(self) -> None:
        relative = "{{ ahead|relative }} / {{ behind|relative }} / {{ due|relative(now=now) }}"
        context = {
            "ahead": timedelta(days=3),
            "behind": timedelta(hours=-2),
            "due": datetime(2026, 11, 25, tzinfo=UTC),
            "now": datetime(2026, 11, 22, tzinfo=UTC),
        }
        assert (
            render_string(relative, context, locale="zh-CN", now=NOW).text
            == "3天后 / 2小时前 / 3天后"
        )
        assert render_string(relative, context, locale="en", now=NOW).text == (
            "in 3 days / 2 hours ago / in 3 days"
        )
        # Without now=, a datetime is measured from the instant the reply is rendered for.
        at = datetime(2026, 11, 24, tzinfo=UTC)
        assert render_string("{{ due|relative }}", context, locale="en", now=at).text == "in 1 day"

    def test_duration_list_plural_number_mask(self) -> None:
        assert (
            render_string(
                "{{ w|duration }}", {"w": timedelta(hours=2)}, locale="zh-CN", now=NOW
            ).text
            == "2小时"
        )
        assert render_string(
            "{{ x|list }}", {"x": ["cup", "socks", "hat"]}, locale="en", now=NOW
        ).text == ("cup, socks, and hat")
        one = "{{ n|plural(one='# item', other='# items') }}"
        assert render_string(one, {"n": 1}, locale="en", now=NOW).text == "1 item"
        assert render_string(one, {"n": 3}, locale="en", now=NOW).text == "3 items"
        assert (
            render_string("{{ n|number }}", {"n": Decimal("12345.5")}, locale="de", now=NOW).text
            == "12.345,5"
        )
        assert render_string(
            "{{ p|mask('phone') }}", {"p": "13812345678"}, locale="en", now=NOW
        ).text == ("138****5678")

    def test_bad_filter_input(self) -> None:
        with pytest.raises(TemplateError, match="Money"):
            render_string("{{ x|money }}", {"x": "12.30"}, locale="en", now=NOW)
        with pytest.raises(TemplateError, match="time zone"):
            render_string("{{ t|datetime }}", {"t": datetime(2026, 1, 1)}, locale="en", now=NOW)


def test_result_reports_locales_and_variables() -> None:
    result = render_string("{{ name }}，您好", CONTEXT, locale="zh-CN", now=NOW)
    assert (result.text, result.format_locale, result.used_variables) == (
        "张三，您好",
        "zh_Hans_CN",
        ("name",),
    )


def test_unknown_locale() -> None:
    with pytest.raises(UnknownLocaleError):
        render_string("x", {}, locale="xx-??", now=NOW)
