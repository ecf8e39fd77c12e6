"""A pytest fixture for your own tests: ``csdesk_shop``, a running test shop API.

Installed with csdesk (the ``pytest11`` entry point ``csdesk``), it needs the ``testing`` extra
only when a test asks for the fixture::

    def test_my_refund_job(csdesk_shop):
        csdesk_shop.add_orders(read_orders("tests/orders.csv"))
        my_job.run(shop_url=csdesk_shop.url, token=csdesk_shop.token)
        assert len(csdesk_shop.refunds()) == 3

`TestShop.set_faults` makes the shop fail the way real ones do (500s, 429s, timeouts after the
commit, dropped connections, HTML answers) while it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from csdesk.models import Order
    from csdesk.testing.shop_server import ShopBackend

__all__ = ["TestShop", "csdesk_shop"]


class TestShop:
    """A running test shop: its URL, its token, and its data.

    Attributes:
        url: The API's root, e.g. ``http://127.0.0.1:50123``.
        token: The bearer token it requires.
        backend: Its data (`csdesk.testing.shop_server.ShopBackend`).
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, url: str, token: str, backend: ShopBackend) -> None:
        self.url, self.token, self.backend = url, token, backend

    def add_orders(self, orders: list[Order]) -> None:
        """Serve these orders too."""
        self.backend.add_orders(orders)

    def refunds(self) -> list[dict[str, Any]]:
        """Every refund made, as the API returns them."""
        return self.backend.refunds()

    def set_faults(self, **options: Any) -> None:
        """Change the faults (`csdesk.testing.shop_server.Faults` options) while it runs."""
        import httpx

        answer = httpx.post(f"{self.url}/_control/faults", json=options, timeout=10)
        answer.raise_for_status()


@pytest.fixture
def csdesk_shop(tmp_path: Path) -> Iterator[TestShop]:
    """A test shop API on 127.0.0.1 for one test, with no orders and no faults."""
    from csdesk.testing.shop_server import ShopBackend, create_app, serve

    backend = ShopBackend(tmp_path / "csdesk-shop.db")
    token = "csdesk-test-token"
    try:
        with serve(create_app(backend, token=token)) as url:
            yield TestShop(url, token, backend)
    finally:
        backend.close()
