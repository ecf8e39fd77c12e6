"""Refund batches: the runner against a sequential httpx loop, and a million-row dry run.

**Throughput** (issue 16: at least 1.5× the loop at 0 ms, 25× at 100 ms, on ≥ 3,000 rows). The
test shop server (`csdesk.testing.shop_server`, Starlette on uvicorn, SQLite) runs in its own
process on 127.0.0.1. The peer is the loop a shop would write first: one ``httpx.Client``, one
``POST /refunds`` after another, with an ``Idempotency-Key``, no journal, no quote. csdesk's runner
does more for every row — reads and validates it, quotes the refund, journals it in SQLite before
sending and marks it after — with ``--concurrency 32``, taking orders from a local store (the same
POSTs as the loop) or from the API (a ``GET /orders/{id}`` and ``GET /orders/{id}/refunds`` per
distinct order too). Each round uses fresh keys, and the rounds alternate loop and runner. At
100 ms per refund (a slow payment gateway) the loop is timed on 150 rows (its rate does not
depend on the row count; 3,000 rows would take five minutes a round).

**Memory** (flat in rows and in distinct orders; 1,000,000 distinct orders within 100 MB): a dry
run over 100,000 and 1,000,000 rows, each row on its own order and with its own key, in a
subprocess (orders made on the fly, so the store is not what is measured); and ``csdesk refunds
run FILE --dry-run --orders-db`` on 1,000,000 rows over 500 orders. Peak RSS sampled with psutil
every 50 ms.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from tests.factories import paid_order

from csdesk.integrations.refund_batch import (
    ApiOrders,
    Journal,
    StoreOrders,
    file_digest,
    read_rows,
    run_batch,
)
from csdesk.integrations.shop_api import AsyncShopClient, RetryPolicy
from csdesk.policies.refunds import refund_policy
from csdesk.storage import SqlStore
from csdesk.testing.shop_server import ShopBackend

TOKEN = "bench-token"
ORDERS = 500
SERVER = """
import sys, uvicorn
from csdesk.testing.shop_server import Faults, ShopBackend, create_app
faults = Faults(latency=float(sys.argv[3]))
app = create_app(ShopBackend(sys.argv[1]), token="bench-token", faults=faults)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="critical", access_log=False,
            http=sys.argv[4], loop=sys.argv[5], lifespan="off")
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(
    db: Path, latency: float, http: str = "httptools", loop: str = "uvloop"
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(db), str(port), str(latency), http, loop],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/_control/stats", timeout=0.5)
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


def _rows(folder: Path, count: int, tag: str) -> Path:
    rng = random.Random(tag)
    path = folder / f"batch-{tag}.csv"
    lines = ["order_id,lines,amount,currency,reason,key"]
    lines += [
        f"SO-{i % ORDERS},,{rng.randint(1, 3)}.00,CNY,goodwill,{tag}-{i}" for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _sequential(url: str, path: Path, limit: int | None = None) -> float:
    rows = path.read_text(encoding="utf-8").splitlines()[1:][:limit]
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for row in rows:
            order_id, _, amount, currency, reason, key = row.split(",")
            body = {
                "order_id": order_id,
                "amount": {"amount": amount, "currency": currency},
                "reason": reason,
                "lines": {},
            }
            response = client.post("/refunds", json=body, headers={"Idempotency-Key": key + "-seq"})
            response.raise_for_status()
    return len(rows) / (time.perf_counter() - started)


def _runner(
    url: str, path: Path, folder: Path, concurrency: int, orders_db: Path | None = None
) -> float:
    digest, _ = file_digest(path)

    async def go() -> int:
        client = AsyncShopClient(
            url,
            token=TOKEN,
            retry=RetryPolicy(attempts=3, timeout=30),
            connections=concurrency,
        )
        store = SqlStore(f"sqlite:///{orders_db}") if orders_db is not None else None
        orders = StoreOrders(store) if store is not None else ApiOrders(client)
        async with client:
            with Journal(
                folder / f"{path.name}.journal", source=str(path), digest=digest
            ) as journal:
                summary = await run_batch(
                    read_rows(path, namespace=digest[:16]),
                    orders=orders,
                    policy=refund_policy("cn_default"),
                    now=paid_order().placed_at,
                    client=client,
                    journal=journal,
                    concurrency=concurrency,
                )
        if store is not None:
            store.close()
        assert summary.ok, summary.to_dict()
        return summary.done

    started = time.perf_counter()
    done = asyncio.run(go())
    return done / (time.perf_counter() - started)


def throughput(rows: int = 3000) -> None:
    for latency, rounds, loop_rows in ((0.0, 3, rows), (0.1, 2, 150)):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            backend = ShopBackend(folder / "shop.db")
            base = paid_order("SO-0")
            everyone = [base.model_copy(update={"id": f"SO-{i}"}) for i in range(ORDERS)]
            backend.add_orders(everyone)
            backend.close()
            with SqlStore(f"sqlite:///{folder / 'orders.db'}", upgrade=True) as store:
                for order in everyone:
                    store.insert(order)
            server, url = _start(folder / "shop.db", latency)
            try:
                fetching, local, theirs = [], [], []
                for index in range(rounds):
                    seq_rows = _rows(folder, rows, f"s{index}")
                    theirs.append(_sequential(url, seq_rows, loop_rows))
                    local.append(
                        _runner(
                            url, _rows(folder, rows, f"l{index}"), folder, 32, folder / "orders.db"
                        )
                    )
                    fetching.append(_runner(url, _rows(folder, rows, f"r{index}"), folder, 32))
            finally:
                server.terminate()
                server.wait()
        seq = statistics.median(theirs)
        api, own = statistics.median(fetching), statistics.median(local)
        print(
            f"server latency {latency * 1000:.0f} ms, {rows:,} refunds x {rounds}: sequential "
            f"httpx loop {seq:,.0f}/s ({_list(theirs)}, {loop_rows:,} rows); runner "
            f"--concurrency 32 with the journal and quotes, orders from a local store (the same "
            f"POSTs) {own:,.0f}/s ({_list(local)}), ratio {own / seq:.2f}x; fetching each "
            f"order and its refunds from the API too {api:,.0f}/s ({_list(fetching)}), ratio "
            f"{api / seq:.2f}x"
        )


def _list(values: list[float]) -> str:
    return ", ".join(f"{value:,.0f}" for value in values)


DISTINCT = """
import asyncio, sys
from tests.factories import paid_order
from csdesk.integrations.refund_batch import read_rows, run_batch
from csdesk.policies.refunds import refund_policy

base = paid_order("SO-0")


class Made:
    async def get(self, order_id):
        return base.model_copy(update={"id": order_id})


rows = read_rows(sys.argv[1], namespace="bench")
summary = asyncio.run(run_batch(rows, orders=Made(), dry_run=True,
                                policy=refund_policy("cn_default"), now=base.placed_at))
assert summary.done == int(sys.argv[2]), summary.to_dict()
"""


def _peak(command: list[str]) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of a subprocess, sampled every 50 ms."""
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    _, err = process.communicate()
    assert process.returncode == 0, err[-2000:]
    return elapsed, peak


def memory() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for count in (100_000, 1_000_000):
            path = folder / f"distinct{count}.csv"
            with path.open("w", encoding="utf-8") as out:
                out.write("order_id,lines,amount,currency,reason,key\n")
                for i in range(count):
                    out.write(f"SO-{i},,0.01,CNY,goodwill,k{i}\n")
            elapsed, peak = _peak([sys.executable, "-c", DISTINCT, str(path), str(count)])
            print(
                f"dry run of {count:,} rows on {count:,} distinct orders, each with its own key: "
                f"{elapsed:.1f} s ({count / elapsed:,.0f} rows/s), peak RSS {peak / 2**20:.0f} MB"
            )
        with SqlStore(f"sqlite:///{folder / 'orders.db'}", upgrade=True) as store:
            base = paid_order("SO-0")
            for i in range(ORDERS):
                store.insert(base.model_copy(update={"id": f"SO-{i}"}))
        path = folder / "big.csv"
        count = 1_000_000
        with path.open("w", encoding="utf-8") as out:
            out.write("order_id,lines,amount,currency,reason,key\n")
            for i in range(count):
                out.write(f"SO-{i % ORDERS},,0.01,CNY,goodwill,\n")
        command = [sys.executable, "-m", "csdesk.scripts.main", "refunds", "run", str(path),
                   "--dry-run", "--orders-db", str(folder / "orders.db"), "--json"]  # fmt: skip
        elapsed, peak = _peak(command)
        print(
            f"csdesk refunds run --dry-run, {count:,} rows on {ORDERS} orders: {elapsed:.1f} s "
            f"({count / elapsed:,.0f} rows/s), peak RSS {peak / 2**20:.0f} MB"
        )


def main() -> None:
    print("\nrefund batches")
    throughput()
    memory()


if __name__ == "__main__":
    main()
