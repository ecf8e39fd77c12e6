"""Storage on SQLAlchemy 2 Core: csdesk's state in the shop's own database and transaction.

`SqlStore` keeps aggregates, the outbox and idempotency records on SQLite (the embedded default),
PostgreSQL or MariaDB/MySQL; `upgrade` and `current` run csdesk's Alembic migrations; `schema`
declares the tables once.
"""

from csdesk.storage.budget import SqlBudgetStore
from csdesk.storage.migrate import HEAD, current, upgrade
from csdesk.storage.schema import metadata
from csdesk.storage.sql import Purged, SqlStore, TimerOutcome, fingerprint, sqlite_transactions

__all__ = [
    "HEAD",
    "Purged",
    "SqlBudgetStore",
    "SqlStore",
    "TimerOutcome",
    "current",
    "fingerprint",
    "metadata",
    "sqlite_transactions",
    "upgrade",
]
