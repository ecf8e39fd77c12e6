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
import csv
import hashlib
import json
from abc import ABC, abstractmethod
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TextIO

from pydantic import ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import CsdeskModel
from csdesk.errors import (
    CsdeskError,
    InvalidInputError,
    NotFoundError,
    RemoteRejectedError,
    RemoteUnavailableError,
)
from csdesk.integrations.shop_api import AsyncShopClient, RefundRequest
from csdesk.integrations.sqlitedb import connect, setup, transaction
from csdesk.models import Order
from csdesk.money import Money
from csdesk.policies.refunds import Refunded, RefundPolicy, RefundReason, quote_refund

__all__ = [
    "ApiOrders",
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


class BatchRow(CsdeskModel):
    """One valid row of a refund batch.

    Attributes:
        line: The row's line number in the file (1 is the first line; a CSV header is line 1).
        order_id: The order to refund.
        lines: Units per line id to refund (quoted with the refund policy)…
        amount: …or an amount to refund without goods coming back (goodwill, price errors).
        reason: Why (`csdesk.policies.refunds.RefundReason`).
        key: The idempotency key.
    """

    # Rows are many and their strings unique: pydantic-core's string cache would only fill up.
    model_config = ConfigDict(frozen=True, extra="forbid", cache_strings=False)

    line: int = Field(ge=1)
    order_id: str = Field(min_length=1, max_length=128)
    lines: dict[str, int] = Field(default_factory=dict)
    amount: Money | None = None
    reason: RefundReason
    key: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _lines_or_amount(self) -> BatchRow:
        if bool(self.lines) == (self.amount is not None):
            raise ValueError("give either lines or amount, not both and not neither")
        if any(units <= 0 for units in self.lines.values()):
            raise ValueError("units per line must be positive")
        if self.amount is not None and self.amount.amount <= 0:
            raise ValueError("amount must be positive")
        return self


@dataclass(frozen=True)
class RowError:
    """A row that did not validate: its line number and what was wrong."""

    line: int
    message: str


@checked
def file_digest(path: str | Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines, read in one streaming pass."""
    digest = hashlib.sha256()
    lines = 0
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                lines += chunk.count(b"\n")
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"cannot read {str(path)[:200]!r}: {error}") from None
    return digest.hexdigest(), lines


def _units(text: str) -> dict[str, int]:
    """``"1:2;3:1"`` → ``{"1": 2, "3": 1}``."""
    found: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace(",", ";").split(";"))):
        line_id, sep, units = part.partition(":")
        if not sep or not units.strip().isdigit():
            raise InvalidInputError(f"lines: {part!r} is not line:units (e.g. 1:2;3:1)")
        found[line_id.strip()] = found.get(line_id.strip(), 0) + int(units)
    return found


def _row(line: int, data: Mapping[str, Any], namespace: str, currency: str | None) -> BatchRow:
    unknown = set(data) - {"order_id", "lines", "amount", "currency", "reason", "key", "note"}
    if unknown:
        raise InvalidInputError(
            f"unknown column(s) {', '.join(sorted(map(str, unknown)))}; the columns are "
            "order_id, lines, amount, currency, reason, key"
        )
    lines = data.get("lines") or {}
    if isinstance(lines, str):
        lines = _units(lines)
    amount: Any = data.get("amount")
    if isinstance(amount, float):
        raise InvalidInputError(f"amount {amount!r} is a JSON float; write it as a string")
    if amount in ("", None):
        amount = None
    elif not isinstance(amount, Mapping):
        money_currency = data.get("currency") or currency
        if not money_currency:
            raise InvalidInputError("amount needs a currency column (or --currency)")
        amount = {"amount": str(amount), "currency": money_currency}
    key = data.get("key") or f"{namespace}:{line}"
    return BatchRow(
        line=line,
        order_id=str(data.get("order_id") or "").strip(),
        lines=lines,
        amount=amount,
        reason=data.get("reason") or "",
        key=str(key),
    )


@checked
def read_rows(
    path: str | Path, *, namespace: str, currency: str | None = None
) -> Iterator[BatchRow | RowError]:
    """Stream the rows of a ``.csv`` or ``.jsonl`` file as `BatchRow` or `RowError`.

    CSV columns: ``order_id, lines, amount, currency, reason, key`` (``lines`` as ``1:2;3:1``).
    JSONL objects: the same keys; ``lines`` as ``{"1": 2}``; ``amount`` as ``"12.30"`` (with
    ``currency``) or ``{"amount": "12.30", "currency": "CNY"}``. Blank lines are skipped.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidInputError(f"{str(path)[:200]}: use a .csv or .jsonl file")
    try:
        stream = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"cannot read {str(path)[:200]!r}: {error}") from None
    try:
        yield from _records(stream, suffix, namespace, currency)
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{str(path)[:200]} is not UTF-8 text (byte {error.start} of a block); save it as "
            "UTF-8 (Excel: CSV UTF-8)"
        ) from None
    finally:
        stream.close()


def _records(
    stream: TextIO, suffix: str, namespace: str, currency: str | None
) -> Iterator[BatchRow | RowError]:
    if suffix == ".csv":
        reader = csv.DictReader(stream)
        missing = {"order_id", "reason"} - set(reader.fieldnames or ())
        if missing:
            yield RowError(1, f"the header lacks {', '.join(sorted(missing))}")
            return
        for record in reader:
            line = reader.line_num
            if not any((value or "").strip() for value in record.values()):
                continue
            cleaned = {k: (v or "").strip() for k, v in record.items() if k is not None}
            if None in record:
                yield RowError(line, "more fields than the header has")
                continue
            yield _parse(line, cleaned, namespace, currency)
    elif suffix in (".jsonl", ".ndjson"):
        for line, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as error:
                yield RowError(line, f"not JSON: {error.msg}")
                continue
            except RecursionError:
                yield RowError(line, "not JSON csdesk reads: nested too deeply")
                continue
            if not isinstance(data, dict):
                yield RowError(line, "each line must be a JSON object")
                continue
            yield _parse(line, data, namespace, currency)


def _parse(
    line: int, data: Mapping[str, Any], namespace: str, currency: str | None
) -> BatchRow | RowError:
    try:
        return _row(line, data, namespace, currency)
    except CsdeskError as error:
        return RowError(line, str(error).removeprefix("invalid BatchRow: "))


# -- orders --------------------------------------------------------------------------------------


class OrderSource(Protocol):
    """Where the batch reads orders from."""

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


class _CachedOrders(ABC):
    """An LRU cache in front of a slower source (a batch often names an order twice)."""

    def __init__(self, cache: int) -> None:
        self._cache: OrderedDict[str, Order] = OrderedDict()
        self._size = cache

    @abstractmethod
    async def _fetch(self, order_id: str) -> Order:
        """Read the order from the source."""

    async def get(self, order_id: str) -> Order:
        """The order, from the cache or the source."""
        found = self._cache.get(order_id)
        if found is not None:
            self._cache.move_to_end(order_id)
            return found
        order = await self._fetch(order_id)
        self._cache[order_id] = order
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return order


class StoreOrders(_CachedOrders):
    """Orders from a csdesk database (`csdesk.storage.SqlStore`): a copy, or dry runs."""

    def __init__(self, store: Any, *, cache: int = 1024) -> None:
        super().__init__(cache)
        self._store = store

    async def _fetch(self, order_id: str) -> Order:
        found: Order = self._store.load(Order, order_id)
        return found


class ApiOrders(_CachedOrders):
    """Orders from the shop's API (``GET /orders/{id}``), with an LRU cache."""

    def __init__(self, client: AsyncShopClient, *, cache: int = 1024) -> None:
        super().__init__(cache)
        self._client = client

    async def _fetch(self, order_id: str) -> Order:
        return await self._client.get_order(order_id)


# -- journal -------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    line        INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    order_id    TEXT NOT NULL,
    request     TEXT,
    minor       INTEGER,
    currency    TEXT,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'done', 'failed', 'invalid')),
    refund_id   TEXT,
    code        TEXT,
    message     TEXT,
    retryable   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_by_state ON rows (state);
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
    retryable: bool
    amount: Money | None


class Journal:
    """The batch's journal: one SQLite file, written before every send and after every answer.

    Args:
        path: The journal file.
        source: The input file's path and SHA-256, checked against what the journal was made for.

    Raises:
        InvalidInputError: the journal belongs to another input file (or another version of it).
    """

    @checked
    def __init__(self, path: str | Path, *, source: str, digest: str) -> None:
        self.path = str(path)
        self._db = connect(self.path, timeout=30, synchronous="NORMAL")
        setup(self._db, _SCHEMA, path)
        stored = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        if not stored:
            with transaction(self._db, immediate=False):
                self._db.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("source", source), ("sha256", digest), ("created_at", _now())],
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
        """Open a journal to read it (`csdesk refunds status`)."""
        if not Path(path).exists():
            raise NotFoundError(f"no journal at {path}")
        journal = cls.__new__(cls)
        journal.path = str(path)
        journal._db = connect(path, timeout=30)
        return journal

    def close(self) -> None:
        """Close the file."""
        self._db.close()

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
        found = self._db.execute(
            "SELECT line, key, order_id, state, request, refund_id, code, message, retryable, "
            "minor, currency FROM rows WHERE line = ?",
            (line,),
        ).fetchone()
        return None if found is None else _journal_row(found)

    def sending(self, row: BatchRow, request: RefundRequest) -> None:
        """Record the request about to be sent (committed before the send)."""
        self._db.execute(
            "INSERT INTO rows (line, key, order_id, request, minor, currency, state, attempts, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 'sending', 1, ?) ON CONFLICT (line) DO UPDATE "
            "SET state = 'sending', attempts = attempts + 1, updated_at = excluded.updated_at",
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

    def done(self, line: int, refund_id: str) -> None:
        """The shop made (or had made) the refund."""
        self._db.execute(
            "UPDATE rows SET state = 'done', refund_id = ?, code = NULL, message = NULL, "
            "retryable = 0, updated_at = ? WHERE line = ?",
            (refund_id, _now(), line),
        )

    def failed(self, line: int, code: str, message: str, *, retryable: bool) -> None:
        """The shop refused it (final) or could not be reached (re-sent on the next run)."""
        self._db.execute(
            "UPDATE rows SET state = 'failed', code = ?, message = ?, retryable = ?, "
            "updated_at = ? WHERE line = ?",
            (code, message[:500], int(retryable), _now(), line),
        )

    def invalid(self, row: BatchRow | RowError, message: str, *, order_id: str = "") -> None:
        """A row that cannot be sent (bad input, nothing to refund): recorded, never sent."""
        key = row.key if isinstance(row, BatchRow) else f"invalid:{row.line}"
        self._db.execute(
            "INSERT INTO rows (line, key, order_id, state, code, message, updated_at) "
            "VALUES (?, ?, ?, 'invalid', 'invalid_row', ?, ?) ON CONFLICT (line) DO UPDATE SET "
            "state = 'invalid', message = excluded.message, updated_at = excluded.updated_at",
            (row.line, key, order_id or getattr(row, "order_id", ""), message[:500], _now()),
        )

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())

    def failures(self) -> dict[str, int]:
        """Failed and invalid rows per code."""
        return dict(
            self._db.execute(
                "SELECT code, COUNT(*) FROM rows WHERE state IN ('failed', 'invalid') GROUP BY code"
            ).fetchall()
        )

    def refunded(self) -> dict[str, Money]:
        """What the done rows refunded, per currency."""
        return {
            currency: Money.from_minor(minor, currency)
            for currency, minor in self._db.execute(
                "SELECT currency, SUM(minor) FROM rows WHERE state = 'done' GROUP BY currency"
            ).fetchall()
        }

    def rows(self, state: str | None = None) -> Iterator[JournalRow]:
        """Every row (of one state), by line."""
        query = (
            "SELECT line, key, order_id, state, request, refund_id, code, message, retryable, "
            "minor, currency FROM rows"
        )
        args: tuple[Any, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            args = (state,)
        for found in self._db.execute(query + " ORDER BY line", args):
            yield _journal_row(found)


def _journal_row(found: tuple[Any, ...]) -> JournalRow:
    line, key, order_id, state, request, refund_id, code, message, retryable, minor, cur = found
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
        bool(retryable),
        amount,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# -- the run -------------------------------------------------------------------------------------


@dataclass
class BatchSummary:
    """What one run did, and the journal's totals after it.

    Attributes:
        rows: Rows read this run (valid or not).
        done: Refunds made (or confirmed) this run.
        skipped: Rows already done (or already finally failed) in an earlier run.
        failed: Rows that failed this run, per reason code.
        invalid: Rows that did not validate or could not be quoted: ``(line, message)``.
        refunded: What this run refunded (or, in a dry run, would refund), per currency.
        dry_run: Whether nothing was sent.
        stopped: Why the run stopped early (``strict`` on a bad row), or ``None``.
    """

    rows: int = 0
    done: int = 0
    skipped: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    invalid_count: int = 0
    refunded: dict[str, Money] = field(default_factory=dict)
    dry_run: bool = False
    stopped: str | None = None
    journal: str | None = None

    def add_refunded(self, amount: Money) -> None:
        """Count an amount into `refunded`."""
        current = self.refunded.get(amount.currency)
        self.refunded[amount.currency] = amount if current is None else current + amount

    def note_invalid(self, line: int, message: str) -> None:
        """Count an invalid row; keep the first 100 messages."""
        self.invalid_count += 1
        if len(self.invalid) < 100:
            self.invalid.append((line, message))

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was invalid."""
        return not self.failed and not self.invalid_count and self.stopped is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "done": self.done,
            "skipped": self.skipped,
            "failed": dict(sorted(self.failed.items())),
            "invalid": self.invalid_count,
            "invalid_rows": [{"line": line, "message": m} for line, m in self.invalid],
            "refunded": {c: str(m.amount) for c, m in sorted(self.refunded.items())},
            "stopped": self.stopped,
            "journal": self.journal,
        }


class _Reservations:
    """What earlier rows of this batch refund, per order: units per line, shipping and money."""

    def __init__(self) -> None:
        self.units: dict[str, Counter[str]] = defaultdict(Counter)
        self.money: dict[str, Money] = {}
        self.shipping: dict[tuple[str, int], Money] = {}

    def add(
        self,
        order_id: str,
        lines: Mapping[str, int],
        amount: Money,
        sign: int = 1,
        *,
        line: int | None = None,
        shipping: Money | None = None,
    ) -> None:
        self.units[order_id].update({k: sign * v for k, v in lines.items()})
        current = self.money.get(order_id)
        change = amount if sign > 0 else -amount
        self.money[order_id] = change if current is None else current + change
        if line is not None and sign > 0 and shipping is not None and not shipping.is_zero:
            self.shipping[(order_id, line)] = shipping
        elif line is not None and sign < 0:
            self.shipping.pop((order_id, line), None)

    def refunded(self, order: Order) -> Refunded:
        """The order's own history plus what this batch's earlier rows take from it."""
        before = Refunded.of(order)
        units = dict(before.units)
        for line_id, count in self.units.get(order.id, Counter()).items():
            units[line_id] = units.get(line_id, 0) + count
        shipping = before.shipping
        for (order_id, _), share in self.shipping.items():
            if order_id == order.id:
                shipping = share if shipping is None else shipping + share
        return Refunded(units=units, shipping=shipping)


def _quote(
    row: BatchRow, order: Order, policy: RefundPolicy, now: datetime, reserved: _Reservations
) -> tuple[RefundRequest, Money | None]:
    """The row's refund request, and the outbound shipping its quote refunds (line rows)."""
    shipping: Money | None = None
    already = reserved.money.get(order.id)
    refundable = order.captured - (already if already is not None else Money.zero(order.currency))
    if row.amount is not None:
        if row.amount.currency != order.currency:
            raise InvalidInputError(
                f"amount is in {row.amount.currency}, order in {order.currency}"
            )
        if row.amount > refundable:
            raise InvalidInputError(
                f"{row.amount} is more than the {refundable} left to refund on {order.id} after "
                "the batch's earlier rows"
            )
        amount = row.amount
    else:
        quote = quote_refund(
            order,
            lines=row.lines,
            reason=row.reason,
            policy=policy,
            now=now,
            refunded=reserved.refunded(order),
        )
        shipping = quote.shipping
        amount = quote.total
        if amount > refundable:
            raise InvalidInputError(f"{amount} quoted, but {refundable} is left on {order.id}")
    if amount.is_zero:
        raise InvalidInputError("the quote is 0: nothing to refund")
    request = RefundRequest(order_id=order.id, amount=amount, reason=row.reason, lines=row.lines)
    return request, shipping


@checked
async def run_batch(
    rows: Iterator[BatchRow | RowError],
    *,
    orders: OrderSource,
    policy: RefundPolicy,
    now: datetime,
    client: AsyncShopClient | None = None,
    journal: Journal | None = None,
    concurrency: int = 8,
    dry_run: bool = False,
    strict: bool = False,
    progress: Callable[[], None] | None = None,
) -> BatchSummary:
    """Process ``rows``: validate, quote, journal, send, mark; see the module's description.

    ``client`` and ``journal`` are required unless ``dry_run``.

    Raises:
        InvalidInputError: ``concurrency`` below 1, or a client or journal missing.
    """
    if concurrency < 1:
        raise InvalidInputError("concurrency must be at least 1")
    if not dry_run and (client is None or journal is None):
        raise InvalidInputError("a batch that sends needs a client and a journal")
    summary = BatchSummary(dry_run=dry_run, journal=journal.path if journal else None)
    reserved = _Reservations()
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    def tick() -> None:
        if progress is not None:
            progress()

    async def send(row: BatchRow, request: RefundRequest, *, reserve: bool) -> None:
        assert client is not None
        assert journal is not None
        try:
            journal.sending(row, request)
            try:
                refund = await client.create_refund(request, idempotency_key=row.key)
            except RemoteRejectedError as error:
                journal.failed(
                    row.line,
                    error.remote_code or f"http_{error.status}",
                    error.detail,
                    retryable=False,
                )
                summary.failed[error.remote_code or f"http_{error.status}"] += 1
                if reserve:
                    reserved.add(row.order_id, row.lines, request.amount, -1, line=row.line)
            except RemoteUnavailableError as error:
                journal.failed(row.line, "unavailable", str(error), retryable=True)
                summary.failed["unavailable"] += 1
            else:
                journal.done(row.line, refund.id)
                summary.done += 1
                summary.add_refunded(refund.amount)
        finally:
            slots.release()
            tick()

    async def quote_and_send(row: BatchRow) -> None:
        try:
            try:
                order = await orders.get(row.order_id)
            except (NotFoundError, RemoteRejectedError) as error:
                raise InvalidInputError(f"order {row.order_id}: {error}") from None
            request, shipping = _quote(row, order, policy, now, reserved)
        except RemoteUnavailableError:
            # Nothing journaled: the next run fetches the order again.
            summary.failed["unavailable"] += 1
            slots.release()
            tick()
            return
        except CsdeskError as error:
            summary.note_invalid(row.line, str(error))
            if journal is not None and not dry_run:
                journal.invalid(row, str(error))
            slots.release()
            tick()
            return
        reserved.add(row.order_id, row.lines, request.amount, line=row.line, shipping=shipping)
        if dry_run:
            summary.done += 1
            summary.add_refunded(request.amount)
            slots.release()
            tick()
            return
        await send(row, request, reserve=True)

    def start(coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        for item in rows:
            summary.rows += 1
            if isinstance(item, RowError):
                summary.note_invalid(item.line, item.message)
                if journal is not None and not dry_run:
                    journal.invalid(item, item.message)
                tick()
                if strict:
                    summary.stopped = f"line {item.line}: {item.message}"
                    break
                continue
            known = journal.get(item.line) if journal is not None and not dry_run else None
            if known is not None and (
                known.state == "done"
                or (known.state in ("failed", "invalid") and not known.retryable)
            ):
                summary.skipped += 1
                if known.state == "done" and known.amount is not None:
                    reserved.add(item.order_id, item.lines, known.amount)
                tick()
                continue
            await slots.acquire()
            if known is not None and known.state in ("sending", "failed") and known.request:
                # Resume with the very request and key sent before: the shop deduplicates.
                request = RefundRequest.model_validate(known.request)
                reserved.add(item.order_id, item.lines, request.amount)
                start(send(item, request, reserve=False))
            else:
                start(quote_and_send(item))
            await asyncio.sleep(0)
        if tasks:
            await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    return summary
