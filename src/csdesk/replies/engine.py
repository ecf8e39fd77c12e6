"""The reply-template engine: a locked-down Jinja2 sandbox with Babel formatting filters.

Templates are written by shop staff, so they are untrusted input. The engine uses Jinja2's
`ImmutableSandboxedEnvironment` with `StrictUndefined` and no globals, allows only the filters
listed here, intercepts ``*`` and ``**`` so a template cannot build a huge string or number, refuses
every attribute that is private or on the block list (``format``, ``format_map``, ``mro``,
``model_dump_json``, …), accepts only plain values in the context (strings, numbers, dates,
`csdesk.money.Money`, and lists and dicts of them; never pydantic or ORM objects, which leak through
methods), and limits the output's length. Everything refused is a
`csdesk.errors.TemplateSecurityError`; other failures are `csdesk.errors.TemplateError`.

Formatting goes through Babel with one cached `Locale` per render; `money` never rounds.

Examples:
    >>> from csdesk import Money
    >>> result = render_string("您好，已为您退款 {{ amount|money }}。", {"amount": Money("128.50", "CNY")},
    ...                        locale="zh-CN")
    >>> result.text
    '您好，已为您退款 ¥128.50。'
"""  # noqa: E501

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.lists import format_list
from babel.numbers import format_decimal
from jinja2.sandbox import ImmutableSandboxedEnvironment

from csdesk._locale import get_locale
from csdesk.errors import CsdeskError, MoneyError, TemplateError, TemplateSecurityError
from csdesk.money import Money
from csdesk.privacy import mask

__all__ = ["MAX_OUTPUT", "RenderResult", "render_string"]

MAX_OUTPUT: Final = 20_000
_MAX_POWER: Final = 64
_MAX_INT: Final = 10**30
_BLOCKED: Final = frozenset(
    {
        "format",
        "format_map",
        "mro",
        "model_dump",
        "model_dump_json",
        "model_copy",
        "dict",
        "json",
        "copy",
        "update",
        "pop",
        "popitem",
        "clear",
        "setdefault",
        "append",
        "extend",
        "insert",
        "remove",
        "sort",
        "reverse",
        "gi_frame",
        "gi_code",
        "f_globals",
        "func_globals",
        "__globals__",
        "__builtins__",
        "secret",
        "password",
        "token",
        "api_key",
    }
)
_PLAIN = (str, int, Decimal, bool, date, datetime, timedelta, Money, type(None))


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def wrap_str_format(self, value: Any) -> None:
        # Jinja2 hands out a sandboxed str.format before asking is_safe_attribute; csdesk allows
        # no string methods at all (format strings are how most sandbox escapes begin).
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in _BLOCKED:
            return False
        if isinstance(obj, _Formatter):
            return False
        if isinstance(obj, Money):
            return attr in {"amount", "currency"}
        if isinstance(obj, str | int | Decimal | date | timedelta | list | tuple | dict):
            return False  # no methods on plain values: use filters
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if not isinstance(right, int) or abs(right) > _MAX_POWER:
                raise TemplateSecurityError(
                    f"exponent {right!r} is beyond the limit of {_MAX_POWER}"
                )
            result = operator.pow(left, right)
        else:
            sizes = [len(x) for x in (left, right) if isinstance(x, str | list | tuple)]
            counts = [x for x in (left, right) if isinstance(x, int)]
            if sizes and counts and sizes[0] * max(counts[0], 0) > MAX_OUTPUT:
                raise TemplateSecurityError(
                    f"repeating {sizes[0]} characters {counts[0]} times goes past the output "
                    f"limit of {MAX_OUTPUT}"
                )
            result = operator.mul(left, right)
        if isinstance(result, int) and abs(result) > _MAX_INT:
            raise TemplateSecurityError("a number in the template grew beyond 10**30")
        return result


@dataclass(frozen=True)
class RenderResult:
    """A rendered reply.

    Attributes:
        text: The reply, ready to send.
        text_locale: The locale whose wording was used.
        format_locale: The locale money and dates were formatted for.
        chain: The locales tried for the wording, in order.
        template_id: The template's id (``<string>`` for `render_string`).
        used_variables: Top-level context names the template read.
        subject: The rendered subject line, for channels that have one.
        template_version: The template's version.
        unfilled_slots: Agent-fill slots still empty; while any is, the reply is not sendable.
    """

    text: str
    text_locale: str
    format_locale: str
    chain: tuple[str, ...]
    template_id: str
    used_variables: tuple[str, ...]
    subject: str | None = None
    template_version: str | None = None
    unfilled_slots: tuple[str, ...] = ()

    @property
    def sendable(self) -> bool:
        """Whether every agent-fill slot has been filled."""
        return not self.unfilled_slots


def _check_value(value: Any, path: str) -> None:
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TemplateSecurityError(f"context key {key!r} at {path} is not a string")
            _check_value(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")
        return
    raise TemplateSecurityError(
        f"context value at {path} is a {type(value).__name__}; templates render from plain "
        "values (str, numbers, dates, Money, lists and dicts of them), never from objects"
    )


class _Formatter:
    """The filters, bound to one locale and time zone for one render."""

    def __init__(self, locale: Locale, tz: ZoneInfo | None) -> None:
        self.locale, self.tz = locale, tz

    def money(self, value: Any, style: str = "symbol") -> str:
        if not isinstance(value, Money):
            raise TemplateError(f"money expects a Money value, got {type(value).__name__}")
        if style not in {"symbol", "code", "name", "plain"}:
            raise TemplateError(f"money style {style!r}: use symbol, code, name or plain")
        try:
            return value.format(self.locale, style=style)  # type: ignore[arg-type]
        except MoneyError as error:
            raise TemplateError(f"money: {error}") from None

    def _zoned(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise TemplateError("datetime values in a reply must carry a time zone")
        return value.astimezone(self.tz) if self.tz else value

    def date(self, value: Any, format: str = "medium") -> str:
        if isinstance(value, datetime):
            value = self._zoned(value).date()
        if not isinstance(value, date):
            raise TemplateError(f"date expects a date, got {type(value).__name__}")
        return str(format_date(value, format=format, locale=self.locale))

    def datetime(self, value: Any, format: str = "medium") -> str:
        if not isinstance(value, datetime):
            raise TemplateError(f"datetime expects a datetime, got {type(value).__name__}")
        zoned = self._zoned(value)
        return str(format_datetime(zoned, format=format, tzinfo=zoned.tzinfo, locale=self.locale))

    def duration(self, value: Any, threshold: float = 0.85) -> str:
        if not isinstance(value, timedelta):
            raise TemplateError(f"duration expects a timedelta, got {type(value).__name__}")
        return str(format_timedelta(value, threshold=threshold, locale=self.locale))

    def relative(self, value: Any, now: Any = None, threshold: float = 0.85) -> str:
        """`in 3 days` / `3 days ago`: a timedelta, or an aware datetime measured from `now`."""
        if isinstance(value, datetime):
            if not isinstance(now, datetime):
                raise TemplateError("relative on a datetime needs now=<an aware datetime>")
            if value.tzinfo is None or now.tzinfo is None:
                raise TemplateError("relative needs aware datetimes")
            value = value - now
        elif not isinstance(value, timedelta):
            raise TemplateError(f"relative expects a timedelta, got {type(value).__name__}")
        text = format_timedelta(value, threshold=threshold, add_direction=True, locale=self.locale)
        return str(text)

    def number(self, value: Any) -> str:
        if isinstance(value, float) or not isinstance(value, int | Decimal):
            raise TemplateError(f"number expects an int or Decimal, got {type(value).__name__}")
        return str(format_decimal(value, locale=self.locale))

    def list(self, value: Any, style: str = "standard") -> str:
        if not isinstance(value, list | tuple):
            raise TemplateError(f"list expects a list, got {type(value).__name__}")
        if style not in {"standard", "or", "unit"}:
            raise TemplateError(f"list style {style!r}: use standard, or, unit")
        words = [str(item) for item in value]
        return str(format_list(words, style=style, locale=self.locale))  # type: ignore[arg-type]

    def plural(self, value: Any, **forms: str) -> str:
        if not isinstance(value, int | Decimal) or isinstance(value, bool):
            raise TemplateError(f"plural expects a number, got {type(value).__name__}")
        category = self.locale.plural_form(value)
        chosen = forms.get(category, forms.get("other"))
        if chosen is None:
            raise TemplateError(f"plural: no form for {category!r} (give other=...)")
        return chosen.replace("#", str(value))

    def mask(self, value: Any, kind: str) -> str:
        if kind not in {"phone", "email", "name", "address"}:
            raise TemplateError(f"mask kind {kind!r}: use phone, email, name or address")
        return mask(str(value), kind)  # type: ignore[arg-type]


_SAFE_BUILTIN_FILTERS: Final = (
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "length",
    "default",
    "replace",
    "truncate",
    "first",
    "last",
    "join",
)
_FILTERS: Final = (
    "money",
    "date",
    "datetime",
    "duration",
    "relative",
    "number",
    "list",
    "plural",
    "mask",
)


@lru_cache(maxsize=1)
def _environment() -> _Sandbox:
    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, cache_size=512)
    env.globals.clear()
    builtins = {name: env.filters[name] for name in _SAFE_BUILTIN_FILTERS}
    env.filters.clear()
    env.filters.update(builtins)
    # The formatting filters read the per-render locale and zone from the render context, so one
    # shared environment serves every thread.
    env.filters.update({name: _bound(name) for name in _FILTERS})
    env.tests.clear()
    env.tests.update({"defined": lambda v: not isinstance(v, jinja2.Undefined)})
    return env


@lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"syntax error: {error.message}", line=error.lineno) from None


_FORMATTER: Final = "__csdesk_formatter"


def _bound(name: str) -> Callable[..., str]:
    @jinja2.pass_context
    def apply(context: jinja2.runtime.Context, value: Any, *args: Any, **kwargs: Any) -> str:
        formatter = context.get(_FORMATTER)
        if not isinstance(formatter, _Formatter):
            raise TemplateSecurityError("formatting filters need csdesk's render context")
        method: Callable[..., str] = getattr(formatter, name)
        return method(value, *args, **kwargs)

    return apply


def render_string(
    source: str,
    context: Mapping[str, Any],
    *,
    locale: str | Locale,
    tz: str | None = None,
    template_id: str = "<string>",
) -> RenderResult:
    """Render an ad-hoc template through the same sandbox, filters and limits as the catalogue.

    Raises:
        TemplateSecurityError: a forbidden construct, object or limit.
        TemplateError: a syntax error, a missing variable, a bad filter argument.
        UnknownLocaleError: the locale is unknown.
    """
    if not isinstance(source, str):
        raise TemplateError("a template is a string", template=template_id)
    if len(source) > MAX_OUTPUT:
        raise TemplateSecurityError(f"the template is longer than {MAX_OUTPUT} characters")
    _check_value(dict(context), "context")
    parsed = get_locale(locale)
    formatter = _Formatter(parsed, ZoneInfo(tz) if tz else None)
    template = _compile(source)
    try:
        text = _render(template, {**context, _FORMATTER: formatter})
    except CsdeskError as error:
        if (
            isinstance(error, TemplateError)
            and error.template == "<string>"
            and template_id != "<string>"
        ):
            raise type(error)(error.message, template=template_id) from None
        raise
    if len(text) > MAX_OUTPUT:
        raise TemplateSecurityError(f"the reply is longer than {MAX_OUTPUT} characters")
    used = tuple(sorted(_used_names(source) - {_FORMATTER}))
    name = str(parsed)
    return RenderResult(text, name, name, (name,), template_id, used)


def _render(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    try:
        return template.render(variables)
    except jinja2.exceptions.SecurityError as error:
        raise TemplateSecurityError(str(error)) from None
    except jinja2.UndefinedError as error:
        raise TemplateError(f"missing variable: {error.message}") from None
    except (TemplateError, TemplateSecurityError):
        raise
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise TemplateError(f"{type(error).__name__}: {error}") from None


@lru_cache(maxsize=1024)
def _used_names(source: str) -> frozenset[str]:
    from jinja2 import meta

    return frozenset(meta.find_undeclared_variables(_environment().parse(source)))
