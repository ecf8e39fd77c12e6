"""Alembic environment for csdesk's own tables (run through `csdesk.storage.upgrade`)."""

from __future__ import annotations

from alembic import context

from csdesk.storage.schema import PREFIX, metadata

VERSION_TABLE = f"{PREFIX}alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - csdesk always hands its connection over
    raise RuntimeError("run csdesk's migrations through csdesk.storage.upgrade(bind)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_name=lambda name, type_, parent: type_ != "table" or str(name).startswith(PREFIX),
)
with context.begin_transaction():
    context.run_migrations()
