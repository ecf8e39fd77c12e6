"""Spans and metrics through the OpenTelemetry API, when the host has it (the ``otel`` extra).

csdesk depends only on ``opentelemetry-api`` (as OpenTelemetry asks of libraries): the host
installs and configures the SDK and its exporters. Without the API, or until the host sets a
tracer or meter provider, every call here costs a function call and nothing else.

Spans: ``csdesk.workflow.command`` (each `csdesk.workflows.run`), ``csdesk.decision`` (each
decision result: a quote, a window, an offer…), ``csdesk.reply.render``, ``csdesk.shop.request``
(each HTTP attempt to the shop's API) and ``csdesk.batch.row``. Metrics: ``csdesk.refunds`` and
``csdesk.refund.amount`` (minor units, with the currency), ``csdesk.compensation.granted`` (minor
units) and ``csdesk.sla.breaches``.

Attributes never carry customer data: names are from a fixed list (`ATTRIBUTES`), values are ids,
codes, states, counts and amounts, and every text value is passed through
`csdesk.privacy.scrub` (phones and e-mail addresses masked) on its way out.
"""

from __future__ import annotations

from csdesk._telemetry import ATTRIBUTES, tracing

__all__ = ["ATTRIBUTES", "tracing"]
