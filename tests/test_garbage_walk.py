"""Every public callable, fed garbage, raises a csdesk error or succeeds; never anything else.

The walk covers the ``__all__`` of every public module: functions and classes are called with
each garbage value in every parameter at once, and each public method of a set of ready-made
objects (an order, a ledger, the policies, a calendar, …) likewise. A raw ``TypeError``,
``ValueError``, ``KeyError``, pydantic ``ValidationError`` or ``decimal.InvalidOperation`` fails
the test and names the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import importlib
import inspect
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from csdesk.errors import CsdeskError
from tests.factories import delivered_order

MODULES = [
    "csdesk",
    "csdesk.money",
    "csdesk.models",
    "csdesk.events",
    "csdesk.ledger",
    "csdesk.privacy",
    "csdesk.policies",
    "csdesk.policies.compensation",
    "csdesk.policies.approval",
    "csdesk.policies.review_recovery",
    "csdesk.policies.price_protection",
    "csdesk.policies.exchanges",
    "csdesk.sla",
    "csdesk.replies",
    "csdesk.workflows",
    "csdesk.integrations",
    "csdesk.integrations.webhooks",
    "csdesk.integrations.shop_api",
    "csdesk.integrations.refund_batch",
    "csdesk.integrations.batch_files",
    "csdesk.integrations.batch_journal",
    "csdesk.integrations.transport",
    "csdesk.schemas",
    "csdesk.replies.po",
    "csdesk.replies.refund_text",
    "csdesk.telemetry",
    "csdesk.sla.satisfaction",
    "csdesk.sla.handover",
    "csdesk.sla.outage",
    "csdesk.storage.host",
    "csdesk.calendars.statutory",
    "csdesk.storage",
    "csdesk.refund_desk",
    "csdesk.aftersale_desk",
]

GARBAGE: list[Any] = [
    None,
    "",
    "nope",
    "\x00\udcff",
    -1,
    0,
    10**40,
    1.5,
    float("nan"),
    True,
    b"\xff\xfe",
    object(),
    [],
    {},
    ["nope"],
    {"nope": object()},
    Decimal("NaN"),
    Decimal("-1e40"),
    datetime(2026, 3, 1, 9, 0),  # naive
    date(1, 1, 1),
    timedelta(days=-1),
]

# Callables that are not functions of their arguments (they return a type, read a module
# attribute, or are abstract) are left out; each has a reason.
SKIP = {
    "all_error_classes",  # no arguments
    "Stateful",  # a Protocol
    "BudgetStore",  # a Protocol
    "WorkingDayCalendar",  # a Protocol
    "OrderSource",  # a Protocol
    "Workflow",  # the abstract base of the workflows (no states)
    "BatchJournal",  # the abstract base of the batch journals
}
# pydantic's own (mostly deprecated v1) API on every model; csdesk's overrides are walked.
PYDANTIC_API = {
    "json", "dict", "copy", "parse_raw", "parse_obj", "parse_file", "schema", "schema_json",
    "from_orm", "construct", "update_forward_refs", "validate",
}  # fmt: skip
WALKED_MODEL_API = {"model_validate", "model_validate_json"}


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    seen: set[int] = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            target = getattr(module, name)
            if name in SKIP or id(target) in seen:
                continue
            if not (inspect.isfunction(target) or inspect.isclass(target)):
                continue  # constants and type aliases
            if isinstance(target, type) and issubclass(target, BaseException | enum.Enum):
                continue
            seen.add(id(target))
            yield f"{module_name}.{name}", target


def _parameters(target: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    return [
        p
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
    ]


def _call(target: Callable[..., Any], parameters: list[inspect.Parameter], value: Any) -> Any:
    args = []
    kwargs = {}
    for parameter in parameters:
        if parameter.kind is parameter.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[parameter.name] = value
    return target(*args, **kwargs)


def _settle(result: Any) -> None:
    if inspect.iscoroutine(result):
        with contextlib.suppress(CsdeskError):
            asyncio.run(result)
    elif inspect.isgenerator(result) or type(result).__name__ == "generator":
        try:
            for _ in zip(range(5), result, strict=False):
                pass
        except CsdeskError:
            pass


def _check(
    label: str,
    target: Callable[..., Any],
    parameters: list[inspect.Parameter],
    value: Any,
    failures: list[str],
) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _settle(_call(target, parameters, value))
    except CsdeskError:
        pass
    except Exception as error:
        failures.append(f"{label}: {type(error).__module__}.{type(error).__name__}: {error}"[:300])


def test_every_public_callable_refuses_garbage_with_a_csdesk_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    failures: list[str] = []
    callables = list(_public_callables())
    assert len(callables) > 150
    for label, target in callables:
        parameters = _parameters(target)
        if parameters is None:
            continue
        for value in GARBAGE:
            _check(f"{label}({value!r})", target, parameters, value, failures)
            # each parameter alone, the others left to their defaults when they have one
            required = [p for p in parameters if p.default is inspect.Parameter.empty]
            if len(parameters) > len(required):
                _check(f"{label}(required={value!r})", target, required, value, failures)
    assert not failures, f"{len(failures)} calls escaped the error tree:\n" + "\n".join(failures)


def _instances() -> dict[str, Any]:
    from csdesk import Customer, Money
    from csdesk.ledger import PaymentLedger
    from csdesk.policies import refund_policy, return_policy, tiering_policy
    from csdesk.policies.compensation import compensation_policy
    from csdesk.replies import builtin_templates
    from csdesk.sla import BusinessCalendar, china_calendar

    order = delivered_order()
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    return {
        "money": Money("12.30", "CNY"),
        "customer": Customer(id="C-1", name="张三", phone="13812345678"),
        "order": order,
        "line": order.lines[0],
        "ledger": PaymentLedger.open("P-1", Money("100.00", "CNY"), at=at),
        "return_policy": return_policy("cn_consumer_law"),
        "refund_policy": refund_policy("cn_default"),
        "tiering_policy": tiering_policy("seeds"),
        "compensation_policy": compensation_policy("shop_standard"),
        "template": builtin_templates()["late_delivery_apology"],
        "calendar": china_calendar(weekly={"mon": [("09:00", "18:00")]}),
        "weekday_calendar": BusinessCalendar(weekly={"mon": [("09:00", "18:00")]}, tz="UTC"),
    }


def test_every_public_method_refuses_garbage_with_a_csdesk_error() -> None:
    failures: list[str] = []
    for kind, instance in _instances().items():
        for name in dir(instance):
            if name.startswith("_") or name in PYDANTIC_API:
                continue
            if name.startswith("model_") and name not in WALKED_MODEL_API:
                continue
            try:
                method = getattr(instance, name)
            except CsdeskError:
                continue
            if not callable(method) or isinstance(method, type):
                continue
            parameters = _parameters(method)
            if not parameters:
                continue
            for value in GARBAGE:
                _check(f"{kind}.{name}({value!r})", method, parameters, value, failures)
    assert not failures, f"{len(failures)} calls escaped the error tree:\n" + "\n".join(failures)
