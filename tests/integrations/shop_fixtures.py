"""A running shop API for tests: orders seeded once per session, a fresh refunds table per test."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from csdesk.models import Order
from csdesk.testing.shop_server import Faults, ShopBackend, create_app, serve
from tests.factories import paid_order

TOKEN = "test-token-5f0c"


@functools.cache
def orders(count: int) -> tuple[Order, ...]:
    """``count`` paid orders (SO-0 …), built once per session: each can refund 1,620.65 CNY."""
    base = paid_order("SO-0")
    return tuple(base.model_copy(update={"id": f"SO-{i}"}) for i in range(count))


@dataclass
class Shop:
    """A running test shop."""

    url: str
    backend: ShopBackend
    faults: Faults

    def set_faults(self, faults: Faults) -> None:
        """Change the faults of the running server (through its control endpoint)."""
        import httpx

        data = {k: v for k, v in faults.__dict__.items() if not k.startswith("_")}
        httpx.post(f"{self.url}/_control/faults", json=data).raise_for_status()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.setenv("CSDESK_SHOP_TOKEN", TOKEN)
    backend = ShopBackend(tmp_path / "shop.db")
    backend.add_orders(list(orders(400)))
    faults = Faults()
    with serve(create_app(backend, token=TOKEN, faults=faults)) as url:
        yield Shop(url, backend, faults)
    backend.close()


def batch_csv(
    path: Path, rows: int, *, orders_count: int = 400, seed: int = 0, offset: int = 0
) -> Path:
    """A CSV batch: amount rows of 1.00–5.00 CNY and one-unit line rows, spread over orders."""
    rng = random.Random(seed)
    lines = ["order_id,lines,amount,currency,reason,key"]
    for index in range(rows):
        order = f"SO-{offset + index % orders_count}"
        if rng.random() < 0.25:
            lines.append(f"{order},1:1,,,faulty,")
        else:
            lines.append(f"{order},,{rng.randint(1, 5)}.00,CNY,goodwill,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
