"""The workflow engine: python-statemachine behind one strict, typed entry point.

`Workflow` is a ``StateChart`` with the settings that make it safe for money: an event with no
transition raises, exceptions in callbacks propagate (the library's defaults swallow them and still
advance the state), and the model's state field is written once per transition (never a transient
``None``). `fire` builds one machine for one command, sends one event, and returns the
`csdesk.events.DomainEvent`s it produced; any failure leaves the model exactly as it was.

Rules for workflow code: flat states only; guards are pure; business refusals are validators that
call `Workflow.refuse`; actions only *replace* model fields (never mutate a field's value in place,
so the engine's snapshot can restore the model on failure) and report extra facts with
`Workflow.emit`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from statemachine import StateChart
from statemachine.exceptions import StateMachineError, TransitionNotAllowed

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import (
    CorruptStateError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    TransitionRejectedError,
)
from csdesk.events import Actor, AggregateRef, DomainEvent

__all__ = ["Stateful", "Workflow", "allowed_events", "creation_event", "fire", "mermaid"]


class Stateful(Protocol):
    """What a workflow can drive: an id, a state string and a version integer."""

    id: str
    state: str
    version: int


ModelT = TypeVar("ModelT", bound=Stateful)


class _RejectionError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Record:
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    extra: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class Workflow(StateChart[ModelT], Generic[ModelT]):
    """Base class of every csdesk workflow: strict flags, an audit hook, `refuse` and `emit`.

    Subclasses set ``workflow_name`` (the workflow's name in errors and event types), may map
    events to event types in ``event_types`` (default ``"<workflow_name>.<event>"``), and declare
    each event's keyword arguments and their types in ``arguments`` (plus ``common_arguments``
    every event accepts). `fire` checks them strictly before anything runs, so a misspelled or
    mistyped argument is an `InvalidInputError` naming it, never an exception from deep inside.
    """

    allow_event_without_transition = False
    catch_errors_as_events = False
    atomic_configuration_update = True
    enable_self_transition_entries = False

    workflow_name: ClassVar[str] = "workflow"
    event_types: ClassVar[Mapping[str, str]] = {}
    arguments: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    common_arguments: ClassVar[Mapping[str, Any]] = {}

    _record: _Record

    def __init__(
        self,
        model: ModelT | None = None,
        state_field: str = "state",
        start_value: Any = None,
        listeners: list[object] | None = None,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        if not all(hasattr(model, field) for field in ("id", "state", "version")):
            raise InvalidInputError(
                f"{name} runs on a model with id, state and version (an Order, AfterSaleCase, "
                f"Refund or Ticket), got {type(model).__name__}"
            )
        if state_field != "state" or start_value is not None:
            raise InvalidInputError(f"{name}: csdesk workflows keep their state in model.state")
        state = model.state  # type: ignore[union-attr]
        if not isinstance(state, str) or state not in _states(type(self)):
            raise CorruptStateError(
                str(state),
                workflow=self.workflow_name,
                entity_id=str(model.id),  # type: ignore[union-attr]
                event="(build)",
                states=_states(type(self)),
            )
        try:
            super().__init__(model=model, listeners=listeners, **kwargs)
        except (StateMachineError, TypeError, ValueError, AttributeError) as error:
            raise InvalidInputError(f"{name}: {error}") from None

    def _lend_to(self, model: ModelT) -> None:
        """Serve ``model`` from now on (a machine from the pool; see `_Machines`)."""
        self.model = model
        self._model_key = f"@{id(model)}"
        config = self._config
        config._model = model
        config._cached = None
        self._engine.clear_cache()

    def _reusable(self) -> bool:
        """Whether the engine is idle and running (a final state stops it for good)."""
        engine = self._engine
        return bool(
            engine.running and engine.external_queue.is_empty() and engine.internal_queue.is_empty()
        )

    def _resolved_on_model(self) -> bool:
        """Whether any callback was resolved on the model instead of the machine."""
        suffix = getattr(self, "_model_key", f"@{id(self.model)}")
        return any(
            str(wrapper.unique_key).endswith(suffix)
            for executor in self._callbacks._registry.values()
            for wrapper in executor
        )

    def refuse(self, reason: str) -> NoReturn:
        """Refuse the command with a business reason (call from a validator)."""
        raise _RejectionError(reason)

    def emit(self, suffix: str, **payload: Any) -> None:
        """Report an extra fact as its own event: ``<name>.<suffix>`` with ``payload``."""
        self._record.extra.append((f"{self.workflow_name}.{suffix}", payload))

    def detail(self, **payload: Any) -> None:
        """Add facts to the payload of the transition's own event."""
        self._record.details.update(payload)

    def after_transition(self, event: str, source: Any, target: Any) -> None:
        """Record each transition for the audit trail (called by python-statemachine)."""
        self._record.transitions.append((str(event), source.id, target.id))


@cache
def _states(workflow: type[Workflow[Any]]) -> tuple[str, ...]:
    return tuple(str(state.value) for state in workflow.states)


@cache
def _events(workflow: type[Workflow[Any]]) -> frozenset[str]:
    return frozenset(name for names in _topology(workflow).values() for name in names)


@cache
def _argument_model(workflow: type[Workflow[Any]], event: str) -> type[BaseModel]:
    declared = {**workflow.common_arguments, **workflow.arguments.get(event, {})}
    fields: dict[str, Any] = {name: (kind | None, None) for name, kind in declared.items()}
    return create_model(
        f"{workflow.workflow_name}.{event} arguments",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True, strict=True),
        **fields,
    )


def _check_arguments(workflow: type[Workflow[Any]], event: str, payload: Mapping[str, Any]) -> None:
    try:
        _argument_model(workflow, event).model_validate(payload)
    except ValidationError as error:
        raise InvalidInputError.from_pydantic(error) from None


@cache
def _topology(workflow: type[Workflow[Any]]) -> Mapping[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for state in workflow.states:
        names = table.setdefault(str(state.value), [])
        for transition in state.transitions:
            for event in transition.events:
                if event.id not in names:
                    names.append(event.id)
    return {state: tuple(names) for state, names in table.items()}


@checked
def allowed_events(workflow: type[Workflow[Any]], state: str) -> tuple[str, ...]:
    """The events that have a transition out of ``state``, guards not evaluated.

    Computed once per workflow class, without building a machine, so it is cheap enough to call
    for every row of a list view.

    Raises:
        NotFoundError: ``state`` is not a state of the workflow (a `LookupError` too).
    """
    try:
        return _topology(workflow)[state]
    except KeyError:
        raise NotFoundError(
            f"{state!r} is not a state of the {workflow.workflow_name} workflow; its states are "
            + ", ".join(_states(workflow))
        ) from None


def creation_event(
    type_: str,
    entity: Stateful,
    *,
    kind: str,
    actor: Actor,
    now: datetime,
    payload: Mapping[str, Any],
    **fields: Any,
) -> DomainEvent:
    """The event that records an entity's creation, at the entity's (first) version."""
    return DomainEvent(
        type=type_,
        occurred_at=now,
        actor=actor,
        aggregate=AggregateRef(kind=kind, id=entity.id, version=entity.version),
        payload=dict(payload),
        **fields,
    )


@checked
def mermaid(workflow: type[Workflow[Any]]) -> str:
    """The workflow's state diagram in Mermaid syntax, generated from the machine itself."""
    return format(workflow, "mermaid")


@checked
def fire(
    workflow: type[Workflow[ModelT]],
    model: ModelT,
    event: str,
    *,
    actor: Actor,
    now: datetime,
    idempotency_key: str | None = None,
    causation_id: str | None = None,
    policy_version: str | None = None,
    **payload: Any,
) -> list[DomainEvent]:
    """Send one event to ``model`` through ``workflow`` and return the events that happened.

    The machine is built for this command only. On success the model's state is the new state,
    its ``version`` has grown by one, and the returned events carry that version. On any failure
    the model is exactly as it was (state, fields and version) and a csdesk error says why.

    Args:
        workflow: The workflow class, such as `csdesk.workflows.OrderWorkflow`.
        model: The entity to move; its ``state`` must be one of the workflow's states.
        event: The event's name, such as ``"pay"``.
        actor: Who is acting.
        now: The current time, timezone-aware (passed in, never read from a clock).
        idempotency_key: Recorded on the events, for money-moving commands.
        causation_id: The id of what caused this command, recorded on the events.
        policy_version: The version of the policy the command applied, recorded on the events.
        **payload: The event's arguments (``payments=``, ``reason=``, …), passed to the guards,
            validators and actions, and recorded on the event.

    Raises:
        CorruptStateError: the stored state is not a state of the workflow.
        InvalidTransitionError: no such event, no transition from this state, or a guard failed.
        TransitionRejectedError: a business rule refused the command, with its reason.
        NaiveDatetimeError: ``now`` has no time zone.
        InvalidInputError: an argument the event does not take, or of the wrong type.
    """
    require_aware(now, "now")
    state = model.state
    if state not in _states(workflow):
        raise CorruptStateError(
            state,
            workflow=workflow.workflow_name,
            entity_id=model.id,
            event=event,
            states=_states(workflow),
        )
    if event not in _events(workflow):
        raise _invalid(workflow, model, event, "unknown_event", _topology(workflow)[state])
    _check_arguments(workflow, event, payload)
    snapshot = dict(vars(model))
    record = _Record()
    arguments = {"actor": actor, "now": now, **payload}
    machine = _machines.take(workflow, model)
    machine._record = record
    try:
        machine.send(event, **arguments)
        events = _events_of(
            workflow,
            model,
            record,
            actor,
            now,
            payload,
            idempotency_key,
            causation_id,
            policy_version,
        )
        model.version = model.version + 1
        _machines.give_back(workflow, machine)
    except TransitionNotAllowed:
        _restore(model, snapshot)
        reason = "guard_failed" if event in _topology(workflow)[state] else "no_transition"
        enabled = [e.id for e in machine.enabled_events(**arguments)]
        raise _invalid(workflow, model, event, reason, enabled) from None
    except _RejectionError as rejection:
        _restore(model, snapshot)
        raise TransitionRejectedError(
            rejection.reason,
            workflow=workflow.workflow_name,
            entity_id=model.id,
            event=event,
            state=state,
        ) from None
    except BaseException:
        _restore(model, snapshot)
        raise
    return events


class _Machines:
    """One idle machine per workflow class and thread, lent to one command at a time.

    Building a python-statemachine machine resolves and registers every callback of the class: most
    of what a command costs. Its callbacks are the workflow's own methods, so a machine can serve
    the next entity of the same class with the entity swapped in, as long as no callback was
    resolved on the entity itself (checked once per class: such a class is never pooled). A machine
    whose command failed is dropped, never reused, so a half-run engine cannot leak into another
    command; so is one whose engine stopped (the entity reached a final state) or still holds
    queued events. Each thread has its own machines.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._unpoolable: set[type[Any]] = set()
        self._poolable: set[type[Any]] = set()

    def take(self, workflow: type[Workflow[ModelT]], model: ModelT) -> Workflow[ModelT]:
        idle: dict[type[Any], Workflow[Any]] = self._idle()
        machine = idle.pop(workflow, None)
        if machine is None:
            return workflow(model=model)
        machine._lend_to(model)
        return machine

    def give_back(self, workflow: type[Workflow[ModelT]], machine: Workflow[ModelT]) -> None:
        if workflow in self._unpoolable or not machine._reusable():
            return
        if workflow not in self._poolable:
            if machine._resolved_on_model():
                self._unpoolable.add(workflow)
                return
            self._poolable.add(workflow)
        self._idle()[workflow] = machine

    def _idle(self) -> dict[type[Any], Workflow[Any]]:
        idle: dict[type[Any], Workflow[Any]] | None = getattr(self._local, "idle", None)
        if idle is None:
            idle = self._local.idle = {}
        return idle

    def clear(self) -> None:
        """Drop this thread's idle machines (tests)."""
        self._idle().clear()


_machines = _Machines()


def _invalid(
    workflow: type[Workflow[Any]], model: Stateful, event: str, reason: str, allowed: Any
) -> InvalidTransitionError:
    return InvalidTransitionError(
        workflow=workflow.workflow_name,
        entity_id=model.id,
        event=event,
        state=model.state,
        reason=reason,
        allowed=allowed,
    )


def _restore(model: object, snapshot: dict[str, Any]) -> None:
    fields = vars(model)
    fields.clear()
    fields.update(snapshot)


def _events_of(
    workflow: type[Workflow[Any]],
    model: Stateful,
    record: _Record,
    actor: Actor,
    now: datetime,
    payload: Mapping[str, Any],
    idempotency_key: str | None,
    causation_id: str | None,
    policy_version: str | None,
) -> list[DomainEvent]:
    aggregate = AggregateRef(kind=workflow.workflow_name, id=model.id, version=model.version + 1)
    common = {
        "occurred_at": now,
        "actor": actor,
        "aggregate": aggregate,
        "idempotency_key": idempotency_key,
        "policy_version": policy_version,
    }
    events: list[DomainEvent] = []
    for name, source, target in record.transitions:
        body = {key: value for key, value in payload.items() if key not in record.details}
        body.update(record.details)
        body.update({"event": name, "from": source, "to": target})
        events.append(
            DomainEvent(
                type=workflow.event_types.get(name, f"{workflow.workflow_name}.{name}"),
                payload=body,
                causation_id=causation_id,
                **common,
            )
        )
    cause = events[0].id if events else causation_id
    for type_, body in record.extra:
        events.append(DomainEvent(type=type_, payload=body, causation_id=cause, **common))
    return events
