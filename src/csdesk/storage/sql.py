"""`SqlStore`: csdesk's aggregates, outbox and idempotency records in the shop's own database.

The store runs either on a `sqlalchemy.Connection` the host hands it, inside the host's own
transaction (the host commits or rolls back, so csdesk's writes and the shop's land together or
not at all), or on its own `sqlalchemy.Engine` (built from a URL), one transaction per call.
SQLite (the embedded default), PostgreSQL through psycopg 3 and MariaDB/MySQL through PyMySQL
are tested against real servers.

Every aggregate carries a version: `save` writes only if the row is still at the version that was
loaded (``UPDATE ... WHERE version = :loaded``), so two workers never both commit a change decided
on the same state; the loser gets `csdesk.errors.ConcurrencyConflictError` and nothing of its
transaction stays. Driver errors come out as `csdesk.errors.StorageError`.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Actor, Customer, LineDraft, Money, Order, Payment
    >>> from csdesk.storage import SqlStore
    >>> from csdesk.workflows import PayOrder
    >>> store = SqlStore.memory()
    >>> now = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"), placed_at=now,
    ...     lines=[LineDraft(sku="A", name="a", quantity=1, unit_price=Money("9.90", "CNY"))])
    >>> store.insert(order)
    >>> paid = Payment(id="P-1", method="alipay", captured=Money("9.90", "CNY"), captured_at=now)
    >>> events = store.run("SO-1", PayOrder(payments=[paid]), actor=Actor(kind="customer"), now=now)
    >>> str(store.load(Order, "SO-1").state), [e.type for e in store.outbox()]
    ('processing', ['order.paid'])
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars import WorkingDayCalendar
from csdesk.errors import (
    ConcurrencyConflictError,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    StorageError,
    WorkflowError,
)
from csdesk.events import Actor, DomainEvent
from csdesk.models import AfterSaleCase, CaseState, Order
from csdesk.policies.timers import TimerPreset
from csdesk.storage._errors import storage_error
from csdesk.storage.migrate import HEAD, current
from csdesk.storage.migrate import upgrade as upgrade_schema
from csdesk.storage.schema import entities, idempotency, outbox, webhook_deliveries
from csdesk.workflows import (
    AfterSaleWorkflow,
    Command,
    OrderWorkflow,
    Workflow,
    command_types,
    deadlines,
    due_commands,
    entity_type,
    fire,
    run,
)

__all__ = ["Purged", "SqlStore", "TimerOutcome", "fingerprint", "sqlite_transactions"]

EntityT = TypeVar("EntityT", bound=BaseModel)
T = TypeVar("T")


class TimerOutcome(NamedTuple):
    """What `SqlStore.sweep_due` did with one due timer."""

    kind: str
    entity_id: str
    event: str
    outcome: str  # "fired" or "refused"
    reason: str  # why it was refused ("" when fired)


def fingerprint(parameters: Mapping[str, Any]) -> str:
    """SHA-256 of a command's parameters in canonical JSON: what an idempotency key promises."""
    canonical = json.dumps(parameters, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def kind_of(entity: BaseModel | type[BaseModel]) -> str:
    """The ``kind`` column for an entity or its class: the class name in lower case."""
    cls = entity if isinstance(entity, type) else type(entity)
    return cls.__name__.lower()


class Purged(NamedTuple):
    """What `SqlStore.purge` deleted."""

    events: int
    """Outbox events."""
    deliveries: int
    """Finished webhook deliveries."""
    keys: int
    """Idempotency records."""


class SqlStore:
    """Aggregates (state, version, JSON document), an outbox and idempotency records.

    A store built on an engine (or a URL) may be shared by threads: each call takes its own
    pooled connection. A store built on a connection belongs to the thread that built it, as the
    connection does; another thread gets a `StorageError` saying so.

    Args:
        bind: The host's `sqlalchemy.Connection` (csdesk writes inside its transaction and never
            commits it), an `sqlalchemy.Engine`, or a database URL (the store makes and owns
            an engine).
        upgrade: Bring csdesk's tables to this version first (for an engine or URL it commits;
            on a connection it runs in the host's transaction). Without it, a database whose
            tables are missing or older raises `csdesk.errors.StorageError` at once.
        timers: The timer preset for orders and after-sale cases: each one's next due timer is
            kept in an indexed column for `sweep_due`. Without it there are no stored timers.
        calendar: The working-day calendar for working-day timers (default Monday to Friday).

    Raises:
        StorageError: the database cannot be reached, or its csdesk tables are not current.
    """

    @checked
    def __init__(
        self,
        bind: Connection | Engine | str,
        *,
        upgrade: bool = False,
        timers: TimerPreset | None = None,
        calendar: WorkingDayCalendar | None = None,
    ) -> None:
        self.timers, self.calendar = timers, calendar
        self._owns_engine = isinstance(bind, str)
        if isinstance(bind, str):
            url = bind
            try:
                bind = _engine(url)
            except SQLAlchemyError as error:
                raise storage_error(error, dialect=_scheme(url), operation="connect") from None
            except (ValueError, ImportError) as error:
                raise InvalidInputError(f"cannot use database URL: {error}") from None
        self._bind: Connection | Engine = bind
        self._thread = threading.get_ident()
        self.dialect = bind.dialect.name
        try:
            if isinstance(bind, Engine) and self.dialect == "sqlite":
                sqlite_transactions(bind)
            if isinstance(bind, Connection):
                _check_host_connection(bind)
            if upgrade:
                upgrade_schema(bind)
            found = current(bind)
            if found != HEAD:
                raise storage_error_for_schema(self.dialect, found)
        except BaseException:
            self.close()
            raise

    @classmethod
    def memory(cls) -> SqlStore:
        """A private in-memory SQLite database, already migrated (examples, tests)."""
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        store = cls(engine, upgrade=True)
        store._owns_engine = True
        return store

    @property
    def in_host_transaction(self) -> bool:
        """Whether the store writes inside the host's transaction (it was given a connection)."""
        return isinstance(self._bind, Connection)

    def close(self) -> None:
        """Dispose of the engine the store made (a host's connection or engine is left alone)."""
        if self._owns_engine and isinstance(self._bind, Engine):
            self._bind.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # transactions -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str = "transaction") -> Iterator[Connection]:
        """One unit of work: the host's transaction (on a connection) or a new one (on an engine).

        On an engine it commits when the block ends and rolls back on any error; on the host's
        connection csdesk's writes wait for the host's commit or rollback (a failed csdesk command
        rolls back only its own savepoint, so the host's transaction stays usable).
        """
        if isinstance(self._bind, Connection) and threading.get_ident() != self._thread:
            raise StorageError(
                "this SqlStore runs on one connection, which belongs to the thread that made the "
                "store; give each thread its own connection (and store), or build the store on an "
                "Engine, which is safe to share between threads",
                dialect=self.dialect,
                operation=operation,
            )
        try:
            if isinstance(self._bind, Connection):
                with self._bind.begin_nested():
                    yield self._bind
            else:
                with self._bind.begin() as connection:
                    yield connection
        except SQLAlchemyError as error:
            raise storage_error(error, dialect=self.dialect, operation=operation) from None

    def retrying(self, call: Callable[[], T], *, attempts: int = 5) -> T:
        """``call()``, again after a short random pause when the database gave up on it for now.

        For work that runs in transactions of its own (relays, sweeps, batch claims): a deadlock
        or lock timeout (`StorageError.transient`) is retried up to ``attempts`` times; any other
        error, or the last one, is raised. On the host's connection nothing is retried (the
        host's transaction is gone with the deadlock: the host decides).
        """
        for attempt in range(attempts):
            try:
                return call()
            except StorageError as error:
                if not error.transient or attempt == attempts - 1 or self.in_host_transaction:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def insert_once(self, table: Any, values: Mapping[str, Any], operation: str = "insert") -> bool:
        """Insert one row in a transaction of its own; False when its key is taken already.

        For claims that race: a duplicate key ends that short transaction at once, so it never
        holds the locks a longer one would (on MariaDB two racing inserts that go on to lock the
        row they collided on deadlock, and a deadlock rolls back the whole transaction).

        Raises:
            StorageError: any other database failure; or the store is on a host's connection.
        """
        if isinstance(self._bind, Connection):
            raise StorageError(
                "insert_once commits: it needs a store on an engine or URL",
                dialect=self.dialect,
                operation=operation,
            )
        try:
            with self._bind.begin() as connection:
                connection.execute(insert(table).values(**values))
        except IntegrityError:
            return False
        except SQLAlchemyError as error:
            raise storage_error(error, dialect=self.dialect, operation=operation) from None
        return True

    # aggregates ---------------------------------------------------------------------------------

    @checked
    def insert(self, entity: BaseModel, events: Sequence[DomainEvent] = ()) -> None:
        """Store a new aggregate (and the events that created it).

        Raises:
            InvalidInputError: an aggregate of that kind and id exists already.
        """
        with self.transaction("insert") as connection:
            self.insert_in(connection, entity, events)

    def insert_in(
        self, connection: Connection, entity: BaseModel, events: Sequence[DomainEvent] = ()
    ) -> None:
        """`insert` inside a transaction the caller holds (see `transaction`)."""
        kind = kind_of(entity)
        fields = entity.model_dump(mode="json")
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(entities).values(
                        kind=kind,
                        id=fields["id"],
                        state=str(fields["state"]),
                        version=fields["version"],
                        order_id=_order_id(entity),
                        document=entity.model_dump_json(),
                        updated_at=_now(),
                        due_at=self._due_at(entity),
                    )
                )
        except IntegrityError:
            raise InvalidInputError(f"{kind} {fields['id']} is already stored") from None
        self._append(connection, kind, events)

    @checked
    def load(self, cls: type[EntityT], entity_id: str) -> EntityT:
        """Load an aggregate by id.

        Raises:
            NotFoundError: no such aggregate.
        """
        with self.transaction("load") as connection:
            return self.load_in(connection, cls, entity_id)

    def load_in(
        self, connection: Connection, cls: type[EntityT], entity_id: str, *, lock: bool = False
    ) -> EntityT:
        """`load` inside the caller's transaction; ``lock`` takes the row lock (``FOR UPDATE``)."""
        query = select(entities.c.document).where(
            entities.c.kind == kind_of(cls), entities.c.id == entity_id
        )
        if lock and self.dialect != "sqlite":
            query = query.with_for_update()
        document = connection.execute(query).scalar_one_or_none()
        if document is None:
            raise NotFoundError(f"no {kind_of(cls)} with id {entity_id!r}")
        return cls.model_validate_json(document)

    def of_order(self, cls: type[EntityT], order_id: str) -> list[EntityT]:
        """Every stored aggregate of ``cls`` that belongs to ``order_id`` (an indexed lookup)."""
        with self.transaction("of_order") as connection:
            return self.of_order_in(connection, cls, order_id)

    def of_order_in(
        self, connection: Connection, cls: type[EntityT], order_id: str
    ) -> list[EntityT]:
        """`of_order` inside the caller's transaction."""
        rows = connection.execute(
            select(entities.c.document)
            .where(entities.c.kind == kind_of(cls), entities.c.order_id == order_id)
            .order_by(entities.c.id)
        ).scalars()
        return [cls.model_validate_json(document) for document in rows]

    @checked
    def entities(self, cls: type[EntityT], *, states: Sequence[str] | None = None) -> list[EntityT]:
        """Every stored aggregate of ``cls`` (in ``states``, when given), by id.

        For desk reports over a shop's open work (`csdesk.sla.handover_report`); it reads every
        matching row, so give ``states`` to leave the finished ones out.
        """
        query = select(entities.c.document).where(entities.c.kind == kind_of(cls))
        if states is not None:
            query = query.where(entities.c.state.in_([str(state) for state in states]))
        with self.transaction("entities") as connection:
            rows = connection.execute(query.order_by(entities.c.id)).scalars()
            return [cls.model_validate_json(document) for document in rows]

    @checked
    def history(self, cls: type[BaseModel], ids: Sequence[str]) -> dict[str, list[DomainEvent]]:
        """The events of the aggregates ``ids`` of ``cls``, each in version order.

        Read from the outbox, which keeps every event until `purge` deletes delivered ones: SLA
        clocks read a ticket's whole history, so purge tickets' events only past the longest
        time a report looks back.
        """
        found: dict[str, list[DomainEvent]] = {entity_id: [] for entity_id in ids}
        with self.transaction("history") as connection:
            for start in range(0, len(ids), 500):  # bounded IN lists
                chunk = list(ids[start : start + 500])
                rows = connection.execute(
                    select(outbox.c.entity_id, outbox.c.body)
                    .where(outbox.c.kind == kind_of(cls), outbox.c.entity_id.in_(chunk))
                    .order_by(outbox.c.entity_id, outbox.c.version, outbox.c.seq)
                )
                for entity_id, body in rows:
                    found[entity_id].append(DomainEvent.model_validate_json(body))
        return found

    @checked
    def save(self, entity: Any, events: Sequence[DomainEvent], *, expected_version: int) -> None:
        """Write the aggregate and its events if it is still at ``expected_version``.

        Raises:
            ConcurrencyConflictError: another writer committed first; nothing was written.
        """
        with self.transaction("save") as connection:
            self.save_in(connection, entity, events, expected_version)

    def save_in(
        self,
        connection: Connection,
        entity: Any,
        events: Sequence[DomainEvent],
        expected_version: int,
        *,
        timers_after: datetime | None = None,
    ) -> None:
        """`save` inside the caller's transaction.

        ``timers_after``: keep as next timer only one due after this instant (the sweep passes
        the time it swept at, so a timer whose command was refused is not tried again).
        """
        kind = kind_of(entity)
        result = connection.execute(
            update(entities)
            .where(
                entities.c.kind == kind,
                entities.c.id == entity.id,
                entities.c.version == expected_version,
            )
            .values(
                state=str(entity.state),
                version=entity.version,
                document=entity.model_dump_json(),
                updated_at=_now(),
                due_at=self._due_at(entity, after=timers_after),
            )
        )
        if result.rowcount != 1:
            raise ConcurrencyConflictError(kind, entity.id, expected_version)
        self._append(connection, kind, events)

    # commands -----------------------------------------------------------------------------------

    @checked
    def run(
        self,
        entity_id: str,
        command: Command[Any],
        *,
        actor: Actor,
        now: datetime,
        retries: int = 3,
    ) -> list[DomainEvent]:
        """Load, run one typed command, save; on a version conflict load again and decide again.

        On the host's connection a conflict is raised at once (the host's transaction decides
        what happens next); on an engine it is retried up to ``retries`` times.

        Raises:
            ConcurrencyConflictError: still conflicting after the retries.
        """
        workflow = getattr(type(command), "workflow", None)
        if workflow is None:
            raise InvalidInputError(f"{type(command).__name__} is not a workflow's command")
        return self._decide(
            entity_type(workflow),
            entity_id,
            lambda entity: run(entity, command, actor=actor, now=now),
            retries,
        )

    @checked
    def fire(
        self,
        workflow: type[Workflow[Any]],
        entity_id: str,
        event: str,
        *,
        actor: Actor,
        now: datetime,
        retries: int = 3,
        **arguments: Any,
    ) -> list[DomainEvent]:
        """`run` for an event given by name, its arguments as keywords."""
        return self._decide(
            entity_type(workflow),
            entity_id,
            lambda entity: fire(workflow, entity, event, actor=actor, now=now, **arguments),
            retries,
        )

    def _decide(
        self,
        cls: type[Any],
        entity_id: str,
        decide: Callable[[Any], list[DomainEvent]],
        retries: int,
    ) -> list[DomainEvent]:
        attempts = 1 if isinstance(self._bind, Connection) else retries + 1
        for attempt in range(attempts):
            try:
                with self.transaction("run") as connection:
                    entity: Any = self.load_in(connection, cls, entity_id)
                    loaded = entity.version
                    events = decide(entity)
                    self.save_in(connection, entity, events, loaded)
                    return events
            except ConcurrencyConflictError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # timers -------------------------------------------------------------------------------------

    def _due_at(self, entity: Any, *, after: datetime | None = None) -> datetime | None:
        if self.timers is None or not isinstance(entity, Order | AfterSaleCase):
            return None
        workflow = OrderWorkflow if isinstance(entity, Order) else AfterSaleWorkflow
        events = command_types(workflow)
        due = [
            d.due_at
            for d in deadlines(entity, self.timers, self.calendar)
            if d.active and d.on_expiry in events and (after is None or d.due_at > after)
        ]
        return min(due, default=None)

    @checked
    def sweep_due(
        self, *, now: datetime, limit: int = 100, actor: Actor | None = None
    ) -> list[TimerOutcome]:
        """Run the timers that are due at ``now``: at most ``limit`` orders and cases.

        Each due entity is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB; SQLite
        has one writer at a time), its due commands (`csdesk.workflows.due_commands`) run as
        ``actor`` (the system by default), and it is saved with its next timer, in one
        transaction: several sweeps may run at once, from cron or Celery beat on several hosts,
        and each timer fires once. A command the workflow refuses is reported and not tried again
        until the entity changes. Closing an order counts its open after-sale cases first.

        Raises:
            InvalidInputError: the store has no timer preset (``SqlStore(..., timers=...)``).
        """
        require_aware(now, "now")
        if self.timers is None:
            raise InvalidInputError("sweep_due needs a store with a timer preset: timers=...")
        who = actor or Actor.system()
        query = (
            select(entities.c.kind, entities.c.id)
            .where(entities.c.due_at <= now)
            .order_by(entities.c.due_at, entities.c.kind, entities.c.id)
            .limit(limit)
        )
        if self.dialect != "sqlite":
            query = query.with_for_update(skip_locked=True)
        outcomes: list[TimerOutcome] = []
        with self.transaction("sweep_due") as connection:
            for kind, entity_id in connection.execute(query).all():
                cls: type[Any] = Order if kind == kind_of(Order) else AfterSaleCase
                entity = self.load_in(connection, cls, entity_id)
                outcomes += self._fire_due(connection, entity, now, who)
        return outcomes

    def _fire_due(
        self, connection: Connection, entity: Any, now: datetime, actor: Actor
    ) -> list[TimerOutcome]:
        assert self.timers is not None
        loaded = entity.version
        open_cases = self._open_cases(connection, entity.id) if isinstance(entity, Order) else None
        commands = due_commands(entity, now, self.timers, self.calendar, open_cases=open_cases)
        found: list[TimerOutcome] = []
        events: list[DomainEvent] = []
        for command in commands:
            try:
                events += run(entity, command, actor=actor, now=now)
                found.append(TimerOutcome(kind_of(entity), entity.id, command.event, "fired", ""))
            except WorkflowError as error:
                reason = getattr(error, "reason", "") or str(error)
                found.append(
                    TimerOutcome(kind_of(entity), entity.id, command.event, "refused", reason)
                )
        if events:
            self.save_in(connection, entity, events, loaded, timers_after=now)
        else:
            connection.execute(
                update(entities)
                .where(entities.c.kind == kind_of(entity), entities.c.id == entity.id)
                .values(due_at=self._due_at(entity, after=now))
            )
        return found

    def _open_cases(self, connection: Connection, order_id: str) -> int:
        done = [str(CaseState.RESOLVED), str(CaseState.CANCELED)]
        return int(
            connection.execute(
                select(func.count())
                .select_from(entities)
                .where(
                    entities.c.kind == kind_of(AfterSaleCase),
                    entities.c.order_id == order_id,
                    entities.c.state.not_in(done),
                )
            ).scalar_one()
        )

    # outbox -------------------------------------------------------------------------------------

    def _append(self, connection: Connection, kind: str, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        connection.execute(
            insert(outbox),
            [
                {
                    "event_id": e.id,
                    "kind": kind,
                    "entity_id": e.aggregate.id,
                    "version": e.aggregate.version,
                    "type": e.type,
                    "occurred_at": e.occurred_at,
                    "body": e.to_json(),
                }
                for e in events
            ],
        )

    def outbox(self, *, pending_only: bool = False) -> list[DomainEvent]:
        """The stored events in the order they were written."""
        query = select(outbox.c.body).order_by(outbox.c.seq)
        if pending_only:
            query = query.where(outbox.c.delivered_at.is_(None))
        with self.transaction("outbox") as connection:
            return [DomainEvent.from_json(body) for body in connection.execute(query).scalars()]

    @checked
    def mark_delivered(self, event_ids: Sequence[str], *, at: datetime) -> None:
        """Record that a relay delivered these events."""
        require_aware(at, "at")
        with self.transaction("mark_delivered") as connection:
            for event_id in event_ids:
                connection.execute(
                    update(outbox).where(outbox.c.event_id == event_id).values(delivered_at=at)
                )

    @checked
    def claim_events(
        self,
        relay: str,
        *,
        now: datetime,
        lease: timedelta = timedelta(seconds=60),
        limit: int = 100,
    ) -> list[DomainEvent]:
        """Claim undelivered events for ``relay`` to deliver, each for ``lease``.

        Any number of relays may claim at once (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and
        MariaDB; SQLite serializes writers): an event is claimed by one relay at a time, and again
        once its lease runs out undelivered (at least once). Only the oldest undelivered event of
        each aggregate is claimable, so an aggregate's events are delivered in version order. No
        high-water mark is kept, so an event whose transaction committed after a later one's is
        never skipped.

        Raises:
            InvalidInputError: ``limit`` below 1 or ``lease`` not positive.
        """
        require_aware(now, "now")
        if limit < 1 or lease <= timedelta(0):
            raise InvalidInputError("claim_events needs limit >= 1 and a positive lease")
        earlier = outbox.alias("earlier")
        blocked = (
            select(earlier.c.seq)
            .where(
                earlier.c.kind == outbox.c.kind,
                earlier.c.entity_id == outbox.c.entity_id,
                earlier.c.seq < outbox.c.seq,
                earlier.c.delivered_at.is_(None),
            )
            .exists()
        )
        query = (
            select(outbox.c.seq, outbox.c.body)
            .where(
                outbox.c.delivered_at.is_(None),
                or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
                ~blocked,
            )
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=outbox)
        elif self.dialect != "sqlite":  # MariaDB/MySQL: SKIP LOCKED without OF (MariaDB lacks it)
            query = query.with_for_update(skip_locked=True)
        with self.transaction("claim_events") as connection:
            rows = connection.execute(query).all()
            if rows:
                connection.execute(
                    update(outbox)
                    .where(outbox.c.seq.in_([row.seq for row in rows]))
                    .values(claimed_by=relay, lease_until=now + lease)
                )
        return [DomainEvent.from_json(row.body) for row in rows]

    @checked
    def ack_events(self, relay: str, event_ids: Sequence[str], *, at: datetime) -> int:
        """Mark events ``relay`` delivered; returns how many were still its own to mark.

        An event whose lease ran out and that another relay claimed since is not marked (that
        relay will deliver it again: at least once).
        """
        require_aware(at, "at")
        with self.transaction("ack_events") as connection:
            result = connection.execute(
                update(outbox)
                .where(
                    outbox.c.event_id.in_(list(event_ids)),
                    outbox.c.claimed_by == relay,
                    outbox.c.delivered_at.is_(None),
                )
                .values(delivered_at=at, lease_until=None)
            )
            return int(result.rowcount)

    @checked
    def purge(self, *, before: datetime, batch: int = 1000) -> Purged:
        """Delete what is done and older than ``before``, in transactions of ``batch`` rows.

        That is: finished webhook deliveries (delivered or skipped), outbox events handed on
        whose deliveries are all finished, and idempotency records. A large backlog never holds
        long locks; an undelivered event, or one a subscriber still waits for, is never deleted.
        """
        require_aware(before, "before")
        if batch < 1:
            raise InvalidInputError("purge needs batch >= 1")
        d = webhook_deliveries
        finished = and_(
            d.c.state.in_(("delivered", "skipped")),
            func.coalesce(d.c.delivered_at, d.c.next_at) < before,
        )
        waiting = select(d.c.seq).where(d.c.seq == outbox.c.seq, d.c.state.in_(("pending", "dead")))
        deliveries = self._purge(d, finished, batch)
        events = self._purge(outbox, and_(outbox.c.delivered_at < before, ~waiting.exists()), batch)
        keys = self._purge(idempotency, idempotency.c.created_at < before, batch)
        return Purged(events=events, deliveries=deliveries, keys=keys)

    def _purge(self, table: Any, condition: Any, batch: int) -> int:
        columns = list(table.primary_key.columns)
        deleted = 0
        while True:
            with self.transaction("purge") as connection:
                keys = connection.execute(
                    select(*columns).where(condition).order_by(*columns).limit(batch)
                ).all()
                if not keys:
                    return deleted
                for row in keys:
                    connection.execute(
                        table.delete().where(
                            *(c == value for c, value in zip(columns, row, strict=True))
                        )
                    )
                deleted += len(keys)

    # idempotency --------------------------------------------------------------------------------

    def recall(
        self,
        connection: Connection,
        scope: str,
        key: str,
        parameters: Mapping[str, Any],
        *,
        created: str | None = None,
    ) -> Any | None:
        """What the command keyed ``key`` in ``scope`` did before, or None if it never ran.

        ``created`` names the list in the stored result that holds the ids the first command
        created; a conflict's error lists them.

        Raises:
            IdempotencyConflictError: the key was used with other parameters.
        """
        row = connection.execute(
            select(idempotency.c.fingerprint, idempotency.c.result).where(
                idempotency.c.scope == scope, idempotency.c.key == key
            )
        ).one_or_none()
        if row is None:
            return None
        result = json.loads(row.result)
        if row.fingerprint != fingerprint(parameters):
            ids = result.get(created, ()) if created and isinstance(result, dict) else ()
            raise IdempotencyConflictError(key, [str(i) for i in ids])
        return result

    def remember(
        self,
        connection: Connection,
        scope: str,
        key: str,
        parameters: Mapping[str, Any],
        result: Any,
        *,
        now: datetime,
    ) -> None:
        """Record what the keyed command did, in the caller's transaction.

        Raises:
            IdempotencyConflictError: another transaction recorded the key first (its
                parameters differ) — nothing of this transaction should stay.
            ConcurrencyConflictError: another transaction recorded the same key with the same
                parameters first; run the command again to replay it.
        """
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(idempotency).values(
                        scope=scope,
                        key=key,
                        fingerprint=fingerprint(parameters),
                        result=json.dumps(result, default=str, ensure_ascii=False),
                        created_at=require_aware(now, "now"),
                    )
                )
        except IntegrityError:
            raise ConcurrencyConflictError("idempotency key", key, 0) from None


def storage_error_for_schema(dialect: str, found: str | None) -> StorageError:
    """The error for a database whose csdesk tables are missing or not at `HEAD`."""
    where = "has no csdesk tables" if found is None else f"is at csdesk schema {found}"
    return StorageError(
        f"the database {where}; this csdesk needs {HEAD}: run `csdesk db upgrade --url ...` "
        "or SqlStore(..., upgrade=True)",
        dialect=dialect,
        operation="open",
    )


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)


@checked
def sqlite_transactions(engine: Engine) -> Engine:
    """Make an SQLite engine run real transactions and savepoints (idempotent; returns it).

    Python's sqlite3 driver begins transactions lazily and on its own; for csdesk's writes to
    share a transaction with the shop's (and roll back with it), SQLAlchemy must issue ``BEGIN``
    itself, as SQLAlchemy's documentation recommends for SQLite. It issues ``BEGIN IMMEDIATE``:
    SQLite has one writer at a time, and taking the lock first makes writers wait their turn.

    `SqlStore` does this for engines it is given or makes; a host that hands csdesk a
    *connection* to SQLite calls this on its engine first (otherwise `SqlStore` refuses the
    connection with a `StorageError`).
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_csdesk_transactions", False):
        return engine

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver leaves BEGIN to SQLAlchemy
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # 32 MiB of page cache (SQLite's default is 2 MiB): an index lookup in a database of a
        # million refunds stays in memory instead of reading pages back from the file.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue (up to the busy timeout)
        # instead of both reading and then failing to upgrade their locks.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine._csdesk_transactions = True  # type: ignore[attr-defined]
    engine.dispose()  # connections made before now lack the settings
    return engine


def _check_host_connection(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if getattr(raw, "isolation_level", None) is not None:
        raise StorageError(
            "this SQLite connection's driver manages transactions itself, so csdesk's writes "
            "could not roll back with yours: call csdesk.storage.sqlite_transactions(engine) "
            "on your engine before connecting",
            dialect="sqlite",
            operation="open",
        )


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def _order_id(entity: BaseModel) -> str | None:
    value = getattr(entity, "order_id", None)
    if value is None and kind_of(entity) == "order":
        value = getattr(entity, "id", None)
    return str(value) if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC)
