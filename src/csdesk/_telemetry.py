"""The instruments behind `csdesk.telemetry`: spans, annotations, counters (csdesk's own use)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from csdesk._version import __version__
from csdesk.privacy import scrub

try:  # the API only; the SDK is the host's
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.metrics import _internal as _metrics_state
except ImportError:  # pragma: no cover - exercised without the extra
    _metrics = None  # type: ignore[assignment]
    _trace = None  # type: ignore[assignment]
    _metrics_state = None  # type: ignore[assignment]

_UNKNOWN = object()

__all__ = ["ATTRIBUTES", "annotate", "annotate_current", "count", "metering", "span", "tracing"]

ATTRIBUTES = frozenset(
    {
        "csdesk.workflow",
        "csdesk.command",
        "csdesk.entity_id",
        "csdesk.state.from",
        "csdesk.state.to",
        "csdesk.decision",
        "csdesk.policy.id",
        "csdesk.policy.version",
        "csdesk.inputs_hash",
        "csdesk.template",
        "csdesk.locale",
        "csdesk.http.method",
        "csdesk.http.path",
        "csdesk.http.status",
        "csdesk.http.attempt",
        "csdesk.batch.line",
        "csdesk.batch.outcome",
        "csdesk.order_id",
        "csdesk.currency",
        "csdesk.reason",
        "csdesk.basis",
        "csdesk.instrument",
        "csdesk.metric",
        "csdesk.category",
        "csdesk.error.code",
    }
)
"""The only attribute names csdesk sets; anything else is dropped on the way out."""

_INACTIVE = {
    "ProxyTracerProvider",
    "_ProxyTracerProvider",
    "NoOpTracerProvider",
    "ProxyMeterProvider",
    "_ProxyMeterProvider",
    "NoOpMeterProvider",
}
"""Provider classes that record nothing: the API's defaults until the host sets a provider."""
_INSTRUMENTS: dict[tuple[str, str], Any] = {}


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if key not in ATTRIBUTES or value is None:
            continue
        if isinstance(value, bool | int | float):
            clean[key] = value
        else:
            clean[key] = scrub(str(value))[:200]
    return clean


def tracing() -> bool:
    """Whether spans are recorded (the API is there and the host set a tracer provider)."""
    if _trace is None:
        return False
    return _active(
        _trace, "_TRACER_PROVIDER", "OTEL_PYTHON_TRACER_PROVIDER", _trace.get_tracer_provider
    )


def metering() -> bool:
    """Whether metrics are recorded (the API is there and the host set a meter provider)."""
    if _metrics is None:
        return False
    return _active(
        _metrics_state, "_METER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER", _metrics.get_meter_provider
    )


def _active(state: Any, global_name: str, variable: str, getter: Any) -> bool:
    """Whether a real provider is set, cheaply.

    The API's getter looks the provider's environment variable up on every call until a
    provider is set (about 25 µs): read the global it sets instead, and the variable once, and
    fall back on the getter when the API has no such global.
    """
    provider = getattr(state, global_name, _UNKNOWN)
    if provider is None and variable not in _ENVIRONMENT:
        return False
    if provider is None or provider is _UNKNOWN:
        provider = getter()
    return type(provider).__name__ not in _INACTIVE


def _environment() -> frozenset[str]:
    """The provider variables the environment sets for OpenTelemetry's API (read once)."""
    import os

    names = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")
    return frozenset(name for name in names if name in os.environ)


_ENVIRONMENT = _environment()


@contextmanager
def _span(name: str, attributes: Mapping[str, Any]) -> Iterator[Any]:
    assert _trace is not None
    tracer = _trace.get_tracer("csdesk", __version__)
    with tracer.start_as_current_span(name, attributes=_clean(attributes)) as current:
        try:
            yield current
        except Exception as error:
            code = getattr(error, "code", None)
            if isinstance(code, str):
                current.set_attribute("csdesk.error.code", code)
            raise


def span(name: str, attributes: Mapping[str, Any]) -> Any:
    """A span named ``name`` around a block (a no-op without a tracer provider).

    Use it as ``with span("csdesk.reply.render", {...}) as current:``; ``current`` is the
    OpenTelemetry span, or None when nothing records. An exception ends the span with an error
    status (and its csdesk error code, if any) and goes on.
    """
    if not tracing():
        return nullcontext(None)
    return _span(name, attributes)


def mark(name: str, attributes: Mapping[str, Any]) -> None:
    """A span that starts and ends at once: a moment worth a trace (a decision taken)."""
    if tracing():
        assert _trace is not None
        _trace.get_tracer("csdesk", __version__).start_span(
            name, attributes=_clean(attributes)
        ).end()


def annotate(current: Any, attributes: Mapping[str, Any]) -> None:
    """Add attributes to a span `span` gave (nothing when it gave None)."""
    if current is not None:
        current.set_attributes(_clean(attributes))


def annotate_current(attributes: Mapping[str, Any]) -> None:
    """Add attributes to the current span, if one records."""
    if tracing():
        assert _trace is not None
        _trace.get_current_span().set_attributes(_clean(attributes))


def count(name: str, value: int, attributes: Mapping[str, Any], *, unit: str = "1") -> None:
    """Add ``value`` to the counter ``name`` (a no-op without a meter provider)."""
    if not metering():
        return
    key = (name, unit)
    counter = _INSTRUMENTS.get(key)
    if counter is None:
        meter = _metrics.get_meter("csdesk", __version__)
        counter = _INSTRUMENTS[key] = meter.create_counter(name, unit=unit)
    counter.add(value, _clean(attributes))
