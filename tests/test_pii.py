"""A corpus of customer data fed through reprs, errors, logs and commands: none comes out whole.

Phones, names, postal addresses and e-mail addresses go into every place csdesk shows or records
a value: model reprs, error messages (from the library and from the CLI), log records, the demo's
output and the reports of the commands. The test greps every output for every raw value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from csdesk import CsdeskError, Customer, LineDraft, Money, Order, Ticket
from csdesk.privacy import mask_name, scrub
from csdesk.scripts.main import cli

PHONES = ["13812345678", "+86 139-8765-4321", "+44 7700 900123", "138 0013 8000", "021-62345678"]
EMAILS = ["zhang.san@example.com", "li+orders@shop.example.cn"]
NAMES = ["张三丰", "张 三", "A B", "Wei Zhang", "欧阳娜娜"]
ADDRESSES = ["上海市浦东新区世纪大道100号", "10 Downing Street, London SW1A 2AA"]
RAW = PHONES + EMAILS + NAMES + ADDRESSES
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _leaks(text: str) -> list[str]:
    digits = "".join(ch for ch in text if ch.isdigit())
    found = [value for value in RAW if value in text]
    # a phone shown with other separators is still the phone
    found += [p for p in PHONES if "".join(ch for ch in p if ch.isdigit()) in digits and len(p) > 9]
    return found


def test_masks_never_show_a_whole_name() -> None:
    for name in NAMES:
        assert mask_name(name) != name
        assert name not in mask_name(name)


@pytest.mark.parametrize("value", PHONES + EMAILS)
def test_scrub_masks_phones_and_emails_in_free_text(value: str) -> None:
    assert not _leaks(scrub(f"客户说 {value} 是她的联系方式"))


def _customer(index: int) -> Customer:
    return Customer(
        id=f"C-{index}",
        name=NAMES[index % len(NAMES)],
        phone=PHONES[index % len(PHONES)],
        email=EMAILS[index % len(EMAILS)],
        address=ADDRESSES[index % len(ADDRESSES)],
    )


def test_reprs_of_customers_orders_and_tickets() -> None:
    for index in range(len(NAMES)):
        customer = _customer(index)
        assert not _leaks(repr(customer)), repr(customer)
        assert not _leaks(str(customer))
        assert not _leaks(json.dumps(customer.masked, ensure_ascii=False))
        order = Order.place(
            id=f"SO-{index}",
            customer=customer,
            placed_at=AT,
            lines=[LineDraft(sku="A", name="a", quantity=1, unit_price=Money("1.00", "CNY"))],
            shipping_address=ADDRESSES[index % len(ADDRESSES)],
        )
        assert not _leaks(repr(order)), repr(order)
        ticket = Ticket(
            id=f"T-{index}",
            category="order_problem",
            customer_id=customer.id,
            created_at=AT,
            subject=f"请回电 {PHONES[index % len(PHONES)]} 或 {EMAILS[index % len(EMAILS)]}",
        )
        assert not _leaks(repr(ticket)), repr(ticket)


ERRORS: list[Callable[[], object]] = [
    lambda: Money(PHONES[1], "CNY"),
    lambda: Money(EMAILS[0], "CNY"),
    lambda: Money("1", EMAILS[0]),
    lambda: Customer(id="C-1", locale=EMAILS[0]),
    lambda: Customer(id="C-1", time_zone=PHONES[0]),
    lambda: Customer(id="", phone=PHONES[0]),
    lambda: Order.place(id="SO-1", customer=_customer(0), placed_at=AT, lines=[]),
    lambda: Ticket(id="T-1", category=PHONES[0], customer_id="C-1", created_at=AT),
    lambda: Ticket(
        id="T-1", category="order_problem", customer_id=EMAILS[1], created_at=AT, subject=None
    ),
]


@pytest.mark.parametrize("build", ERRORS)
def test_error_messages_never_carry_contact_data(build: Callable[[], object]) -> None:
    with pytest.raises(CsdeskError) as caught:
        build()
    assert not _leaks(str(caught.value)), str(caught.value)
    for field in getattr(caught.value, "errors", ()):
        assert not _leaks(field.message)


def test_logs_never_carry_contact_data(caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    from csdesk.integrations.shop_api import RetryPolicy, ShopClient

    def fail(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text=f"busy, call {PHONES[0]} or mail {EMAILS[0]}")

    caplog.set_level(logging.DEBUG, logger="csdesk")
    retry = RetryPolicy(attempts=2, base=0, cap=0, timeout=1)
    with ShopClient(
        "https://shop.test", token="t", retry=retry, transport=httpx.MockTransport(fail),
        sleep=lambda _: None,
    ) as shop, pytest.raises(CsdeskError) as caught:  # fmt: skip
        shop.get_order(PHONES[0])
    assert not _leaks(caplog.text), caplog.text
    assert not _leaks(str(caught.value))


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_commands_never_print_contact_data(tmp_path: Path) -> None:
    runner = CliRunner()
    outputs: dict[str, str] = {}
    outputs["demo"] = runner.invoke(cli, ["demo"]).output
    outputs["demo --json"] = runner.invoke(cli, ["demo", "--json"]).output
    tickets = _write(
        tmp_path,
        "tickets.jsonl",
        json.dumps({"id": "T-1", "category": "order_problem", "customer_id": "C-1",
                    "created_at": "2026-09-30T17:00:00+08:00",
                    "subject": f"{NAMES[0]} {PHONES[0]} {ADDRESSES[0]}"}, ensure_ascii=False)
        + "\n" + json.dumps({"id": PHONES[0], "customer_id": EMAILS[0]}) + "\n",
    )  # fmt: skip
    policy = _write(
        tmp_path,
        "sla.toml",
        'id = "s"\nversion = "1"\nsource = "t"\nas_of = 2026-01-01\n'
        '[[targets.p3]]\nmetric = "first_reply"\nminutes = 30\n',
    )
    for argv in (
        ["sla", "due", tickets, "--policy", policy, "--now", "2026-10-01T09:00:00+08:00"],
        ["sla", "due", tickets, "--policy", policy, "--json", "--now", "2026-10-01T09:00:00+08:00"],
    ):
        result = runner.invoke(cli, argv)
        outputs[" ".join(argv[:3])] = result.output + (result.stderr or "")
    batch = _write(
        tmp_path,
        "batch.csv",
        f"order_id,reason,amount,currency,note\n{PHONES[0]},goodwill,1.00,CNY,{EMAILS[0]}\n"
        f"SO-1,nope,{PHONES[2]},CNY,x\n",
    )
    store = tmp_path / "desk.db"
    from csdesk.storage import SqlStore

    SqlStore(f"sqlite:///{store}", upgrade=True).close()
    result = runner.invoke(cli, ["refunds", "run", batch, "--dry-run", "--orders-db", str(store)])
    outputs["refunds run"] = result.output
    context = _write(
        tmp_path, "context.json", json.dumps({"order_id": PHONES[0], "days_late": EMAILS[0]})
    )
    result = runner.invoke(
        cli, ["replies", "render", "late_delivery_apology", "--context", context]
    )
    outputs["replies render"] = result.output
    leaks: dict[str, Any] = {name: _leaks(text) for name, text in outputs.items()}
    assert not any(leaks.values()), leaks
