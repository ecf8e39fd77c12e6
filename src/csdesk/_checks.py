"""Argument checks at the public boundary: the wrong kind of value is a csdesk error, at once.

`checked` reads a function's annotations once and, on every call, checks each argument's
outer type: ``order: Order`` must be an `Order`, ``lines: Mapping[str, int]`` a mapping,
``reason: RefundReason | str`` an enum member or a string, ``quantity: int`` an ``int`` that is
not a ``bool``. A mismatch raises `csdesk.errors.InvalidInputError` naming the function, the
argument, what was given and what is allowed, before the function runs: so it cannot fail half
way with an ``AttributeError`` deep inside, or change anything.

It checks the outer type only (a mapping's values are the function's own business) and costs
about a microsecond per call.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final, NoReturn, ParamSpec, TypeVar

from csdesk.errors import InvalidInputError, NaiveDatetimeError

__all__ = ["checked", "parse_enum"]

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E", bound=enum.Enum)

_Check = Callable[[Any], bool]
_TEXT: Final = (str, bytes, bytearray)
_CONTAINERS: Final = frozenset(
    {
        collections.abc.Sequence,
        collections.abc.Iterable,
        collections.abc.Collection,
        collections.abc.Iterator,
        list,
        tuple,
        set,
        frozenset,
    }
)


def checked(function: Callable[P, R]) -> Callable[P, R]:
    """Check the outer types of ``function``'s arguments on every call (see the module)."""
    signature = inspect.signature(function)
    names = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    checks: dict[str, tuple[_Check, str]] | None = None
    label = function.__qualname__.replace(".__init__", "")

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal checks
        if checks is None:
            checks = _compile(function)
        for name, value in zip(names, args, strict=False):
            entry = checks.get(name)
            if entry is not None and not entry[0](value):
                _refuse(entry, label, name, value)
        for name, value in kwargs.items():
            entry = checks.get(name)
            if entry is not None and not entry[0](value):
                _refuse(entry, label, name, value)
        return function(*args, **kwargs)

    return wrapper


def _refuse(entry: tuple[_Check, str], label: str, name: str, value: Any) -> NoReturn:
    if isinstance(value, datetime) and value.tzinfo is None and "datetime" in entry[1]:
        raise NaiveDatetimeError(
            f"{label}: {name} is a naive datetime ({value.isoformat()}); pass a timezone-aware "
            "datetime, e.g. datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo('Asia/Shanghai'))",
            field=name,
        )
    raise InvalidInputError(
        f"{label}: {name} must be {entry[1]}, got {_describe(value)}", model=label
    )


def _describe(value: Any) -> str:
    kind = type(value).__name__
    if isinstance(value, bool | int | float) or value is None:
        return f"{kind} {value!r}"
    return f"a {kind}"


def _compile(function: Callable[..., Any]) -> dict[str, tuple[_Check, str]]:
    target = inspect.unwrap(function)
    found: dict[str, tuple[_Check, str]] = {}
    for name, hint in _hints(target).items():
        if name == "return":
            continue
        built = _build(hint)
        if built is not None:
            found[name] = built
    return found


def _hints(target: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target, include_extras=True)
    except NameError:  # a name imported only for type checking: resolve the others one by one
        resolved = {}
        namespace = getattr(target, "__globals__", {})
        for name, text in getattr(target, "__annotations__", {}).items():
            try:
                resolved[name] = eval(text, namespace) if isinstance(text, str) else text
            except Exception:
                continue
        return resolved


def _build(hint: Any) -> tuple[_Check, str] | None:
    if hint is Any or hint is object or isinstance(hint, TypeVar):
        return None
    if hint is None or hint is type(None):
        return (lambda v: v is None), "None"
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _build(typing.get_args(hint)[0])
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        return (lambda v: _literal(v, allowed)), " or ".join(repr(a) for a in allowed)
    if origin is typing.Union or origin is types.UnionType:
        plain = [_plain_class(arg) for arg in typing.get_args(hint)]
        if all(plain):  # one isinstance over a tuple: a union of 12 incident kinds costs one call
            classes = tuple(kind for kind in plain if kind is not None)
            exact = frozenset(classes)  # pydantic's metaclass checks instances in Python
            text = " or ".join("None" if k is type(None) else _article(k) for k in classes)
            return (lambda v: type(v) in exact or isinstance(v, classes)), text
        parts = [_build(arg) for arg in typing.get_args(hint)]
        if any(part is None for part in parts):
            return None
        tests = [part[0] for part in parts if part is not None]
        text = " or ".join(part[1] for part in parts if part is not None)
        return (lambda v: any(test(v) for test in tests)), text
    if origin is type:
        (target,) = typing.get_args(hint) or (object,)
        base = typing.get_origin(target) or target
        if not isinstance(base, type):
            return (lambda v: isinstance(v, type)), "a class"
        return (lambda v: isinstance(v, type) and issubclass(v, base)), f"a {base.__name__} class"
    if origin is not None:
        hint = origin
    generic = getattr(hint, "__pydantic_generic_metadata__", None)
    if generic and generic.get("origin") is not None:  # a parametrized pydantic model
        hint = generic["origin"]
    if hint is collections.abc.Callable:
        return callable, "callable"
    if not isinstance(hint, type):
        return None
    if getattr(hint, "_is_protocol", False) and not getattr(hint, "_is_runtime_protocol", False):
        return None
    return _instance_check(hint)


def _plain_class(hint: Any) -> type | None:
    """``hint`` if an ``isinstance`` check is all it needs (no special case below), else None."""
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if hint is None:
        return type(None)
    if not isinstance(hint, type) or typing.get_origin(hint) is not None:
        return None
    if hint in _SPECIAL or hint in _CONTAINERS or getattr(hint, "_is_protocol", False):
        return None
    generic = getattr(hint, "__pydantic_generic_metadata__", None)
    if generic and generic.get("origin") is not None:
        return None
    return hint


def _instance_check(kind: type) -> tuple[_Check, str]:
    name = _article(kind)
    if kind is int:
        return (lambda v: type(v) is int or (isinstance(v, int) and not isinstance(v, bool))), name
    if kind is float:  # PEP 484: an int is acceptable where a float is
        return (lambda v: isinstance(v, int | float) and not isinstance(v, bool)), "a number"
    if kind is date:
        return (lambda v: isinstance(v, date) and not isinstance(v, datetime)), name
    if kind is datetime:
        return (lambda v: isinstance(v, datetime) and v.tzinfo is not None), (
            "a timezone-aware datetime"
        )
    if kind in _CONTAINERS or kind is collections.abc.Mapping or kind is dict:
        return (lambda v: isinstance(v, kind) and not isinstance(v, _TEXT)), name
    return (lambda v: type(v) is kind or isinstance(v, kind)), name


_SPECIAL = frozenset(
    {
        int,
        float,
        bool,
        date,
        datetime,
        dict,
        object,
        collections.abc.Mapping,
        collections.abc.Callable,
    }
)


def _article(kind: type) -> str:
    name = kind.__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _literal(value: Any, allowed: tuple[Any, ...]) -> bool:
    try:
        return value in allowed and type(value) in {type(a) for a in allowed}
    except TypeError:
        return False


def parse_enum(kind: type[E], value: object, what: str) -> E:
    """``kind(value)``, or an `InvalidInputError` that lists the allowed values.

    Examples:
        >>> from csdesk.models import CaseType
        >>> parse_enum(CaseType, "exchange", "case type")
        <CaseType.EXCHANGE: 'exchange'>
    """
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except (ValueError, TypeError):
        allowed = ", ".join(str(member.value) for member in kind)
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else type(value).__name__
        raise InvalidInputError(f"unknown {what} {shown}; use one of: {allowed}") from None
