"""`explain`: any decision result in words, for an agent, in zh-Hans, zh-Hant or English.

Every decision result (`csdesk.decision.Decided`) carries a trace of `csdesk.decision.Step` s: a
stable code and the values the step used, never text. `explain` words the result's headline and
each step through the explanations catalogue (``csdesk/replies/explanations/<locale>.toml``), with
the same sandboxed engine and Babel formats as customer replies: amounts are formatted for the
locale from the already-rounded values, never rounded again. The wording locale is chosen by the
reply locale chain (Traditional Chinese never falls back to Simplified); numbers, dates and money
are formatted for the locale asked for.

Examples:
    >>> from datetime import datetime, timedelta, timezone
    >>> from csdesk.sla import BusinessCalendar, promise
    >>> office = {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
    >>> calendar = BusinessCalendar(tz="Asia/Shanghai", weekly=office)
    >>> made = promise(datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc), timedelta(hours=1),
    ...                calendar=calendar)
    >>> print(explain(made, "zh-TW", tz="Asia/Shanghai").splitlines()[0])
    告知客戶：2026年3月2日 上午11:30:00 前（預計 2026年3月2日 上午11:00:00，× 1.5）
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

from csdesk._checks import checked
from csdesk.decision import Decided, Step
from csdesk.errors import InvalidInputError
from csdesk.replies.engine import render_string
from csdesk.replies.locales import locale_chain

__all__ = ["EXPLAIN_LOCALES", "explain", "explain_step"]

EXPLAIN_LOCALES = ("en", "zh_Hans", "zh_Hant")
"""The locales the explanations catalogue is written in."""

_TRANSLATED = frozenset(
    {
        "anchor",
        "basis",
        "cause",
        "customer_tier",
        "direction",
        "from",
        "instrument",
        "kind",
        "method",
        "metric",
        "on_expiry",
        "period",
        "reason",
        "required",
        "required_role",
        "role",
        "route",
        "split",
        "status",
        "tier",
        "to",
        "why",
    }
)
# Explanations are words for people, not customer replies: render them in a fixed instant (the
# catalogue has no `relative`) so that explaining twice gives the same text.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@cache
def _catalogue(locale: str) -> dict[str, dict[str, str]]:
    text = (resources.files("csdesk.replies") / "explanations" / f"{locale}.toml").read_text(
        encoding="utf-8"
    )
    return tomllib.loads(text)


def _text_locale(locale: str) -> str:
    chain = locale_chain(locale, available=EXPLAIN_LOCALES, default="en")
    return chain.text_locale or "en"


def _plain(value: Any, words: Mapping[str, str], translate: bool = False) -> Any:
    """A value the sandbox accepts: models as dicts, enums and sets as text and lists."""
    if isinstance(value, Enum):
        value = value.value
        translate = True
    if isinstance(value, str):
        return words.get(value, value) if translate else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, BaseModel):
        return {
            name: _plain(getattr(value, name), words, name in _TRANSLATED)
            for name in type(value).model_fields
        }
    if isinstance(value, Mapping):
        return {
            str(k): _shown(v) if k == "actual" else _plain(v, words, k in _TRANSLATED)
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), words) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(str(v) for v in value)) + "}"
    if isinstance(value, list | tuple):
        return [_plain(v, words, translate) for v in value]
    return value


def _shown(value: Any) -> Any:
    """A value a condition read, as the policy's author wrote such values (true, none, {a, b})."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(str(v) for v in value)) + "}"
    return str(value) if isinstance(value, Enum) else value


def _render(source: str, values: dict[str, Any], locale: str, tz: str | None) -> str:
    return render_string(source, values, locale=locale, now=_EPOCH, tz=tz).text


@checked
def explain_step(step: Step, locale: str = "en", *, tz: str | None = None) -> str:
    """One step in words (see `explain`).

    Raises:
        InvalidInputError: the catalogue has no wording for the step's code.
        UnknownLocaleError: the locale is unknown.
    """
    catalogue = _catalogue(_text_locale(locale))
    source = catalogue["steps"].get(step.code)
    if source is None:
        raise InvalidInputError(
            f"no wording for trace step {step.code!r}; the explanations catalogue words "
            f"{len(catalogue['steps'])} codes"
        )
    words = catalogue["words"]
    values = _plain(dict(step.params), words)
    detail = step.params.get("detail")
    if isinstance(detail, Mapping) and "scope" in detail:
        values["detail"] = _render(
            catalogue["steps"][f"detail.{detail['scope']}"], _plain(detail, words), locale, tz
        )
    return _render(source, values, locale, tz)


@checked
def explain(result: Decided, locale: str = "en", *, tz: str | None = None) -> str:
    """Word a decision result for an agent: its headline, each step of its trace, its policy.

    Args:
        result: Any decision result: a `ReturnWindow`, `RefundQuote`, `TierAssessment`,
            compensation `Decision`, `SlaStatus`, `ArrivalEstimate`, `Deadline`, `Promise` or
            `RenderResult`.
        locale: The reader's locale (``zh-CN``, ``zh-TW``, ``en-GB``, …): zh-Hans, zh-Hant or
            English wording, with the locale's own formats.
        tz: The zone in which to show times (default: each time's own).

    Raises:
        UnknownLocaleError: the locale is unknown.
    """
    catalogue = _catalogue(_text_locale(locale))
    labels, words = catalogue["labels"], catalogue["words"]
    name = type(result).__name__
    headlines = catalogue["headline"]
    headline = next(
        (headlines[k.__name__] for k in type(result).__mro__ if k.__name__ in headlines), None
    )
    fields = {
        field: _plain(getattr(result, field), words, field in _TRANSLATED)
        for field in type(result).model_fields
        if field not in ("trace", "policy")
    }
    lines = [_render(headline, fields, locale, tz)] if headline else [name]
    if result.trace:
        lines.append(labels["why"])
        lines.extend(f"  - {explain_step(s, locale, tz=tz)}" for s in result.trace)
    if result.policy is None:
        lines.append(labels["no_policy"])
    else:
        ref = {"id": result.policy.id, "version": result.policy.version}
        lines.append(
            _render(labels["policy"], {**ref, "hash": result.policy.hash[:12]}, locale, tz)
        )
    return "\n".join(lines)
