"""IANA time zones by name, looked up once and cached, with a csdesk error for a bad name."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csdesk.errors import InvalidInputError

__all__ = ["get_zone"]


def get_zone(name: object, what: str = "time zone") -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA name such as ``"Asia/Shanghai"``.

    Raises:
        InvalidInputError: ``name`` is not a string or names no IANA zone.

    Examples:
        >>> get_zone("Asia/Shanghai").key
        'Asia/Shanghai'
    """
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str):
        raise InvalidInputError(
            f"{what} must be an IANA zone name such as 'Asia/Shanghai', got {type(name).__name__}"
        )
    return _lookup(name, what)


@lru_cache(maxsize=256)
def _lookup(name: str, what: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= 64 else name[:64] + "…"
        raise InvalidInputError(
            f"unknown IANA {what} {shown!r}; use a name such as 'Asia/Shanghai' or 'Europe/Berlin'"
        ) from None
