"""The pydantic base every csdesk model derives from.

It translates pydantic's ``ValidationError`` into `csdesk.errors.InvalidInputError` (or
`csdesk.errors.NaiveDatetimeError`) at the boundary: on construction, on ``model_validate`` and
``model_validate_json``, and on assignment, so callers catch csdesk errors only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Self, TypeVar

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict

from csdesk.errors import CsdeskError, InvalidInputError, NaiveDatetimeError, PolicyError

__all__ = ["ConfigModel", "CsdeskModel", "build", "require_aware"]

M = TypeVar("M", bound=BaseModel)


class _Translated(BaseModel):
    """Translates pydantic's ``ValidationError`` into a csdesk error at every entry point.

    A failed assignment leaves the model exactly as it was: pydantic sets a field before running
    the model's own validators, so a value they reject would otherwise stay.
    """

    @classmethod
    def _invalid(cls, error: pydantic.ValidationError) -> CsdeskError:
        return InvalidInputError.from_pydantic(error)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as error:
            raise self._invalid(error) from None

    # Tell pydantic this __init__ only wraps the base one, so nested models are validated in
    # pydantic-core directly (and their errors keep their full field path).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Any = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """Validate a Python object; errors are csdesk errors."""
        try:
            return super().model_validate(
                obj,
                strict=strict,
                extra=extra,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as error:
            raise cls._invalid(error) from None
        except (TypeError, ValueError) as error:  # options of the wrong type
            raise cls._refused("model_validate", error) from None

    @classmethod
    def _refused(cls, method: str, error: Exception) -> CsdeskError:
        return InvalidInputError(f"{cls.__name__}.{method}: {error}", model=cls.__name__)

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: Any = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """Validate JSON text; errors are csdesk errors."""
        try:
            return super().model_validate_json(
                json_data,
                strict=strict,
                extra=extra,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as error:
            raise cls._invalid(error) from None
        except (TypeError, ValueError) as error:  # not text, or options of the wrong type
            raise cls._refused("model_validate_json", error) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            (name == "state" and type(value) is type(self.__dict__.get("state")))
            or (name == "version" and type(value) is int and value >= 0)
        ) and not self.model_config.get("frozen"):
            # The workflow engine writes these on every command; a member of the state's own enum
            # and a non-negative int are all their fields accept, so the model's own validators
            # (which check money, not bookkeeping) need not run again for them.
            fields = self.__dict__
            if name in fields:
                fields[name] = value
                self.__pydantic_fields_set__.add(name)
                return
        if name in self._free_fields and name in self.__dict__:
            # A fact the model's own validators never read: validate the value alone.
            checked_value = _field_adapter(type(self), name).validate_python(value)
            self.__dict__[name] = checked_value
            self.__pydantic_fields_set__.add(name)
            return
        before = self.__dict__.copy()
        fields_set = set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
        except pydantic.ValidationError as error:
            self._restore(before, fields_set)
            raise self._invalid(error) from None
        except Exception:
            self._restore(before, fields_set)
            raise

    _free_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields no model validator reads: assigning one validates the value alone (a subclass
    lists them, with no field validator on them), not the whole model again."""

    def _restore(self, before: dict[str, Any], fields_set: set[str]) -> None:
        object.__setattr__(self, "__dict__", before)
        object.__setattr__(self, "__pydantic_fields_set__", fields_set)


class _FieldAdapter:
    """Validates one field's value as the model would, errors located at the field."""

    def __init__(self, model: type[_Translated], name: str) -> None:
        info = model.model_fields[name]
        config = ConfigDict(
            str_strip_whitespace=bool(model.model_config.get("str_strip_whitespace")),
            arbitrary_types_allowed=bool(model.model_config.get("arbitrary_types_allowed")),
        )
        self._model = model
        self._name = name
        kind: Any = info.annotation
        if info.metadata:
            kind = Annotated[(kind, *info.metadata)]
        self._adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(kind, config=config)

    def validate_python(self, value: Any) -> Any:
        try:
            return self._adapter.validate_python(value)
        except pydantic.ValidationError as error:
            located = pydantic_core.ValidationError.from_exception_data(
                self._model.__name__,
                [
                    {
                        "type": detail["type"],
                        "loc": (self._name, *detail["loc"]),
                        "input": detail["input"],
                        "ctx": detail.get("ctx", {}),
                    }
                    for detail in error.errors()
                ],
            )
            raise self._model._invalid(located) from None


_ADAPTERS: dict[tuple[type[Any], str], _FieldAdapter] = {}


def _field_adapter(model: type[_Translated], name: str) -> _FieldAdapter:
    adapter = _ADAPTERS.get((model, name))
    if adapter is None:
        adapter = _ADAPTERS[(model, name)] = _FieldAdapter(model, name)
    return adapter


class CsdeskModel(_Translated):
    """Immutable, strict-about-extras pydantic model with csdesk errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ConfigModel(_Translated):
    """A piece of configuration (a policy, a rule, a template): invalid data is a `PolicyError`.

    The error lists one `csdesk.errors.FieldError` per problem, each naming the offending key.
    """

    @classmethod
    def _invalid(cls, error: pydantic.ValidationError) -> CsdeskError:
        fields = InvalidInputError.from_pydantic(error).errors
        lines = "; ".join(f"{f.loc}: {f.message}" if f.loc else f.message for f in fields)
        return PolicyError(f"invalid {cls.__name__}: {lines}", errors=fields)


# The setters of a pydantic model's four slots, called directly: building results without
# validation (below) sets them on every step and offer, and the generic ``object.__setattr__``
# looks each name up through the class's MRO first.
set_dict = BaseModel.__dict__["__dict__"].__set__
set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_new = object.__new__


def build(cls: type[M], private: dict[str, Any] | None = None, **values: Any) -> M:
    """An instance of ``cls`` from trusted, already valid values, without validating them.

    For results the deciding code builds from its own values (a few microseconds less than
    ``model_construct`` per object, which matters on the hot paths): missing fields take their
    defaults (in the class's field order); ``private`` sets private attributes.
    """
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = _shape(cls)
    plain, factories, slots = shape
    fields = {**plain, **values}
    for name, factory in factories:
        if fields[name] is _FACTORY:
            fields[name] = factory()
    made = _new(cls)
    set_dict(made, fields)
    set_fields_set(made, set(values))
    set_extra(made, None)
    set_private(made, None if slots is None else {**slots, **(private or {})})
    return made


def assemble(cls: type[M], fields: dict[str, Any], private: dict[str, Any] | None = None) -> M:
    """Like `build`, from dicts that hold every field and every private attribute already.

    ``fields`` in the class's field order; ``private`` ``None`` for a class with none. The hot
    paths' builder: no defaults to merge, and one shared fields-set per class (a frozen model
    never adds to it; pydantic copies it before a ``model_copy`` changes it).
    """
    made = _new(cls)
    set_dict(made, fields)
    set_fields_set(made, _ALL_FIELDS[cls])
    set_extra(made, None)
    set_private(made, private)
    return made


class _AllFields(dict[type[BaseModel], set[str]]):
    def __missing__(self, cls: type[BaseModel]) -> set[str]:
        names = self[cls] = set(cls.model_fields)
        return names


_ALL_FIELDS = _AllFields()
_FACTORY: Any = object()
_SHAPES: dict[type[BaseModel], Any] = {}


def _shape(
    cls: type[BaseModel],
) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...], dict[str, Any] | None]:
    plain: dict[str, Any] = {}
    factories = []
    for name, info in cls.model_fields.items():
        if info.default_factory is not None:
            plain[name] = _FACTORY
            factories.append((name, info.default_factory))
        else:
            plain[name] = None if info.is_required() else info.default
    slots = None
    if cls.__private_attributes__:
        slots = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}
    return plain, tuple(factories), slots


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it is a timezone-aware datetime; raise `NaiveDatetimeError` if not.

    Examples:
        >>> from datetime import datetime, timezone
        >>> require_aware(datetime(2026, 3, 1, tzinfo=timezone.utc), "now").year
        2026
    """
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(
            f"{name} is a naive datetime ({value.isoformat()}); pass a timezone-aware datetime, "
            "e.g. datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo('Asia/Shanghai'))",
            field=name,
        )
    return value
