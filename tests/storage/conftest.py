"""Databases for the storage tests: SQLite always; PostgreSQL and MariaDB when their servers run.

`scripts/db-servers.sh start` starts both on 127.0.0.1 and prints ``CSDESK_POSTGRES_URL`` and
``CSDESK_MARIADB_URL``; `scripts/check.sh` and `.ci/run` do it for you. Without a URL the server's
tests are skipped on a developer's machine, and fail under ``CI=true``: CI never skips them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from csdesk.storage import metadata

SERVERS = {"postgresql": "CSDESK_POSTGRES_URL", "mariadb": "CSDESK_MARIADB_URL"}


def server_url(name: str) -> str:
    """The URL of a server the tests need; skip (or, under CI=true, fail) without one."""
    url = os.environ.get(SERVERS[name])
    if not url:
        message = f"{SERVERS[name]} is not set: start the servers with scripts/db-servers.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def wipe(engine: Engine) -> None:
    """Drop csdesk's tables and its migration history (not the database itself)."""
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS csdesk_alembic_version"))


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with no csdesk tables in it, on each dialect in turn."""
    name = request.param
    url = f"sqlite:///{tmp_path / 'csdesk.db'}" if name == "sqlite" else server_url(name)
    engine = create_engine(url)
    try:
        wipe(engine)
        yield url
        wipe(engine)
    finally:
        engine.dispose()


def processes(url: str) -> int:
    """How many worker processes a race uses: 8 on PostgreSQL (the issue's bar), else 4."""
    return 8 if url.startswith("postgresql") else 4
