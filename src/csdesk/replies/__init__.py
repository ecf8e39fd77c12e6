"""Reply templates: a sandboxed Jinja2 engine with Babel formatting filters."""

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
from csdesk.replies.locales import LocaleChain, locale_chain, maximize

__all__ = [
    "MAX_OUTPUT",
    "LocaleChain",
    "RenderLimits",
    "RenderResult",
    "ReplyTemplate",
    "Slot",
    "Variable",
    "Variant",
    "builtin_templates",
    "load_template",
    "locale_chain",
    "maximize",
    "render",
    "render_string",
]
