"""The decision kernel: policies, how they load, and the envelope every decision result carries.

Every policy (return windows, refunds, timers, tiering, compensation, SLA, arrival estimates) is a
`Policy`: a strict, immutable configuration model with its ``id``, ``version``, ``source`` and
``as_of``, and a hash of its canonical JSON for the trace of every decision that applies it.
`load_policy` reads one from a built-in preset (parsed once per process and shared, as policies
are immutable), a TOML or JSON file, or a mapping, with errors that name the offending key.

Every decision result (a return window, a refund quote, a tier, a compensation decision, an SLA
status, an arrival estimate, a deadline, a promise, a rendered reply) is a `Decided`: a frozen model
whose own fields are the answer, with the same four more:

- ``policy``: a `PolicyRef` (id, version, hash, source, as of) of the policy that decided;
- ``trace``: the `Step` s that produced the answer, each a stable ``code`` with its values
  (``params``); `csdesk.replies.explain` words them in zh-Hans, zh-Hant or English, only when
  asked;
- ``inputs_hash``: a SHA-256 of what was decided on (computed when read);
- ``decided_at``: the instant the answer is for.

This module sits below `csdesk.policies`, `csdesk.sla` and `csdesk.replies`, which all build on it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date, datetime
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

import pydantic
import pydantic_core
from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializationInfo,
    computed_field,
    model_validator,
)
from pydantic_core import core_schema

from csdesk import _telemetry as telemetry
from csdesk._checks import checked
from csdesk._model import (
    ConfigModel,
    CsdeskModel,
    assemble,
    build,
)
from csdesk.errors import InvalidInputError, PolicyError, UnknownPresetError
from csdesk.money import Money

__all__ = [
    "Decided",
    "Policy",
    "PolicyRef",
    "Step",
    "inputs_hash",
    "load_policy",
    "preset_names",
    "step",
    "step_from",
    "without_schema_key",
]

PolicyT = TypeVar("PolicyT", bound="Policy")
_HASHES: dict[int, tuple[object, str]] = {}
_REFS: dict[int, tuple[object, PolicyRef]] = {}


class Policy(ConfigModel):
    """Common fields of a policy: who wrote it, from which source, as of when, which version.

    Attributes:
        id: A stable name, such as ``"cn_consumer_law"``.
        version: The policy's own version; recorded on every decision that applies it.
        source: Where the numbers come from (statute, platform rule, the shop's own terms).
        as_of: The date the source was read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_\-]+$")
    name: str = ""
    version: str = Field(min_length=1)
    source: str = Field(min_length=1)
    as_of: date

    @property
    def policy_hash(self) -> str:
        """A SHA-256 of the policy's canonical JSON: equal policies, equal hashes."""
        cached = _HASHES.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        if len(_HASHES) >= 256:
            _HASHES.pop(next(iter(_HASHES)))
        # The entry holds the policy itself, so its id cannot be reused while cached; policies
        # are frozen, so the hash of one object never changes.
        _HASHES[id(self)] = (self, digest)
        return digest

    @property
    def ref(self) -> PolicyRef:
        """The `PolicyRef` every decision under this policy carries (made once per policy)."""
        cached = _REFS.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        ref = PolicyRef.model_construct(
            id=self.id,
            version=self.version,
            hash=self.policy_hash,
            source=self.source,
            as_of=self.as_of,
        )
        if len(_REFS) >= 256:
            _REFS.pop(next(iter(_REFS)))
        _REFS[id(self)] = (self, ref)
        return ref

    @classmethod
    def from_data(cls, data: Any, *, source: str | None = None) -> Self:
        """Validate a mapping (from TOML, JSON or code) into this policy.

        Raises:
            PolicyError: with one `FieldError` per problem, each naming the offending key.
        """
        if not isinstance(data, dict):
            raise PolicyError(
                f"a {cls.__name__} is a table of keys, got {type(data).__name__}", source=source
            )
        data = without_schema_key(data, source)
        try:
            return cls.model_validate(data)
        except PolicyError as error:
            if source is None:
                raise
            detail = error.message.removeprefix(f"invalid {cls.__name__}: ")
            raise PolicyError(
                f"invalid {cls.__name__} from {source}: {detail}",
                source=source,
                errors=error.errors,
            ) from None


def without_schema_key(data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """``data`` without a top-level ``$schema`` (an editor's pointer to `csdesk.schemas`).

    Raises:
        PolicyError: ``$schema`` is there but is not a string.
    """
    if "$schema" not in data:
        return data
    if not isinstance(data["$schema"], str):
        raise PolicyError("$schema is the schema's location, a string", source=source)
    return {key: value for key, value in data.items() if key != "$schema"}


@checked
def preset_names(kind: str) -> list[str]:
    """The names of the built-in presets of one kind (``"returns"``, ``"timers"``)."""
    folder = resources.files("csdesk.policies") / "presets" / kind
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


@checked
def load_policy(cls: type[PolicyT], source: str | Path | dict[str, Any], *, kind: str) -> PolicyT:
    """Load a policy from a built-in preset name, a TOML or JSON file, or a mapping.

    Raises:
        UnknownPresetError: ``source`` is a name that no built-in preset has.
        PolicyError: the data does not validate; the errors name the keys.
    """
    if isinstance(source, dict):
        return cls.from_data(source)
    if isinstance(source, str) and "/" not in source and not source.endswith((".toml", ".json")):
        names = preset_names(kind)
        if source not in names:
            raise UnknownPresetError(kind, source, names)
        preset: PolicyT = _preset(cls, kind, source)
        return preset
    if not isinstance(source, str | Path):
        raise PolicyError(
            f"a policy is a preset name, a .toml or .json file or a mapping, got "
            f"{type(source).__name__}"
        )
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(
            f"policy file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8",
            source=str(path),
        ) from None
    except OSError as error:
        raise PolicyError(f"cannot read policy file {path}: {error}", source=str(path)) from None
    data = _json(text, str(path)) if path.suffix == ".json" else _toml(text, str(path))
    return cls.from_data(data, source=str(path))


def _json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise PolicyError(f"{source} is not valid JSON: {error}", source=source) from None


@lru_cache(maxsize=128)
def _preset(cls: type[PolicyT], kind: str, name: str) -> PolicyT:
    """A built-in preset, parsed once per process (policies are immutable, so it is shared)."""
    text = (resources.files("csdesk.policies") / "presets" / kind / f"{name}.toml").read_text(
        encoding="utf-8"
    )
    return cls.from_data(_toml(text, name), source=f"preset {name!r}")


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source} is not valid TOML: {error}", source=source) from None


class PolicyRef(CsdeskModel):
    """Which policy decided: enough to find it again and to prove it has not changed.

    Attributes:
        id: The policy's id (``cn_consumer_law``, ``shop_standard``, a template's id).
        version: Its version.
        hash: SHA-256 of its canonical JSON (of a template's source, for replies).
        source: Where its numbers or words come from.
        as_of: When that source was read; ``None`` for a template.
    """

    id: str
    version: str
    hash: str
    source: str
    as_of: date | None = None


class Step:
    """One step of a decision's trace: what happened, as a stable code with the values it used.

    A step holds no text: `csdesk.replies.explain` words it for a locale when it is read, from the
    reply catalogue's ``trace`` messages, so deciding never formats a number it does not show.

    Steps are immutable and serialize as ``{"stage", "code", "params"}`` inside every decision
    result (JSON amounts, instants and days come back as values when read back). They are small
    slotted objects rather than pydantic models: a decision makes several, and a compensation
    decision is timed against rules engines.

    Attributes:
        stage: The part of the decision (``window``, ``lines``, ``severity``, ``caps``, …).
        code: What happened, e.g. ``returns.window``, ``caps.reduced``; the catalogue's key.
        params: The values the step used: strings, numbers, `Money`, dates, datetimes and
            lists of them.

    Examples:
        >>> made = Step(stage="caps", code="caps.ok", params={"left": Money("5", "CNY")})
        >>> made.model_dump(mode="json")
        {'stage': 'caps', 'code': 'caps.ok', 'params': {'left': {'amount': '5', 'currency': 'CNY'}}}
        >>> Step.model_validate(made.model_dump(mode="json")) == made
        True
    """

    __slots__ = ("code", "params", "stage")

    stage: str
    code: str
    params: dict[str, Any]

    def __init__(self, *, stage: str, code: str, params: dict[str, Any] | None = None) -> None:
        checked = Step.model_validate({"stage": stage, "code": code, "params": params or {}})
        _set_stage(self, checked.stage)
        _set_code(self, checked.code)
        _set_params(self, checked.params)

    def __setattr__(self, name: str, value: Any) -> None:
        raise InvalidInputError(f"a Step is immutable; make a new one rather than set {name}")

    def __delattr__(self, name: str) -> None:
        raise InvalidInputError(f"a Step is immutable; {name} cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if type(other) is not Step:
            return NotImplemented
        return (self.stage, self.code, self.params) == (other.stage, other.code, other.params)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Step(stage={self.stage!r}, code={self.code!r}, params={self.params!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (step_from, (self.stage, self.code, self.params))

    def __copy__(self) -> Step:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Step:
        import copy

        return step_from(self.stage, self.code, copy.deepcopy(self.params, memo))

    def model_dump(self, *, mode: Literal["json", "python"] = "python") -> dict[str, Any]:
        """The step as a dict; ``mode="json"`` turns amounts, instants and days into JSON values."""
        return _step_adapter().dump_python(self, mode=mode)  # type: ignore[no-any-return]

    @classmethod
    def model_validate(cls, data: Any) -> Step:
        """A step from its dict (as `model_dump` writes it, in Python or JSON values).

        Raises:
            InvalidInputError: not a dict with a text ``stage`` and ``code`` and a dict ``params``.
        """
        try:
            return _step_adapter().validate_python(data)
        except pydantic.ValidationError as error:
            raise InvalidInputError.from_pydantic(error) from None

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: pydantic.GetCoreSchemaHandler
    ) -> pydantic_core.CoreSchema:
        text = core_schema.str_schema(strip_whitespace=True)
        fields = core_schema.typed_dict_schema(
            {
                "stage": core_schema.typed_dict_field(text),
                "code": core_schema.typed_dict_field(text),
                "params": core_schema.typed_dict_field(
                    core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()),
                    required=False,
                ),
            },
            extra_behavior="forbid",
            config={"title": "Step"},
        )
        from_dict = core_schema.no_info_after_validator_function(_step_from_dict, fields)
        return core_schema.json_or_python_schema(
            json_schema=from_dict,
            python_schema=core_schema.no_info_wrap_validator_function(_step_or_dict, from_dict),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _step_dict, info_arg=True
            ),
        )


_set_stage = Step.__dict__["stage"].__set__
_set_code = Step.__dict__["code"].__set__
_set_params = Step.__dict__["params"].__set__


def _step_or_dict(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Step:
    return value if type(value) is Step else handler(value)


def _step_from_dict(data: dict[str, Any]) -> Step:
    # A step read back (from JSON or a dict) gets its amounts, instants and days back as values.
    params = _revived(data.get("params", {}))
    assert isinstance(params, dict)
    return step_from(data["stage"], data["code"], params)


def _step_dict(made: Step, info: SerializationInfo) -> dict[str, Any]:
    params = made.params
    if info.mode == "json":
        params = pydantic_core.to_jsonable_python(params, fallback=_jsonable)
    return {"stage": made.stage, "code": made.code, "params": params}


@lru_cache(maxsize=1)
def _step_adapter() -> pydantic.TypeAdapter[Step]:
    return pydantic.TypeAdapter(Step, config=ConfigDict(title="Step"))


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _revived(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"}:
            return Money.from_dict(value)
        return {k: _revived(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revived(v) for v in value]
    if isinstance(value, str) and _INSTANT.match(value):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and _DAY.match(value):
        return date.fromisoformat(value)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return value.to_dict()
    if isinstance(value, frozenset | set):
        return sorted(value, key=str)
    return str(value)


def _mark(cls: type[Decided], policy: PolicyRef | None) -> None:
    """An event on the current span, when tracing, for a decision made."""
    if telemetry.tracing():
        attributes = {
            "csdesk.decision": cls.__name__,
            "csdesk.policy.id": policy.id if policy else None,
            "csdesk.policy.version": policy.version if policy else None,
        }
        telemetry.mark("csdesk.decision", attributes)


def step(stage: str, code: str, **params: Any) -> Step:
    """A `Step`, built without validation (for the deciding code, which passes known values)."""
    return step_from(stage, code, params)


def step_from(stage: str, code: str, params: dict[str, Any]) -> Step:
    """`step` with the values in a dict the caller built (and hands over: it is not copied)."""
    made = _new(Step)
    _set_stage(made, stage)
    _set_code(made, code)
    _set_params(made, params)
    return made


_new = object.__new__


def inputs_hash(*inputs: Any) -> str:
    """SHA-256 of ``inputs`` as canonical JSON (models by their serializer, others as text).

    Examples:
        >>> inputs_hash("SO-1", 3) == inputs_hash("SO-1", 3) != inputs_hash("SO-1", 4)
        True
    """
    return hashlib.sha256(pydantic_core.to_json(inputs, fallback=str)).hexdigest()


class Decided(CsdeskModel):
    """The envelope of every decision result; a subclass's own fields are the answer.

    Attributes:
        policy: The policy that decided (``None`` only for a reply rendered from a bare string).
        trace: How the answer was reached, step by step; `csdesk.replies.explain` words it.
        decided_at: The instant the answer is for (the ``now`` it was given).
        inputs_hash: SHA-256 of the inputs, computed when first read: equal inputs under an equal
            policy give an equal answer.
    """

    answer_field: ClassVar[str] = ""

    policy: PolicyRef | None
    trace: tuple[Step, ...] = ()
    decided_at: AwareDatetime
    _inputs: tuple[Any, ...] = PrivateAttr(default=())
    _hash: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_hash(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # A result read back from its JSON keeps the hash it was written with.
        stored = None
        if isinstance(data, dict) and "inputs_hash" in data:
            data = dict(data)
            stored = data.pop("inputs_hash")
        made = handler(data)
        if isinstance(stored, str):
            made._hash = stored
        return made

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def inputs_hash(self) -> str:
        """SHA-256 of the inputs (see `inputs_hash`)."""
        return self._hash if self._hash is not None else inputs_hash(*self._inputs)

    def __eq__(self, other: object) -> bool:
        """Equal results: the same class, the same fields, the same inputs' hash."""
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Decided)
        # Compared as JSON: a result read back from its JSON equals the one that was written.
        return self.model_dump(mode="json") == other.model_dump(mode="json")

    __hash__ = None  # type: ignore[assignment]

    @property
    def answer(self) -> Any:
        """The answer itself: the field named by the class's ``answer_field``."""
        return getattr(self, self.answer_field)

    @classmethod
    def made(
        cls,
        *,
        policy: PolicyRef | None,
        trace: tuple[Step, ...] | list[Step],
        decided_at: datetime,
        inputs: tuple[Any, ...],
        **answer: Any,
    ) -> Self:
        """Build a result from trusted values, without validating them again."""
        _mark(cls, policy)
        return build(
            cls,
            {"_inputs": inputs},
            policy=policy,
            trace=tuple(trace),
            decided_at=decided_at,
            **answer,
        )

    @classmethod
    def assembled(cls, fields: dict[str, Any], *, inputs: tuple[Any, ...]) -> Self:
        """`made` for the hottest paths: ``fields`` holds every field, in the class's order."""
        _mark(cls, fields["policy"])
        private: dict[str, Any] = {"_inputs": inputs, "_hash": None}
        if len(cls.__private_attributes__) != len(private):  # a result with its own
            defaults = {n: a.get_default() for n, a in cls.__private_attributes__.items()}
            private = {**defaults, **private}
        return assemble(cls, fields, private)
