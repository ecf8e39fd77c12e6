"""Reply templates: a sandboxed Jinja2 engine with Babel formatting filters."""

from csdesk.replies.engine import MAX_OUTPUT, RenderResult, render_string
from csdesk.replies.locales import LocaleChain, locale_chain, maximize

__all__ = ["MAX_OUTPUT", "LocaleChain", "RenderResult", "locale_chain", "maximize", "render_string"]
