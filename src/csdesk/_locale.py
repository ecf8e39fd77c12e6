"""Babel ``Locale`` objects, parsed once per tag and cached.

Parsing a locale is most of what ``babel.numbers.format_currency`` costs when it is handed a string
(about 100 µs against 10 µs with a ready ``Locale``), so every formatter in csdesk goes through
`get_locale`.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from babel import UnknownLocaleError as BabelUnknownLocaleError

from csdesk.errors import UnknownLocaleError

__all__ = ["get_locale"]


def get_locale(tag: str | Locale) -> Locale:
    """Return the Babel ``Locale`` for a BCP 47 (``zh-Hant-TW``) or CLDR (``zh_Hant_TW``) tag.

    Raises:
        UnknownLocaleError: the tag is malformed or CLDR has no data for it.

    Examples:
        >>> get_locale("zh-Hant-TW")
        Locale('zh', territory='TW', script='Hant')
        >>> get_locale("zh-TW") is get_locale("zh-TW")
        True
    """
    if isinstance(tag, Locale):
        return tag
    if not isinstance(tag, str):
        raise UnknownLocaleError(tag)
    return _parse(tag)


@lru_cache(maxsize=512)
def _parse(tag: str) -> Locale:
    if not isinstance(tag, str) or not tag.strip():
        raise UnknownLocaleError(tag)
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, TypeError, BabelUnknownLocaleError) as error:
        raise UnknownLocaleError(tag) from error
