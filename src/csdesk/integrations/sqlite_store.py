"""A small SQLite store for workflow entities and their outbox, with optimistic versions.

The pattern every host follows, whatever its database:

1. **Load** the entity and remember its ``version``.
2. **Decide**: `csdesk.workflows.fire` moves the model in memory and returns the events; the
   model's version is now one higher.
3. **Save** in one transaction: ``UPDATE … SET state = ?, data = ?, version = ? WHERE kind = ?
   AND id = ? AND version = ?`` with the version loaded in step 1, and insert the events into the
   outbox. Zero rows updated means another writer committed first: roll back and raise
   `csdesk.errors.ConcurrencyConflictError`; the caller reloads and decides again.

`SqliteStore` does exactly that with the standard library's ``sqlite3``; `SqliteStore.run` wraps the
three steps with a bounded retry on conflicts.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Actor, Customer, LineDraft, Money, Order, Payment
    >>> from csdesk.workflows import PayOrder
    >>> store = SqliteStore(":memory:")
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

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from csdesk._checks import checked
from csdesk.errors import (
    ConcurrencyConflictError,
    InvalidInputError,
    NotFoundError,
)
from csdesk.events import Actor, DomainEvent
from csdesk.integrations.sqlitedb import connect, setup, transaction
from csdesk.workflows import Command, Workflow, entity_type, fire, run

__all__ = ["SqliteStore"]

EntityT = TypeVar("EntityT", bound=BaseModel)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    state   TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 0),
    data    TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    type         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    body         TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered_at, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    result      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
"""


class SqliteStore:
    """Entities (state, version, JSON) and an outbox of events, in one SQLite file.

    Args:
        path: A file path, or ``":memory:"`` for a private in-memory database.
        timeout: Seconds to wait for another connection's write lock.
    """

    @checked
    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = str(path)
        self._connection = connect(self.path, timeout=timeout)
        self._connection.execute("PRAGMA foreign_keys=ON")
        setup(self._connection, _SCHEMA, path)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._connection)

    @staticmethod
    def _kind(entity: BaseModel | type[BaseModel]) -> str:
        cls = entity if isinstance(entity, type) else type(entity)
        return cls.__name__.lower()

    @checked
    def insert(self, entity: BaseModel, events: Sequence[DomainEvent] = ()) -> None:
        """Store a new entity (and the events that created it).

        Raises:
            InvalidInputError: an entity of that kind and id exists already.
        """
        with self._transaction() as connection:
            self._insert_in(connection, entity, events)

    def _insert_in(
        self, connection: sqlite3.Connection, entity: BaseModel, events: Sequence[DomainEvent]
    ) -> None:
        kind = self._kind(entity)
        fields = entity.model_dump(mode="json")
        try:
            connection.execute(
                "INSERT INTO entities (kind, id, state, version, data) VALUES (?, ?, ?, ?, ?)",
                (kind, fields["id"], fields["state"], fields["version"], entity.model_dump_json()),
            )
        except sqlite3.IntegrityError:
            raise InvalidInputError(f"{kind} {fields['id']} is already stored") from None
        self._append(connection, kind, events)

    @checked
    def load(self, cls: type[EntityT], entity_id: str) -> EntityT:
        """Load an entity by id.

        Raises:
            NotFoundError: no such entity.
        """
        row = self._connection.execute(
            "SELECT data FROM entities WHERE kind = ? AND id = ?", (self._kind(cls), entity_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no {self._kind(cls)} with id {entity_id!r}")
        return cls.model_validate_json(row[0])

    @checked
    def save(self, entity: Any, events: Sequence[DomainEvent], *, expected_version: int) -> None:
        """Write the entity and its events if it is still at ``expected_version``.

        Raises:
            ConcurrencyConflictError: another writer committed first; nothing was written.
        """
        with self._transaction() as connection:
            self._save_in(connection, entity, events, expected_version)

    def _save_in(
        self,
        connection: sqlite3.Connection,
        entity: Any,
        events: Sequence[DomainEvent],
        expected_version: int,
    ) -> None:
        kind = self._kind(entity)
        cursor = connection.execute(
            "UPDATE entities SET state = ?, version = ?, data = ? "
            "WHERE kind = ? AND id = ? AND version = ?",
            (
                entity.state,
                entity.version,
                entity.model_dump_json(),
                kind,
                entity.id,
                expected_version,
            ),
        )
        if cursor.rowcount != 1:
            raise ConcurrencyConflictError(kind, entity.id, expected_version)
        self._append(connection, kind, events)

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
        """Load, run one command, save; on a version conflict reload and try again.

        The command's class names the workflow and so the kind of entity to load (an `PayOrder`
        loads an `Order`). After ``retries`` conflicts the last `ConcurrencyConflictError` is
        raised. Errors from the workflow itself (invalid transition, rejection) are raised at
        once; nothing is saved.
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
        """`run` for an event given by name, its arguments as keywords (`csdesk.workflows.fire`)."""
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
        for attempt in range(retries + 1):
            entity: Any = self.load(cls, entity_id)
            loaded = entity.version
            events = decide(entity)
            try:
                self.save(entity, events, expected_version=loaded)
            except ConcurrencyConflictError:
                if attempt == retries:
                    raise
                continue
            return events
        raise AssertionError("unreachable")  # pragma: no cover

    def _append(
        self, connection: sqlite3.Connection, kind: str, events: Sequence[DomainEvent]
    ) -> None:
        connection.executemany(
            "INSERT INTO outbox (event_id, kind, entity_id, version, type, occurred_at, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.id,
                    kind,
                    e.aggregate.id,
                    e.aggregate.version,
                    e.type,
                    e.occurred_at.isoformat(),
                    e.to_json(),
                )
                for e in events
            ],
        )

    def outbox(self, *, pending_only: bool = False) -> list[DomainEvent]:
        """The stored events in the order they were written."""
        query = "SELECT body FROM outbox"
        if pending_only:
            query += " WHERE delivered_at IS NULL"
        rows = self._connection.execute(query + " ORDER BY seq").fetchall()
        return [DomainEvent.from_json(row[0]) for row in rows]

    @checked
    def mark_delivered(self, event_ids: Sequence[str], *, at: datetime) -> None:
        """Record that a relay delivered these events."""
        with self._transaction() as connection:
            connection.executemany(
                "UPDATE outbox SET delivered_at = ? WHERE event_id = ?",
                [(at.isoformat(), event_id) for event_id in event_ids],
            )
