"""Reply templates as data, and rendering them for a customer.

A `ReplyTemplate` has an id and a version, a category, the channels it suits, a typed variable
schema (with per-locale fallbacks for optional variables), agent-fill slots, one variant per locale
(subject and body) and sample fixtures. Templates load from TOML; csdesk ships a catalogue written
from the seeds' phrases (`builtin_templates`).

`render` picks the wording variant through the locale chain (Traditional never falls back to
Simplified), checks the context against the schema, renders in the sandbox with the customer's
formats, and reports unfilled slots: a reply with one is not sendable.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Money
    >>> apology = builtin_templates()["late_delivery_apology"]
    >>> result = render(apology, {"order_id": "SO-1", "days_late": 3,
    ...                          "coupon": Money("10.00", "CNY")}, locale="zh-CN",
    ...                 now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    >>> result.text_locale, result.sendable
    ('zh_Hans', True)
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from csdesk._checks import checked
from csdesk._model import ConfigModel
from csdesk._telemetry import span
from csdesk.decision import PolicyRef, step, without_schema_key
from csdesk.errors import PolicyError, TemplateError
from csdesk.money import Money
from csdesk.replies.engine import RenderLimits, RenderResult, render_string
from csdesk.replies.locales import locale_chain

__all__ = [
    "ReplyTemplate",
    "Slot",
    "Variable",
    "Variant",
    "builtin_templates",
    "load_template",
    "render",
]

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "decimal": (Decimal, int),
    "money": (Money,),
    "date": (date,),
    "datetime": (datetime,),
    "duration": (timedelta,),
    "list": (list, tuple),
}


class Variable(ConfigModel):
    """One variable a template reads, its type, and what to say when an optional one is missing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    type: Literal["str", "int", "decimal", "money", "date", "datetime", "duration", "list"]
    required: bool = True
    fallback: dict[str, str] = Field(default_factory=dict)
    description: str = ""


class Slot(ConfigModel):
    """Text the agent fills in before sending (a reason, a promise); unfilled blocks sending."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    description: str = ""


class Variant(ConfigModel):
    """The wording in one locale."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str | None = None
    body: str = Field(min_length=1)


class ReplyTemplate(ConfigModel):
    """A reply template as data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    version: str = Field(min_length=1)
    category: str = Field(min_length=1)
    channels: tuple[str, ...] = ("chat",)
    variables: tuple[Variable, ...] = ()
    slots: tuple[Slot, ...] = ()
    variants: dict[str, Variant] = Field(min_length=1)
    fixtures: tuple[dict[str, Any], ...] = ()

    @cached_property
    def ref(self) -> PolicyRef:
        """The template as the `PolicyRef` of every reply rendered from it (hash of its JSON)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return PolicyRef(
            id=self.id,
            version=self.version,
            hash=hashlib.sha256(canonical.encode()).hexdigest(),
            source=f"reply template {self.id} ({self.category})",
        )


@checked
def load_template(source: str | Path | Mapping[str, Any]) -> ReplyTemplate:
    """Load a template from a TOML file or a mapping.

    Raises:
        PolicyError: the data does not validate; the errors name the keys.
    """
    where = None
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        where = str(source)
        try:
            data = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError, tomllib.TOMLDecodeError) as error:
            raise PolicyError(
                f"cannot read template {where}: {error} (templates are UTF-8 TOML files)",
                source=where,
            ) from None
    if isinstance(data, dict):
        data = without_schema_key(data, where)
    try:
        return ReplyTemplate.model_validate(data)
    except PolicyError as error:
        detail = error.message.removeprefix("invalid ReplyTemplate: ")
        raise PolicyError(
            f"invalid template: {detail}", source=where, errors=error.errors
        ) from None


@cache
def builtin_templates() -> dict[str, ReplyTemplate]:
    """Csdesk's catalogue, by id (zh-Hans, zh-Hant and en variants)."""
    folder = resources.files("csdesk.replies") / "catalog"
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            template = load_template_text(entry.read_text(encoding="utf-8"), entry.name)
            found[template.id] = template
    return found


def load_template_text(text: str, name: str) -> ReplyTemplate:
    """Load a template from TOML text (``name`` is for messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{name} is not valid TOML: {error}", source=name) from None
    try:
        return load_template(data)
    except PolicyError as error:
        raise PolicyError(error.message, source=name, errors=error.errors) from None


def _context(
    template: ReplyTemplate, context: Mapping[str, Any], text_locale: str
) -> dict[str, Any]:
    if not isinstance(context, Mapping):
        raise TemplateError(
            f"the context is a {type(context).__name__}; pass a mapping of names to values",
            template=template.id,
        )
    values = dict(context)
    for variable in template.variables:
        value = values.get(variable.name)
        if value is None:
            if variable.required:
                raise TemplateError(
                    f"missing variable {variable.name!r} ({variable.type})", template=template.id
                )
            values[variable.name] = variable.fallback.get(
                text_locale, variable.fallback.get("*", "")
            )
            continue
        if isinstance(value, bool) or not isinstance(value, _TYPES[variable.type]):
            raise TemplateError(
                f"variable {variable.name!r} should be {variable.type}, got {type(value).__name__}",
                template=template.id,
            )
    return values


def render(
    template: ReplyTemplate,
    context: Mapping[str, Any],
    *,
    locale: str,
    now: datetime,
    default_locale: str = "en",
    tz: str | None = None,
    slots: Mapping[str, str] | None = None,
    limits: RenderLimits | None = None,
) -> RenderResult:
    """Render ``template`` for a customer in ``locale``, at ``now``.

    ``now`` is the instant the reply is for: ``relative`` measures from it, and it is the
    result's ``decided_at``. The result's ``policy`` is the template (`ReplyTemplate.ref`).

    ``limits`` bounds the render (see `RenderLimits`); the defaults suit every built-in template.

    Raises:
        TemplateError: no variant for the locale chain, a missing required variable (named), a
            value of the wrong type.
        TemplateSecurityError: anything the sandbox refuses.
        TemplateLimitError: the render went past ``limits``.
    """
    if not isinstance(template, ReplyTemplate):
        raise TemplateError(
            f"render takes a ReplyTemplate (see load_template), got {type(template).__name__}"
        )
    with span("csdesk.reply.render", {"csdesk.template": template.id, "csdesk.locale": locale}):
        return _render(template, context, locale, now, default_locale, tz, slots, limits)


def _render(
    template: ReplyTemplate,
    context: Mapping[str, Any],
    locale: str,
    now: datetime,
    default_locale: str,
    tz: str | None,
    slots: Mapping[str, str] | None,
    limits: RenderLimits | None,
) -> RenderResult:
    chain = locale_chain(locale, available=template.variants, default=default_locale)
    if chain.text_locale is None:
        raise TemplateError(
            f"no variant for {locale} (tried {', '.join(chain.chain)}); variants: "
            f"{', '.join(template.variants)}",
            template=template.id,
        )
    written = next(name for name in template.variants if _same(name, chain.text_locale))
    variant = template.variants[written]
    filled = dict(slots or {})
    unfilled = tuple(s.name for s in template.slots if not filled.get(s.name, "").strip())
    values = _context(template, context, written)
    values["slot"] = {
        s.name: filled.get(s.name) or f"[{s.description or s.name}]" for s in template.slots
    }
    options: dict[str, Any] = {
        "locale": chain.format_locale,
        "now": now,
        "tz": tz,
        "template_id": template.id,
        "limits": limits,
        "policy": template.ref,
    }
    body = render_string(variant.body, values, **options)
    subject = None
    if variant.subject:
        subject = render_string(variant.subject, values, **options).text
    trace = [
        step(
            "variant",
            "reply.variant",
            template=template.id,
            locale=locale,
            chain=list(chain.chain),
            chosen=written,
            formats=chain.format_locale,
        )
    ]
    if unfilled:
        trace.append(step("slots", "reply.unfilled", slots=list(unfilled)))
    return RenderResult.made(
        text=body.text,
        text_locale=chain.text_locale,
        format_locale=chain.format_locale,
        chain=chain.chain,
        template_id=template.id,
        used_variables=body.used_variables,
        subject=subject,
        template_version=template.version,
        unfilled_slots=unfilled,
        policy=template.ref,
        trace=trace,
        decided_at=now,
        inputs=(template.ref.hash, locale, default_locale, tz, values),
    )


def _same(written: str, chosen: str) -> bool:
    from csdesk._locale import get_locale

    return str(get_locale(written)) == chosen
