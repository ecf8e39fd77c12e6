"""``csdesk refunds run FILE`` and ``csdesk refunds status JOURNAL``."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from csdesk.errors import CsdeskError
from csdesk.integrations.refund_batch import (
    ApiOrders,
    BatchSummary,
    Journal,
    OrderSource,
    RowError,
    StoreOrders,
    file_digest,
    read_rows,
    run_batch,
)
from csdesk.integrations.shop_api import TOKEN_ENV, AsyncShopClient, RetryPolicy
from csdesk.policies.refunds import refund_policy
from csdesk.scripts._cli import BadInput, database_url
from csdesk.storage import SqlStore

__all__ = ["refunds"]

URL_ENV = "CSDESK_SHOP_URL"

EXIT_CODES = """Exit codes: 0 every row done (or done before); 1 finished, but some rows failed or
did not validate (see the summary; failed rows that could not reach the shop are re-sent on the next
run); 2 bad usage or an unusable input or journal; 130 interrupted (run it again to resume)."""


@click.group()
def refunds() -> None:
    """Refund batches: crash-safe, idempotent, resumable."""


@refunds.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--shop-url",
    envvar=URL_ENV,
    metavar="URL",
    help=f"The shop API's root URL (or ${URL_ENV}). The bearer token is read from ${TOKEN_ENV}.",
)
@click.option(
    "--orders-db",
    metavar="URL",
    help="Read orders from a csdesk database instead of the shop API: a SQLAlchemy URL "
    "(postgresql+psycopg://…) or a SQLite file.",
)
@click.option(
    "--policy",
    "policy_name",
    default="cn_default",
    show_default=True,
    help="The refund policy that quotes line rows: a preset name or a .toml file.",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The journal file (default: FILE.journal next to the input).",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
    help="Refunds in flight at once.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Validate and quote every row; send nothing.")
@click.option("--strict", is_flag=True, help="Stop at the first row that does not validate.")
@click.option("--currency", help="The currency of amount rows that have no currency column.")
@click.option(
    "--timeout", type=float, default=10.0, show_default=True, help="Seconds per HTTP attempt."
)
@click.option(
    "--attempts", type=click.IntRange(1, 20), default=6, show_default=True,
    help="HTTP attempts per request (retries on timeouts, 429 and 5xx).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_command(
    file: Path,
    shop_url: str | None,
    orders_db: str | None,
    policy_name: str,
    journal_path: Path | None,
    concurrency: int,
    dry_run: bool,
    strict: bool,
    currency: str | None,
    timeout: float,
    attempts: int,
    as_json: bool,
) -> None:
    """Refund every row of FILE (.csv or .jsonl) once, and say what happened.

    Each row names an order and either lines to refund (quoted with --policy) or an amount, a
    reason and optionally its own idempotency key. Rows are streamed, validated (a bad row is
    reported with its line number and skipped), quoted, written to the journal, then sent with
    bounded concurrency. Run the same command again after a crash or Ctrl-C: done rows are
    skipped, rows in flight are re-sent with their original key, so nobody is refunded twice.

    CSV columns: order_id, lines (1:2;3:1), amount, currency, reason, key.
    """
    try:
        policy = refund_policy(policy_name)
        digest, lines = file_digest(file)
    except (CsdeskError, OSError) as error:
        raise click.UsageError(str(error)) from None
    if not dry_run and shop_url is None:
        raise click.UsageError(f"--shop-url (or ${URL_ENV}) is needed unless --dry-run")
    if shop_url is None and orders_db is None:
        raise click.UsageError("give --shop-url or --orders-db to read the orders from")
    store = None
    if orders_db is not None:
        try:
            store = SqlStore(database_url("--orders-db", orders_db))
        except CsdeskError as error:
            raise BadInput(f"--orders-db: {error}") from None
    rows = _first_row_checked(file, read_rows(file, namespace=digest[:16], currency=currency))
    journal = None
    if not dry_run:
        where = journal_path or file.with_name(file.name + ".journal")
        try:
            journal = Journal(where, source=str(file), digest=digest)
        except CsdeskError as error:
            raise click.UsageError(str(error)) from None
    retry = RetryPolicy(attempts=attempts, timeout=timeout)
    try:
        summary = asyncio.run(
            _run(
                rows,
                shop_url,
                store,
                policy,
                journal,
                concurrency,
                dry_run,
                strict,
                retry,
                lines,
            )
        )
    except KeyboardInterrupt:
        click.echo("interrupted: run the same command again to resume", err=True)
        raise SystemExit(130) from None
    finally:
        if journal is not None:
            journal.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_summary(Console(), summary)
    if not summary.ok:
        raise SystemExit(1)


def _first_row_checked(file: Path, rows: Iterator[Any]) -> Iterator[Any]:
    """The rows, once the file is known to have a usable header and at least one row."""
    try:
        first = next(rows, None)
    except CsdeskError as error:
        raise BadInput(str(error)) from None
    if first is None:
        raise BadInput(f"{file}: no rows (an empty file, or a header only)")
    if isinstance(first, RowError) and first.line == 1:
        raise BadInput(f"{file}: {first.message}")
    return itertools.chain([first], rows)


async def _run(
    rows: Any,
    shop_url: str | None,
    store: SqlStore | None,
    policy: Any,
    journal: Journal | None,
    concurrency: int,
    dry_run: bool,
    strict: bool,
    retry: RetryPolicy,
    total: int,
) -> BatchSummary:
    client = None
    if shop_url is not None:
        client = AsyncShopClient(shop_url, retry=retry, connections=concurrency)
    orders: OrderSource = StoreOrders(store) if store is not None else ApiOrders(client)  # type: ignore[arg-type]
    show = sys.stderr.isatty() and not os.environ.get("CI")
    progress = Progress(
        TextColumn("refunds"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show,
        transient=True,
    )
    task = progress.add_task("rows", total=total or None)
    try:
        with progress:
            return await run_batch(
                rows,
                orders=orders,
                policy=policy,
                now=datetime.now(UTC),
                client=client,
                journal=journal,
                concurrency=concurrency,
                dry_run=dry_run,
                strict=strict,
                progress=lambda: progress.advance(task),
            )
    finally:
        if client is not None:
            await client.aclose()
        if store is not None:
            store.close()


def _print_summary(console: Console, summary: BatchSummary) -> None:
    console.print("Dry run: nothing was sent" if summary.dry_run else "Refund batch")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Rows", justify="right")
    table.add_row("would refund" if summary.dry_run else "done", str(summary.done))
    if not summary.dry_run:
        table.add_row("skipped (done before)", str(summary.skipped))
    for code, count in sorted(summary.failed.items()):
        table.add_row(f"failed: {code}", str(count))
    table.add_row("invalid", str(summary.invalid_count))
    console.print(table)
    for amount in (summary.refunded[c] for c in sorted(summary.refunded)):
        verb = "would be refunded" if summary.dry_run else "refunded this run"
        console.print(f"{amount.format('en', style='code')} {verb}")
    for line, message in summary.invalid[:20]:
        console.print(f"line {line}: {message}", markup=False, highlight=False)
    if summary.invalid_count > 20:
        console.print(f"… and {summary.invalid_count - 20} more invalid rows")
    if summary.stopped:
        console.print(f"stopped (--strict) at {summary.stopped}", markup=False)
    if summary.journal:
        console.print(f"journal: {summary.journal}", markup=False, highlight=False)


@refunds.command("status")
@click.argument("journal_path", metavar="JOURNAL", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--failed", "show_failed", is_flag=True, help="List the failed and invalid rows.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(journal_path: Path, show_failed: bool, as_json: bool) -> None:
    """Read a batch's journal: rows per state, failures per code, what was refunded.

    Exit codes: 0 every journaled row is done; 1 some are still sending, failed or invalid; 2 no
    such journal.
    """
    try:
        journal = Journal.open_existing(journal_path)
    except CsdeskError as error:
        raise click.UsageError(str(error)) from None
    with journal:
        meta, counts, failures = journal.meta(), journal.counts(), journal.failures()
        refunded = journal.refunded()
        listed = [
            {"line": r.line, "order_id": r.order_id, "state": r.state, "code": r.code,
             "message": r.message, "retryable": r.retryable}
            for state in ("sending", "failed", "invalid")
            for r in journal.rows(state)
        ] if show_failed else []  # fmt: skip
    data = {
        "source": meta.get("source"),
        "sha256": meta.get("sha256"),
        "started": meta.get("created_at"),
        "rows": counts,
        "failures": failures,
        "refunded": {c: str(m.amount) for c, m in sorted(refunded.items())},
        "failed_rows": listed,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        console = Console()
        console.print(
            f"{data['source']} (sha256 {str(data['sha256'])[:16]}…), started {data['started']}",
            markup=False,
        )
        for state in ("done", "sending", "failed", "invalid"):
            console.print(f"  {state}: {counts.get(state, 0)}")
        for code, count in sorted(failures.items()):
            console.print(f"  failed or invalid, {code}: {count}")
        for amount in (refunded[c] for c in sorted(refunded)):
            console.print(f"  refunded: {amount.format('en', style='code')}")
        for row in listed:
            console.print(
                f"  line {row['line']} {row['order_id']} {row['state']} {row['code']}: "
                f"{row['message']}",
                markup=False,
                highlight=False,
            )
    if any(counts.get(state) for state in ("sending", "failed", "invalid")):
        raise SystemExit(1)


run_command.help = (run_command.help or "") + "\n\n" + EXIT_CODES
