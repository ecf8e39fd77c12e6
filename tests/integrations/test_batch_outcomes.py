"""Honest batch outcomes against the test shop: tokens, duplicate keys, odd answers, re-runs.

Each test is a defect issue 16 measured: a re-run that said "done before" for rows nobody was
refunded for, a crash on duplicate keys, odd answers that stopped the batch, two batches that
refunded 4 of 3 units.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from csdesk.integrations.refund_batch import BatchRow, Journal, MappingOrders, run_batch
from csdesk.integrations.shop_api import AsyncShopClient, RetryPolicy
from csdesk.policies.refunds import refund_policy
from csdesk.testing.shop_server import Faults
from tests.factories import paid_order
from tests.integrations.shop_fixtures import TOKEN, Shop, batch_csv
from tests.integrations.test_refund_batch import NOW, agrees

CSDESK = [sys.executable, "-m", "csdesk.scripts.main"]
CN = refund_policy("cn_default")


def cli(*args: str, token: str | None = TOKEN, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    environment.pop("CSDESK_SHOP_TOKEN", None)
    if token is not None:
        environment["CSDESK_SHOP_TOKEN"] = token
    return subprocess.run(
        [*CSDESK, *args], env=environment, capture_output=True, text=True, timeout=180
    )


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_wrong_token_stops_the_batch_and_the_fixed_rerun_refunds_every_row_once(
    shop: Shop, tmp_path: Path
) -> None:
    path = batch_csv(tmp_path / "b.csv", 12)
    wrong = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json", token="wrong")
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    stopped = summary_of(wrong)
    assert "refused csdesk's credentials (HTTP 401)" in stopped["stopped"]
    assert stopped["done"] == stopped["skipped"] == 0
    assert shop.backend.stats["created"] == 0
    with Journal.open_existing(str(path) + ".journal") as journal:
        assert journal.counts().get("done", 0) == journal.counts().get("invalid", 0) == 0
    fixed = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert summary_of(fixed)["done"] == 12  # refunded now, not "done before"
    agrees(shop, Path(str(path) + ".journal"), 12)
    again = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json")
    assert again.returncode == 0
    assert (summary_of(again)["done"], summary_of(again)["skipped"]) == (0, 12)


def test_no_token_fails_before_the_first_request(shop: Shop, tmp_path: Path) -> None:
    path = batch_csv(tmp_path / "b.csv", 3)
    result = cli("refunds", "run", str(path), "--shop-url", shop.url, token=None)
    assert result.returncode == 2
    assert "CSDESK_SHOP_TOKEN" in result.stderr
    assert shop.backend.stats["get_order"] == shop.backend.stats["post_refund"] == 0


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_duplicate_keys_are_reported_and_never_crash_a_run(
    shop: Shop, tmp_path: Path, kind: str
) -> None:
    rows = [
        {"order_id": "SO-1", "amount": "1.00", "currency": "CNY", "reason": "goodwill", "key": "k"},
        {"order_id": "SO-2", "amount": "2.00", "currency": "CNY", "reason": "goodwill", "key": "k"},
    ]
    path = tmp_path / f"dup.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        path.write_text(
            "order_id,amount,currency,reason,key\n"
            + "".join(f"{r['order_id']},{r['amount']},CNY,goodwill,k\n" for r in rows),
            encoding="utf-8",
        )
    dry = cli("refunds", "run", str(path), "--shop-url", shop.url, "--dry-run", "--json")
    real = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json")
    for result in (dry, real):
        assert result.returncode == 1, result.stdout + result.stderr
        data = summary_of(result)
        assert data["done"] == 1
        assert data["outcomes"] == {"invalid": 1}
        assert "also used by line" in data["problems"][0]["message"]
    rerun = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json")
    assert rerun.returncode == 1
    assert (summary_of(rerun)["skipped"], summary_of(rerun)["outcomes"]) == (1, {"invalid": 1})
    assert shop.backend.stats["created"] == 1


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("html_200", "unexpected"), ("bad_json", "unexpected"), ("pending", "pending"),
     ("redirect", "unexpected")],
)  # fmt: skip
def test_odd_answers_are_row_outcomes_and_a_rerun_finishes_them(
    shop: Shop, tmp_path: Path, kind: str, outcome: str
) -> None:
    path = batch_csv(tmp_path / "b.csv", 4)
    shop.set_faults(Faults(rate=1.0, kinds=(kind,), paths=("refunds",)))
    odd = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json")
    assert odd.returncode == 1, odd.stdout + odd.stderr
    data = summary_of(odd)
    assert data["outcomes"] == {outcome: 4}
    assert data["done"] == 0
    shop.set_faults(Faults())
    fixed = cli("refunds", "run", str(path), "--shop-url", shop.url, "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    agrees(shop, Path(str(path) + ".journal"), 4)  # one refund per key, amounts agree


def test_pending_rows_are_rechecked_by_status_refresh(shop: Shop, tmp_path: Path) -> None:
    path = batch_csv(tmp_path / "b.csv", 3)
    shop.set_faults(Faults(rate=1.0, kinds=("pending",), paths=("refunds",)))
    assert cli("refunds", "run", str(path), "--shop-url", shop.url).returncode == 1
    journal = str(path) + ".journal"
    before = cli("refunds", "status", journal, "--json")
    assert before.returncode == 1
    assert summary_of(before)["rows"] == {"done": 0, "pending": 3}
    after = cli("refunds", "status", journal, "--refresh", "--shop-url", shop.url, "--json")
    assert after.returncode == 0, after.stdout + after.stderr
    assert summary_of(after)["rows"] == {"done": 3}
    assert summary_of(after)["remaining"] == 0


def test_a_refund_for_another_amount_is_unexpected() -> None:
    order = paid_order("SO-1")

    def shop(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(201, json={
            "id": "RF-1", "order_id": body["order_id"], "reason": body["reason"],
            "amount": {"amount": "9.99", "currency": "CNY"}, "status": "succeeded",
            "idempotency_key": request.headers["Idempotency-Key"],
            "created_at": "2026-03-10T00:00:00+00:00",
        })  # fmt: skip

    async def go(folder: Path) -> Any:
        client = AsyncShopClient("http://shop.test", token="t", retry=RetryPolicy(attempts=1),
                                 transport=httpx.MockTransport(shop))  # fmt: skip
        with Journal(folder / "j.db", source="x", digest="d") as journal:
            row = BatchRow(line=2, order_id="SO-1", amount={"amount": "5.00", "currency": "CNY"},
                           reason="goodwill", key="k")  # fmt: skip
            orders = MappingOrders({"SO-1": order})
            summary = await run_batch(iter([row]), orders=orders, policy=CN, now=NOW,
                                      client=client, journal=journal)  # fmt: skip
            state = journal.get(2)
        await client.aclose()
        return summary, state

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        summary, state = asyncio.run(go(Path(folder)))
    assert summary.outcomes == {"unexpected": 1}
    assert state is not None
    assert (state.state, state.code) == ("unexpected", "amount_differs")
    assert "9.99 CNY" in (state.message or "")


def test_two_batches_cannot_refund_four_of_three_units(shop: Shop, tmp_path: Path) -> None:
    first, second = tmp_path / "u1.csv", tmp_path / "u2.csv"
    for path in (first, second):  # line 2 of SO-0: three pairs of socks
        path.write_text("order_id,lines,reason\nSO-0,2:2,faulty\n", encoding="utf-8")
    assert cli("refunds", "run", str(first), "--shop-url", shop.url).returncode == 0
    result = cli("refunds", "run", str(second), "--shop-url", shop.url, "--json")
    assert result.returncode == 1
    assert "1 unit(s) left to refund, not 2" in summary_of(result)["problems"][0]["message"]
    assert shop.backend.stats["created"] == 1
    # The shop itself refuses a request that passes the units, as a real shop would.
    status, payload, _ = shop.backend.create_refund(
        "direct", {"order_id": "SO-0", "amount": {"amount": "1.00", "currency": "CNY"},
                   "reason": "faulty", "lines": {"2": 2}},
    )  # fmt: skip
    assert (status, payload["code"]) == (422, "over_refund_units")


def test_report_files_and_plain_progress(shop: Shop, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "order_id,amount,currency,reason\nSO-1,1.00,CNY,goodwill\nSO-2,5.555,CNY,goodwill\n"
        "SO-3,2.00,CNY,goodwill\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    result = cli("refunds", "run", str(path), "--shop-url", shop.url, "--report", str(report),
                 CSDESK_PROGRESS_SECONDS="0")  # fmt: skip
    assert result.returncode == 1
    assert "refunds: " in result.stderr
    assert "need attention" in result.stderr
    with report.open(encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["line"], r["outcome"]) for r in rows] == [
        ("2", "done"), ("3", "invalid"), ("4", "done")
    ]  # fmt: skip
    assert "3 decimal places" in rows[1]["message"]
    as_json = tmp_path / "report.json"
    cli("refunds", "run", str(path), "--shop-url", shop.url, "--report", str(as_json))
    data = json.loads(as_json.read_text(encoding="utf-8"))
    assert data["summary"]["skipped"] == 2
    assert len(data["rows"]) == 3
