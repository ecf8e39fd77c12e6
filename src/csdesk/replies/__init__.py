"""Reply templates: a sandboxed Jinja2 engine with Babel formatting filters."""

from csdesk.replies.engine import MAX_OUTPUT, RenderResult, render_string

__all__ = ["MAX_OUTPUT", "RenderResult", "render_string"]
