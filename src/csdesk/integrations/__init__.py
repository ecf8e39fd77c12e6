"""The edge: storage and HTTP. Only this package and `csdesk.scripts` open files or sockets."""

from csdesk.integrations.budget_store import SqliteBudgetStore
from csdesk.integrations.sqlite_store import RefundDesk, SqliteStore

__all__ = ["RefundDesk", "SqliteBudgetStore", "SqliteStore"]
