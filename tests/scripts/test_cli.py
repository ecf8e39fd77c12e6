import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import csdesk
from csdesk import Money
from csdesk.scripts.demo import run_demo
from csdesk.scripts.main import cli, main


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"csdesk, version {csdesk.__version__}"


def test_demo_prints_the_split_and_the_conserved_refund() -> None:
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "SO-20261111-0042" in result.output
    assert "2,320.65" in result.output  # the order total
    assert "equal to the ¥1,556.75 paid" in result.output
    assert "13812345678" not in result.output.replace("-", "")  # the phone is masked
    assert "138****5678" in result.output


def test_demo_json_is_for_machines() -> None:
    result = CliRunner().invoke(cli, ["demo", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["order"]["total"] == {"amount": "2320.65", "currency": "CNY"}
    assert [r["paid"] for r in data["refunds"]] == ["622.70", "311.35", "622.70"]
    assert data["refunded"] == {"amount": "1556.75", "currency": "CNY"}
    assert data["order"]["customer"]["phone"] == "+86 138****5678"


def test_demo_scenario_conserves_money() -> None:
    result = run_demo()
    line = result.order.line(result.refund_line_id)
    assert result.refunded == line.paid
    goods_tax = sum(line.split.tax for line in result.order.lines)
    assert goods_tax + result.order.shipping_tax == result.order.tax
    assert result.order.tax == Money("266.98", "CNY")


def test_main_returns_exit_codes() -> None:
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) == 2


def test_demo_shows_the_lifecycle_and_the_window() -> None:
    result = CliRunner().invoke(cli, ["demo"])
    assert "order.delivered" in result.output
    assert "aftersale.approved" in result.output
    assert "closed on 2026-11-23" in result.output.replace("\n", " ")


def test_demo_lifecycle_in_json() -> None:
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)["lifecycle"]
    assert [e["type"] for e in data["events"]] == [
        "order.paid",
        "order.shipped",
        "order.delivered",
        "aftersale.requested",
        "aftersale.approved",
        "aftersale.return_shipped",
        "aftersale.received",
        "aftersale.resolving",
        "aftersale.refund_requested",
        "refund.submitted",
        "refund.succeeded",
        "aftersale.resolved",
    ]
    assert data["order_state"] == "delivered"
    assert data["window_last_day"] == "2026-11-23"  # the 7th day, Sat 11-21, rolls to Monday
    assert data["case"] == {"id": "AS-7001", "state": "resolved"}
    assert data["refused"] == "the return window for line 3 closed on 2026-11-23"
    # two units were asked back, one arrived: the refund is the paid price of that one
    assert data["refund"]["units"] == {"2": 1}
    assert data["refund"]["total"] == {"amount": "309.74", "currency": "CNY"}
    assert data["refund"]["state"] == "succeeded"
    assert data["refund"]["arrival"] == ["2026-11-25", "2026-12-03"]


def test_demo_support_ticket_deadlines() -> None:
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)["lifecycle"]["support"]
    assert data["ticket"] == "T-20260930-017"
    assert data["deadlines"]["first_reply"] == "2026-09-30T17:30:00+08:00"
    assert data["deadlines"]["resolution"] == "2026-10-08T11:30:00+08:00"  # after National Day
    assert data["promise"] == "2026-10-08T11:00:00+08:00"


def test_demo_complaints() -> None:
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)["complaints"]
    assert data["incident"] == {"key": "TC-500-2611", "complaints": ["CP-0", "CP-11", "CP-26"]}
    assert data["first"] == ["P3", "ordinary"]
    assert data["repeat"] == ["P2", "urgent"]


def test_demo_replies_in_three_locales() -> None:
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)["replies"]
    assert set(data) == {"zh_Hans_CN", "zh_Hant_TW", "en_GB"}
    assert data["zh_Hant_TW"].startswith("親，您好")
    assert "CN¥10.00" in data["en_GB"]


def test_replies_lint_builtin_catalogue_is_clean() -> None:
    result = CliRunner().invoke(cli, ["replies", "lint"])
    assert result.exit_code == 0, result.output
    assert "late_delivery_apology: ok" in result.output


def test_replies_lint_reports_errors_with_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "bad"\nversion = "1"\ncategory = "greeting"\n'
        '[variants.zh-Hans]\nbody = "你好，加微信聊"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["replies", "lint", str(tmp_path), "--json"])
    assert result.exit_code == 1
    rules = {issue["rule"] for issue in json.loads(result.output)["bad"]}
    assert rules == {"politeness", "diversion"}


def test_policy_sample_then_simulate(tmp_path: Path) -> None:
    runner = CliRunner()
    sample = runner.invoke(cli, ["policy", "sample", "300", "--seed", "5"])
    assert sample.exit_code == 0
    assert len(sample.output.splitlines()) == 300
    history = tmp_path / "history.jsonl"
    history.write_text(sample.output, encoding="utf-8")
    shown = runner.invoke(cli, ["policy", "simulate", "shop_standard", str(history)])
    assert shown.exit_code == 0, shown.output
    assert "shop_standard 2026.1: 300 incidents" in shown.output
    assert "late_delivery_coupon" in shown.output
    data = json.loads(
        runner.invoke(cli, ["policy", "simulate", "shop_standard", str(history), "--json"]).output
    )
    assert data["incidents"] == 300
    assert sum(int(v["count"]) for v in data["by_kind"].values()) == 300


def test_policy_simulate_compares_two_versions_from_stdin() -> None:
    runner = CliRunner()
    history = runner.invoke(cli, ["policy", "sample", "200"]).output
    result = runner.invoke(
        cli,
        ["policy", "simulate", "shop_standard", "-", "--against", "taobao_late_shipment", "--json"],
        input=history,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["a"]["incidents"] == data["b"]["incidents"] == 200
    assert data["differing"] > 0


def test_policy_simulate_names_the_bad_line_and_the_bad_policy(tmp_path: Path) -> None:
    runner = CliRunner()
    lines = runner.invoke(cli, ["policy", "sample", "3"]).output.splitlines()
    lines[1] = lines[1].replace('"kind":"', '"kind":"x')
    history = tmp_path / "h.jsonl"
    history.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["policy", "simulate", "shop_standard", str(history)])
    assert result.exit_code == 2
    assert f"{history}, line 2: invalid incident" in result.output
    result = runner.invoke(cli, ["policy", "simulate", "nope", str(history)])
    assert result.exit_code == 2
    assert "no compensation preset named 'nope'" in result.output


def test_demo_compensation_decision_and_comparison() -> None:
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)["compensation"]
    decision = data["decision"]
    assert decision["status"] == "auto_approved"
    assert decision["offers"][0]["value"] == {"amount": "10.00", "currency": "CNY"}
    comparison = data["comparison"]
    assert comparison["a"]["incidents"] == comparison["b"]["incidents"] == 400
    assert comparison["differing"] > 0
    shown = CliRunner().invoke(cli, ["demo"]).output
    assert "7. Compensation for the late parcel" in shown
    assert "rule late_delivery_coupon matched" in shown


def test_demo_ends_with_a_dry_run_batch() -> None:
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)["batch"]
    assert data["dry_run"] is True
    assert data["done"] == 3
    assert data["outcomes"] == {"invalid": 2}
    assert sorted(row["line"] for row in data["problems"]) == [5, 6]
    assert data["refunded"] == {"CNY": "384.46"}


def test_help_lists_the_commands_without_importing_them() -> None:
    import subprocess
    import sys

    from csdesk.scripts.main import COMMANDS

    for name, (target, short_help) in COMMANDS.items():
        module, _, attribute = target.partition(":")
        command = getattr(__import__(module, fromlist=[attribute]), attribute)
        assert command.name == name
        assert command.get_short_help_str(limit=200) == short_help
    probe = (
        "import sys; from csdesk.scripts.main import main; code = main(['--help']); "
        "heavy = [m for m in ('pydantic', 'sqlalchemy', 'babel', 'httpx', 'csdesk.models', "
        "'rich.console') if m in sys.modules]; print('HEAVY', heavy)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert "refunds   Refund batches" in result.stdout


def test_verbose_logs_print_above_the_progress_bar(capsys: Any) -> None:
    # Issue 16: `-v` logs were written onto the progress bar (the handler held the real stderr,
    # rich's bar writes through a proxy). The handler now writes to the current sys.stderr.
    import io
    import logging

    from rich.console import Console
    from rich.progress import Progress

    from csdesk.scripts.main import _StderrNow

    screen = io.StringIO()
    logger = logging.getLogger("csdesk.tests.bar")
    handler = _StderrNow()
    logger.addHandler(handler)
    try:
        with Progress(console=Console(file=screen, force_terminal=True, width=80)) as progress:
            progress.add_task("rows", total=10)
            logger.warning("POST /refunds: attempt 1 saw HTTP 503; retrying in 0.20 s")
    finally:
        logger.removeHandler(handler)
    assert "attempt 1 saw HTTP 503" in screen.getvalue()  # through the bar's console
    assert "attempt 1" not in capsys.readouterr().err  # not straight onto the terminal


def test_demo_walks_a_day_at_the_desk() -> None:
    desk = run_demo().desk
    assert (desk.transfer.to_group, desk.transfer.ping_pong) == ("supervisor", True)
    assert desk.owners["answer"] == "pre_sales"  # 首问负责: pre-sales kept answering
    assert (desk.approval.outcome, desk.approval.express) == ("approve", True)
    assert desk.review.state == "resolved"
    assert [str(offer.value) for offer in desk.offer.offers] == ["10.00 CNY"]
    assert desk.backlog == 1
    assert (desk.outage_elapsed.total_seconds(), desk.outage_paused.total_seconds()) == (600, 2100)
    assert [line.ticket_id for line in desk.handover.open] == ["T-501", "T-502"]
    result = CliRunner().invoke(cli, ["demo"])
    assert "10. A day at the desk" in result.output
    assert "ping-pong" in result.output
    data = json.loads(CliRunner().invoke(cli, ["demo", "--json"]).output)
    assert data["desk"]["outage"]["paused_minutes"] == 35
    assert data["desk"]["approval"]["express"] is True


def test_demo_shows_two_parcels_and_an_exchange() -> None:
    after = run_demo().aftersale
    assert after.split.state == "delivered"
    assert (after.window_first.status, after.window_second.status) == ("open", "not_started")
    assert after.split_return.lines[0].requested == 1  # filed while the jacket travels
    assert after.exchange.difference == Money("50.00", "CNY")
    assert after.exchange.state == "resolved"
    result = CliRunner().invoke(cli, ["demo"])
    assert "11. Two parcels, and an exchange" in result.output
