"""Masking of customer data: the masks themselves, below everything else (no csdesk imports).

The public face is `csdesk.privacy`, which checks arguments and adds `get_logger`; `csdesk.errors`
uses `scrub` from here directly, so that no import cycle runs through the error tree. The examples
are on `csdesk.privacy`.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["PiiKind", "mask", "mask_address", "mask_email", "mask_name", "mask_phone", "scrub"]

PiiKind = Literal["phone", "email", "name", "address"]
"""The kinds of customer data csdesk knows how to mask."""

_STAR = "*"
_DIGIT = re.compile(r"\d")


def mask_phone(phone: str) -> str:
    """Keep the country prefix, the first three and the last four digits; star the rest.

    Examples:
        >>> mask_phone("13812345678")
        '138****5678'
    """
    text = phone.strip()
    prefix = ""
    match = re.match(r"^(\+\d{1,3})[\s-]*", text)
    if match:
        prefix, text = match.group(1) + " ", text[match.end() :]
    digits = "".join(_DIGIT.findall(text))
    if len(digits) <= 4:
        return prefix + _STAR * len(digits)
    keep_head = 3 if len(digits) >= 10 else 0
    hidden = len(digits) - keep_head - 4
    return prefix + digits[:keep_head] + _STAR * hidden + digits[-4:]


def mask_email(email: str) -> str:
    """Keep the first character of the local part and the whole domain.

    Examples:
        >>> mask_email("li@example.cn")
        'l*@example.cn'
    """
    local, at, domain = email.strip().partition("@")
    if not at:
        return _STAR * len(local)
    return local[:1] + _STAR * max(len(local) - 1, 1) + "@" + domain


def mask_name(name: str) -> str:
    """Keep the first character of the name, and the initial of each later word of 2+ letters.

    A one-letter word after the first is starred (``"张 三"`` → ``"张 *"``, ``"A B"`` →
    ``"A *"``), and a name of one character is starred whole: a mask never shows a whole name.

    Examples:
        >>> mask_name("欧阳娜娜"), mask_name("A B"), mask_name("张")
        ('欧***', 'A *', '*')
    """
    words = name.split()
    if sum(len(word) for word in words) <= 1:
        return _STAR * len("".join(words))
    shown = [words[0][:1] + _STAR * (len(words[0]) - 1)] if words else []
    shown += [word[:1] + _STAR * (len(word) - 1) if len(word) >= 2 else _STAR for word in words[1:]]
    return " ".join(shown)


def mask_address(address: str) -> str:
    """Keep at most the first six characters (province and city), never more than half.

    Examples:
        >>> mask_address("10 Downing Street, London")
        '10 Dow*******************'
    """
    text = address.strip()
    keep = min(6, len(text) // 2)
    return text[:keep] + _STAR * (len(text) - keep)


def mask(value: str, kind: PiiKind) -> str:
    """Mask ``value`` as customer data of ``kind``."""
    maskers = {
        "phone": mask_phone,
        "email": mask_email,
        "name": mask_name,
        "address": mask_address,
    }
    return maskers[kind](value)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w.+-])(?:"
    r"\+\d{1,3}[\s-]?\d(?:[\s-]?\d){6,13}"  # with a country code: +86 138 1234 5678
    r"|1[3-9]\d(?:[\s-]?\d){8}"  # a mainland mobile: 13812345678, 138-1234-5678
    r"|0\d{2,3}-\d{7,8}"  # a mainland landline: 021-12345678
    r")(?![\w.])"
)


def scrub(text: str) -> str:
    """Mask the phone numbers and e-mail addresses inside free text (a subject, a message).

    Phones are numbers with a ``+`` country code, mainland mobiles (11 digits from 13 to 19,
    dashes or spaces allowed) and mainland landlines (``021-12345678``); amounts, dates, times
    and ids such as ``SO-20261111-0042`` are left alone. Names and postal addresses cannot be told
    apart from other words, so fields that hold them are masked by kind instead.

    Examples:
        >>> scrub("客户 13812345678 来电, mail zhang.wei@example.com, order SO-1, ¥128.50")
        '客户 138****5678 来电, mail z********@example.com, order SO-1, ¥128.50'
    """
    if not isinstance(text, str):
        return text
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
