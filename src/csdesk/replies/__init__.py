"""Reply templates (a sandboxed Jinja2 engine with Babel formatting filters), and `explain`.

`explain` words any decision result's trace for an agent through the same engine, in zh-Hans,
zh-Hant or English.
"""

from csdesk.replies.catalog import (
    ReplyTemplate,
    Slot,
    Variable,
    Variant,
    builtin_templates,
    load_template,
    render,
)
from csdesk.replies.engine import MAX_OUTPUT, RenderLimits, RenderResult, render_string
from csdesk.replies.explain import EXPLAIN_LOCALES, explain, explain_step
from csdesk.replies.locales import LocaleChain, locale_chain, maximize
from csdesk.replies.refund_text import refund_reply

__all__ = [
    "EXPLAIN_LOCALES",
    "MAX_OUTPUT",
    "LocaleChain",
    "RenderLimits",
    "RenderResult",
    "ReplyTemplate",
    "Slot",
    "Variable",
    "Variant",
    "builtin_templates",
    "explain",
    "explain_step",
    "load_template",
    "locale_chain",
    "maximize",
    "refund_reply",
    "render",
    "render_string",
]
