"""The workflow engine: python-statemachine behind one strict, typed entry point.

`Workflow` is a ``StateChart`` with the settings that make it safe for money: an event with no
transition raises, exceptions in callbacks propagate (the library's defaults swallow them and still
advance the state), and the model's state field is written once per transition (never a transient
``None``).

Each event of a workflow is a `Command` class: its fields are the event's arguments, declared once,
so a type checker sees a misspelt or mistyped argument and pydantic refuses it at run time. `run`
sends one command to one entity and returns the `csdesk.events.DomainEvent`s it produced; any
failure leaves the entity exactly as it was. `fire` is the same for hosts that receive event names
(an HTTP endpoint, a scheduler): it builds the event's command from keyword arguments first.

Rules for workflow code: flat states only, one transition per event (no eventless transitions);
guards are pure; business refusals are validators that call `Workflow.refuse`; callbacks receive
``command``, ``actor`` and ``now``; actions only *replace* model fields (never mutate a field's
value in place, so the engine's snapshot can restore the model on failure) and report extra facts
with `Workflow.emit`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from pydantic import ConfigDict, model_validator
from statemachine import StateChart
from statemachine.engines.base import _processing_step
from statemachine.engines.sync import SyncEngine
from statemachine.exceptions import StateMachineError, TransitionNotAllowed
from statemachine.orderedset import OrderedSet

from csdesk._checks import checked
from csdesk._model import CsdeskModel, build, require_aware
from csdesk._telemetry import annotate, span
from csdesk.decision import Policy
from csdesk.errors import (
    CorruptStateError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    TransitionRejectedError,
)
from csdesk.events import Actor, AggregateRef, DomainEvent

__all__ = [
    "Command",
    "Stateful",
    "Workflow",
    "allowed_events",
    "command_types",
    "creation_event",
    "entity_type",
    "fire",
    "run",
]


class Stateful(Protocol):
    """What a workflow can drive: an id, a state (a `str` enum member) and a version integer.

    The engine writes ``state`` (a member of the workflow's state enum) and ``version``.
    """

    @property
    def id(self) -> str:
        """The entity's id."""

    @property
    def state(self) -> str:
        """The entity's state."""

    version: int


ModelT = TypeVar("ModelT", bound=Stateful)


class _RejectionError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Record:
    extra: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class Command(CsdeskModel, Generic[ModelT]):
    """One event of a workflow with its arguments: the fields of a subclass, declared once.

    Subclasses name their event (``event = "pay"``) and are listed in their workflow's
    ``commands``; the workflow binds itself to them. Construction validates strictly (types,
    unknown names, time zones) and raises `csdesk.errors.InvalidInputError`; a list given for a
    tuple field is taken as a tuple. Commands are frozen, so one can be logged, queued or retried
    as it is.

    Examples:
        >>> from csdesk.workflows.order import CancelOrder
        >>> CancelOrder(reason="out of stock").event
        'cancel'
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True
    )

    event: ClassVar[str]
    workflow: ClassVar[type[Workflow[Any]]]

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(type(value) is list for value in data.values()):
            return {k: tuple(v) if type(v) is list else v for k, v in data.items()}
        return data

    def __repr_args__(self) -> Any:
        # A policy shows as its id and version (a whole preset would fill a log line).
        for key, value in super().__repr_args__():
            yield key, (_PolicyName(value) if isinstance(value, Policy) else value)

    def arguments(self) -> dict[str, Any]:
        """The arguments given (fields left at their default are not), as the event records them."""
        values = self.__dict__
        return {name: values[name] for name in self.model_fields_set}


class _PolicyName:
    __slots__ = ("text",)

    def __init__(self, policy: Policy) -> None:
        self.text = f"{type(policy).__name__}(id={policy.id!r}, version={policy.version!r})"

    def __repr__(self) -> str:
        return self.text


class Workflow(StateChart[ModelT], Generic[ModelT]):
    """Base class of every csdesk workflow: strict flags, an audit hook, `refuse` and `emit`.

    Subclasses set ``workflow_name`` (the workflow's name in errors and event types), may map
    events to event types in ``event_types`` (default ``"<workflow_name>.<event>"``), and list one
    `Command` class per event in ``commands``: the event's arguments are that class's fields.
    """

    allow_event_without_transition = False
    catch_errors_as_events = False
    atomic_configuration_update = True
    enable_self_transition_entries = False

    workflow_name: ClassVar[str] = "workflow"
    event_types: ClassVar[Mapping[str, str]] = {}
    commands: ClassVar[tuple[type[Command[Any]], ...]] = ()

    _record: _Record

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for command in cls.__dict__.get("commands", ()):
            command.workflow = cls

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

    def _get_engine(self) -> SyncEngine:
        return _FlatEngine(self) if _is_flat(type(self)) else SyncEngine(self)

    def _lend_to(self, model: ModelT) -> None:
        """Serve ``model`` from now on (a machine from the pool; see `_Machines`)."""
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "_model_key", f"@{id(model)}")
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


class _FlatEngine(SyncEngine):
    """python-statemachine's engine for a flat machine: no eventless transitions, no invocations.

    The stock loop looks for eventless transitions in every active state before and after each
    event (two of every three transition selections of a command) and spawns pending
    invocations. A machine that declares neither has nothing to find, so this engine skips those
    searches; transition selection, conditions, validators, exit/enter and the callbacks are the
    stock engine's own methods. Events a callback raises on the internal queue still run
    through the stock macrostep.
    """

    def select_eventless_transitions(self, trigger_data: Any) -> OrderedSet[Any]:
        return OrderedSet()

    def processing_loop(self) -> Any:
        engine: Any = self  # python-statemachine's engine methods are not annotated
        if not engine._processing.acquire(blocking=False):
            return None
        first = engine._sentinel
        try:
            with _processing_step(engine):
                while engine.running and not engine.external_queue.is_empty():
                    engine.clear_cache()
                    _, first = engine._take_due_external_event(first)
                    if not engine.internal_queue.is_empty():
                        engine._run_macrostep()
                    engine._check_root_final_state()
                if not engine.running:
                    engine._drop_external_events()
        finally:
            engine._processing.release()
        return None if first is engine._sentinel else first


@cache
def _is_flat(workflow: type[Workflow[Any]]) -> bool:
    """No compound, parallel or invoking state and no eventless transition."""
    return all(
        state.is_atomic
        and not state.parent
        and all(spec.is_convention for spec in state.invoke)
        and not hasattr(workflow, f"on_invoke_{state.id}")
        and not any(transition.is_eventless for transition in state.transitions)
        for state in workflow.states
    ) and not hasattr(workflow, "on_invoke_state")


@cache
def _states(workflow: type[Workflow[Any]]) -> tuple[str, ...]:
    return tuple(str(state.value) for state in workflow.states)


@cache
def _events(workflow: type[Workflow[Any]]) -> frozenset[str]:
    return frozenset(name for names in _topology(workflow).values() for name in names)


@cache
def command_types(workflow: type[Workflow[Any]]) -> Mapping[str, type[Command[Any]]]:
    """The workflow's command class for each of its events.

    Raises:
        InvalidInputError: the workflow lacks a command for an event, lists one for an event it
            does not have, or lists two for one event (a programming error, found on first use).
    """
    table: dict[str, type[Command[Any]]] = {}
    for command in workflow.commands:
        if command.event in table or command.workflow is not workflow:
            raise InvalidInputError(f"{workflow.__name__}: {command.__name__} listed twice")
        table[command.event] = command
    missing = sorted(_events(workflow) - set(table))
    extra = sorted(set(table) - _events(workflow))
    if missing or extra:
        raise InvalidInputError(
            f"{workflow.__name__}: events without a command: {missing or 'none'}; "
            f"commands without an event: {extra or 'none'}"
        )
    return table


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


def _corrupt(workflow: type[Workflow[Any]], model: Stateful, event: str) -> CorruptStateError:
    return CorruptStateError(
        str(model.state),
        workflow=workflow.workflow_name,
        entity_id=model.id,
        event=event,
        states=_states(workflow),
    )


@checked
def run(
    model: ModelT,
    command: Command[ModelT],
    *,
    actor: Actor,
    now: datetime,
    idempotency_key: str | None = None,
    causation_id: str | None = None,
    policy_version: str | None = None,
) -> list[DomainEvent]:
    """Send one command to ``model`` and return the events that happened.

    On success the model's state is the new state, its ``version`` has grown by one, and the
    returned events carry that version. On any failure the model is exactly as it was (state,
    fields and version) and a csdesk error says why.

    Args:
        model: The entity to move; its ``state`` must be one of the workflow's states.
        command: The event and its arguments, such as ``PayOrder(payments=[payment])``; its
            class names the workflow.
        actor: Who is acting.
        now: The current time, timezone-aware (passed in, never read from a clock).
        idempotency_key: Recorded on the events, for money-moving commands.
        causation_id: The id of what caused this command, recorded on the events.
        policy_version: The version of the policy the command applied, recorded on the events.

    Raises:
        CorruptStateError: the stored state is not a state of the workflow.
        InvalidTransitionError: no transition for the event from this state, or a guard failed.
        TransitionRejectedError: a business rule refused the command, with its reason.
        NaiveDatetimeError: ``now`` has no time zone.
        InvalidInputError: the command is not one of a workflow, or not for this kind of entity.

    Examples:
        >>> from datetime import UTC, datetime
        >>> from csdesk import Actor, Customer, LineDraft, Money, Order, Payment
        >>> from csdesk.workflows.order import PayOrder
        >>> now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"), placed_at=now,
        ...     lines=[LineDraft(sku="A", name="a", quantity=1, unit_price=Money("9", "CNY"))])
        >>> paid = Payment(id="P-1", method="alipay", captured=order.total, captured_at=now)
        >>> [e.type for e in run(order, PayOrder(payments=[paid]), actor=Actor(kind="customer"),
        ...     now=now)]
        ['order.paid']
        >>> order.state, order.version
        (<OrderState.PROCESSING: 'processing'>, 1)
    """
    require_aware(now, "now")
    workflow = getattr(type(command), "workflow", None)
    if workflow is None:
        raise InvalidInputError(
            f"{type(command).__name__} is not listed in a workflow's commands; send a workflow's "
            "own command class (PayOrder, ApproveCase, SubmitRefund, SolveTicket, ...)"
        )
    if not isinstance(model, entity_type(workflow)):
        raise InvalidInputError(
            f"{type(command).__name__} is a {workflow.workflow_name} command; it cannot run on "
            f"a {type(model).__name__}"
        )
    if model.state not in _states(workflow):
        raise _corrupt(workflow, model, command.event)
    attributes = {
        "csdesk.workflow": workflow.workflow_name,
        "csdesk.command": command.event,
        "csdesk.entity_id": getattr(model, "id", None),
        "csdesk.state.from": str(model.state),
    }
    with span("csdesk.workflow.command", attributes) as current:
        events = _send(
            workflow, model, command, actor, now, (idempotency_key, causation_id, policy_version)
        )
        annotate(current, {"csdesk.state.to": str(model.state)})
    return events


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
    **arguments: Any,
) -> list[DomainEvent]:
    """`run` for a host that receives the event as a name and its arguments as keywords.

    The event's `Command` class (see `command_types`) validates ``arguments`` first, with the
    same declarations `run`'s callers get type-checked against; then the command runs.

    Args:
        workflow: The workflow class, such as `csdesk.workflows.OrderWorkflow`.
        model: The entity to move; its ``state`` must be one of the workflow's states.
        event: The event's name, such as ``"pay"``.
        actor: Who is acting.
        now: The current time, timezone-aware (passed in, never read from a clock).
        idempotency_key: Recorded on the events, for money-moving commands.
        causation_id: The id of what caused this command, recorded on the events.
        policy_version: The version of the policy the command applied, recorded on the events.
        **arguments: The event's arguments (``payments=``, ``reason=``, …).

    Raises:
        CorruptStateError: the stored state is not a state of the workflow.
        InvalidTransitionError: no such event, no transition from this state, or a guard failed.
        TransitionRejectedError: a business rule refused the command, with its reason.
        NaiveDatetimeError: ``now`` has no time zone.
        InvalidInputError: an argument the event does not take, a missing one, or one of the
            wrong type.
    """
    require_aware(now, "now")
    if model.state not in _states(workflow):
        raise _corrupt(workflow, model, event)
    commands = command_types(workflow)
    if event not in commands:
        raise _invalid(workflow, model, event, "unknown_event", _topology(workflow)[model.state])
    command = commands[event].model_validate(arguments)
    return _send(
        workflow, model, command, actor, now, (idempotency_key, causation_id, policy_version)
    )


def _send(
    workflow: type[Workflow[ModelT]],
    model: ModelT,
    command: Command[Any],
    actor: Actor,
    now: datetime,
    tags: tuple[str | None, str | None, str | None],
) -> list[DomainEvent]:
    state = model.state
    event = command.event
    snapshot = dict(vars(model))
    record = _Record()
    machine = _machines.take(workflow, model)
    object.__setattr__(machine, "_record", record)
    try:
        machine.send(event, command=command, actor=actor, now=now)
        events = _events_of(workflow, model, record, (event, state), actor, now, command, tags)
        model.version = model.version + 1
        _machines.give_back(workflow, machine)
    except TransitionNotAllowed:
        _restore(model, snapshot)
        reason = "guard_failed" if event in _topology(workflow)[state] else "no_transition"
        enabled = [e.id for e in machine.enabled_events(command=command, actor=actor, now=now)]
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


@cache
def entity_type(workflow: type[Workflow[Any]]) -> type[Any]:
    """The kind of entity a workflow moves (``Order`` for ``OrderWorkflow``)."""
    for base in getattr(workflow, "__orig_bases__", ()):
        arguments = getattr(base, "__args__", ())
        if arguments and isinstance(arguments[0], type):
            return arguments[0]
    return object


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
    moved: tuple[str, str],
    actor: Actor,
    now: datetime,
    command: Command[Any],
    tags: tuple[str | None, str | None, str | None],
) -> list[DomainEvent]:
    idempotency_key, causation_id, policy_version = tags
    event, source = moved
    aggregate = build(
        AggregateRef, kind=workflow.workflow_name, id=model.id, version=model.version + 1
    )
    common = {
        "occurred_at": now,
        "actor": actor,
        "aggregate": aggregate,
        "idempotency_key": idempotency_key,
        "policy_version": policy_version,
    }
    body = {k: v for k, v in command.arguments().items() if k not in record.details}
    body.update(record.details)
    body.update({"event": event, "from": str(source), "to": str(model.state)})
    type_ = workflow.event_types.get(event, f"{workflow.workflow_name}.{event}")
    first = DomainEvent.recorded(type_, body, common, causation_id)
    events = [first]
    for type_, extra in record.extra:
        events.append(DomainEvent.recorded(type_, extra, common, first.id))
    return events
