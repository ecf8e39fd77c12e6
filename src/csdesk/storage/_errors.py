"""One translation of database and driver errors into `csdesk.errors.StorageError`."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from csdesk.errors import StorageError


def storage_error(error: SQLAlchemyError, *, dialect: str, operation: str) -> StorageError:
    """A `StorageError` saying what failed, with the driver's first line, never its traceback."""
    original = getattr(error, "orig", None)
    detail = str(original if original is not None else error).strip().splitlines()
    reason = detail[0] if detail else type(error).__name__
    return StorageError(
        f"{operation} on {dialect} failed: {reason}", dialect=dialect, operation=operation
    )
