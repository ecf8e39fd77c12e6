"""Masking of customer data for logs, traces, reports and screens.

Customer data (names, phones, e-mail addresses, postal addresses) is shown masked everywhere csdesk
prints or reports it, unless a caller asks for the raw value explicitly. The masks keep just enough
for a person to recognise the record (the last four digits of a phone, the first character of a
name) and nothing that identifies the customer to a stranger.

Examples:
    >>> mask_phone("+86 138-1234-5678"), mask_email("zhang.wei@example.com")
    ('+86 138****5678', 'z********@example.com')
    >>> mask_name("张三丰"), mask_name("Wei Zhang"), mask_name("张 三")
    ('张**', 'W** Z****', '张 *')
    >>> mask_address("广东省深圳市南山区科技园路1号")
    '广东省深圳市*********'
"""

from __future__ import annotations

import logging

import csdesk._pii as _pii
from csdesk._checks import checked
from csdesk._pii import PiiKind, scrub

__all__ = [
    "PiiKind",
    "get_logger",
    "mask",
    "mask_address",
    "mask_email",
    "mask_name",
    "mask_phone",
    "scrub",
]


# The masks live below the error tree (csdesk._pii); here they check their arguments.
mask_phone = checked(_pii.mask_phone)
mask_email = checked(_pii.mask_email)
mask_name = checked(_pii.mask_name)
mask_address = checked(_pii.mask_address)
mask = checked(_pii.mask)


class _Scrubbed(logging.Filter):
    """Masks phones and e-mails in a record's message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = scrub(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


@checked
def get_logger(name: str) -> logging.Logger:
    """A csdesk logger whose records have phones and e-mails masked (see `scrub`)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Scrubbed) for f in logger.filters):
        logger.addFilter(_Scrubbed())
    return logger
