"""Bad invocations of every ``csdesk`` command: exit 2 with a message, never a traceback.

Each invocation is something a shop's script or a tired person at a terminal does: a missing or
unreadable file, a file in the wrong encoding or format, a bad option value, an unknown name, JSON
that is not what the command reads. The command must exit with 2, print what was wrong to stderr,
and change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from csdesk.scripts.main import cli

TICKET = {
    "id": "T-1",
    "category": "order_problem",
    "customer_id": "C-1",
    "created_at": "2026-09-30T17:00:00+08:00",
}
SLA_POLICY = """
id = "sla"
version = "1"
source = "test"
as_of = 2026-01-01
[[targets.p3]]
metric = "first_reply"
minutes = 30
"""


def _files(folder: Path) -> dict[str, Path]:
    files = {
        "empty.csv": b"",
        "header_only.csv": b"order_id,reason\n",
        "no_order_column.csv": b"reason,amount\nfaulty,1.00\n",
        "gbk.csv": "order_id,reason,amount,currency\n订单1,faulty,1.00,CNY\n".encode("gbk"),
        "binary.csv": b"\x00\xff\xfe\x00" * 64,
        "rows.txt": b"order_id,reason\nSO-1,faulty\n",
        "nested.jsonl": b"[" * 100_000 + b"\n",
        "not_json.jsonl": b"{nope\n",
        "incidents_bad.jsonl": b'{"kind": "nope"}\n',
        "incidents_binary.jsonl": b"\xff\xfe\x00",
        "tickets_bad.jsonl": b'{"id": "T-1"}\n',
        "tickets_naive.jsonl": json.dumps({**TICKET, "created_at": "2026-09-30T17:00:00"}).encode(),
        "tickets_not_object.jsonl": b"[1, 2]\n",
        "tickets.jsonl": json.dumps(TICKET).encode() + b"\n",
        "sla.toml": SLA_POLICY.encode(),
        "sla_bad.toml": b"id = \n",
        "sla_wrong.toml": b'id = "x"\n',
        "sla_gbk.toml": 'id = "客服"\n'.encode("gbk"),
        "sla.json": b"{not json",
        "policy_bad.toml": b"[[rules]]\nid = 1\n",
        "policy.json": b"[1, 2, 3]",
        "template_bad.toml": b'id = "x"\n',
        "template_syntax.toml": b'id = "t"\nversion = "1"\ncategory = "c"\n'
        b'[variants.en]\nbody = "{{ 1 +* }}"\n',
        "template_loop.toml": b'id = "t"\nversion = "1"\ncategory = "c"\n'
        b"[variants.en]\nbody = \"{% for a in 'x' * 50000 %}{% endfor %}\"\n",
        "context_list.json": b"[1, 2]",
        "context_bad.json": b"{",
        "context_types.json": json.dumps({"order_id": 5, "days_late": "x", "coupon": 1.5}).encode(),
        "context_money.json": json.dumps(
            {"order_id": "SO-1", "days_late": 3, "coupon": {"amount": "1e400", "currency": "CNY"}}
        ).encode(),
        "context_date.json": json.dumps(
            {"order_id": "SO-1", "days_late": 3, "coupon": {"amount": "1", "currency": "ABC"}}
        ).encode(),
        "not_sqlite.db": b"this is not a database" * 10,
        "journal.journal": b"this is not a database" * 10,
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    (folder / "adir.csv").mkdir()
    paths["adir.csv"] = folder / "adir.csv"
    paths["missing.csv"] = folder / "missing.csv"
    return paths


def _invocations(f: dict[str, Path]) -> list[list[str]]:
    s = {name: str(path) for name, path in f.items()}
    dry = ["refunds", "run", "--dry-run", "--orders-db", s["not_sqlite.db"]]
    return [
        # refunds run
        ["refunds", "run"],
        ["refunds", "run", s["missing.csv"], "--dry-run"],
        ["refunds", "run", s["adir.csv"], "--dry-run"],
        [*dry, s["empty.csv"]],
        [*dry, s["header_only.csv"]],
        ["refunds", "run", s["empty.csv"], "--dry-run", "--orders-db", s["missing.csv"]],
        ["refunds", "run", s["rows.txt"], "--dry-run", "--shop-url", "http://127.0.0.1:9"],
        ["refunds", "run", s["header_only.csv"]],
        ["refunds", "run", s["header_only.csv"], "--shop-url", "nope"],
        ["refunds", "run", s["header_only.csv"], "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--concurrency", "0", "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--concurrency", "x", "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--attempts", "-1", "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--timeout", "nan", "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--policy", "nope", "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--policy", s["policy_bad.toml"], "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--policy", s["policy.json"], "--dry-run"],
        ["refunds", "run", s["header_only.csv"], "--currency", "XXX", "--dry-run"],
        ["refunds", "run", s["gbk.csv"], "--dry-run", "--orders-db", s["not_sqlite.db"]],
        ["refunds", "run", s["binary.csv"], "--dry-run", "--orders-db", s["not_sqlite.db"]],
        [
            "refunds",
            "run",
            s["header_only.csv"],
            "--journal",
            s["journal.journal"],
            "--shop-url",
            "http://127.0.0.1:9",
        ],
        [
            "refunds",
            "run",
            s["header_only.csv"],
            "--journal",
            s["adir.csv"],
            "--shop-url",
            "http://127.0.0.1:9",
        ],
        ["refunds", "run", "--bogus"],
        # refunds status
        ["refunds", "status"],
        ["refunds", "status", s["missing.csv"]],
        ["refunds", "status", s["journal.journal"]],
        ["refunds", "status", s["adir.csv"]],
        ["refunds", "status", s["sla.toml"]],
        # policy
        ["policy", "simulate"],
        ["policy", "simulate", "shop_standard"],
        ["policy", "simulate", "nope", s["incidents_bad.jsonl"]],
        ["policy", "simulate", "shop_standard", s["missing.csv"]],
        ["policy", "simulate", "shop_standard", s["adir.csv"]],
        ["policy", "simulate", "shop_standard", s["incidents_bad.jsonl"]],
        ["policy", "simulate", "shop_standard", s["incidents_binary.jsonl"]],
        ["policy", "simulate", "shop_standard", s["nested.jsonl"]],
        ["policy", "simulate", "shop_standard", s["not_json.jsonl"]],
        ["policy", "simulate", s["policy_bad.toml"], s["incidents_bad.jsonl"]],
        ["policy", "simulate", s["policy.json"], s["incidents_bad.jsonl"]],
        ["policy", "simulate", s["sla_gbk.toml"], s["incidents_bad.jsonl"]],
        ["policy", "simulate", "shop_standard", s["incidents_bad.jsonl"], "--against", "nope"],
        ["policy", "simulate", "shop_standard", s["incidents_bad.jsonl"], "--role", "god"],
        ["policy", "sample", "0"],
        ["policy", "sample", "x"],
        ["policy", "sample", "5", "--seed", "x"],
        # sla due
        ["sla", "due", s["tickets.jsonl"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["missing.csv"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla_bad.toml"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla_wrong.toml"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla_gbk.toml"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.json"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["adir.csv"]],
        ["sla", "due", s["missing.csv"], "--policy", s["sla.toml"]],
        ["sla", "due", s["adir.csv"], "--policy", s["sla.toml"]],
        ["sla", "due", s["tickets_bad.jsonl"], "--policy", s["sla.toml"]],
        ["sla", "due", s["tickets_naive.jsonl"], "--policy", s["sla.toml"]],
        ["sla", "due", s["tickets_not_object.jsonl"], "--policy", s["sla.toml"]],
        ["sla", "due", s["nested.jsonl"], "--policy", s["sla.toml"]],
        ["sla", "due", s["incidents_binary.jsonl"], "--policy", s["sla.toml"]],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--tz", "Mars/Base"],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--now", "yesterday"],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--now", "2026-10-01"],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--hours", "funday 9-5"],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--hours", "mon 25:00-26:00"],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--hours", "mon"],
        ["sla", "due", s["tickets.jsonl"], "--policy", s["sla.toml"], "--calendar", "mars"],
        # replies
        ["replies", "render"],
        ["replies", "render", "nope", "--context", s["context_bad.json"]],
        ["replies", "render", "late_delivery_apology", "--context", s["missing.csv"]],
        ["replies", "render", "late_delivery_apology", "--context", s["adir.csv"]],
        ["replies", "render", "late_delivery_apology", "--context", s["context_bad.json"]],
        ["replies", "render", "late_delivery_apology", "--context", s["context_list.json"]],
        ["replies", "render", "late_delivery_apology", "--context", s["context_types.json"]],
        ["replies", "render", "late_delivery_apology", "--context", s["context_money.json"]],
        ["replies", "render", "late_delivery_apology", "--context", s["context_date.json"]],
        ["replies", "render", "late_delivery_apology", "--context", s["binary.csv"]],
        [
            "replies",
            "render",
            "late_delivery_apology",
            "--context",
            s["context_bad.json"],
            "--locale",
            "xx-nope",
        ],
        [
            "replies",
            "render",
            "late_delivery_apology",
            "--context",
            s["context_bad.json"],
            "--tz",
            "Mars/Base",
        ],
        [
            "replies",
            "render",
            "late_delivery_apology",
            "--slot",
            "noequals",
            "--context",
            s["context_types.json"],
        ],
        ["replies", "render", s["template_bad.toml"], "--context", s["context_list.json"]],
        ["replies", "render", s["template_syntax.toml"], "--context", s["context_list.json"]],
        ["replies", "render", s["template_loop.toml"], "--context", s["context_types.json"]],
        ["replies", "render", s["sla_gbk.toml"], "--context", s["context_types.json"]],
        ["replies", "render", s["missing.csv"] + ".toml", "--context", s["context_types.json"]],
        ["replies", "lint", s["missing.csv"]],
        ["replies", "lint", s["template_bad.toml"]],
        ["replies", "lint", s["sla_gbk.toml"]],
        ["replies", "lint", s["binary.csv"]],
        # outbox
        ["outbox", "relay"],
        ["outbox", "relay", "--db", s["missing.csv"], "--subscriber", "a=http://x"],
        ["outbox", "relay", "--db", s["not_sqlite.db"], "--subscriber", "a=http://x", "--once"],
        ["outbox", "relay", "--db", s["not_sqlite.db"], "--subscriber", "nope", "--once"],
        ["outbox", "relay", "--db", s["sla.toml"], "--subscriber", "a=http://x", "--once"],
        [
            "outbox",
            "relay",
            "--db",
            s["not_sqlite.db"],
            "--subscriber",
            "a=http://x",
            "--max-attempts",
            "0",
        ],
        # the root
        ["nope"],
        ["--nope"],
        ["demo", "--nope"],
    ]


def test_there_are_many_bad_invocations(tmp_path: Path) -> None:
    assert len(_invocations(_files(tmp_path))) >= 79


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("garbage")


def _cases() -> list[int]:
    return list(range(len(_invocations(_files(Path("/nonexistent-never-written"))))))


def _files_cached(folder: Path) -> dict[str, Path]:
    marker = folder / ".made"
    if not marker.exists():
        _files(folder)
        marker.write_text("1")
    return {p.name: p for p in folder.iterdir()} | {
        "missing.csv": folder / "missing.csv",
        "adir.csv": folder / "adir.csv",
    }


def test_every_bad_invocation_exits_2_with_a_message(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSDESK_WEBHOOK_SECRETS", "s3cr3t")
    monkeypatch.delenv("CSDESK_SHOP_URL", raising=False)
    files = _files_cached(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    failures = []
    for argv in _invocations(files):
        result = CliRunner().invoke(cli, argv, catch_exceptions=True)
        shown = " ".join(argv).replace(str(folder) + "/", "")
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(f"{shown}: raised {type(result.exception).__name__}")
        elif result.exit_code != 2:
            failures.append(f"{shown}: exit {result.exit_code}: {output.strip()[-200:]}")
        elif "Traceback" in output or not output.strip():
            failures.append(f"{shown}: no message or a traceback: {output[-200:]}")
    assert not failures, f"{len(failures)} bad invocations:\n" + "\n".join(failures)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    changed = {n for n in before if before[n] != after.get(n)} - {".made"}
    assert not changed, f"bad invocations changed files: {changed}"
