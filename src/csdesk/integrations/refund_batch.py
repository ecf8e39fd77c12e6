"""Refund batches that never pay anyone twice: stream, validate, quote, journal, send, resume.

`run_batch` reads a CSV or JSONL file of refund rows as a stream and, for each row:

1. **validates** it (a bad row is recorded with its line number and skipped; ``strict`` stops);
2. **quotes** it with `csdesk.policies.refunds.quote_refund` on the order (fetched from the shop's
   API, or from another `OrderSource`), counting what earlier rows of the batch already refund;
3. **journals** it in SQLite as ``sending``, with the exact request and its idempotency key,
   *before* anything leaves the machine;
4. **sends** it with bounded concurrency through `AsyncShopClient` (retries, backoff, same key);
5. **marks** the outcome: ``done`` with the shop's refund id, or ``failed`` with the server's code
   (a 4xx is final; an unreachable server leaves the row to be re-sent).

Run it again after a crash, a Ctrl-C or a SIGKILL and it resumes: ``done`` rows are skipped;
``sending`` rows are re-sent with their original request and key, so the shop returns the refund it
already made instead of making another. The journal is bound to the input file's SHA-256: it
refuses to resume a batch from a file that changed. A row's key is its own ``key`` column, or
``<first 16 hex of the file's SHA-256>:<line number>``, so even a run with a fresh journal sends
the same keys for the same file.

``dry_run`` quotes and reports without journaling or sending.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from csdesk import _telemetry as telemetry
from csdesk._checks import checked
from csdesk.errors import (
    CsdeskError,
    InvalidInputError,
    NotFoundError,
    RemoteAnswerError,
    RemoteRejectedError,
    RemoteUnavailableError,
)
from csdesk.integrations.batch_files import BatchRow, RowError, file_digest, read_rows
from csdesk.integrations.shop_api import TOKEN_ENV, AsyncShopClient, RefundRequest, RemoteRefund
from csdesk.integrations.sqlitedb import connect, setup, transaction
from csdesk.models import Order
from csdesk.money import Money
from csdesk.policies.refunds import Refunded, RefundPolicy, quote_refund

__all__ = [
    "ApiOrders",
    "BatchJournal",
    "BatchRow",
    "BatchSummary",
    "Journal",
    "JournalRow",
    "MappingOrders",
    "OrderSource",
    "RowError",
    "StoreOrders",
    "file_digest",
    "read_rows",
    "run_batch",
]


# -- orders --------------------------------------------------------------------------------------


class OrderSource(Protocol):
    """Where the batch reads orders from.

    A source may also have ``async def history(order_id) -> list[RemoteRefund] | None``: the
    order's refunds so far (units, shipping, amounts), which quotes then count, so two batches
    cannot refund one unit twice. `ApiOrders` reads it from ``GET /orders/{id}/refunds``.
    """

    async def get(self, order_id: str) -> Order:
        """The order; raises `NotFoundError` or `RemoteRejectedError` (404) when there is none."""
        ...


class MappingOrders:
    """Orders from a mapping (a dict, or anything with ``__getitem__``) — tests and demos."""

    def __init__(self, orders: Mapping[str, Order]) -> None:
        self._orders = orders

    async def get(self, order_id: str) -> Order:
        """The order."""
        try:
            return self._orders[order_id]
        except KeyError:
            raise NotFoundError(f"no order {order_id!r}") from None


_Known = tuple[Order, "list[RemoteRefund] | None"]


class _CachedOrders(ABC):
    """An LRU cache in front of a slower source (a batch often names an order twice)."""

    def __init__(self, cache: int) -> None:
        self._cache: OrderedDict[str, _Known] = OrderedDict()
        self._size = cache

    @abstractmethod
    async def _fetch(self, order_id: str) -> _Known:
        """Read the order (and its refunds, when the source knows them)."""

    async def _known(self, order_id: str) -> _Known:
        found = self._cache.get(order_id)
        if found is not None:
            self._cache.move_to_end(order_id)
            return found
        known = await self._fetch(order_id)
        self._cache[order_id] = known
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return known

    async def get(self, order_id: str) -> Order:
        """The order, from the cache or the source."""
        return (await self._known(order_id))[0]

    async def history(self, order_id: str) -> list[RemoteRefund] | None:
        """The order's refunds as the source knew them when the order was read, if it knows."""
        return (await self._known(order_id))[1]


class StoreOrders(_CachedOrders):
    """Orders from a csdesk database (`csdesk.storage.SqlStore`): a copy, or dry runs."""

    def __init__(self, store: Any, *, cache: int = 1024) -> None:
        super().__init__(cache)
        self._store = store

    async def _fetch(self, order_id: str) -> _Known:
        found: Order = self._store.load(Order, order_id)
        return found, None


class ApiOrders(_CachedOrders):
    """Orders and their refunds from the shop's API, with an LRU cache.

    ``GET /orders/{id}`` and ``GET /orders/{id}/refunds`` (a shop without the second gives no
    history: then the shop's own checks are all that stops a second batch over-refunding).
    """

    def __init__(self, client: AsyncShopClient, *, cache: int = 1024) -> None:
        super().__init__(cache)
        self._client = client

    async def _fetch(self, order_id: str) -> _Known:
        order = await self._client.get_order(order_id)
        return order, await self._client.order_refunds(order_id)


# -- outcomes ------------------------------------------------------------------------------------

OUTCOMES: dict[str, str] = {
    "done": "the shop confirmed the refund",
    "pending": "the shop accepted the refund but has not finished it; recheck with "
    "`csdesk refunds status JOURNAL --refresh`",
    "refused": "the shop refused the refund; its reason is shown",
    "invalid": "the row is wrong (or its order cannot be quoted); fix the file and run again",
    "unreachable": "the shop could not be reached after retries; run again to re-send it with "
    "the same key",
    "unexpected": "the shop answered something csdesk cannot read, or refunded another amount; "
    "check the shop, then run again to re-send it with the same key",
}
"""Every outcome a row can end a run with, and what it means. Only ``done`` is good: a batch
exits 0 when every row is done (in this run or an earlier one)."""

RESENT = frozenset({"sending", "pending", "unreachable", "unexpected"})
"""Journal states a re-run sends again, with the row's original request and key."""

EXIT_DONE, EXIT_ATTENTION, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 130
"""The exit codes of ``csdesk refunds run``: every row done; some rows need attention; usage, file
or a systemic failure (a bad token, an unreachable shop) stopped the batch; interrupted."""


# -- journal -------------------------------------------------------------------------------------

_FORMAT = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    line        INTEGER PRIMARY KEY,
    key         TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    request     TEXT,
    minor       INTEGER,
    currency    TEXT,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'done', 'pending', 'refused',
                                               'invalid', 'unreachable', 'unexpected')),
    refund_id   TEXT,
    code        TEXT,
    message     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_by_state ON rows (state);
CREATE INDEX IF NOT EXISTS rows_by_key ON rows (key);
"""


@dataclass(frozen=True)
class JournalRow:
    """What the journal knows of one row."""

    line: int
    key: str
    order_id: str
    state: str
    request: dict[str, Any] | None
    refund_id: str | None
    code: str | None
    message: str | None
    amount: Money | None

    @property
    def retryable(self) -> bool:
        """Whether a re-run sends it again (with its original request and key)."""
        return self.state in RESENT


class BatchJournal(ABC):
    """Where a batch records each row's request and outcome.

    A file (`Journal`), or the database (`csdesk.integrations.batch_journal.SqlJournal`, shared
    by many workers).
    """

    path: str

    @abstractmethod
    def get(self, line: int) -> JournalRow | None:
        """The row's record, if any."""

    @abstractmethod
    def has_key(self, key: str) -> bool:
        """Whether a row of this batch carries ``key``."""

    def earlier(self, line: int) -> JournalRow | None:
        """What an earlier run recorded for the line (before this run touched it)."""
        return self.get(line)

    @abstractmethod
    def sending(self, row: BatchRow, request: RefundRequest) -> None:
        """Record the request about to be sent (durable once `flush` returns)."""

    def flush(self) -> None:  # noqa: B027 - optional: a journal that commits every record
        """Make every record so far durable (a journal that commits each record: nothing to do).

        The runner calls it after recording ``sending`` rows and before sending any of them, so
        rows ready at the same moment share one commit.
        """

    @abstractmethod
    def outcome(
        self,
        line: int,
        state: str,
        *,
        refund_id: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record how a sent row ended (durable at the next `flush` at the latest)."""

    @abstractmethod
    def not_sent(self, row: BatchRow | RowError, state: str, code: str, message: str) -> None:
        """Record a row that was never sent."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Rows per state."""

    @abstractmethod
    def rows(self, state: str | None = None) -> Iterator[JournalRow]:
        """Every row (of one state), by line."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the journal."""


class Journal(BatchJournal):
    """The batch's journal: one SQLite file, written before every send and after every answer.

    Records are written into an open transaction and committed by `flush` (the runner flushes
    before every send, so rows that are ready together share one commit) and by `close`. A crash
    loses only records not yet flushed: outcomes, whose rows then stay ``sending`` and are re-sent
    with their key (the shop answers with the refund it made), and invalid rows, checked again.

    Args:
        path: The journal file.
        source: The input file's path and SHA-256, checked against what the journal was made for.

    Raises:
        InvalidInputError: the journal belongs to another input file (or another version of it),
            or was written by an older csdesk.
    """

    @checked
    def __init__(self, path: str | Path, *, source: str, digest: str) -> None:
        self.path = str(path)
        self._closed = False
        self._db = connect(self.path, timeout=30, synchronous="NORMAL")
        try:
            self._open(source, digest)
        except BaseException:
            self._db.close()
            raise

    def _open(self, source: str, digest: str) -> None:
        known = self._db.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone()
        stored = dict(self._db.execute("SELECT name, value FROM meta").fetchall()) if known else {}
        if stored and stored.get("format") != _FORMAT:
            raise InvalidInputError(
                f"journal {self.path} was written by an older csdesk: finish that batch with it, "
                "or move the journal away to start again (rows keep their keys, so nothing is "
                "refunded twice)"
            )
        setup(self._db, _SCHEMA, self.path)
        (last,) = self._db.execute("SELECT COALESCE(MAX(line), 0) FROM rows").fetchone()
        self._last_before = int(last)
        if not stored:
            with transaction(self._db, immediate=False):
                self._db.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [
                        ("source", source),
                        ("sha256", digest),
                        ("created_at", _now()),
                        ("format", _FORMAT),
                    ],
                )
        elif stored.get("sha256") != digest:
            raise InvalidInputError(
                f"journal {self.path} was made for {stored.get('source')} with SHA-256 "
                f"{stored.get('sha256', '?')[:16]}…, and {source} now has {digest[:16]}…: the "
                "file changed since the batch started. Finish it with the original file, or start "
                "a new batch with a new journal (rows with their own key column stay idempotent)"
            )

    @classmethod
    @checked
    def open_existing(cls, path: str | Path) -> Journal:
        """Open a journal to read it, or to record rechecked refunds (`refunds status`)."""
        if not Path(path).is_file():
            raise NotFoundError(f"no journal at {path}")
        journal = cls.__new__(cls)
        journal.path = str(path)
        journal._db = connect(path, timeout=30)
        journal._closed = False
        journal._last_before = 1 << 62
        try:
            if journal.meta().get("format") != _FORMAT:
                raise InvalidInputError(f"{path} is not a journal of this csdesk")
        except (sqlite3.DatabaseError, InvalidInputError) as error:
            journal.close()
            raise InvalidInputError(f"{path} is not a csdesk batch journal ({error})") from None
        return journal

    def close(self) -> None:
        """Commit what was recorded, and close the file (again: nothing to do)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            self._db.close()

    def flush(self) -> None:
        """Commit every record so far."""
        if not self._closed and self._db.in_transaction:
            self._db.execute("COMMIT")

    def _write(self, statement: str, arguments: tuple[Any, ...]) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(statement, arguments)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def meta(self) -> dict[str, str]:
        """The journal's source file, its SHA-256 and when the batch started."""
        return dict(self._db.execute("SELECT name, value FROM meta").fetchall())

    def get(self, line: int) -> JournalRow | None:
        """The journal's row for a line, if any."""
        found = self._db.execute(_SELECT + " WHERE line = ?", (line,)).fetchone()
        return None if found is None else _journal_row(found)

    def earlier(self, line: int) -> JournalRow | None:
        """What an earlier run recorded for the line (no query past the last line it knew)."""
        return None if line > self._last_before else self.get(line)

    def has_key(self, key: str) -> bool:
        """Whether a row of this batch carries ``key`` (its refund is this batch's own)."""
        return self._db.execute("SELECT 1 FROM rows WHERE key = ?", (key,)).fetchone() is not None

    def sending(self, row: BatchRow, request: RefundRequest) -> None:
        """Record the request about to be sent (durable once `flush` returns)."""
        self._write(
            "INSERT INTO rows (line, key, order_id, request, minor, currency, state, attempts, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 'sending', 1, ?) ON CONFLICT (line) DO UPDATE "
            "SET state = 'sending', key = excluded.key, request = excluded.request, "
            "minor = excluded.minor, currency = excluded.currency, attempts = attempts + 1, "
            "updated_at = excluded.updated_at",
            (
                row.line,
                row.key,
                row.order_id,
                request.model_dump_json(),
                request.amount.minor_units,
                request.amount.currency,
                _now(),
            ),
        )

    def outcome(
        self,
        line: int,
        state: str,
        *,
        refund_id: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record how a sent row ended (``done``, ``pending``, ``refused``, ``unreachable``…)."""
        self._write(
            "UPDATE rows SET state = ?, refund_id = COALESCE(?, refund_id), code = ?, "
            "message = ?, updated_at = ? WHERE line = ?",
            (state, refund_id, code, (message or "")[:500] or None, _now(), line),
        )

    def not_sent(self, row: BatchRow | RowError, state: str, code: str, message: str) -> None:
        """A row that was never sent: ``invalid``, or ``unreachable`` while fetching its order."""
        key = row.key if isinstance(row, BatchRow) else f"invalid:{row.line}"
        self._write(
            "INSERT INTO rows (line, key, order_id, state, code, message, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (line) DO UPDATE SET state = excluded.state, "
            "code = excluded.code, message = excluded.message, updated_at = excluded.updated_at",
            (row.line, key, getattr(row, "order_id", ""), state, code, message[:500], _now()),
        )

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())

    def problems(self) -> dict[tuple[str, str], int]:
        """Rows that need attention, per (state, code)."""
        return {
            (str(state), str(code or state)): int(count)
            for state, code, count in self._db.execute(
                "SELECT state, code, COUNT(*) FROM rows WHERE state != 'done' "
                "GROUP BY state, code ORDER BY state, code"
            )
        }

    def amounts(self, state: str = "done") -> dict[str, Money]:
        """What the rows in ``state`` refund, per currency."""
        return {
            currency: Money.from_minor(minor, currency)
            for currency, minor in self._db.execute(
                "SELECT currency, SUM(minor) FROM rows WHERE state = ? AND currency IS NOT NULL "
                "GROUP BY currency",
                (state,),
            ).fetchall()
        }

    def refunded(self) -> dict[str, Money]:
        """What the done rows refunded, per currency."""
        return self.amounts("done")

    def rows(self, state: str | None = None) -> Iterator[JournalRow]:
        """Every row (of one state), by line."""
        args: tuple[Any, ...] = ()
        query = _SELECT
        if state is not None:
            query += " WHERE state = ?"
            args = (state,)
        for found in self._db.execute(query + " ORDER BY line", args):
            yield _journal_row(found)


_SELECT = (
    "SELECT line, key, order_id, state, request, refund_id, code, message, minor, currency "
    "FROM rows"
)


def _journal_row(found: tuple[Any, ...]) -> JournalRow:
    line, key, order_id, state, request, refund_id, code, message, minor, cur = found
    amount = Money.from_minor(minor, cur) if minor is not None and cur else None
    return JournalRow(
        line,
        key,
        order_id,
        state,
        json.loads(request) if request else None,
        refund_id,
        code,
        message,
        amount,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# -- the run -------------------------------------------------------------------------------------


@dataclass
class BatchSummary:
    """What one run did, and why any row is not done.

    Attributes:
        rows: Rows read this run (valid or not).
        done: Refunds the shop confirmed this run.
        skipped: Rows done in an earlier run (not sent again).
        elsewhere: Rows another worker of the same batch took (a journal in the database).
        taken_over: Rows this worker took over from a worker that died mid-row.
        outcomes: Rows per outcome this run other than done (``pending``, ``refused``,
            ``invalid``, ``unreachable``, ``unexpected``; see `OUTCOMES`).
        reasons: Those rows per (outcome, reason code).
        problems: ``(line, outcome, code, message)`` of the first 200 such rows.
        refunded: What this run refunded (a dry run: would refund), per currency.
        pending: What is accepted but not final at the shop, per currency.
        dry_run: Whether nothing was sent.
        stopped: Why the run stopped early (a systemic failure, or ``strict`` on a bad row).
        systemic: Whether a systemic failure (token, shop down) stopped it.
        interrupted: Whether Ctrl-C stopped it.
    """

    rows: int = 0
    done: int = 0
    skipped: int = 0
    elsewhere: int = 0
    taken_over: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    refunded: dict[str, Money] = field(default_factory=dict)
    pending: dict[str, Money] = field(default_factory=dict)
    dry_run: bool = False
    stopped: str | None = None
    systemic: bool = False
    interrupted: bool = False
    journal: str | None = None

    def add_refunded(self, amount: Money, into: str = "refunded") -> None:
        """Count an amount into `refunded` (or `pending`)."""
        totals = self.refunded if into == "refunded" else self.pending
        current = totals.get(amount.currency)
        totals[amount.currency] = amount if current is None else current + amount

    def note(self, line: int, outcome: str, code: str, message: str) -> None:
        """Count a row that is not done; keep the first 200 messages."""
        telemetry.annotate_current({"csdesk.batch.outcome": outcome, "csdesk.error.code": code})
        self.outcomes[outcome] += 1
        self.reasons[(outcome, code)] += 1
        if len(self.problems) < 200:
            self.problems.append((line, outcome, code, message))

    def note_invalid(self, line: int, message: str) -> None:
        """Count an invalid row."""
        self.note(line, "invalid", "invalid_row", message)

    @property
    def invalid_count(self) -> int:
        """Rows invalid this run."""
        return self.outcomes["invalid"]

    @property
    def attention(self) -> int:
        """Rows that are not done."""
        return sum(self.outcomes.values())

    @property
    def ok(self) -> bool:
        """Every row is done (this run or before) and nothing stopped the run."""
        return not self.attention and self.stopped is None and not self.interrupted

    @property
    def exit_code(self) -> int:
        """`EXIT_DONE`, `EXIT_ATTENTION`, `EXIT_STOPPED` or `EXIT_INTERRUPTED`."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.systemic:
            return EXIT_STOPPED
        return EXIT_DONE if self.ok else EXIT_ATTENTION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "done": self.done,
            "skipped": self.skipped,
            "elsewhere": self.elsewhere,
            "taken_over": self.taken_over,
            "outcomes": dict(sorted(self.outcomes.items())),
            "reasons": [
                {"outcome": outcome, "code": code, "rows": count}
                for (outcome, code), count in sorted(self.reasons.items())
            ],
            "problems": [
                {"line": line, "outcome": outcome, "code": code, "message": message}
                for line, outcome, code, message in sorted(self.problems)
            ],
            "refunded": {c: str(m.amount) for c, m in sorted(self.refunded.items())},
            "pending": {c: str(m.amount) for c, m in sorted(self.pending.items())},
            "stopped": self.stopped,
            "systemic": self.systemic,
            "interrupted": self.interrupted,
            "exit_code": self.exit_code,
            "journal": self.journal,
        }


HOT_ORDERS = 4096
"""How many orders' reservations a run keeps in memory; the rest wait in a scratch file."""


@dataclass
class _Reserved:
    """What this run's rows refund on one order."""

    units: dict[str, int] = field(default_factory=dict)
    money: Money | None = None
    shipping: Money | None = None

    def dumps(self) -> str:
        def pair(money: Money | None) -> list[Any] | None:
            return None if money is None else [money.minor_units, money.currency]

        return json.dumps([self.units, pair(self.money), pair(self.shipping)])

    @classmethod
    def loads(cls, text: str) -> _Reserved:
        units, money, shipping = json.loads(text)
        return cls(
            units=units,
            money=None if money is None else Money.from_minor(*money),
            shipping=None if shipping is None else Money.from_minor(*shipping),
        )


class _Reservations:
    """What this run's rows refund, per order: units per line, shipping and money.

    The orders seen last stay in memory (``hot`` of them); the others move to a scratch SQLite
    file, so a batch over a million distinct orders keeps memory flat (a file is made only when
    the first order moves out).
    """

    def __init__(self, hot: int | None = None) -> None:
        self._hot: OrderedDict[str, _Reserved] = OrderedDict()
        self._size = HOT_ORDERS if hot is None else hot
        self._folder: str | None = None
        self._cold: sqlite3.Connection | None = None

    def _get(self, order_id: str) -> _Reserved:
        found = self._hot.get(order_id)
        if found is not None:
            self._hot.move_to_end(order_id)
            return found
        found = None
        if self._cold is not None:
            row = self._cold.execute("SELECT data FROM reserved WHERE id = ?", (order_id,))
            stored = row.fetchone()
            found = None if stored is None else _Reserved.loads(stored[0])
        found = found or _Reserved()
        self._hot[order_id] = found
        if len(self._hot) > self._size:
            self._spill(*self._hot.popitem(last=False))
        return found

    def _spill(self, order_id: str, reserved: _Reserved) -> None:
        if not reserved.units and reserved.money is None and reserved.shipping is None:
            return  # looked at, never reserved: nothing to keep
        if self._cold is None:
            self._folder = tempfile.mkdtemp(prefix="csdesk-reserved-")
            self._cold = sqlite3.connect(Path(self._folder) / "reserved.db", isolation_level=None)
            self._cold.execute("PRAGMA journal_mode = OFF")
            self._cold.execute("PRAGMA synchronous = OFF")
            self._cold.execute(
                "CREATE TABLE reserved (id TEXT PRIMARY KEY, data TEXT) WITHOUT ROWID"
            )
            self._cold.execute("BEGIN")  # scratch: one transaction, never committed
        self._cold.execute(
            "INSERT OR REPLACE INTO reserved (id, data) VALUES (?, ?)", (order_id, reserved.dumps())
        )

    def close(self) -> None:
        """Delete the scratch file."""
        if self._cold is not None:
            self._cold.close()
            self._cold = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def add(
        self,
        order_id: str,
        lines: Mapping[str, int],
        amount: Money,
        sign: int = 1,
        *,
        shipping: Money | None = None,
    ) -> None:
        reserved = self._get(order_id)
        for line_id, count in lines.items():
            reserved.units[line_id] = reserved.units.get(line_id, 0) + sign * count
        if not amount.is_zero:
            signed = amount if sign > 0 else -amount
            reserved.money = signed if reserved.money is None else reserved.money + signed
        if shipping is not None and not shipping.is_zero:
            signed = shipping if sign > 0 else -shipping
            reserved.shipping = signed if reserved.shipping is None else reserved.shipping + signed

    def refunded(
        self,
        order: Order,
        history: list[RemoteRefund] | None = None,
        ours: Callable[[str], bool] = lambda key: False,
    ) -> tuple[Refunded, Money]:
        """What the order refunded so far, and how much money that is, from every source.

        The order's own cancellations; the shop's refunds (``history``) except this batch's own
        rows (``ours(key)``: those are counted as this run's); and this run's rows.
        """
        before = Refunded.of(order)
        units = dict(before.units)
        shipping = before.shipping
        mine = self._get(order.id)
        money = mine.money or Money.zero(order.currency)
        for refund in history or ():
            if refund.status == "failed" or ours(refund.idempotency_key):
                continue
            money = money + refund.amount
            for line_id, count in refund.lines.items():
                units[line_id] = units.get(line_id, 0) + count
            if refund.shipping is not None:
                shipping = refund.shipping if shipping is None else shipping + refund.shipping
        for line_id, count in mine.units.items():
            units[line_id] = units.get(line_id, 0) + count
        if mine.shipping is not None and not mine.shipping.is_zero:
            shipping = mine.shipping if shipping is None else shipping + mine.shipping
        return Refunded(units=units, shipping=shipping), money


def _quote(
    row: BatchRow,
    order: Order,
    policy: RefundPolicy,
    now: datetime,
    reserved: _Reservations,
    history: list[RemoteRefund] | None = None,
    ours: Callable[[str], bool] = lambda key: False,
) -> tuple[RefundRequest, Money | None]:
    """The row's refund request, and the outbound shipping its quote refunds (line rows)."""
    shipping: Money | None = None
    refunded, already = reserved.refunded(order, history, ours)
    refundable = order.captured - already
    if row.amount is not None:
        if row.amount.currency != order.currency:
            raise InvalidInputError(
                f"amount is in {row.amount.currency}, order in {order.currency}"
            )
        if row.amount > refundable:
            raise InvalidInputError(
                f"{row.amount} is more than the {refundable} left to refund on {order.id} (after "
                "its earlier refunds and this batch's earlier rows)"
            )
        amount = row.amount
    else:
        quote = quote_refund(
            order,
            lines=row.lines,
            reason=row.reason,
            policy=policy,
            now=now,
            refunded=refunded,
        )
        shipping = quote.shipping
        amount = quote.total
        if amount > refundable:
            raise InvalidInputError(f"{amount} quoted, but {refundable} is left on {order.id}")
    if amount.is_zero:
        raise InvalidInputError("the quote is 0: nothing to refund")
    request = RefundRequest(
        order_id=order.id,
        amount=amount,
        reason=row.reason,
        lines=row.lines,
        shipping=shipping if shipping is not None and not shipping.is_zero else None,
    )
    return request, shipping


def _credentials(error: RemoteRejectedError) -> str | None:
    if error.status in (401, 403):
        return (
            f"the shop refused csdesk's credentials (HTTP {error.status}) on {error.method} "
            f"{error.url}: check the token (${TOKEN_ENV}) and its rights, then run again"
        )
    return None


class _Run:
    """One run's shared state: the summary, the reservations, and what stops it."""

    def __init__(
        self,
        *,
        orders: OrderSource,
        policy: RefundPolicy,
        now: datetime,
        client: AsyncShopClient | None,
        journal: BatchJournal | None,
        dry_run: bool,
        stop_after: int,
        progress: Callable[[BatchSummary], None] | None,
    ) -> None:
        self.orders, self.policy, self.now = orders, policy, now
        self.client, self.journal, self.dry_run = client, journal, dry_run
        self.stop_after = stop_after
        self.progress = progress
        self.summary = BatchSummary(dry_run=dry_run, journal=journal.path if journal else None)
        self.reserved = _Reservations()
        self.unreachable_in_a_row = 0
        self.last_unreachable = ""
        self._flushing: asyncio.Future[None] | None = None

    async def durable(self) -> None:
        """Return once every journal record so far is committed.

        One commit serves the rows that are ready to send at the same moment, not one per row.
        """
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_soon())
        await asyncio.shield(self._flushing)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0)  # the other rows ready now record theirs first
        self._flushing = None
        assert self.journal is not None
        self.journal.flush()

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(self.summary)

    def stop(self, why: str) -> None:
        if self.summary.stopped is None:
            self.summary.stopped, self.summary.systemic = why, True

    def unreachable(self, error: RemoteUnavailableError) -> None:
        self.unreachable_in_a_row += 1
        self.last_unreachable = error.last
        if self.unreachable_in_a_row >= self.stop_after:
            self.stop(
                f"the shop could not be reached for {self.unreachable_in_a_row} rows in a row "
                f"(last: {error.last} on {error.method} {error.url}): check the shop's URL and "
                "that it is up, then run again"
            )

    def reachable(self) -> None:
        self.unreachable_in_a_row = 0

    async def quote_and_send(self, row: BatchRow) -> None:
        try:
            order = await self.orders.get(row.order_id)
            known = getattr(self.orders, "history", None)
            history = await known(row.order_id) if known is not None else None
            ours = self.journal.has_key if self.journal is not None else (lambda key: False)
            request, shipping = _quote(
                row, order, self.policy, self.now, self.reserved, history, ours
            )
        except RemoteRejectedError as error:
            why = _credentials(error)
            if why is not None:
                self.stop(why)
                return
            self.reachable()
            self._not_sent(row, "invalid", error.remote_code or f"http_{error.status}",
                           f"order {row.order_id}: {error.detail or error}")  # fmt: skip
            return
        except RemoteUnavailableError as error:
            self.unreachable(error)
            self._not_sent(row, "unreachable", "unreachable", str(error))
            return
        except RemoteAnswerError as error:
            self._not_sent(row, "unexpected", "remote_answer", str(error))
            return
        except CsdeskError as error:
            self._not_sent(row, "invalid", "invalid_row", str(error))
            return
        self.reachable()
        self.reserved.add(row.order_id, row.lines, request.amount, shipping=shipping)
        if self.dry_run:
            self.summary.done += 1
            self.summary.add_refunded(request.amount)
            return
        await self.send(row, request, reserve=True)

    def _not_sent(self, row: BatchRow, outcome: str, code: str, message: str) -> None:
        self.summary.note(row.line, outcome, code, message)
        if self.journal is not None and not self.dry_run:
            self.journal.not_sent(row, outcome, code, message)

    async def send(self, row: BatchRow, request: RefundRequest, *, reserve: bool) -> None:
        assert self.client is not None
        assert self.journal is not None
        journal, summary = self.journal, self.summary
        journal.sending(row, request)
        await self.durable()
        try:
            refund = await self.client.create_refund(request, idempotency_key=row.key)
        except RemoteRejectedError as error:
            why = _credentials(error)
            if why is not None:  # the row stays `sending`: re-sent with its key next run
                self.stop(why)
                return
            self.reachable()
            code = error.remote_code or f"http_{error.status}"
            journal.outcome(row.line, "refused", code=code, message=error.detail or str(error))
            summary.note(row.line, "refused", code, error.detail or str(error))
            if reserve:
                self.reserved.add(row.order_id, row.lines, request.amount, -1,
                                  shipping=request.shipping)  # fmt: skip
            return
        except RemoteUnavailableError as error:
            self.unreachable(error)
            journal.outcome(row.line, "unreachable", code="unreachable", message=str(error))
            summary.note(row.line, "unreachable", "unreachable", str(error))
            return
        except RemoteAnswerError as error:
            self.reachable()
            journal.outcome(row.line, "unexpected", code="remote_answer", message=str(error))
            summary.note(row.line, "unexpected", "remote_answer", str(error))
            return
        self.reachable()
        self._answered(row, request, refund)

    def _answered(self, row: BatchRow, request: RefundRequest, refund: RemoteRefund) -> None:
        assert self.journal is not None
        journal, summary = self.journal, self.summary
        if refund.amount != request.amount or refund.order_id != request.order_id:
            message = (
                f"the shop's refund {refund.id} is {refund.amount} on {refund.order_id}; csdesk "
                f"asked {request.amount} on {request.order_id}"
            )
            journal.outcome(row.line, "unexpected", refund_id=refund.id, code="amount_differs",
                            message=message)  # fmt: skip
            summary.note(row.line, "unexpected", "amount_differs", message)
        elif refund.status == "succeeded":
            journal.outcome(row.line, "done", refund_id=refund.id)
            summary.done += 1
            telemetry.annotate_current({"csdesk.batch.outcome": "done"})
            labels = {"csdesk.currency": refund.amount.currency, "csdesk.reason": row.reason,
                      "csdesk.command": "batch"}  # fmt: skip
            telemetry.count("csdesk.refunds", 1, labels)
            telemetry.count("csdesk.refund.amount", refund.amount.minor_units, labels,
                            unit="{minor_unit}")  # fmt: skip
            summary.add_refunded(refund.amount)
        elif refund.status in ("pending", "processing"):
            message = f"refund {refund.id} is {refund.status} at the shop"
            journal.outcome(row.line, "pending", refund_id=refund.id, code=refund.status,
                            message=message)  # fmt: skip
            summary.note(row.line, "pending", refund.status, message)
            summary.add_refunded(refund.amount, into="pending")
        else:
            message = f"the shop reports refund {refund.id} failed"
            journal.outcome(row.line, "refused", refund_id=refund.id, code="refund_failed",
                            message=message)  # fmt: skip
            summary.note(row.line, "refused", "refund_failed", message)


async def _take_over(
    journal: Any,
    handle: Callable[[BatchRow, JournalRow | None], Any],
    tasks: set[asyncio.Task[None]],
    concurrency: int,
    summary: BatchSummary,
    poll: float = 0.5,
) -> None:
    """After its pass: send the rows whose worker died mid-row, until nobody holds a row."""
    while summary.stopped is None:
        orphans = journal.expired(limit=concurrency * 4)
        for item, known in orphans:
            summary.taken_over += 1
            await handle(item, known)
        if tasks:
            await asyncio.gather(*tasks)
        if not orphans:
            if journal.waiting() == 0:
                return
            await asyncio.sleep(poll)


@checked
async def run_batch(
    rows: Iterator[BatchRow | RowError],
    *,
    orders: OrderSource,
    policy: RefundPolicy,
    now: datetime,
    client: AsyncShopClient | None = None,
    journal: BatchJournal | None = None,
    concurrency: int = 8,
    dry_run: bool = False,
    strict: bool = False,
    stop_after: int = 5,
    progress: Callable[[BatchSummary], None] | None = None,
) -> BatchSummary:
    """Process ``rows``: validate, quote, journal, send, record; see the module's description.

    ``client`` and ``journal`` are required unless ``dry_run``. A refused token (401/403), or
    ``stop_after`` rows in a row that could not reach the shop, stop the run
    (`BatchSummary.systemic`): no row is marked done or refused for it, and the next run picks up
    where this one stopped.

    Raises:
        InvalidInputError: ``concurrency`` or ``stop_after`` below 1, or a client or journal
            missing.
    """
    if concurrency < 1 or stop_after < 1:
        raise InvalidInputError("concurrency and stop_after must be at least 1")
    if not dry_run and (client is None or journal is None):
        raise InvalidInputError("a batch that sends needs a client and a journal")
    run = _Run(orders=orders, policy=policy, now=now, client=client, journal=journal,
               dry_run=dry_run, stop_after=stop_after, progress=progress)  # fmt: skip
    summary = run.summary
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def guarded(coroutine: Any, row: BatchRow) -> None:
        try:
            attributes = {"csdesk.batch.line": row.line, "csdesk.order_id": row.order_id}
            with telemetry.span("csdesk.batch.row", attributes):
                await coroutine
        finally:
            slots.release()
            run.tick()

    def start(coroutine: Any, row: BatchRow) -> None:
        task = asyncio.ensure_future(guarded(coroutine, row))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    claim = getattr(journal, "claim", None) if not dry_run else None

    async def handle(item: BatchRow, known: JournalRow | None) -> None:
        await slots.acquire()
        if known is not None and known.state in RESENT and known.request:
            # Re-send the very request and key sent before: the shop deduplicates.
            request = RefundRequest.model_validate(known.request)
            run.reserved.add(item.order_id, item.lines, request.amount, shipping=request.shipping)
            start(run.send(item, request, reserve=False), item)
        else:
            start(run.quote_and_send(item), item)
        await asyncio.sleep(0)

    try:
        for item in rows:
            if summary.stopped is not None:
                break
            summary.rows += 1
            if isinstance(item, RowError):
                summary.note_invalid(item.line, item.message)
                if journal is not None and not dry_run:
                    journal.not_sent(item, "invalid", "invalid_row", item.message)
                run.tick()
                if strict:
                    summary.stopped = f"line {item.line}: {item.message}"
                continue
            if claim is not None and claim(item) == "taken":
                summary.elsewhere += 1
                run.tick()
                continue
            known = journal.earlier(item.line) if journal is not None and not dry_run else None
            if known is not None and known.state == "done":
                summary.skipped += 1
                if known.amount is not None:
                    earlier = (known.request or {}).get("shipping")
                    shipping = Money.from_dict(earlier) if earlier else None
                    run.reserved.add(item.order_id, item.lines, known.amount, shipping=shipping)
                run.tick()
                continue
            if known is not None and known.state == "refused":
                # The shop's refusal is final: reported again, not re-sent.
                code = known.code or "refused"
                summary.note(item.line, "refused", code, known.message or code)
                run.tick()
                continue
            await handle(item, known)
        if tasks:
            await asyncio.gather(*tasks)
        if claim is not None and summary.stopped is None:
            await _take_over(journal, handle, tasks, concurrency, summary)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    finally:
        run.reserved.close()
        if journal is not None and not dry_run:
            journal.flush()  # what was recorded is true, even when the run was interrupted
    return summary
