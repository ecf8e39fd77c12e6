"""The edge: storage and HTTP. Only this package and `csdesk.scripts` open files or sockets."""

from csdesk.integrations.budget_store import SqliteBudgetStore
from csdesk.integrations.sqlite_store import SqliteStore

__all__ = ["SqliteBudgetStore", "SqliteStore"]
