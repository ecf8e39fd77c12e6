"""A test shop users can run (issue 19 item 7).

`python -m csdesk.testing.shop_server --help` printed nothing; a user wrote 30 lines to start it
and load orders; without the extras, imports failed with a bare "No module named 'uvicorn'", and
`import csdesk.scripts.main` raised SystemExit.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from csdesk.errors import InvalidInputError
from csdesk.models import Order
from csdesk.testing.pytest_plugin import TestShop
from csdesk.testing.shop_server import read_orders

ORDERS_CSV = """order_id,customer_id,sku,name,quantity,unit_price,currency,shipping_fee,paid_with
SO-1,C-1,TC-500,thermos,2,349.99,CNY,12.00,wechat_pay
SO-1,C-1,SK-003,socks,3,19.90,CNY,,
SO-2,C-2,BK-1,book,1,59.50,EUR,,card
"""


def test_orders_load_from_csv_and_json(tmp_path: Path) -> None:
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(ORDERS_CSV, encoding="utf-8")
    first, second = read_orders(csv_file)
    assert (first.id, len(first.lines), str(first.total), first.state.value) == (
        "SO-1",
        2,
        "771.68 CNY",
        "processing",
    )
    assert first.payments[0].method == "wechat_pay"
    assert (second.currency, second.payments[0].method) == ("EUR", "card")
    exported = tmp_path / "orders.jsonl"
    exported.write_text(first.model_dump_json() + "\n", encoding="utf-8")
    assert read_orders(exported) == [first]  # csdesk's own schema, as the API serves it
    listed = tmp_path / "orders.json"
    listed.write_text(json.dumps({"orders": [{"id": "SO-3", "customer_id": "C-3",
        "lines": [{"sku": "X", "name": "x", "quantity": 1, "unit_price": "5.00"}]}]}))  # fmt: skip
    (third,) = read_orders(listed)
    assert str(third.total) == "5.00 CNY"
    broken = tmp_path / "broken.csv"
    broken.write_text("order_id,sku\n,X\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2: no order_id"):
        read_orders(broken)
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "SO-4", "lines": [{"sku": "X", "quantity": 1, "unit_price": 5.5}]}]')
    with pytest.raises(InvalidInputError, match="item 1"):
        read_orders(bad)


def test_csdesk_testing_serve_serves_the_orders(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV, encoding="utf-8")
    command = [sys.executable, "-m", "csdesk.testing", "serve", "--orders", str(orders),
               "--port", "0", "--token", "s3cret"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        answer = None
        for _ in range(100):
            try:
                answer = httpx.get(f"{url}/orders/SO-1", headers={"Authorization": "Bearer s3cret"})
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert answer is not None
        assert answer.status_code == 200
        assert answer.json()["id"] == "SO-1"
        assert httpx.get(f"{url}/orders/SO-1").status_code == 401
    finally:
        server.terminate()
        server.communicate(timeout=10)  # closes the pipes too
    help_text = subprocess.run([sys.executable, "-m", "csdesk.testing", "serve", "--help"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "--orders" in help_text
    assert "--fault-rate" in help_text
    bad = subprocess.run([*command[:4], "--faults", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "kinds among" in bad.stderr


def test_the_fixture_runs_a_shop(csdesk_shop: TestShop) -> None:
    csdesk_shop.add_orders(read_orders_from_text())
    headers = {"Authorization": f"Bearer {csdesk_shop.token}"}
    assert httpx.get(f"{csdesk_shop.url}/orders/SO-1", headers=headers).status_code == 200
    csdesk_shop.set_faults(rate=1.0, kinds=["error_500"], paths=["orders"])
    assert httpx.get(f"{csdesk_shop.url}/orders/SO-1", headers=headers).status_code == 500
    assert csdesk_shop.refunds() == []


def read_orders_from_text() -> list[Order]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        path.write_text(ORDERS_CSV, encoding="utf-8")
        return read_orders(path)


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [("csdesk.testing.shop_server", "uvicorn", "'testing' extra"),
     ("csdesk.scripts.main", "click", "'cli' extra")],
)  # fmt: skip
def test_a_missing_extra_is_named(module: str, blocked: str, extra: str) -> None:
    script = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        f"try:\n    import {module}\nexcept ImportError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ}, check=True)  # fmt: skip
    assert extra in result.stdout, result.stdout + result.stderr
    assert "pip install -e" in result.stdout
    command = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['click'] = None\n"
         "from csdesk.scripts import main; sys.exit(main(['--help']))"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert command.returncode == 2
    assert "'cli' extra" in command.stderr
    assert importlib.import_module("csdesk.testing") is not None
