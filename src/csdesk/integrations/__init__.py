"""The edge: storage and HTTP. Only this package and `csdesk.scripts` open files or sockets."""

from csdesk.integrations.sqlite_store import SqliteStore

__all__ = ["SqliteStore"]
