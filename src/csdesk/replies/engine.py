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
    >>> from datetime import datetime, timezone
    >>> from csdesk import Money
    >>> result = render_string("您好，已为您退款 {{ amount|money }}。", {"amount": Money("128.50", "CNY")},
    ...                        locale="zh-CN", now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    >>> result.text
    '您好，已为您退款 ¥128.50。'
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from types import TracebackType
from typing import Any, ClassVar, Final
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.lists import format_list
from babel.numbers import format_decimal
from jinja2 import meta

from csdesk._locale import get_locale
from csdesk._model import require_aware
from csdesk._zones import get_zone
from csdesk.decision import Decided, PolicyRef, step
from csdesk.errors import (
    CsdeskError,
    MoneyError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
)
from csdesk.money import Money
from csdesk.privacy import mask
from csdesk.replies._sandbox import (
    DEFAULT_LIMITS,
    Budget,
    RenderLimits,
    current,
    environment,
    plain_context,
    rendering,
)

__all__ = ["MAX_OUTPUT", "RenderLimits", "RenderResult", "render_string"]

MAX_OUTPUT: Final = DEFAULT_LIMITS.max_output
_NAMED_FORMATS: Final = frozenset({"short", "medium", "long", "full"})
_MAX_PATTERN: Final = 40


class RenderResult(Decided):
    """A rendered reply, in the decision envelope.

    ``policy`` is the template (id, version, the hash of its source); ``None`` for
    `render_string`. ``decided_at`` is the ``now`` it was rendered for.

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

    answer_field: ClassVar[str] = "text"

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


class _Formatter:
    """The filters, bound to one locale and time zone for one render."""

    def __init__(self, locale: Locale, tz: ZoneInfo | None, now: datetime | None = None) -> None:
        self.locale, self.tz, self.now = locale, tz, now

    def money(self, value: Any, style: str = "symbol") -> str:
        if not isinstance(value, Money):
            raise TemplateError(f"money expects a Money value, got {type(value).__name__}")
        if style not in {"symbol", "code", "name", "plain"}:
            raise TemplateError("money style: use symbol, code, name or plain")
        try:
            return value.format(self.locale, style=style)  # type: ignore[arg-type]
        except MoneyError as error:
            raise TemplateError(f"money: {error}") from None

    def _zoned(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise TemplateError("datetime values in a reply must carry a time zone")
        return value.astimezone(self.tz) if self.tz else value

    def date(self, value: Any, format: str = "medium") -> str:
        _pattern(format, "date")
        if isinstance(value, datetime):
            value = self._zoned(value).date()
        if not isinstance(value, date):
            raise TemplateError(f"date expects a date, got {type(value).__name__}")
        return str(format_date(value, format=format, locale=self.locale))

    def datetime(self, value: Any, format: str = "medium") -> str:
        _pattern(format, "datetime")
        if not isinstance(value, datetime):
            raise TemplateError(f"datetime expects a datetime, got {type(value).__name__}")
        zoned = self._zoned(value)
        return str(format_datetime(zoned, format=format, tzinfo=zoned.tzinfo, locale=self.locale))

    def duration(self, value: Any, threshold: float = 0.85) -> str:
        _threshold(threshold)
        if not isinstance(value, timedelta):
            raise TemplateError(f"duration expects a timedelta, got {type(value).__name__}")
        return str(format_timedelta(value, threshold=threshold, locale=self.locale))

    def relative(self, value: Any, now: Any = None, threshold: float = 0.85) -> str:
        """`in 3 days` / `3 days ago`: a timedelta, or an aware datetime measured from `now`.

        ``now`` defaults to the ``now`` the reply is rendered for.
        """
        _threshold(threshold)
        if now is None:
            now = self.now
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
            raise TemplateError("list style: use standard, or, unit")
        current().value(3 * sum(len(str(item)) for item in value), "the result of |list")
        words = [str(item) for item in value]
        return str(format_list(words, style=style, locale=self.locale))  # type: ignore[arg-type]

    def plural(self, value: Any, **forms: str) -> str:
        if not isinstance(value, int | Decimal) or isinstance(value, bool):
            raise TemplateError(f"plural expects a number, got {type(value).__name__}")
        category = self.locale.plural_form(value)
        chosen = forms.get(category, forms.get("other"))
        if not isinstance(chosen, str):
            raise TemplateError(f"plural: no text form for {category!r} (give other='...')")
        number = str(value)
        current().value(len(chosen) + chosen.count("#") * len(number), "the result of |plural")
        return chosen.replace("#", number)

    def mask(self, value: Any, kind: str) -> str:
        if kind not in {"phone", "email", "name", "address"}:
            raise TemplateError("mask kind: use phone, email, name or address")
        return mask(str(value), kind)  # type: ignore[arg-type]


def _pattern(format: Any, filter_name: str) -> None:
    if not isinstance(format, str) or not (
        format in _NAMED_FORMATS or 0 < len(format) <= _MAX_PATTERN
    ):
        raise TemplateError(
            f"{filter_name} format: short, medium, long, full or a CLDR pattern of at most "
            f"{_MAX_PATTERN} characters"
        )


def _threshold(threshold: Any) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | Decimal | float):
        raise TemplateError("threshold must be a number between 0 and 1")
    if not 0 < threshold <= 1:
        raise TemplateError("threshold must be a number between 0 and 1")


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


def _bound(name: str) -> Callable[..., str]:
    # pass_context keeps Jinja2 from folding a filter at compile time, outside a render.
    @jinja2.pass_context
    def apply(context: jinja2.runtime.Context, value: Any, *args: Any, **kwargs: Any) -> str:
        method: Callable[..., str] = getattr(current().formatter, name)
        return method(value, *args, **kwargs)

    return apply


@lru_cache(maxsize=8)
def _environment(limits: RenderLimits = DEFAULT_LIMITS) -> jinja2.Environment:
    return environment(limits, {name: _bound(name) for name in _FILTERS})


@lru_cache(maxsize=1024)
def _compile_default(source: str) -> tuple[jinja2.Template, tuple[str, ...]]:
    """`_compile` under the default limits, cached by source alone (no limits to hash)."""
    return _compile(source, DEFAULT_LIMITS)


@lru_cache(maxsize=1024)
def _compile(source: str, limits: RenderLimits) -> tuple[jinja2.Template, tuple[str, ...]]:
    """The compiled template and the top-level names it reads, once per source and limits."""
    env = _environment(limits)
    try:
        used = tuple(sorted(meta.find_undeclared_variables(env.parse(source))))
        return env.from_string(source), used
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"syntax error: {error.message}", line=error.lineno) from None


def render_string(
    source: str,
    context: Mapping[str, Any],
    *,
    locale: str | Locale,
    now: datetime,
    tz: str | None = None,
    template_id: str = "<string>",
    limits: RenderLimits | None = None,
    policy: PolicyRef | None = None,
) -> RenderResult:
    """Render an ad-hoc template through the same sandbox, filters and limits as the catalogue.

    ``now`` is the instant the reply is for (``relative`` measures from it; it is the result's
    ``decided_at``). ``policy`` names the template in the result (`render` passes its own).

    The context is first reduced to plain values (see `csdesk.replies.RenderLimits` for what a
    render may use); no error message ever repeats a value from it.

    Raises:
        TemplateLimitError: the template went past one of ``limits`` (named in ``.limit``).
        TemplateSecurityError: a forbidden construct or object.
        TemplateError: a syntax error, a missing variable, a bad filter argument; ``.line`` is
            the template's line when known.
        UnknownLocaleError: the locale is unknown.
        InvalidInputError: ``tz`` is not an IANA zone.
        NaiveDatetimeError: ``now`` has no time zone.
    """
    require_aware(now, "now")
    chosen = _limits(limits)
    values: dict[str, Any] = {}
    try:
        if not isinstance(source, str):
            raise TemplateError(f"a template is a string, got {type(source).__name__}")
        if len(source) > chosen.max_source:
            raise TemplateLimitError(
                f"the template is longer than {chosen.max_source:,} characters", limit="max_source"
            )
        values = plain_context(context)
        formatter = _Formatter(get_locale(locale), get_zone(tz) if tz else None, now)
        template, used = _compile_default(source) if limits is None else _compile(source, chosen)
        with rendering(Budget(chosen, formatter)):
            text = _render(template, values)
    except TemplateError as error:
        raise _located(error, template_id, values) from None
    if len(text) > chosen.max_output:
        raise TemplateLimitError(
            f"the reply is longer than {chosen.max_output:,} characters",
            limit="max_output",
            template=template_id,
        )
    name = _name(formatter.locale)
    return RenderResult.made(
        text=text,
        text_locale=name,
        format_locale=name,
        chain=(name,),
        template_id=template_id,
        used_variables=used,
        policy=policy,
        trace=(step("render", "reply.rendered", template=template_id, locale=name),),
        decided_at=now,
        inputs=(source, values, name, tz),
    )


@lru_cache(maxsize=256)
def _name(locale: Locale) -> str:
    return str(locale)


def _limits(limits: RenderLimits | None) -> RenderLimits:
    if limits is None:
        return DEFAULT_LIMITS
    if not isinstance(limits, RenderLimits):
        raise TemplateError(f"limits must be a RenderLimits, got {type(limits).__name__}")
    return limits


def _render(template: jinja2.Template, values: Mapping[str, Any]) -> str:
    try:
        return template.render(values)
    except CsdeskError as error:
        if isinstance(error, TemplateError):
            raise error.located(error.template, _line(error.__traceback__)) from None
        raise TemplateError(f"{type(error).__name__}: {error}") from None
    except jinja2.exceptions.SecurityError as error:
        raise TemplateSecurityError(str(error), line=_line(error.__traceback__)) from None
    except jinja2.UndefinedError as error:
        raise TemplateError(
            f"missing variable: {error.message}", line=_line(error.__traceback__)
        ) from None
    except (RecursionError, MemoryError) as error:
        raise TemplateLimitError(
            "the template recursed or allocated too much", limit="max_call_depth",
            line=_line(error.__traceback__),
        ) from None  # fmt: skip
    except Exception as error:
        detail = str(error) or type(error).__name__
        raise TemplateError(
            f"{type(error).__name__}: {detail}", line=_line(error.__traceback__)
        ) from None


def _line(trace: TracebackType | None) -> int | None:
    """The template line of the innermost template frame in ``trace`` (Jinja2 rewrites them)."""
    line = None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _located(error: TemplateError, template_id: str, values: Mapping[str, Any]) -> TemplateError:
    """``error`` for ``template_id``, with every context value taken out of its message."""
    return error.located(template_id, detail=_scrub(error.detail, values))


def _scrub(message: str, values: Mapping[str, Any]) -> str:
    secrets = sorted({text for text in _leaves(values) if len(text) >= 3}, key=len, reverse=True)
    for text in secrets:
        message = message.replace(text, "…")
    return message


def _leaves(value: Any) -> list[str]:
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, Money):
            found.append(str(item.amount))
        elif item is not None and not isinstance(item, bool):
            found.append(str(item))
    return found
