"""csdesk's tables, declared once with SQLAlchemy Core, for SQLite, PostgreSQL and MariaDB/MySQL.

Every table name starts with ``csdesk_`` so the tables can live in the shop's own database beside
its tables; the migrations keep their version in ``csdesk_alembic_version``, apart from the shop's
own Alembic history. Every lookup on a hot path has a real column and an index (no JSON scans).

Dialect differences live here and nowhere else: instants are stored as UTC in a plain timestamp
column with microseconds (`UtcDateTime`; MariaDB's ``DATETIME(6)``), documents as text, and key
columns as bounded ``VARCHAR`` s so MariaDB can index them under utf8mb4.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from csdesk.errors import NaiveDatetimeError

__all__ = [
    "PREFIX",
    "UtcDateTime",
    "batch_rows",
    "batches",
    "budget_grants",
    "budget_usage",
    "entities",
    "idempotency",
    "metadata",
    "outbox",
    "webhook_deliveries",
    "webhook_endpoints",
]

PREFIX = "csdesk_"
"""The prefix of every csdesk table (and of the migrations' version table)."""

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)
"""The `sqlalchemy.MetaData` holding csdesk's tables (hand it to your Alembic ``env.py`` to
leave them out of your own autogenerate, or to include them)."""


class UtcDateTime(TypeDecorator[datetime]):
    """An aware instant stored as UTC, read back as an aware UTC datetime, on every dialect."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """``DATETIME(6)`` on MariaDB/MySQL (microseconds), a plain timestamp elsewhere."""
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC without the zone (every dialect stores the same wall time)."""
        if value is None:
            return None
        if value.utcoffset() is None:
            raise NaiveDatetimeError(
                "csdesk stores instants: give a timezone-aware datetime", field="(column)"
            )
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware UTC again."""
        if value is None:
            return None
        if isinstance(value, str):  # SQLite without type detection
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_Id = String(128)
_Kind = String(32)
_Seq = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid alias must be INTEGER

entities = Table(
    f"{PREFIX}entities",
    metadata,
    Column("kind", _Kind, primary_key=True),
    Column("id", _Id, primary_key=True),
    Column("state", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("order_id", _Id, nullable=True),
    Column("document", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=True),
    CheckConstraint("version >= 0", name="version"),
    Index(None, "kind", "order_id", "id"),  # with id: the lookup by order needs no sort
    Index(None, "due_at"),
)
"""One row per aggregate (order, after-sale case, refund, ticket, ledger): its state and version as
columns (optimistic concurrency compares ``version``), the order it belongs to, and the whole
model as a JSON document; ``due_at`` is its next timer (what `csdesk.storage.SqlStore.sweep_due`
looks for)."""

outbox = Table(
    f"{PREFIX}outbox",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("kind", _Kind, nullable=False),
    Column("entity_id", _Id, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Index(None, "delivered_at", "seq"),
    Index(None, "kind", "entity_id", "version"),
)
"""Every event written in the same transaction as the change that caused it, for relays: a relay
claims a row with a lease (``claimed_by``, ``lease_until``) and marks it ``delivered_at``."""

idempotency = Table(
    f"{PREFIX}idempotency",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("key", String(191), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "created_at"),
)
"""What a keyed command did: the same key with the same parameters replays ``result``; with
other parameters it is refused."""

budget_usage = Table(
    f"{PREFIX}budget_usage",
    metadata,
    Column("pool", String(128), primary_key=True),
    Column("period", String(32), primary_key=True),
    Column("minor", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    CheckConstraint("minor >= 0", name="minor"),
    CheckConstraint("count >= 0", name="count"),
)
"""Compensation counters (budget pools, caps, agents' daily authority) in minor units."""

budget_grants = Table(
    f"{PREFIX}budget_grants",
    metadata,
    Column("key", String(191), primary_key=True),
    Column("charges", Text, nullable=False),
)
"""What each granted decision moved, by its idempotency key (for replays, conflicts, release)."""

webhook_deliveries = Table(
    f"{PREFIX}webhook_deliveries",
    metadata,
    Column("subscriber", String(128), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("aggregate", String(191), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    CheckConstraint("state IN ('pending', 'delivered', 'dead', 'skipped')", name="state"),
    Index(None, "subscriber", "state", "next_at"),
    Index(None, "subscriber", "aggregate", "seq"),
)
"""One row per (subscriber, outbox event) the webhook relay owes: its state, attempts, next try,
and which relay holds it (``claimed_by`` until ``lease_until``)."""

webhook_endpoints = Table(
    f"{PREFIX}webhook_endpoints",
    metadata,
    Column("subscriber", String(128), primary_key=True),
    Column("disabled_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)
"""Subscribers the relay stopped delivering to (a 410 Gone answer) until an operator enables
them again."""

batches = Table(
    f"{PREFIX}batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
"""Refund batches whose journal lives in the database (any number of workers run one)."""

batch_rows = Table(
    f"{PREFIX}batch_rows",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("key", String(200), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("row", Text, nullable=True),
    Column("request", Text, nullable=True),
    Column("minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("state", String(16), nullable=False),
    Column("refund_id", String(128), nullable=True),
    Column("code", String(64), nullable=True),
    Column("message", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "state IN ('claimed', 'sending', 'done', 'pending', 'refused', 'invalid', "
        "'unreachable', 'unexpected')",
        name="state",
    ),
    Index(None, "batch_id", "key"),
    Index(None, "batch_id", "state"),
)
"""One row per batch line: who holds it (``claimed_by`` until ``lease_until``), the exact request
sent, and its outcome."""
