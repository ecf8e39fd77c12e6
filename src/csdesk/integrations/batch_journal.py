"""A refund batch's journal in the database: any number of workers, on any machines, run one batch.

`SqlJournal` keeps what `csdesk.integrations.refund_batch.Journal` keeps (each row's request, key
and outcome), in csdesk's tables (``csdesk_batches``, ``csdesk_batch_rows``) on SQLite, PostgreSQL
or MariaDB/MySQL. Every worker reads the same file (the batch is named by its SHA-256) and
**claims** each row before it quotes or sends it: a row is claimed by one worker at a time, with a
lease; a worker that dies mid-row leaves its claim to expire, and a live worker takes the row over
and sends it again with the same request and key, so the shop still refunds it once. When its
pass over the file ends, a worker keeps taking over expired claims until no row of the batch is
held by anyone.

Run it with ``csdesk refunds run FILE --journal-db URL`` on as many machines as you like.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from csdesk._checks import checked
from csdesk.errors import InvalidInputError, NotFoundError
from csdesk.integrations.batch_files import BatchRow, RowError
from csdesk.integrations.refund_batch import BatchJournal, JournalRow
from csdesk.integrations.shop_api import RefundRequest
from csdesk.money import Money
from csdesk.storage.schema import batch_rows, batches
from csdesk.storage.sql import SqlStore

__all__ = ["Claim", "SqlJournal"]

Claim = Literal["mine", "taken", "final"]
"""What `SqlJournal.claim` found: the row is now this worker's, another live worker holds it, or
it is final (done or refused: the runner reports it as such)."""

_HELD = ("claimed", "sending")


class SqlJournal(BatchJournal):
    """One batch's journal in csdesk's tables, shared by every worker that runs the batch.

    Args:
        store: The database (a `csdesk.storage.SqlStore` on an engine or URL: each call commits).
        source: The input file's name, for the record.
        digest: The input file's SHA-256: it names the batch, so workers reading the same file
            run the same batch, and a changed file is refused.
        worker: This worker's name in its claims (default: host, process, random part).
        lease: How long a claim is this worker's; past it another worker may take the row over.
            Longer than one row's longest HTTP exchange (attempts × timeout, plus backoff).

    Raises:
        InvalidInputError: the store is inside a host's transaction, the lease is not positive,
            or the batch's file changed (another SHA-256 under the same name is impossible: the
            name is the digest; a ``batch`` given by hand with another file is refused).
    """

    @checked
    def __init__(
        self,
        store: SqlStore,
        *,
        source: str,
        digest: str,
        worker: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        batch: str | None = None,
    ) -> None:
        if store.in_host_transaction:
            raise InvalidInputError("a batch journal commits each row: give it an engine or URL")
        if lease <= timedelta(0):
            raise InvalidInputError("the lease must be positive")
        self.store = store
        self.batch = batch or digest[:32]
        self.worker = worker or f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"
        if len(self.worker) > 64:
            raise InvalidInputError("a worker name has at most 64 characters")
        self.lease = lease
        self.path = f"{store.dialect} batch {self.batch}"
        with store.transaction("batch journal") as connection:
            row = connection.execute(
                select(batches.c.source, batches.c.sha256).where(batches.c.id == self.batch)
            ).one_or_none()
            found = None if row is None else (str(row.source), str(row.sha256))
            if found is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(batches).values(
                                id=self.batch, source=source, sha256=digest, created_at=_now()
                            )
                        )
                except IntegrityError:  # another worker created it first: same digest, fine
                    found = (source, digest)
            if found is not None and found[1] != digest:
                raise InvalidInputError(
                    f"batch {self.batch} was started with {found[0]} (SHA-256 {found[1][:16]}…), "
                    f"and {source} has {digest[:16]}…: the file changed"
                )

    @classmethod
    @checked
    def open_existing(cls, store: SqlStore, batch: str) -> SqlJournal:
        """Open a batch's journal to read it (`csdesk refunds status --journal-db`).

        Raises:
            NotFoundError: no batch of that name.
        """
        with store.transaction("batch journal") as connection:
            found = connection.execute(
                select(batches.c.source, batches.c.sha256).where(batches.c.id == batch)
            ).one_or_none()
        if found is None:
            raise NotFoundError(f"no refund batch {batch!r} in this database")
        return cls(store, source=str(found.source), digest=str(found.sha256), batch=batch,
                   worker="status")  # fmt: skip

    def close(self) -> None:
        """Nothing to close: the store belongs to the caller."""

    def __enter__(self) -> SqlJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _row(self, line: int) -> Any:
        return and_(batch_rows.c.batch_id == self.batch, batch_rows.c.line == line)

    def meta(self) -> dict[str, str]:
        """The batch's source file, its SHA-256 and when it started."""
        with self.store.transaction("batch journal") as connection:
            found = connection.execute(
                select(batches.c.source, batches.c.sha256, batches.c.created_at).where(
                    batches.c.id == self.batch
                )
            ).one()
        return {
            "source": str(found.source),
            "sha256": str(found.sha256),
            "created_at": found.created_at.isoformat(),
            "batch": self.batch,
        }

    def claim(self, row: BatchRow) -> Claim:
        """Take ``row`` for this worker, unless another live worker holds it or it is final.

        A deadlock or lock timeout is retried (`csdesk.storage.SqlStore.retrying`).
        """
        return self.store.retrying(partial(self._claim, row))

    def _claim(self, row: BatchRow) -> Claim:
        now = _now()
        values = {"claimed_by": self.worker, "lease_until": now + self.lease, "updated_at": now}
        new = {"batch_id": self.batch, "line": row.line, "key": row.key,
               "order_id": row.order_id, "row": row.model_dump_json(), "state": "claimed",
               "attempts": 0, **values}  # fmt: skip
        if self.store.insert_once(batch_rows, new, "batch claim"):
            return "mine"
        with self.store.transaction("batch claim") as connection:
            query = select(batch_rows.c.state, batch_rows.c.claimed_by, batch_rows.c.lease_until)
            query = query.where(self._row(row.line))
            if self.store.dialect != "sqlite":
                query = query.with_for_update()
            found = connection.execute(query).one()
            if found.state in ("done", "refused"):
                return "final"
            live = found.lease_until is not None and found.lease_until > now
            if found.claimed_by not in (None, self.worker) and live:
                return "taken"
            connection.execute(update(batch_rows).where(self._row(row.line)).values(**values))
            return "mine"

    def expired(self, limit: int = 50) -> list[tuple[BatchRow, JournalRow]]:
        """Take over rows whose holder's lease ran out mid-row (it died): with their requests."""
        return self.store.retrying(partial(self._expired, limit))

    def _expired(self, limit: int) -> list[tuple[BatchRow, JournalRow]]:
        now = _now()
        query = (
            select(batch_rows.c.line)
            .where(
                batch_rows.c.batch_id == self.batch,
                batch_rows.c.state.in_(_HELD),
                or_(batch_rows.c.lease_until.is_(None), batch_rows.c.lease_until <= now),
            )
            .order_by(batch_rows.c.line)
            .limit(limit)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=batch_rows)
        elif self.store.dialect != "sqlite":
            query = query.with_for_update(skip_locked=True)
        with self.store.transaction("batch take over") as connection:
            lines = list(connection.execute(query).scalars())
            if not lines:
                return []
            connection.execute(
                update(batch_rows)
                .where(batch_rows.c.batch_id == self.batch, batch_rows.c.line.in_(lines))
                .values(claimed_by=self.worker, lease_until=now + self.lease, updated_at=now)
            )
            found = connection.execute(
                select(*_COLUMNS, batch_rows.c.row).where(
                    batch_rows.c.batch_id == self.batch, batch_rows.c.line.in_(lines)
                )
            ).all()
        return [
            (BatchRow.model_validate_json(item.row), _journal_row(item))
            for item in found
            if item.row
        ]

    def waiting(self) -> int:
        """Rows another worker holds right now (a live lease)."""
        with self.store.transaction("batch journal") as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(batch_rows)
                    .where(
                        batch_rows.c.batch_id == self.batch,
                        batch_rows.c.state.in_(_HELD),
                        batch_rows.c.claimed_by != self.worker,
                        batch_rows.c.lease_until > _now(),
                    )
                ).scalar_one()
            )

    def get(self, line: int) -> JournalRow | None:
        """The journal's row for a line, if any (a bare claim counts as none)."""
        with self.store.transaction("batch journal") as connection:
            found = connection.execute(select(*_COLUMNS).where(self._row(line))).one_or_none()
        if found is None or found.state == "claimed":
            return None
        return _journal_row(found)

    def has_key(self, key: str) -> bool:
        """Whether a row of this batch carries ``key``."""
        with self.store.transaction("batch journal") as connection:
            return (
                connection.execute(
                    select(batch_rows.c.line).where(
                        batch_rows.c.batch_id == self.batch, batch_rows.c.key == key
                    )
                ).first()
                is not None
            )

    def _put(self, line: int, values: dict[str, Any], first: dict[str, Any]) -> None:
        """Update the line's record, or create it (``first``) when no worker has yet."""
        self.store.retrying(partial(self._put_once, line, values, first))

    def _put_once(self, line: int, values: dict[str, Any], first: dict[str, Any]) -> None:
        for _ in range(2):
            with self.store.transaction("batch journal") as connection:
                changed = connection.execute(
                    update(batch_rows).where(self._row(line)).values(**values)
                ).rowcount
            if changed:
                return
            row = {"batch_id": self.batch, "line": line, "attempts": 0, **first}
            if self.store.insert_once(batch_rows, row, "batch journal"):
                return

    def sending(self, row: BatchRow, request: RefundRequest) -> None:
        """Record the request about to be sent (committed before the send)."""
        values = {
            "key": row.key, "order_id": row.order_id, "row": row.model_dump_json(),
            "request": request.model_dump_json(), "minor": request.amount.minor_units,
            "currency": request.amount.currency, "state": "sending",
            "claimed_by": self.worker, "lease_until": _now() + self.lease, "updated_at": _now(),
        }  # fmt: skip
        self._put(row.line, {**values, "attempts": batch_rows.c.attempts + 1},
                  {**values, "attempts": 1})  # fmt: skip

    def outcome(
        self,
        line: int,
        state: str,
        *,
        refund_id: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record how a sent row ended, and let go of it."""
        values: dict[str, Any] = {
            "state": state, "code": code, "message": (message or "")[:500] or None,
            "claimed_by": None, "lease_until": None, "updated_at": _now(),
        }  # fmt: skip
        if refund_id is not None:
            values["refund_id"] = refund_id

        def record() -> None:
            with self.store.transaction("batch journal") as connection:
                connection.execute(update(batch_rows).where(self._row(line)).values(**values))

        self.store.retrying(record)

    def not_sent(self, row: BatchRow | RowError, state: str, code: str, message: str) -> None:
        """A row that was never sent: ``invalid``, or ``unreachable`` while fetching its order."""
        key = row.key if isinstance(row, BatchRow) else f"invalid:{row.line}"
        values = {
            "key": key, "order_id": getattr(row, "order_id", ""), "state": state, "code": code,
            "message": message[:500], "claimed_by": None, "lease_until": None,
            "updated_at": _now(),
        }  # fmt: skip
        self._put(row.line, values, values)

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        with self.store.transaction("batch journal") as connection:
            return {
                str(state): int(count)
                for state, count in connection.execute(
                    select(batch_rows.c.state, func.count())
                    .where(batch_rows.c.batch_id == self.batch)
                    .group_by(batch_rows.c.state)
                )
            }

    def problems(self) -> dict[tuple[str, str], int]:
        """Rows that need attention, per (state, code)."""
        with self.store.transaction("batch journal") as connection:
            return {
                (str(state), str(code or state)): int(count)
                for state, code, count in connection.execute(
                    select(batch_rows.c.state, batch_rows.c.code, func.count())
                    .where(batch_rows.c.batch_id == self.batch, batch_rows.c.state != "done")
                    .group_by(batch_rows.c.state, batch_rows.c.code)
                    .order_by(batch_rows.c.state, batch_rows.c.code)
                )
            }

    def amounts(self, state: str = "done") -> dict[str, Money]:
        """What the rows in ``state`` refund, per currency."""
        with self.store.transaction("batch journal") as connection:
            return {
                str(currency): Money.from_minor(int(minor), str(currency))
                for currency, minor in connection.execute(
                    select(batch_rows.c.currency, func.sum(batch_rows.c.minor))
                    .where(
                        batch_rows.c.batch_id == self.batch,
                        batch_rows.c.state == state,
                        batch_rows.c.currency.is_not(None),
                    )
                    .group_by(batch_rows.c.currency)
                )
            }

    def refunded(self) -> dict[str, Money]:
        """What the done rows refunded, per currency."""
        return self.amounts("done")

    def rows(self, state: str | None = None) -> Iterator[JournalRow]:
        """Every row (of one state), by line."""
        query = select(*_COLUMNS).where(batch_rows.c.batch_id == self.batch)
        if state is not None:
            query = query.where(batch_rows.c.state == state)
        with self.store.transaction("batch journal") as connection:
            found = connection.execute(query.order_by(batch_rows.c.line)).all()
        return iter([_journal_row(item) for item in found if item.state != "claimed"])


_COLUMNS = (
    batch_rows.c.line,
    batch_rows.c.key,
    batch_rows.c.order_id,
    batch_rows.c.state,
    batch_rows.c.request,
    batch_rows.c.refund_id,
    batch_rows.c.code,
    batch_rows.c.message,
    batch_rows.c.minor,
    batch_rows.c.currency,
)


def _journal_row(found: Any) -> JournalRow:
    amount = (
        Money.from_minor(int(found.minor), str(found.currency))
        if found.minor is not None and found.currency
        else None
    )
    return JournalRow(
        int(found.line),
        str(found.key),
        str(found.order_id),
        "sending" if found.state == "claimed" else str(found.state),
        json.loads(found.request) if found.request else None,
        found.refund_id,
        found.code,
        found.message,
        amount,
    )


def _now() -> datetime:
    return datetime.now(UTC)
