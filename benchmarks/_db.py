"""A database of the benchmarks' own on the test servers, so a benchmark never wipes the tests'."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def own_database(url: str, name: str = "csdesk_bench") -> str:
    """``url`` pointed at database ``name`` on the same server, created if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    admin = parsed.set(database="postgres" if parsed.get_backend_name() == "postgresql" else "")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if parsed.get_backend_name() == "postgresql":
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            connection.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}`"))
    engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)
