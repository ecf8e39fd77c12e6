"""The locale chain: which wording variant to use, never crossing a script boundary.

A customer in Taiwan (``zh-TW``) reads Traditional Chinese; if a template has only Simplified
Chinese and English variants, the reply must be English, not Simplified. `locale_chain` maximises
the tag with CLDR's likely subtags (zh-TW → zh_Hant_TW), walks the CLDR parents while the script
stays the same, then falls back to the shop's default. The format locale (money, dates) stays the
customer's own.

Examples:
    >>> chain = locale_chain("zh-TW", available=["zh-Hans", "en"])
    >>> chain.text_locale, chain.format_locale, chain.chain
    ('en', 'zh_Hant_TW', ('zh_Hant_TW', 'zh_Hant', 'zh_TW', 'en'))
    >>> locale_chain("zh-SG", available=["zh-Hans", "zh-Hant", "en"]).text_locale
    'zh_Hans'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale
from babel.core import get_global

from csdesk._checks import checked
from csdesk._locale import get_locale

__all__ = ["LocaleChain", "locale_chain", "maximize"]


@dataclass(frozen=True)
class LocaleChain:
    """The wording locale chosen, the formatting locale, and the candidates tried in order."""

    text_locale: str | None
    format_locale: str
    chain: tuple[str, ...]


@checked
@lru_cache(maxsize=1024)
def maximize(tag: str) -> Locale:
    """The tag with its likely script and territory filled in (zh-TW → zh_Hant_TW)."""
    parsed = get_locale(tag)
    likely: Mapping[str, str] = get_global("likely_subtags")
    name = str(parsed)
    if parsed.script is None or parsed.territory is None:
        full = likely.get(name) or likely.get(parsed.language)
        if full:
            filled = Locale.parse(full)
            return Locale(
                parsed.language,
                territory=parsed.territory or filled.territory,
                script=parsed.script or filled.script,
            )
    return parsed


def _script(locale: Locale) -> str | None:
    return locale.script or maximize(str(locale)).script


def _candidates(tag: str) -> list[str]:
    full = maximize(tag)
    script = full.script
    parents: Mapping[str, str] = get_global("parent_exceptions")
    names = [str(full)]
    if full.territory and script:
        names.append(f"{full.language}_{script}")
    if full.territory:
        names.append(f"{full.language}_{full.territory}")
        parent = parents.get(f"{full.language}_{full.territory}")
        if parent:
            names.append(parent)
    names.append(full.language)
    seen: list[str] = []
    for name in names:
        if name not in seen and _script(Locale.parse(name)) == script:
            seen.append(name)
    return seen


def _key(tag: str) -> str:
    locale = maximize(tag)
    return f"{locale.language}_{locale.script}_{locale.territory}"


@checked
def locale_chain(tag: str, *, available: Iterable[str], default: str = "en") -> LocaleChain:
    """Choose the wording variant for ``tag`` among ``available`` ones.

    ``available`` holds the variants' tags as written (``"zh-Hans"``, ``"zh-Hant"``, ``"en"``);
    the first candidate of the same script that matches one wins, then ``default``.
    ``text_locale`` is the matching variant's tag as written, or None when nothing matches.
    """
    variants = {str(get_locale(name)): name for name in available}
    by_language_script: dict[tuple[str, str | None], str] = {}
    for parsed_name, written in variants.items():
        full = maximize(parsed_name)
        by_language_script.setdefault((full.language, full.script), written)
    candidates = _candidates(tag)
    chosen: str | None = None
    for candidate in candidates:
        if candidate in variants:
            chosen = variants[candidate]
            break
    if chosen is None:
        target = maximize(tag)
        chosen = by_language_script.get((target.language, target.script))
    chain = list(candidates)
    default_name = str(get_locale(default))
    if chosen is None and default_name in variants:
        chosen = variants[default_name]
    if default_name not in chain:
        chain.append(default_name)
    return LocaleChain(
        text_locale=str(get_locale(chosen)) if chosen else None,
        format_locale=str(maximize(tag)),
        chain=tuple(chain),
    )
