"""The decision kernel: the base of every policy, and how policies are loaded.

Every policy (return windows, refunds, timers, tiering, compensation, SLA, arrival estimates) is a
`Policy`: a strict, immutable configuration model with its ``id``, ``version``, ``source`` and
``as_of``, and a hash of its canonical JSON for the trace of every decision that applies it.
`load_policy` reads one from a built-in preset (parsed once per process and shared, as policies
are immutable), a TOML or JSON file, or a mapping, with errors that name the offending key.

This module sits below `csdesk.policies`, `csdesk.sla` and `csdesk.replies`, which all build on it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import ConfigDict, Field

from csdesk._checks import checked
from csdesk._model import ConfigModel
from csdesk.errors import PolicyError, UnknownPresetError

__all__ = ["Policy", "load_policy", "preset_names"]

PolicyT = TypeVar("PolicyT", bound="Policy")
_HASHES: dict[int, tuple[object, str]] = {}


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
