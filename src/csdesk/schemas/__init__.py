"""JSON Schemas of csdesk's policy and template files, for editors and CI checks.

Each policy kind and the reply template format has a JSON Schema, generated from its pydantic
model and shipped in this package as ``<kind>.schema.json`` (``csdesk policy schema KIND`` prints
it). Point your editor at it — Taplo and Even Better TOML read a ``#:schema`` comment on the first
line of a TOML file — and it completes keys and flags mistakes as you type. A ``$schema`` key at
the top of a policy or template is accepted and ignored when csdesk loads it.

Regenerate the shipped files after changing a model with ``python -m csdesk.schemas``; the test
suite fails while they are stale.
"""

from __future__ import annotations

import importlib
import json
from importlib import resources
from typing import Any

from csdesk._checks import checked
from csdesk.errors import InvalidInputError

__all__ = ["KINDS", "json_schema", "shipped_schema"]

KINDS: dict[str, str] = {
    "approval": "csdesk.policies.approval:ApprovalPolicy",
    "arrival": "csdesk.policies.arrival:ArrivalPreset",
    "compensation": "csdesk.policies.compensation.policy:CompensationPolicy",
    "price_protection": "csdesk.policies.price_protection:PriceProtectionPolicy",
    "refunds": "csdesk.policies.refunds:RefundPolicy",
    "returns": "csdesk.policies.returns:ReturnPolicy",
    "review_recovery": "csdesk.policies.review_recovery:ReviewRecoveryPolicy",
    "sla": "csdesk.sla.clocks:SlaPolicy",
    "template": "csdesk.replies.catalog:ReplyTemplate",
    "tiering": "csdesk.policies.tiering:TieringPolicy",
    "timers": "csdesk.policies.timers:TimerPreset",
}
"""Every kind of file with a schema, and the model it is generated from."""

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInputError(f"no schema for {kind!r}; the kinds are {', '.join(KINDS)}")
    return kind


@checked
def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind of file (``returns``, ``compensation``, ``template``…).

    Raises:
        InvalidInputError: no such kind; the message lists them.
    """
    module, name = KINDS[_kind(kind)].split(":")
    model = getattr(importlib.import_module(module), name)
    schema: dict[str, Any] = model.model_json_schema(mode="validation")
    # "$schema" is accepted (and ignored) at the top of a file, so editors may name the schema.
    properties = {"$schema": {"type": "string", "description": "this schema's location"}}
    schema["properties"] = properties | schema.get("properties", {})
    return {
        "$schema": _DIALECT,
        "$id": f"https://csdesk.invalid/schemas/{kind}.schema.json",
        "title": f"csdesk {kind} file ({name})",
        **{key: value for key, value in schema.items() if key != "title"},
    }


@checked
def shipped_schema(kind: str) -> dict[str, Any]:
    """The schema file shipped in the package for ``kind`` (`json_schema` when it was built)."""
    text = (resources.files(__name__) / f"{_kind(kind)}.schema.json").read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


def render(kind: str) -> str:
    """The schema as the shipped file holds it (sorted keys, two-space indent, final newline)."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
