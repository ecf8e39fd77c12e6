"""The bounded Jinja2 sandbox behind reply templates: limits, the per-render budget, the checks.

Jinja2's `ImmutableSandboxedEnvironment` stops attribute escapes but not exhaustion: a template
can build a 400 MB string in a third of a second, loop for ever, or recurse until Python gives
up. csdesk bounds a render *while it runs*, before anything large is built:

* the parsed template is checked first: no private names, no ``include`` / ``import`` /
  ``extends``, blocks nested at most `RenderLimits.max_nesting` deep, expressions at most
  `RenderLimits.max_depth` deep;
* the tree is then rewritten so that every loop, every ``~`` concatenation and every piece of
  output inside a loop or macro goes through the render's `Budget`;
* ``+``, ``*`` and ``**`` are intercepted and sized *before* they run, ``%`` string formatting
  is refused outright, and the string filters (``join``, ``replace``, ``truncate``, …) are
  replaced by versions that compute the size of their result first;
* every call (macros, ``caller()``, recursive loops) counts towards a depth limit.

A breach raises `csdesk.errors.TemplateLimitError` naming the limit.
"""

from __future__ import annotations

import contextvars
import operator
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from pydantic import Field

from csdesk._model import CsdeskModel
from csdesk.errors import TemplateError, TemplateLimitError, TemplateSecurityError
from csdesk.money import Money

__all__ = ["BLOCKED_NAMES", "Budget", "RenderLimits", "environment", "plain_context"]

BLOCKED_NAMES: Final = frozenset(
    {
        "format",
        "format_map",
        "mro",
        "model_dump",
        "model_dump_json",
        "model_copy",
        "dict",
        "json",
        "copy",
        "update",
        "pop",
        "popitem",
        "clear",
        "setdefault",
        "append",
        "extend",
        "insert",
        "remove",
        "sort",
        "reverse",
        "gi_frame",
        "gi_code",
        "f_globals",
        "func_globals",
        "secret",
        "secrets",
        "password",
        "passwd",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "private_key",
        "signing_secret",
        "credentials",
    }
)
"""Names a template can never read, as an attribute or as a key (besides every ``_`` name)."""

_MAX_POWER: Final = 64
_MAX_INT: Final = 10**30


class RenderLimits(CsdeskModel):
    """What one render may use. The defaults suit every reply csdesk ships, with room to spare.

    Attributes:
        max_source: Characters of template source.
        max_output: Characters of the finished reply (and of a subject line).
        max_value: Size of any one string or list the template builds; a list counts its length
            plus the sizes of its items, so ``[s] * n`` weighs ``n`` times ``s``.
        max_built: Characters built over the whole render: intermediate strings and lists and
            every piece of output, counted when made (freed ones still count). This bounds the
            render's memory and most of its CPU.
        max_iterations: Loop iterations over the whole render, nested loops included.
        max_call_depth: Nested macro, ``caller()`` and recursive-loop calls.
        max_nesting: Blocks (``for``, ``if``, ``macro``, …) nested inside each other.
        max_depth: Depth of the parsed template, expressions included.
        max_seconds: Wall time of one render.
    """

    max_source: int = Field(default=20_000, gt=0, le=1_000_000)
    max_output: int = Field(default=20_000, gt=0, le=1_000_000)
    max_value: int = Field(default=100_000, gt=0, le=10_000_000)
    max_built: int = Field(default=1_000_000, gt=0, le=100_000_000)
    max_iterations: int = Field(default=10_000, gt=0, le=10_000_000)
    max_call_depth: int = Field(default=32, gt=0, le=100)
    max_nesting: int = Field(default=12, gt=0, le=16)
    max_depth: int = Field(default=40, gt=0, le=60)
    max_seconds: float = Field(default=0.5, gt=0, le=60, allow_inf_nan=False)


DEFAULT_LIMITS: Final = RenderLimits()


class Budget:
    """What one render has used so far, checked against its `RenderLimits`."""

    __slots__ = ("built", "deadline", "depth", "formatter", "iterations", "limits")

    def __init__(self, limits: RenderLimits, formatter: Any) -> None:
        self.limits = limits
        self.formatter = formatter
        self.built = 0
        self.iterations = 0
        self.depth = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def value(self, size: int, what: str) -> None:
        """Account for a value of ``size`` about to be built, or refuse it."""
        if size > self.limits.max_value:
            raise TemplateLimitError(
                f"{what} would be {size:,} characters; one value may be at most "
                f"{self.limits.max_value:,}",
                limit="max_value",
            )
        self.charge(size)
        self.clock()

    def charge(self, size: int) -> None:
        """Count ``size`` characters built towards `RenderLimits.max_built`."""
        self.built += size
        if self.built > self.limits.max_built:
            raise TemplateLimitError(
                f"the template built more than {self.limits.max_built:,} characters in all",
                limit="max_built",
            )

    def tick(self) -> None:
        """Count one loop iteration or call."""
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            raise TemplateLimitError(
                f"the template ran more than {self.limits.max_iterations:,} loop iterations",
                limit="max_iterations",
            )
        self.clock()

    def clock(self) -> None:
        """Refuse to go on past the render's deadline."""
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"the template ran longer than {self.limits.max_seconds} s",
                limit="max_seconds",
            )


_CURRENT: Final[contextvars.ContextVar[Budget]] = contextvars.ContextVar("csdesk_render")


def current() -> Budget:
    """The budget of the render in progress (templates run only inside `rendering`)."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise TemplateSecurityError("templates render only through csdesk's render") from None


class rendering:  # noqa: N801 - used as a context manager, reads like one
    """Make ``budget`` the current render's budget for the ``with`` block."""

    __slots__ = ("_budget", "_token")

    def __init__(self, budget: Budget) -> None:
        self._budget = budget

    def __enter__(self) -> Budget:
        self._token = _CURRENT.set(self._budget)
        return self._budget

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)


def size_of(value: Any, cap: int) -> int:
    """The size of ``value`` as the limits count it, stopping early once past ``cap``.

    A string counts its characters; a list, tuple or dict its length plus the sizes of its items
    (keys too); anything else one.
    """
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += 1
        if total > cap:
            return total
    return total


def _blocked(name: str) -> bool:
    return name.startswith("_") or name in BLOCKED_NAMES


# --- the context -----------------------------------------------------------------------------

_CONTEXT_DEPTH: Final = 16
_IMMUTABLE: Final = frozenset({str, bool, datetime, date, timedelta, Money})


def plain_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``context`` reduced to plain values a template may read.

    Strings (subclasses become plain ``str``), ``bool``, ``int`` and finite ``Decimal`` up to
    10**30, dates, aware or naive datetimes (the filters refuse naive ones), timedeltas,
    `Money`, ``None``, and lists, tuples and string-keyed dicts of them, at most 16 levels deep.
    Keys that are private (``_…``) or on `BLOCKED_NAMES` are dropped, so a template cannot reach
    a token through ``d.token`` or ``d['password']``.

    Raises:
        TemplateSecurityError: an object, a float, a non-string key, a number too large.
    """
    if not isinstance(context, Mapping):
        raise TemplateSecurityError(
            f"the context is a {type(context).__name__}; pass a mapping of names to plain values"
        )
    return _plain_mapping(context, "context", 0)


def _plain_mapping(value: Mapping[Any, Any], path: str, depth: int) -> dict[str, Any]:
    reduced: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TemplateSecurityError(
                f"a key in {path} is a {type(key).__name__}; context keys are strings"
            )
        if _blocked(key):
            continue
        if type(key) is not str:
            key = str.__str__(key)
        # exact plain types are immutable and kept as they are; anything else is copied
        plain = item if type(item) in _IMMUTABLE else _plain(item, f"{path}.{key}", depth + 1)
        reduced[key] = plain
    return reduced


def _plain(value: Any, path: str, depth: int) -> Any:
    if depth > _CONTEXT_DEPTH:
        raise TemplateSecurityError(
            f"the context is nested deeper than {_CONTEXT_DEPTH} levels at {path}"
        )
    kind = type(value)
    if kind in _IMMUTABLE:  # exact plain types are kept as they are; subclasses are copied
        return value
    if kind is int and abs(value) <= _MAX_INT:
        return value
    if value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise TemplateSecurityError(f"the number at {path} is beyond 10**30")
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or (value and value.adjusted() >= 30):
            raise TemplateSecurityError(f"the number at {path} is not finite or beyond 10**30")
        return Decimal(value)
    if isinstance(value, datetime):
        return datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=value.tzinfo, fold=value.fold,
        )  # fmt: skip
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, timedelta):
        return timedelta(value.days, value.seconds, value.microseconds)
    if isinstance(value, Money):
        return Money(value.amount, value.currency)
    if isinstance(value, Mapping):
        return _plain_mapping(value, path, depth)
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise TemplateSecurityError(
        f"context value at {path} is a {type(value).__name__}; templates render from plain "
        "values (str, int, Decimal, dates, Money, and lists and dicts of them), never from objects "
        "or floats"
    )


# --- the parsed template: checks, then rewriting -------------------------------------------

_BLOCK_NODES: Final = (
    nodes.For,
    nodes.If,
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.With,
    nodes.AssignBlock,
    nodes.Block,
    nodes.Scope,
    nodes.ScopedEvalContextModifier,
)
_REPEATED: Final = (nodes.For, nodes.Macro, nodes.CallBlock)
_LOADS: Final = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)

LOOP_FILTER: Final = "csdesk:loop"
CONCAT_FILTER: Final = "csdesk:concat"
LITERAL_FILTER: Final = "csdesk:literal"


def check(tree: nodes.Template, limits: RenderLimits) -> None:
    """Refuse what a template may not contain, naming the line.

    Raises:
        TemplateSecurityError: a private name, an include, import or extends.
        TemplateLimitError: blocks or expressions nested too deeply.
    """
    pending: list[tuple[nodes.Node, int, int]] = [(tree, 0, 0)]
    while pending:
        node, depth, nesting = pending.pop()
        line = getattr(node, "lineno", None)
        if depth > limits.max_depth:
            raise TemplateLimitError(
                f"the template is nested more than {limits.max_depth} levels deep",
                limit="max_depth",
                line=line,
            )
        if isinstance(node, _BLOCK_NODES):
            nesting += 1
            if nesting > limits.max_nesting:
                raise TemplateLimitError(
                    f"blocks are nested more than {limits.max_nesting} deep",
                    limit="max_nesting",
                    line=line,
                )
        if isinstance(node, _LOADS):
            raise TemplateSecurityError(
                "templates cannot include, import or extend other templates", line=line
            )
        name = _name_of(node)
        if isinstance(node, nodes.Name) and node.name == "self":
            raise TemplateSecurityError("templates cannot reach 'self'", line=line)
        if name is not None and _blocked(name):
            raise TemplateSecurityError(
                f"{name!r} is private or blocked; templates read plain values", line=line
            )
        pending.extend((child, depth + 1, nesting) for child in node.iter_child_nodes())


def _name_of(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name | nodes.NSRef):
        return str(node.name)
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return node.arg.value if isinstance(node.arg.value, str) else None
    if isinstance(node, nodes.Filter | nodes.Test) and node.name.startswith("_"):
        return str(node.name)
    if isinstance(node, nodes.Keyword):
        return str(node.key)
    return None


def rewrite(node: nodes.Node, env: jinja2.Environment, repeated: bool = False) -> nodes.Node:
    """Route loops, concatenations and repeated output through the render budget.

    ``repeated`` is true inside a loop, a macro or a call block, where literal text can be
    emitted many times and so must be counted like any other output.
    """
    inner = repeated or isinstance(node, _REPEATED)
    for field, value in node.iter_fields():
        if isinstance(value, nodes.Node):
            setattr(node, field, rewrite(value, env, inner))
        elif isinstance(value, list):
            children = [rewrite(v, env, inner) if isinstance(v, nodes.Node) else v for v in value]
            setattr(node, field, children)
    if isinstance(node, nodes.For):
        node.iter = _wrap(node.iter, LOOP_FILTER, env)  # type: ignore[arg-type]
    elif isinstance(node, nodes.Concat):
        parts = nodes.List(list(node.nodes), lineno=node.lineno)
        return _wrap(parts, CONCAT_FILTER, env)
    elif isinstance(node, nodes.Output) and inner:
        node.nodes = [
            _wrap(child, LITERAL_FILTER, env) if isinstance(child, nodes.TemplateData) else child
            for child in node.nodes
        ]
    return node


def _wrap(expr: nodes.Expr, name: str, env: jinja2.Environment) -> nodes.Filter:
    wrapped = nodes.Filter(expr, name, [], [], None, None, lineno=expr.lineno or 1)
    wrapped.set_environment(env)
    return wrapped


# --- the runtime hooks -----------------------------------------------------------------------


def _counted(iterable: Any) -> Iterator[Any]:
    budget = current()
    if isinstance(iterable, jinja2.Undefined):
        iterable = iter(iterable)  # raises for a StrictUndefined
    for item in iterable:
        budget.tick()
        yield item


@jinja2.pass_context
def _loop(context: jinja2.runtime.Context, iterable: Any) -> Iterator[Any]:
    return _counted(iterable)


@jinja2.pass_context
def _concat(context: jinja2.runtime.Context, parts: list[Any]) -> str:
    budget = current()
    budget.value(size_of(parts, budget.limits.max_value + 1), "a ~ concatenation")
    return "".join(part if isinstance(part, str) else str(part) for part in parts)


@jinja2.pass_context
def _literal(context: jinja2.runtime.Context, text: str) -> str:
    return text


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> str:
    budget = current()
    if type(value) is not str:  # size a list before str() builds its text
        budget.value(size_of(value, budget.limits.max_value + 1), "a printed value")
    text = str(value)
    budget.charge(len(text))
    return text


def _sized_filter(name: str, builtin: Callable[..., Any], size: Callable[..., int]) -> Any:
    """``builtin`` behind a check of the size its result will have.

    The wrapper passes the context, so Jinja2 never folds it at compile time, where no budget
    would count it.
    """
    passes = _PassArg.from_obj(builtin)

    @jinja2.pass_context
    def apply(context: jinja2.runtime.Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        current().value(size(value, *args, **kwargs), f"the result of |{name}")
        if passes is _PassArg.context:
            return builtin(context, value, *args, **kwargs)
        if passes is _PassArg.eval_context:
            return builtin(context.eval_ctx, value, *args, **kwargs)
        if passes is _PassArg.environment:
            return builtin(context.environment, value, *args, **kwargs)
        return builtin(value, *args, **kwargs)

    return apply


def _text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else size_of(value, 10**9)


def _join_size(value: Any, d: str = "", attribute: Any = None) -> int:
    if attribute is not None:
        raise TemplateError("join: the attribute argument is not supported")
    if not isinstance(value, list | tuple | str):
        raise TemplateError(f"join expects a list, got {type(value).__name__}")
    if not isinstance(d, str):
        raise TemplateError("join: the separator must be a string")
    return _text_size(value) + len(d) * max(len(value) - 1, 0)


def _replace_size(s: Any, old: Any, new: Any, count: Any = None) -> int:
    if not all(isinstance(x, str) for x in (s, old, new)):
        raise TemplateError("replace works on strings: replace('old', 'new')")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise TemplateError("replace: count must be a whole number")
    found = len(s) + 1 if not old else s.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    return len(s) + found * max(len(new) - len(old), 0)


def _truncate_size(
    s: Any, length: Any = 255, killwords: Any = False, end: Any = "...", leeway: Any = None
) -> int:
    if not isinstance(s, str) or not isinstance(end, str):
        raise TemplateError("truncate works on strings: truncate(length, killwords, end)")
    if isinstance(length, bool) or not isinstance(length, int) or length < len(end):
        raise TemplateError("truncate: length must be a whole number at least as long as end")
    if leeway is not None and (isinstance(leeway, bool) or not isinstance(leeway, int)):
        raise TemplateError("truncate: leeway must be a whole number")
    if leeway is not None and leeway < 0:
        raise TemplateError("truncate: leeway cannot be negative")
    return min(len(s), length) + len(end)


def _case_size(s: Any, *args: Any) -> int:
    return 3 * _text_size(s)  # 'ß'.upper() is 'SS': case mapping at most triples a string


def _default_size(value: Any, default_value: Any = "", boolean: Any = False) -> int:
    return 0  # returns one of two existing values


def _pick_size(value: Any) -> int:
    return 0  # length, first, last: nothing new is built


_SIZED: Final[dict[str, Callable[..., int]]] = {
    "join": _join_size,
    "replace": _replace_size,
    "truncate": _truncate_size,
    "upper": _case_size,
    "lower": _case_size,
    "title": _case_size,
    "capitalize": _case_size,
    "trim": _case_size,
    "default": _default_size,
    "length": _pick_size,
    "first": _pick_size,
    "last": _pick_size,
}


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, limits: RenderLimits) -> None:
        super().__init__(
            undefined=jinja2.StrictUndefined, autoescape=False, cache_size=0, finalize=_finalize
        )
        self.limits = limits

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            tree = super()._parse(source, name, filename)
        except (RecursionError, MemoryError):
            raise TemplateLimitError(
                "the template is nested too deeply to parse", limit="max_depth"
            ) from None
        check(tree, self.limits)
        return tree

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        try:
            rewrite(source, self)
            return super()._generate(source, name, filename, defer_init=defer_init)
        except (RecursionError, MemoryError):
            raise TemplateLimitError(
                "the template is nested too deeply to compile", limit="max_depth"
            ) from None

    def _compile(self, source: str, filename: str) -> Any:
        try:
            return super()._compile(source, filename)
        except (SyntaxError, RecursionError, MemoryError):
            # Python's own limits (statically nested blocks, indentation) behind the checks.
            raise TemplateLimitError(
                "the template is nested too deeply to compile", limit="max_nesting"
            ) from None

    def wrap_str_format(self, value: Any) -> None:
        # Jinja2 hands out a sandboxed str.format before asking is_safe_attribute; csdesk allows
        # no string methods at all (format strings are how most sandbox escapes begin).
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if _blocked(attr):
            return False
        if isinstance(obj, Money):
            return attr in {"amount", "currency"}
        if isinstance(obj, str | int | Decimal | date | timedelta | list | tuple | dict):
            return False  # no methods on plain values: use filters
        if isinstance(obj, LoopContext):
            return super().is_safe_attribute(obj, attr, value)
        return False

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and _blocked(argument):
            return self.undefined(obj=obj, name="(a private or blocked name)")
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if _blocked(attribute):
            return self.undefined(obj=obj, name="(a private or blocked name)")
        return super().getattr(obj, attribute)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick()
        budget.depth += 1
        try:
            if budget.depth > budget.limits.max_call_depth:
                raise TemplateLimitError(
                    f"calls are nested more than {budget.limits.max_call_depth} deep",
                    limit="max_call_depth",
                )
            if isinstance(obj, LoopContext) and args:
                args = (_counted(args[0]), *args[1:])
            return super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        budget = current()
        if operator_ == "%":
            if isinstance(left, str):
                raise TemplateSecurityError(
                    "the % string-formatting operator is not allowed; build text with ~ and "
                    "the filters"
                )
            result = operator.mod(left, right)
        elif operator_ == "**":
            if isinstance(right, bool) or not isinstance(right, int) or abs(right) > _MAX_POWER:
                raise TemplateLimitError(
                    f"an exponent must be a whole number up to {_MAX_POWER}", limit="max_value"
                )
            if isinstance(left, int) and not isinstance(left, bool) and abs(left) > _MAX_INT:
                raise TemplateLimitError("a number in the template grew beyond 10**30")
            result = operator.pow(left, right)
        elif operator_ == "*":
            result = self._repeat(budget, left, right)
        else:
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                cap = budget.limits.max_value + 1
                budget.value(size_of(left, cap) + size_of(right, cap), "a + result")
            result = operator.add(left, right)
        if isinstance(result, int) and abs(result) > _MAX_INT:
            raise TemplateLimitError("a number in the template grew beyond 10**30")
        return result

    @staticmethod
    def _repeat(budget: Budget, left: Any, right: Any) -> Any:
        sequence, count = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            cap = budget.limits.max_value + 1
            budget.value(size_of(sequence, cap) * max(count, 0), "a repeated value")
        return operator.mul(left, right)


_BUILTIN_FILTERS: Final = tuple(_SIZED)


def _nonzero(value: Any) -> bool:
    """``{% if coupon is nonzero %}``: a Money that is not zero, or any other truthy value."""
    from csdesk.money import Money

    if isinstance(value, Money):
        return not value.is_zero
    return not isinstance(value, jinja2.Undefined) and bool(value)


def environment(limits: RenderLimits, filters: Mapping[str, Callable[..., str]]) -> _Sandbox:
    """A sandbox with csdesk's limits, the sized built-in filters and ``filters``."""
    env = _Sandbox(limits)
    builtins = {name: env.filters[name] for name in _BUILTIN_FILTERS}
    env.globals.clear()
    env.filters.clear()
    env.filters.update(
        {name: _sized_filter(name, builtins[name], _SIZED[name]) for name in _BUILTIN_FILTERS}
    )
    env.filters.update(filters)
    env.filters.update({LOOP_FILTER: _loop, CONCAT_FILTER: _concat, LITERAL_FILTER: _literal})
    env.tests.clear()
    env.tests.update(
        {"defined": lambda v: not isinstance(v, jinja2.Undefined), "nonzero": _nonzero}
    )
    return env
