"""One refund batch, many workers: the journal in the database, rows claimed, a worker killed.

Issue 16: N worker processes on N machines run one batch by claiming rows, each row refunded
exactly once; tested with several processes (8 on PostgreSQL... here 4, each with concurrency 4),
a SIGKILL and faults against the test shop, on every database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from csdesk.integrations.batch_files import file_digest, read_rows
from csdesk.integrations.batch_journal import SqlJournal
from csdesk.storage import SqlStore
from csdesk.storage.schema import batch_rows
from csdesk.testing.shop_server import Faults
from tests.integrations.shop_fixtures import TOKEN, Shop, batch_csv
from tests.integrations.shop_fixtures import shop as shop  # the fixture

CSDESK = [sys.executable, "-m", "csdesk.scripts.main"]
WORKERS = 4


@pytest.fixture
def journal_db(db_url: str) -> str:
    SqlStore(db_url, upgrade=True).close()
    return db_url


def _done(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(batch_rows).where(batch_rows.c.state == "done")
        ).scalar_one()
    engine.dispose()
    return int(count)


def _workers(
    shop: Shop, path: Path, url: str, lease: str = "3", count: int = WORKERS
) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "CSDESK_SHOP_TOKEN": TOKEN}
    return [
        subprocess.Popen(
            [
                *CSDESK,
                "refunds",
                "run",
                str(path),
                "--shop-url",
                shop.url,
                "--journal-db",
                url,
                "--worker",
                f"w{n}",
                "--lease",
                lease,
                "--concurrency",
                "4",
                "--attempts",
                "10",
                "--timeout",
                "1",
                "--json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]


def _check(shop: Shop, path: Path, url: str, rows: int) -> None:
    """Every row refunded exactly once, and the journal agrees with the shop."""
    refunds = shop.backend.refunds()
    assert shop.backend.stats["created"] == rows == len(refunds)
    by_key = {r["idempotency_key"]: r for r in refunds}
    digest, _ = file_digest(path)
    with SqlStore(url) as store:
        journal = SqlJournal(store, source=path.name, digest=digest, worker="checker")
        assert journal.counts() == {"done": rows}
        for row in journal.rows():
            assert by_key[row.key]["id"] == row.refund_id
    keys = {r.key for r in read_rows(path, namespace=digest[:16]) if hasattr(r, "key")}
    assert keys == set(by_key)


def test_workers_share_one_batch_and_refund_each_row_once(
    shop: Shop, tmp_path: Path, journal_db: str
) -> None:
    shop.set_faults(Faults(rate=0.1, kinds=("error_500", "slow", "timeout_after_commit"),
                           hang_seconds=1.5, seed=3))  # fmt: skip
    path = batch_csv(tmp_path / "b.csv", 120, orders_count=60)
    workers = _workers(shop, path, journal_db)
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0] * WORKERS, outputs
    _check(shop, path, journal_db, 120)


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    shop: Shop, tmp_path: Path, journal_db: str
) -> None:
    shop.set_faults(Faults(latency=0.02, rate=0.05, kinds=("error_500", "slow"), seed=5))
    path = batch_csv(tmp_path / "b.csv", 120, orders_count=60)
    workers = _workers(shop, path, journal_db)
    deadline = time.monotonic() + 60
    while _done(journal_db) < 20:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    workers[0].send_signal(signal.SIGKILL)
    for worker in workers[1:]:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, out + err
    workers[0].communicate(timeout=10)  # closes its pipes
    assert workers[0].returncode == -signal.SIGKILL
    _check(shop, path, journal_db, 120)


def test_invalid_rows_are_recorded_once_whatever_the_workers(
    shop: Shop, tmp_path: Path, journal_db: str
) -> None:
    path = batch_csv(tmp_path / "b.csv", 40, orders_count=40)
    with path.open("a", encoding="utf-8") as out:
        out.write("SO-1,,5.555,CNY,goodwill,\nSO-2,,1e3,CNY,goodwill,\n")
    workers = _workers(shop, path, journal_db)
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [1] * WORKERS, outputs  # rows need attention
    digest, _ = file_digest(path)
    with SqlStore(journal_db) as store:
        journal = SqlJournal(store, source=path.name, digest=digest, worker="checker")
        assert journal.counts() == {"done": 40, "invalid": 2}
    assert shop.backend.stats["created"] == 40


def test_status_reads_a_batch_in_the_database(shop: Shop, tmp_path: Path, journal_db: str) -> None:
    import json

    path = batch_csv(tmp_path / "b.csv", 10, orders_count=10)
    (worker,) = _workers(shop, path, journal_db, count=1)
    worker.communicate(timeout=120)
    digest, _ = file_digest(path)
    env = {**os.environ, "CSDESK_SHOP_TOKEN": TOKEN}
    status = subprocess.run(
        [*CSDESK, "refunds", "status", "--journal-db", journal_db, "--batch", digest[:32],
         "--json"], env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["rows"] == {"done": 10}
    missing = subprocess.run(
        [*CSDESK, "refunds", "status", "--journal-db", journal_db, "--batch", "nope"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "no refund batch 'nope'" in missing.stderr
