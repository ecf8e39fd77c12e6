"""One translation of database and driver errors into `csdesk.errors.StorageError`."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from csdesk.errors import StorageError

_TRANSIENT_CODES = {
    1205,  # MySQL/MariaDB: lock wait timeout exceeded
    1213,  # MySQL/MariaDB: deadlock found
    "40001",  # PostgreSQL: serialization failure
    "40P01",  # PostgreSQL: deadlock detected
    "55P03",  # PostgreSQL: lock not available
}


def transient(error: BaseException) -> bool:
    """Whether the database gave up on the transaction for now (deadlock, lock timeout, busy)."""
    original = getattr(error, "orig", error)
    code = getattr(original, "sqlstate", None) or (getattr(original, "args", None) or [None])[0]
    if code in _TRANSIENT_CODES:
        return True
    return "database is locked" in str(original)  # SQLite: busy past the timeout


def storage_error(error: SQLAlchemyError, *, dialect: str, operation: str) -> StorageError:
    """A `StorageError` saying what failed, with the driver's first line, never its traceback."""
    original = getattr(error, "orig", None)
    detail = str(original if original is not None else error).strip().splitlines()
    reason = detail[0] if detail else type(error).__name__
    return StorageError(
        f"{operation} on {dialect} failed: {reason}",
        dialect=dialect,
        operation=operation,
        transient=transient(error),
    )
