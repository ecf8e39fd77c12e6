"""``csdesk refunds run FILE`` and ``csdesk refunds status JOURNAL``."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from csdesk.errors import CsdeskError
from csdesk.integrations.batch_files import ENCODINGS
from csdesk.integrations.refund_batch import (
    EXIT_INTERRUPTED,
    OUTCOMES,
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
from csdesk.money import Money
from csdesk.policies.refunds import refund_policy
from csdesk.privacy import scrub
from csdesk.scripts._cli import BadInput, database_url
from csdesk.storage import SqlStore

__all__ = ["refunds"]

URL_ENV = "CSDESK_SHOP_URL"

EXIT_CODES = """Exit codes: 0 every row is done (in this run or an earlier one); 1 the batch ran
to the end but some rows need attention (pending, refused, invalid, unreachable, unexpected: see
the summary; run again to re-send what can be re-sent); 2 bad usage, an unusable file or journal,
or a failure no row can get past (a refused token, an unreachable shop) stopped the batch; 130
interrupted (run the same command again to resume)."""

PLAIN_EVERY = float(os.environ.get("CSDESK_PROGRESS_SECONDS", "5"))
"""Seconds between progress lines when stderr is not a terminal (cron, CI logs); set
``CSDESK_PROGRESS_SECONDS`` to change it."""


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
    "--journal-db",
    metavar="URL",
    help="Keep the journal in this database instead of a file (a SQLAlchemy URL or a SQLite "
    "file): run the same command on several machines and the workers share the batch, each row "
    "refunded once.",
)
@click.option("--worker", help="This worker's name in the database journal [default: host:pid].")
@click.option(
    "--lease", type=click.FloatRange(1, 3600), default=120.0, show_default=True,
    help="Seconds a worker holds a row; a row held longer by a dead worker is taken over.",
)  # fmt: skip
@click.option(
    "--encoding",
    type=click.Choice(ENCODINGS),
    help="The text encoding of a .csv or .jsonl FILE [default: detected: a BOM, UTF-8, GB18030].",
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
@click.option(
    "--stop-after", type=click.IntRange(1, 10_000), default=5, show_default=True,
    help="Stop the batch after this many rows in a row could not reach the shop.",
)  # fmt: skip
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every row's outcome to this .csv or .json file (customer data masked).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_command(
    file: Path,
    shop_url: str | None,
    orders_db: str | None,
    policy_name: str,
    journal_path: Path | None,
    journal_db: str | None,
    worker: str | None,
    lease: float,
    encoding: str | None,
    concurrency: int,
    dry_run: bool,
    strict: bool,
    currency: str | None,
    timeout: float,
    attempts: int,
    stop_after: int,
    report: Path | None,
    as_json: bool,
) -> None:
    """Refund every row of FILE (.csv, .jsonl or .xlsx) once, and say what happened.

    Each row names an order and either lines to refund (quoted with --policy) or an amount, a
    reason and optionally its own idempotency key. Rows are streamed, validated (a bad row is
    reported with its line number and never stops the others), quoted, written to the journal,
    then sent with bounded concurrency. A row is done only when the shop confirmed its refund.
    Run the same command again after a crash, a Ctrl-C or a stop: done rows are skipped, rows that
    were sent are re-sent with their original key, so nobody is refunded twice.

    CSV columns: order_id, lines (1:2;3:1), amount, currency, reason, key.
    """
    if report is not None and report.suffix.lower() not in (".csv", ".json"):
        raise BadInput(f"--report {report}: write a .csv or .json file")
    try:
        policy = refund_policy(policy_name)
        digest, lines = file_digest(file)
    except (CsdeskError, OSError) as error:
        raise click.UsageError(str(error)) from None
    if not dry_run and shop_url is None:
        raise click.UsageError(f"--shop-url (or ${URL_ENV}) is needed unless --dry-run")
    if shop_url is None and orders_db is None:
        raise click.UsageError("give --shop-url or --orders-db to read the orders from")
    if shop_url is not None and not os.environ.get(TOKEN_ENV):
        raise click.UsageError(f"set ${TOKEN_ENV} to the shop API's token (nothing was sent)")
    rows = _first_row_checked(
        file, read_rows(file, namespace=digest[:16], currency=currency, encoding=encoding)
    )
    if journal_db is not None and journal_path is not None:
        raise click.UsageError("give --journal or --journal-db, not both")
    store = _orders_store(orders_db)
    journal: Any = None
    if not dry_run:
        try:
            journal = _open_journal(file, digest, journal_path, journal_db, worker, lease)
        except CsdeskError as error:
            if store is not None:
                store.close()
            raise click.UsageError(str(error)) from None
    retry = RetryPolicy(attempts=attempts, timeout=timeout)
    total = lines - 1 if file.suffix.lower() == ".csv" else lines  # the header is not a row
    options = {"concurrency": concurrency, "dry_run": dry_run, "strict": strict,
               "stop_after": stop_after}  # fmt: skip
    try:
        summary = asyncio.run(_run(rows, shop_url, store, policy, journal, retry, total, options))
    except KeyboardInterrupt:
        _interrupted(journal)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        if journal is not None and report is None:
            journal.close()
    try:
        if report is not None:
            _write_report(report, journal, summary)
    finally:
        if journal is not None:
            journal.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_summary(Console(), summary)
    if summary.exit_code:
        raise SystemExit(summary.exit_code)


def _open_journal(
    file: Path,
    digest: str,
    journal_path: Path | None,
    journal_db: str | None,
    worker: str | None,
    lease: float,
) -> Any:
    if journal_db is None:
        where = journal_path or file.with_name(file.name + ".journal")
        return Journal(where, source=str(file), digest=digest)
    from datetime import timedelta

    from csdesk.integrations.batch_journal import SqlJournal

    store = SqlStore(database_url("--journal-db", journal_db))
    journal = SqlJournal(store, source=file.name, digest=digest, worker=worker,
                         lease=timedelta(seconds=lease))  # fmt: skip
    journal.close = store.close  # type: ignore[method-assign]
    return journal


def _orders_store(orders_db: str | None) -> SqlStore | None:
    if orders_db is None:
        return None
    try:
        return SqlStore(database_url("--orders-db", orders_db))
    except CsdeskError as error:
        raise BadInput(f"--orders-db: {error}") from None


def _first_row_checked(file: Path, rows: Iterator[Any]) -> Iterator[Any]:
    """The rows, once the file is known to have a usable header and at least one row."""
    try:
        first = next(rows, None)
    except CsdeskError as error:
        raise BadInput(str(error)) from None
    if first is None or (isinstance(first, RowError) and first.line == 1):
        close = getattr(rows, "close", None)
        if close is not None:
            close()
        raise BadInput(
            f"{file}: no rows (an empty file, or a header only)"
            if first is None
            else f"{file}: {first.message}"
        )
    return itertools.chain([first], _file_errors_stop(rows))


def _file_errors_stop(rows: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from rows
    except CsdeskError as error:  # the file became unreadable mid-way
        raise BadInput(str(error)) from None


def _interrupted(journal: Any) -> None:
    if journal is None:
        click.echo("interrupted: nothing was sent (a dry run)", err=True)
        return
    counts = journal.counts()
    done = counts.get("done", 0)
    sent = sum(counts.get(state, 0) for state in ("sending", "pending", "unreachable"))
    click.echo(
        f"interrupted: {done} rows done so far, {sent} sent and waiting for an answer; run the "
        f"same command again to resume (journal: {journal.path})",
        err=True,
    )


def _status_line(summary: BatchSummary, total: int) -> str:
    refunded = ", ".join(_money(m) for m in summary.refunded.values()) or "nothing"
    verb = "would refund" if summary.dry_run else "refunded"
    seen = summary.done + summary.skipped + summary.attention
    return (
        f"refunds: {seen}/{total or '?'} rows, {summary.done + summary.skipped} done, "
        f"{summary.attention} need attention, {verb} {refunded}"
    )


def _progress(total: int) -> tuple[Progress | None, Callable[[BatchSummary], None]]:
    if not sys.stderr.isatty() or os.environ.get("CI"):
        last = [time.monotonic()]

        def plain(summary: BatchSummary) -> None:
            if time.monotonic() - last[0] >= PLAIN_EVERY:
                last[0] = time.monotonic()
                click.echo(_status_line(summary, total), err=True)

        return None, plain
    progress = Progress(
        TextColumn("refunds"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[done]} done[/] [red]{task.fields[attention]} attention[/]"),
        TextColumn("{task.fields[amount]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("rows", total=total or None, done=0, attention=0, amount="")

    def rich(summary: BatchSummary) -> None:
        progress.update(
            task,
            completed=summary.done + summary.skipped + summary.attention,
            done=summary.done + summary.skipped,
            attention=summary.attention,
            amount=", ".join(_money(m) for m in summary.refunded.values()),
        )

    return progress, rich


async def _run(
    rows: Any,
    shop_url: str | None,
    store: SqlStore | None,
    policy: Any,
    journal: Any,
    retry: RetryPolicy,
    total: int,
    options: dict[str, Any],
) -> BatchSummary:
    client = None
    if shop_url is not None:
        client = AsyncShopClient(shop_url, retry=retry, connections=options["concurrency"])
    orders: OrderSource = StoreOrders(store) if store is not None else ApiOrders(client)  # type: ignore[arg-type]
    bar, show = _progress(total)
    try:
        if bar is not None:
            bar.start()
        return await run_batch(
            rows,
            orders=orders,
            policy=policy,
            now=datetime.now(UTC),
            client=client,
            journal=journal,
            progress=show,
            **options,
        )
    finally:
        if bar is not None:
            bar.stop()
        if client is not None:
            await client.aclose()
        if store is not None:
            store.close()


def _money(amount: Money) -> str:
    return amount.format("en", style="code").replace("\xa0", " ")


def _print_summary(console: Console, summary: BatchSummary) -> None:
    console.print("Dry run: nothing was sent" if summary.dry_run else "Refund batch")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Rows", justify="right")
    table.add_row("would refund" if summary.dry_run else "done", str(summary.done))
    if not summary.dry_run:
        table.add_row("done before (skipped)", str(summary.skipped))
    if summary.elsewhere:
        table.add_row("taken by other workers", str(summary.elsewhere))
    if summary.taken_over:
        table.add_row("taken over from a dead worker", str(summary.taken_over))
    for outcome in OUTCOMES:
        if outcome != "done" and summary.outcomes[outcome]:
            table.add_row(outcome, str(summary.outcomes[outcome]))
    console.print(table)
    verb = "would be refunded" if summary.dry_run else "refunded this run"
    for amount in (summary.refunded[c] for c in sorted(summary.refunded)):
        console.print(f"{_money(amount)} {verb}", markup=False, highlight=False)
    for amount in (summary.pending[c] for c in sorted(summary.pending)):
        console.print(f"{_money(amount)} pending at the shop", markup=False, highlight=False)
    _print_problems(console, summary)
    if summary.stopped:
        why = "stopped:" if summary.systemic else "stopped (--strict) at"
        console.print(f"{why} {summary.stopped}", markup=False, highlight=False)
    if summary.journal:
        console.print(f"journal: {summary.journal}", markup=False, highlight=False)


def _print_problems(console: Console, summary: BatchSummary) -> None:
    """Rows that need attention: counts per outcome and reason, then the first 20 rows."""
    for (outcome, code), count in sorted(summary.reasons.items()):
        console.print(f"{outcome} ({code}): {count} rows — {OUTCOMES[outcome]}", markup=False,
                      highlight=False)  # fmt: skip
    problems = sorted(summary.problems)
    for line, outcome, _code, message in problems[:20]:
        console.print(f"  line {line}: {outcome}: {scrub(message)}", markup=False,
                      highlight=False)  # fmt: skip
    if summary.attention > 20:
        console.print(f"  … {summary.attention - 20} more: see --report FILE", markup=False)


def _report_rows(journal: Any, summary: BatchSummary) -> list[dict[str, str]]:
    if journal is None:  # a dry run keeps no journal: its problems only
        return [
            {"line": str(line), "outcome": outcome, "code": code, "message": scrub(message)}
            for line, outcome, code, message in sorted(summary.problems)
        ]
    return [
        {
            "line": str(row.line),
            "order_id": row.order_id,
            "key": row.key,
            "outcome": row.state,
            "code": row.code or "",
            "message": scrub(row.message or ""),
            "refund_id": row.refund_id or "",
            "amount": str(row.amount.amount) if row.amount else "",
            "currency": row.amount.currency if row.amount else "",
        }
        for row in journal.rows()
    ]


def _write_report(path: Path, journal: Any, summary: BatchSummary) -> None:
    rows = _report_rows(journal, summary)
    try:
        if path.suffix.lower() == ".json":
            data = {"summary": summary.to_dict(), "rows": rows}
            path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
            return
        with path.open("w", encoding="utf-8-sig", newline="") as out:  # Excel reads the BOM
            fields = list(rows[0]) if rows else ["line", "outcome", "message"]
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        raise BadInput(f"--report {path}: {error}") from None


@refunds.command("status")
@click.argument(
    "journal_path",
    metavar="[JOURNAL]",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--journal-db", metavar="URL", help="Read a batch journal kept in this database.")
@click.option("--batch", "batch_id", help="The batch in --journal-db (as `refunds run` printed).")
@click.option(
    "--rows",
    "show_rows",
    is_flag=True,
    help="List every row that needs attention (the first 20 are listed anyway).",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Ask the shop again about pending rows (needs --shop-url and the token).",
)
@click.option("--shop-url", envvar=URL_ENV, metavar="URL", help="The shop API (for --refresh).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(
    journal_path: Path | None,
    journal_db: str | None,
    batch_id: str | None,
    show_rows: bool,
    refresh: bool,
    shop_url: str | None,
    as_json: bool,
) -> None:
    """Read a batch's journal: rows per outcome, amounts, rows left, and what needs attention.

    Exit codes: 0 every row of the batch is done; 1 some rows are not done yet (or were never
    reached); 2 no such journal, or --refresh without a shop.
    """
    journal = _existing_journal(journal_path, journal_db, batch_id)
    with journal:
        if refresh:
            _refresh(journal, shop_url)
        data = _status(journal, show_rows)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_status(Console(), data)
    if data["remaining"] or any(n for state, n in data["rows"].items() if state != "done"):
        raise SystemExit(1)


def _existing_journal(path: Path | None, journal_db: str | None, batch_id: str | None) -> Any:
    try:
        if journal_db is None:
            if path is None:
                raise click.UsageError("give the JOURNAL file, or --journal-db URL --batch ID")
            return Journal.open_existing(path)
        if batch_id is None or path is not None:
            raise click.UsageError("with --journal-db give --batch ID (and no JOURNAL file)")
        from csdesk.integrations.batch_journal import SqlJournal

        store = SqlStore(database_url("--journal-db", journal_db))
        journal = SqlJournal.open_existing(store, batch_id)
        journal.close = store.close  # type: ignore[method-assign]
        return journal
    except CsdeskError as error:
        raise click.UsageError(str(error)) from None


def _status(journal: Any, show_rows: bool) -> dict[str, Any]:
    meta, counts = journal.meta(), journal.counts()
    total = _source_rows(meta.get("source", ""))
    listed = [
        {"line": r.line, "order_id": r.order_id, "outcome": r.state, "code": r.code,
         "message": scrub(r.message or ""), "re-sent next run": r.retryable}
        for r in journal.rows()
        if r.state != "done"
    ]  # fmt: skip
    return {
        "source": meta.get("source"),
        "sha256": meta.get("sha256"),
        "started": meta.get("created_at"),
        "rows": {
            state: counts.get(state, 0)
            for state in ("done", "sending", *OUTCOMES)
            if state == "done" or counts.get(state)
        },
        "total": total,
        "remaining": None if total is None else max(total - counts.get("done", 0), 0),
        "reasons": [
            {"outcome": outcome, "code": code, "rows": count}
            for (outcome, code), count in journal.problems().items()
        ],
        "refunded": {c: str(m.amount) for c, m in sorted(journal.amounts("done").items())},
        "pending": {c: str(m.amount) for c, m in sorted(journal.amounts("pending").items())},
        "attention": listed if show_rows else listed[:20],
    }


def _source_rows(source: str) -> int | None:
    """Rows in the batch file, when it is still where it was (CSV: lines minus the header)."""
    path = Path(source)
    if not source or not path.is_file() or path.suffix.lower() not in (".csv", ".jsonl"):
        return None
    count = 0
    with path.open("rb") as stream:
        for line_number, text in enumerate(stream):
            if text.strip() and not (line_number == 0 and path.suffix.lower() == ".csv"):
                count += 1
    return count


def _print_status(console: Console, data: dict[str, Any]) -> None:
    console.print(
        f"{data['source']} (sha256 {str(data['sha256'])[:16]}…), started {data['started']}",
        markup=False,
        highlight=False,
    )
    for state, count in data["rows"].items():
        console.print(f"  {state}: {count}", markup=False, highlight=False)
    if data["remaining"] is not None:
        console.print(f"  not done yet: {data['remaining']} of {data['total']} rows", markup=False)
    for currency, amount in data["refunded"].items():
        console.print(f"  refunded: {amount} {currency}", markup=False, highlight=False)
    for currency, amount in data["pending"].items():
        console.print(f"  pending at the shop: {amount} {currency}", markup=False)
    for reason in data["reasons"]:
        console.print(f"  {reason['outcome']} ({reason['code']}): {reason['rows']}", markup=False)
    for row in data["attention"]:
        console.print(
            f"  line {row['line']} {row['order_id']} {row['outcome']}: {row['message']}",
            markup=False,
            highlight=False,
        )


def _refresh(journal: Any, shop_url: str | None) -> None:
    if shop_url is None:
        raise click.UsageError(f"--refresh needs --shop-url (or ${URL_ENV})")
    if not os.environ.get(TOKEN_ENV):
        raise click.UsageError(f"set ${TOKEN_ENV} to the shop API's token")

    async def recheck() -> None:
        async with AsyncShopClient(shop_url) as client:
            for row in list(journal.rows("pending")):
                try:
                    refund = await client.find_refund(row.key)
                except CsdeskError as error:
                    click.echo(f"line {row.line}: {scrub(str(error))}", err=True)
                    continue
                if refund is None:
                    continue
                if refund.status == "succeeded":
                    journal.outcome(row.line, "done", refund_id=refund.id)
                elif refund.status == "failed":
                    journal.outcome(
                        row.line,
                        "refused",
                        refund_id=refund.id,
                        code="refund_failed",
                        message="the shop reports it failed",
                    )

    asyncio.run(recheck())


run_command.help = (run_command.help or "") + "\n\n" + EXIT_CODES
