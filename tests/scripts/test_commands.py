"""The scripting commands: sla due, replies render, outbox relay, refunds status, help texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from csdesk.events import Actor, AggregateRef, DomainEvent
from csdesk.scripts.main import cli
from csdesk.storage import SqlStore
from csdesk.testing.shop_server import serve
from tests.factories import new_order

POLICY = """id = "standard"
version = "2026.1"
source = "shop terms"
as_of = 2026-09-01
[targets]
p2 = [{ metric = "first_reply", minutes = 30 }, { metric = "resolution", minutes = 240 }]
"""
TICKET = {
    "id": "T-1",
    "category": "order_problem",
    "priority": "p2",
    "customer_id": "C-1",
    "created_at": "2026-09-30T17:00:00+08:00",
}


def test_sla_due_counts_business_hours_across_national_day(tmp_path: Path) -> None:
    policy = tmp_path / "sla.toml"
    policy.write_text(POLICY, encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "sla",
            "due",
            "-",
            "--policy",
            str(policy),
            "--now",
            "2026-10-08T10:00:00+08:00",
            "--json",
        ],
        input=json.dumps(TICKET) + "\n",
    )
    assert result.exit_code == 0, result.output
    metrics = {m["metric"]: m for m in json.loads(result.output)["metrics"]}
    assert metrics["first_reply"]["state"] == "breached"
    assert metrics["resolution"]["deadline"] == "2026-10-08T11:30:00+08:00"
    assert metrics["resolution"]["remaining_minutes"] == 90
    weekdays = CliRunner().invoke(
        cli,
        ["sla", "due", "-", "--policy", str(policy), "--calendar", "weekdays",
         "--now", "2026-10-08T10:00:00+08:00", "--json"],
        input=json.dumps(TICKET) + "\n",
    )  # fmt: skip
    plain = {m["metric"]: m for m in json.loads(weekdays.output)["metrics"]}
    assert plain["resolution"]["deadline"] == "2026-10-01T11:30:00+08:00"


def test_sla_due_names_a_bad_line(tmp_path: Path) -> None:
    policy = tmp_path / "sla.toml"
    policy.write_text(POLICY, encoding="utf-8")
    bad = {**TICKET, "created_at": "2026-09-30T17:00:00"}
    result = CliRunner().invoke(
        cli,
        ["sla", "due", "-", "--policy", str(policy)],
        input=json.dumps(TICKET) + "\n" + json.dumps(bad) + "\n",
    )
    assert result.exit_code == 2
    assert "-, line 2:" in result.output
    assert "naive datetime" in result.output


def test_replies_render_fills_money_and_reports_slots() -> None:
    context = {"order_id": "SO-1", "days_late": 3, "coupon": {"amount": "10.00", "currency": "CNY"}}
    result = CliRunner().invoke(
        cli, ["replies", "render", "late_delivery_apology", "--locale", "en-GB", "--json"],
        input=json.dumps(context),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "CN¥10.00" in data["text"]
    assert data["text_locale"] == "en"
    missing = CliRunner().invoke(cli, ["replies", "render", "late_delivery_apology"], input="{}")
    assert missing.exit_code == 2
    assert "missing variable" in missing.output
    unknown = CliRunner().invoke(cli, ["replies", "render", "nope"], input="{}")
    assert unknown.exit_code == 2
    assert "late_delivery_apology" in unknown.output


def test_outbox_relay_once_delivers_signed_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from csdesk.integrations.webhooks import verify_webhook

    received: list[str] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        verify_webhook(
            body, request.headers.get("Csdesk-Signature"), ["whsec_1"], now=datetime.now(UTC)
        )
        received.append(json.loads(body)["type"])
        return JSONResponse({"ok": True})

    with SqlStore(f"sqlite:///{tmp_path / 'desk.db'}", upgrade=True) as store:
        event = DomainEvent(
            type="order.noted",
            occurred_at=datetime.now(UTC),
            actor=Actor(kind="system"),
            aggregate=AggregateRef(kind="order", id="SO-1", version=0),
        )
        store.insert(new_order(), [event])
    monkeypatch.setenv("CSDESK_WEBHOOK_SECRETS", "whsec_1")
    with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        result = CliRunner().invoke(
            cli, ["outbox", "relay", "--db", str(tmp_path / "desk.db"), "--subscriber",
                  f"crm={url}/hook", "--once", "--json"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["delivered"] == 1
    assert received == ["order.noted"]
    monkeypatch.delenv("CSDESK_WEBHOOK_SECRETS")
    no_secret = CliRunner().invoke(
        cli,
        [
            "outbox",
            "relay",
            "--db",
            str(tmp_path / "desk.db"),
            "--subscriber",
            "a=http://x",
            "--once",
        ],
    )
    assert no_secret.exit_code == 2
    assert "CSDESK_WEBHOOK_SECRETS" in no_secret.output


@pytest.mark.parametrize(
    "command",
    [
        ["refunds", "run"],
        ["refunds", "status"],
        ["policy", "simulate"],
        ["policy", "sample"],
        ["sla", "due"],
        ["replies", "render"],
        ["replies", "lint"],
        ["outbox", "relay"],
        ["demo"],
    ],
)
def test_every_command_has_help_with_its_exit_codes(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert "Exit codes" in result.output, command


def test_refunds_run_needs_a_source_of_orders(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("order_id,lines,amount,currency,reason,key\nSO-1,,1.00,CNY,goodwill,\n")
    result = CliRunner().invoke(cli, ["refunds", "run", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert "--shop-url or --orders-db" in result.output
    missing = CliRunner().invoke(cli, ["refunds", "status", str(tmp_path / "none.journal")])
    assert missing.exit_code == 2
