"""A Django shop: csdesk writes on Django's connection, inside ``transaction.atomic()``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import django
import pytest
from sqlalchemy import create_engine, text

from csdesk.errors import InvalidInputError, TransitionRejectedError
from csdesk.models import Order
from csdesk.storage import SqlStore
from csdesk.storage.host import borrowed_connection, django_connection
from csdesk.workflows import ExpireOrder
from tests.factories import PLACED, STAFF, new_order
from tests.storage.conftest import SERVERS, server_url, wipe

_SQLITE = Path(tempfile.mkdtemp(prefix="csdesk-django-")) / "shop.db"


def _django_database(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    engine = "postgresql" if parts.scheme.startswith("postgresql") else "mysql"
    return {
        "ENGINE": f"django.db.backends.{engine}",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username,
        "PASSWORD": parts.password,
        "HOST": parts.hostname,
        "PORT": str(parts.port),
    }


def _configure() -> None:
    from django.conf import settings

    if settings.configured:
        return
    import pymysql

    pymysql.install_as_MySQLdb()  # Django's MySQL backend on PyMySQL (csdesk's mysql extra)
    databases: dict[str, dict[str, object]] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(_SQLITE),
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        }
    }
    for name, variable in SERVERS.items():
        if os.environ.get(variable):
            databases[name] = _django_database(os.environ[variable])
    settings.configure(DATABASES=databases, USE_TZ=True, INSTALLED_APPS=[])
    django.setup()


_configure()


def _sqlalchemy_url(alias: str) -> str:
    return f"sqlite:///{_SQLITE}" if alias == "default" else server_url(alias)


@pytest.fixture(
    params=[
        pytest.param("default", id="sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def alias(request: pytest.FixtureRequest) -> object:
    from django.db import connections

    name: str = request.param
    url = _sqlalchemy_url(name)  # fails under CI=true when the server is missing
    engine = create_engine(url)
    wipe(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS shop_bookkeeping"))
        connection.execute(text("CREATE TABLE shop_bookkeeping (note VARCHAR(64))"))
    SqlStore(engine, upgrade=True).close()
    yield name
    connections[name].close()
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS shop_bookkeeping"))
    wipe(engine)
    engine.dispose()


def _seen(alias: str) -> tuple[list[str], list[str]]:
    """What committed: csdesk's orders and the shop's notes, read on a connection of their own."""
    engine = create_engine(_sqlalchemy_url(alias))
    with engine.connect() as connection:
        orders = connection.execute(text("SELECT id FROM csdesk_entities ORDER BY id")).scalars()
        notes = connection.execute(text("SELECT note FROM shop_bookkeeping")).scalars()
        found = (list(orders), list(notes))
    engine.dispose()
    return found


def _note(alias: str, note: str) -> None:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("INSERT INTO shop_bookkeeping (note) VALUES (%s)", [note])


def test_csdesk_commits_and_rolls_back_with_djangos_atomic_block(alias: str) -> None:
    from django.db import transaction

    def failing_view() -> None:
        with transaction.atomic(using=alias):
            with django_connection(alias) as connection:
                SqlStore(connection).insert(new_order("SO-ROLLED-BACK"))
            _note(alias, "rolled back")
            raise RuntimeError("the view fails after both writes")

    with pytest.raises(RuntimeError):
        failing_view()
    assert _seen(alias) == ([], [])
    with transaction.atomic(using=alias):
        with django_connection(alias) as connection:
            store = SqlStore(connection)
            store.insert(new_order("SO-1"))
            with pytest.raises(TransitionRejectedError):  # refused: only its savepoint rolls back
                store.run("SO-1", ExpireOrder(), actor=STAFF, now=PLACED)
            assert store.load(Order, "SO-1").version == 0
        _note(alias, "committed")
    assert _seen(alias) == (["SO-1"], ["committed"])


def test_outside_an_atomic_block_csdesk_refuses(alias: str) -> None:
    with pytest.raises(InvalidInputError, match="atomic"), django_connection(alias):
        pass  # pragma: no cover


def test_a_connection_is_lent_once_per_thread_and_dialects_are_checked() -> None:
    import sqlite3

    raw = sqlite3.connect(":memory:", isolation_level=None)
    with (
        borrowed_connection(raw, "sqlite"),
        pytest.raises(InvalidInputError, match="already lent"),
        borrowed_connection(raw, "sqlite"),
    ):
        pass  # pragma: no cover
    with pytest.raises(InvalidInputError, match="dialect"), borrowed_connection(raw, "nosuchdb"):
        pass  # pragma: no cover
    raw.close()
