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

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from csdesk._checks import checked
from csdesk.errors import (
    ConcurrencyConflictError,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
)
from csdesk.events import Actor, DomainEvent
from csdesk.integrations.sqlitedb import connect, setup, transaction
from csdesk.ledger import PaymentLedger
from csdesk.models import AfterSaleCase, Order, Refund, RefundState
from csdesk.money import Money
from csdesk.policies.refunds import RefundPolicy, RefundQuote, quote_refund
from csdesk.workflows import Command, Workflow, command_types, entity_type, fire, run
from csdesk.workflows.refund import (
    RefundWorkflow,
    RetryRefund,
    apply_to_ledger,
    request_refunds,
)

__all__ = ["RefundDesk", "SqliteStore"]

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


def _fingerprint(parameters: dict[str, Any]) -> str:
    canonical = json.dumps(parameters, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class RefundDesk:
    """Refunds with their ledgers and idempotency keys, on a `SqliteStore`.

    Every method runs in one ``BEGIN IMMEDIATE`` transaction: it reads the order, the ledgers and
    the earlier refunds, decides, and writes refunds, ledgers (version-checked), the key and the
    outbox together, or nothing.

    * `request` quotes and creates a refund request. The same idempotency key with the same
      parameters returns the first request unchanged; with different parameters it raises
      `csdesk.errors.IdempotencyConflictError`.
    * `command` fires one refund event (submit, approve, succeed, fail, retry, cancel, reverse)
      and mirrors it on the tender's ledger.
    """

    @checked
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    @checked
    def ledger(self, payment_id: str) -> PaymentLedger:
        """The ledger of one tender."""
        return self.store.load(PaymentLedger, payment_id)

    @checked
    def refunds(self, order_id: str) -> list[Refund]:
        """Every refund of an order, in the order they were requested."""
        rows = self.store._connection.execute(
            "SELECT data FROM entities WHERE kind = 'refund' "
            "AND json_extract(data, '$.order_id') = ? ORDER BY rowid",
            (order_id,),
        ).fetchall()
        return [Refund.model_validate_json(row[0]) for row in rows]

    def _ledgers(self, connection: sqlite3.Connection, order: Order) -> dict[str, PaymentLedger]:
        ledgers: dict[str, PaymentLedger] = {}
        for payment in order.payments:
            try:
                ledgers[payment.id] = self.store.load(PaymentLedger, payment.id)
            except NotFoundError:
                ledger = PaymentLedger.open(
                    payment.id,
                    payment.captured,
                    at=payment.captured_at,
                    reference=payment.reference,
                )
                self.store._insert_in(connection, ledger, ())
                ledgers[payment.id] = ledger
        return ledgers

    def _history(self, order_id: str) -> tuple[dict[str, int], Money | None]:
        units: dict[str, int] = {}
        shipping: Money | None = None
        seen: set[str] = set()
        for refund in self.refunds(order_id):
            if (
                refund.state in {RefundState.CANCELED, RefundState.REVERSED}
                or refund.request_key in seen
            ):
                continue
            seen.add(refund.request_key)
            for line_id, count in refund.lines.items():
                units[line_id] = units.get(line_id, 0) + count
            if refund.shipping is not None:
                shipping = refund.shipping if shipping is None else shipping + refund.shipping
        return units, shipping

    @checked
    def request(
        self,
        order_id: str,
        *,
        idempotency_key: str,
        lines: Mapping[str, int],
        reason: str,
        policy: RefundPolicy,
        actor: Actor,
        now: datetime,
        basis: str = "none",
        case_id: str | None = None,
        goodwill: Money | None = None,
        coupon_valid: bool = True,
        over_refund_reason: str | None = None,
    ) -> tuple[RefundQuote, list[Refund]]:
        """Quote a refund and create one refund per tender, reserving each amount.

        Raises:
            IdempotencyConflictError: the key was used before with other parameters.
            OverRefundError: more than the order's tenders can still refund.
            QuantityError: more units than are left to refund.
            TransitionRejectedError: the order or case does not allow a refund now.
        """
        fingerprint = _fingerprint(
            {
                "order_id": order_id,
                "lines": dict(lines),
                "reason": reason,
                "basis": basis,
                "case_id": case_id,
                "goodwill": goodwill.to_dict() if goodwill else None,
                "coupon_valid": coupon_valid,
                "over_refund_reason": over_refund_reason,
                "policy": policy.policy_hash,
            }
        )
        with self.store._transaction() as connection:
            row = connection.execute(
                "SELECT fingerprint, result FROM idempotency WHERE key = ?", (idempotency_key,)
            ).fetchone()
            if row is not None:
                stored = json.loads(row[1])
                if row[0] != fingerprint:
                    raise IdempotencyConflictError(idempotency_key, stored["refunds"])
                quote = RefundQuote.model_validate(stored["quote"])
                return quote, [self.store.load(Refund, rid) for rid in stored["refunds"]]
            order = self.store.load(Order, order_id)
            case = self.store.load(AfterSaleCase, case_id) if case_id else None
            ledgers = self._ledgers(connection, order)
            done, shipping = self._history(order_id)
            quote = quote_refund(
                order,
                lines=lines,
                reason=reason,
                policy=policy,
                now=now,
                basis=basis,
                refunded_units=done,
                shipping_refunded=shipping,
                ledgers=ledgers,
                coupon_valid=coupon_valid,
                goodwill=goodwill,
            )
            made = request_refunds(
                order,
                quote,
                ledgers=ledgers,
                idempotency_key=idempotency_key,
                actor=actor,
                now=now,
                case=case,
                over_refund_reason=over_refund_reason,
            )
            for refund in made.refunds:
                events = [e for e in made.events if e.aggregate.id == refund.id]
                self.store._insert_in(connection, refund, events)
            for payment_id, ledger in made.ledgers.items():
                if ledger is not ledgers[payment_id]:
                    self.store._save_in(connection, ledger, (), ledgers[payment_id].version)
            result = {
                "quote": quote.model_dump(mode="json"),
                "refunds": [r.id for r in made.refunds],
            }
            connection.execute(
                "INSERT INTO idempotency (key, fingerprint, result, created_at) "
                "VALUES (?, ?, ?, ?)",
                (idempotency_key, fingerprint, json.dumps(result), now.isoformat()),
            )
            return quote, list(made.refunds)

    @checked
    def command(
        self, refund_id: str, command: Command[Refund], *, actor: Actor, now: datetime
    ) -> list[DomainEvent]:
        """Run one command on a refund and mirror it on its tender's ledger, in one transaction.

        A `RetryRefund` without a ledger gets the tender's ledger from the store.
        """
        if not isinstance(command, Command) or getattr(command, "workflow", None) is not (
            RefundWorkflow
        ):
            raise InvalidInputError(
                f"RefundDesk.command takes a refund command (SubmitRefund, ApproveRefund, ...), "
                f"got {type(command).__name__}"
            )
        return self._command(refund_id, lambda _: command, actor, now)

    @checked
    def fire(
        self, refund_id: str, event: str, *, actor: Actor, now: datetime, **arguments: Any
    ) -> list[DomainEvent]:
        """`command` for an event given by name, its arguments as keywords."""
        commands = command_types(RefundWorkflow)
        if event not in commands:
            refund = self.store.load(Refund, refund_id)
            return fire(RefundWorkflow, refund, event, actor=actor, now=now, **arguments)
        kind = commands[event]
        return self._command(
            refund_id,
            lambda ledger: kind.model_validate(
                {**arguments, "ledger": ledger} if kind is RetryRefund else arguments
            ),
            actor,
            now,
        )

    def _command(
        self,
        refund_id: str,
        make: Callable[[PaymentLedger], Command[Refund]],
        actor: Actor,
        now: datetime,
    ) -> list[DomainEvent]:
        with self.store._transaction() as connection:
            refund = self.store.load(Refund, refund_id)
            ledger = self.store.load(PaymentLedger, refund.payment_id)
            loaded = refund.version
            command = make(ledger)
            if isinstance(command, RetryRefund) and command.ledger is None:
                command = RetryRefund(ledger=ledger)
            events = run(refund, command, actor=actor, now=now)
            updated = apply_to_ledger(ledger, events)
            self.store._save_in(connection, refund, events, loaded)
            if updated is not ledger:
                self.store._save_in(connection, updated, (), ledger.version)
            return events
