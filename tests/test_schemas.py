"""JSON Schemas for policy and template files (issue 19 item 2).

TOML policies had no schema for editors, though every policy model can make one, and a root
`$schema` key was rejected.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from csdesk.decision import preset_names
from csdesk.errors import InvalidInputError, PolicyError
from csdesk.policies import return_policy
from csdesk.policies.returns import ReturnPolicy
from csdesk.replies.catalog import load_template
from csdesk.schemas import KINDS, json_schema, render, shipped_schema
from csdesk.scripts.main import cli

PRESET_KINDS = ["arrival", "compensation", "refunds", "returns", "tiering", "timers"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_shipped_schema_is_the_models(kind: str) -> None:
    assert shipped_schema(kind) == json_schema(kind), (
        f"{kind}.schema.json is stale: run python -m csdesk.schemas"
    )
    jsonschema.Draft202012Validator.check_schema(shipped_schema(kind))


def _json_ready(value: Any) -> Any:
    """TOML data as an editor's TOML-to-JSON view gives it (dates as ISO text)."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@pytest.mark.parametrize("kind", PRESET_KINDS)
def test_every_built_in_preset_validates_against_its_schema(kind: str) -> None:
    validator = jsonschema.Draft202012Validator(shipped_schema(kind))
    folder = resources.files("csdesk.policies") / "presets" / kind
    for name in preset_names(kind):
        data = tomllib.loads((folder / f"{name}.toml").read_text(encoding="utf-8"))
        errors = [e.message for e in validator.iter_errors(_json_ready(data))]
        assert not errors, (kind, name, errors[:3])


def test_the_schema_catches_what_an_editor_should_flag() -> None:
    validator = jsonschema.Draft202012Validator(shipped_schema("returns"))
    data = _json_ready(tomllib.loads(
        (resources.files("csdesk.policies") / "presets" / "returns" / "eu_crd.toml")
        .read_text(encoding="utf-8")))  # fmt: skip
    assert not list(validator.iter_errors(data))
    assert list(validator.iter_errors(data | {"dayz": 14}))  # a typo
    assert list(validator.iter_errors(data | {"roll_over": "sometimes"}))  # not a choice


def test_a_schema_key_is_accepted_and_ignored(tmp_path: Any) -> None:
    data = return_policy("cn_consumer_law").model_dump(mode="json")
    loaded = ReturnPolicy.from_data({"$schema": "./returns.schema.json", **data}, source="t")
    assert loaded == return_policy("cn_consumer_law")
    with pytest.raises(PolicyError, match=r"\$schema is the schema's location"):
        ReturnPolicy.from_data({"$schema": 3, **data}, source="t")
    template = tmp_path / "hello.toml"
    template.write_text(
        '"$schema" = "template.schema.json"\nid = "hello"\nversion = "1"\ncategory = "x"\n'
        '[variants.en]\nbody = "Hello"\n',
        encoding="utf-8",
    )
    assert load_template(template).id == "hello"


def test_csdesk_policy_schema_prints_it() -> None:
    result = CliRunner().invoke(cli, ["policy", "schema", "template"])
    assert result.exit_code == 0
    assert result.output == render("template")
    wrong = CliRunner().invoke(cli, ["policy", "schema", "nope"])
    assert wrong.exit_code == 2
    assert "the kinds are" in wrong.output
    with pytest.raises(InvalidInputError):
        json_schema("nope")
