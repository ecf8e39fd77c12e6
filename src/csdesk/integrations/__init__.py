"""The edge: storage and HTTP. Only this package and `csdesk.scripts` open files or sockets."""

from csdesk.integrations.sqlite_store import RefundDesk, SqliteStore

__all__ = ["RefundDesk", "SqliteStore"]
