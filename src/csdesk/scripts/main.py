"""The ``csdesk`` console script: demo, refunds, policy, sla, replies, outbox.

Progress and chatter go to stderr; results go to stdout, as tables for people or as JSON with
``--json`` for machines.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

try:
    import click
    from rich import box
    from rich.console import Console
    from rich.table import Table
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise SystemExit(
        "the csdesk command needs the 'cli' extra: pip install 'csdesk[cli]'"
    ) from error

from csdesk._version import __version__
from csdesk.errors import CsdeskError
from csdesk.models import PaidSplit
from csdesk.money import Money
from csdesk.policies.compensation import (
    Agent,
    CompensationPolicy,
    Incident,
    Role,
    SimulationReport,
    compare,
    compensation_policy,
    parse_incident,
    simulate,
)
from csdesk.policies.compensation.samples import sample_incidents
from csdesk.replies import builtin_templates, load_template
from csdesk.replies.lint import lint
from csdesk.scripts._cli import BadInput, CsdeskGroup
from csdesk.scripts.demo import (
    SHANGHAI,
    Batch,
    Compensation,
    Complaints,
    DemoResult,
    Lifecycle,
    Replies,
    Support,
    run_demo,
)
from csdesk.scripts.refunds import refunds
from csdesk.scripts.tools import calendar, outbox, render_command, sla

__all__ = ["cli", "main"]

LOCALE = "zh-CN"


@click.group(cls=CsdeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="csdesk")
@click.option("-v", "--verbose", is_flag=True, help="Log retries and other warnings to stderr.")
def cli(verbose: bool) -> None:
    """Customer-service rules for shop back ends: refunds, returns, complaints, SLAs.

    Results go to stdout (tables, or JSON with --json); progress and logs go to stderr.
    """
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logging.getLogger("csdesk").addHandler(handler)
        logging.getLogger("csdesk").setLevel(logging.INFO)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for machines.")
def demo(as_json: bool) -> None:
    """Play a realistic scenario end to end on built-in defaults.

    An order placed and refunded in three goes, its life through the workflows, a return and its
    refund, SLA deadlines over National Day, complaints, compensation, replies in three locales and
    a stock-out refund batch as a dry run. Nothing is written outside memory.

    Exit codes: 0 done.
    """
    result = run_demo()
    if as_json:
        click.echo(json.dumps(_demo_json(result), ensure_ascii=False, indent=2))
        return
    _print_demo(Console(), result)


@cli.group()
def replies() -> None:
    """Reply templates."""


@replies.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the issues as JSON.")
def lint_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Lint template TOML files (or folders of them); with no PATH, the built-in catalogue.

    Exit codes: 1 when any error is found, 0 when only warnings or nothing.
    """
    templates = []
    for path in paths:
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        templates += [load_template(file) for file in files]
    if not paths:
        templates = list(builtin_templates().values())
    found = {template.id: lint(template) for template in templates}
    if as_json:
        click.echo(
            json.dumps(
                {tid: [issue.__dict__ for issue in issues] for tid, issues in found.items()},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        console = Console()
        for template_id, issues in found.items():
            mark = "ok" if not issues else f"{len(issues)} issue(s)"
            console.print(f"[bold]{template_id}[/bold]: {mark}")
            for issue in issues:
                console.print(f"  {issue.severity} {issue.rule} [{issue.variant}] {issue.message}")
    if any(issue.severity == "error" for issues in found.values() for issue in issues):
        raise SystemExit(1)


@cli.group()
def policy() -> None:
    """Compensation policies: replay history through one, or compare two versions."""


def _incidents(path: str) -> Iterator[Incident]:
    """Stream incidents from a JSONL file (``-`` for stdin); a bad line names its number."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield parse_incident(line)
            except CsdeskError as error:
                raise BadInput(f"{path}, line {number}: {error}") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def _load_policy(name: str) -> CompensationPolicy:
    try:
        return compensation_policy(name)
    except CsdeskError as error:
        raise BadInput(str(error)) from None


@policy.command("simulate")
@click.argument("policy_name", metavar="POLICY")
@click.argument("incidents", metavar="INCIDENTS", type=click.Path(allow_dash=True))
@click.option(
    "--against",
    "other",
    metavar="POLICY",
    help="A second policy (preset or file) to compare with, over the same incidents in one pass.",
)
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default="bot",
    show_default=True,
    help="Who decides first; decisions above its authority count as approvals.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def simulate_command(
    policy_name: str, incidents: str, other: str | None, role: str, as_json: bool
) -> None:
    """Replay past incidents through a compensation policy and report what it would have cost.

    INCIDENTS is JSONL, one incident per line, in time order (- for stdin). POLICY is a preset
    name such as shop_standard, or a .toml / .json file. The report gives totals by rule,
    instrument, kind and month, the caps hit and the approvals needed.

    Try it on synthetic history: csdesk policy sample 2000 > history.jsonl, then
    csdesk policy simulate shop_standard history.jsonl.

    Exit codes: 0 done; 2 a policy or an incident is invalid (the message says which line).
    """
    first = _load_policy(policy_name)
    agent = Agent(id=f"simulated-{role}", role=role)
    if other is not None:
        comparison = compare(first, _load_policy(other), _incidents(incidents), agent=agent)
        if as_json:
            click.echo(json.dumps(comparison.to_dict(), ensure_ascii=False, indent=2))
            return
        second = comparison.b
        console = Console()
        console.print(
            f"A = {first.id} {first.version}, B = {second.policy_id} {second.policy_version}, "
            f"over {comparison.a.incidents} incidents"
        )
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("Measure", no_wrap=True)
        for name in ("A", "B", "B − A"):
            table.add_column(name, justify="right", no_wrap=True)
        for row in comparison.rows():
            table.add_row(*row)
        console.print(table)
        return
    report = simulate(first, _incidents(incidents), agent=agent)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    _print_simulation(Console(), report)


def _print_simulation(console: Console, report: SimulationReport) -> None:
    summary = report.summary()
    console.print(
        f"[bold]{summary['policy']}[/bold]: {report.incidents} incidents, "
        f"{report.granted.count} granted, {report.money(report.granted.amount)} in all; "
        f"{report.capped} hit a cap; approvals {dict(report.approvals) or 'none'}; "
        f"evidence asked {report.evidence}; statutory claims {report.statutory.count}"
    )
    for title, buckets in (
        ("By rule", report.by_rule),
        ("By instrument", report.by_instrument),
        ("By incident kind", report.by_kind),
        ("By month", report.by_month),
    ):
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column(title.split()[-1].capitalize(), no_wrap=True)
        table.add_column("Count", justify="right")
        table.add_column(f"Amount ({report.currency})", justify="right")
        for key, bucket in sorted(buckets.items()):
            table.add_row(key, str(bucket.count), str(report.money(bucket.amount).amount))
        console.print(table)
    spread = report.customer_distribution()
    console.print("Per customer: " + ", ".join(f"{key} {value}" for key, value in spread.items()))


@policy.command("sample")
@click.argument("count", type=click.IntRange(1, 10_000_000))
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same stream.")
def sample_command(count: int, seed: int) -> None:
    """Print COUNT synthetic incidents as JSONL, to try policies on.

    The incidents are in CNY, over 120 days, in time order: use them before your own history.

    Exit codes: 0 printed.
    """
    for incident in sample_incidents(count, seed=seed):
        click.echo(incident.model_dump_json())


cli.add_command(refunds)
cli.add_command(sla)
cli.add_command(outbox)
cli.add_command(calendar)
replies.add_command(render_command)


def _fmt(amount: Money) -> str:
    return amount.format(LOCALE)


def _num(amount: Money) -> str:
    return amount.format(LOCALE, style="plain")


def _split_row(label: str, quantity: str, split: PaidSplit) -> list[str]:
    return [
        label,
        quantity,
        _num(split.list_price),
        _num(-split.line_discount),
        _num(-split.order_discount),
        _num(split.shipping),
        _num(split.tax),
        _num(split.paid),
    ]


def _split_table(title: str, first: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(first, no_wrap=True)
    table.add_column("Qty", justify="right")
    for name in ("List", "Disc.", "Coupon", "Ship.", "VAT", "Paid"):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _print_demo(console: Console, result: DemoResult) -> None:
    order = result.order
    customer = order.customer.masked
    console.rule("[bold]csdesk demo[/bold]")
    console.print(
        f"Order [bold]{order.id}[/bold] placed {order.placed_at:%Y-%m-%d %H:%M %Z} by "
        f"{order.customer.id} ({order.customer.tier}, {customer['name']}, {customer['phone']})"
    )
    console.print(
        f"Store coupon {_fmt(order.order_discount)} · shipping {_fmt(order.shipping_fee)} · "
        f"VAT included {_fmt(order.tax)}\n"
    )
    table = _split_table("1. Placing the order: what each line paid (CNY)", "Line")
    for line in order.lines:
        table.add_row(*_split_row(f"{line.id} {line.sku}", str(line.quantity), line.split))
    totals = PaidSplit(
        list_price=sum((line.split.list_price for line in order.lines), Money.zero("CNY")),
        line_discount=sum((line.split.line_discount for line in order.lines), Money.zero("CNY")),
        order_discount=order.order_discount,
        shipping=order.shipping_fee,
        tax=order.tax,
    )
    table.add_section()
    table.add_row(*_split_row("Total", "", totals))
    console.print(table)
    console.print(
        "VAT is included in the prices. The coupon went to the lines by price after line "
        "discounts, shipping and VAT by price, by largest remainder in fen: every column adds up "
        "exactly.\n"
    )
    line = order.line(result.refund_line_id)
    refunds = _split_table(
        f"2. Refunding line {line.id} ({line.sku}) in three goes (CNY)", "Refund"
    )
    for number, step in enumerate(result.refunds, start=1):
        label = f"#{number} after {step.already}"
        refunds.add_row(*_split_row(label, str(step.units), step.split))
    refunds.add_section()
    refunds.add_row(*_split_row("Line paid", str(line.quantity), line.split))
    console.print(refunds)
    verdict = "equal" if result.refunded == line.paid else "NOT equal"
    console.print(
        f"Each share is round(paid × units so far / 5) − round(paid × units before / 5), so the "
        f"three refunds total {_fmt(result.refunded)}: {verdict} to the {_fmt(line.paid)} paid.\n"
    )
    _print_lifecycle(console, result.lifecycle)
    _print_support(console, result.support)
    _print_complaints(console, result.complaints)
    _print_compensation(console, result.compensation)
    _print_replies(console, result.replies)
    _print_batch(console, result.batch)


def _print_lifecycle(console: Console, life: Lifecycle) -> None:
    table = Table(
        title="3. Its life through the workflows (Shanghai time; SQLite, version-checked)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("When", "Event", "By", "Ver", "State"):
        table.add_column(name, no_wrap=True, min_width=8 if name == "By" else None)
    for event in life.events:
        when = event.occurred_at.astimezone(SHANGHAI)
        table.add_row(
            f"{when:%m-%d %H:%M}",
            event.type,
            str(event.actor.kind),
            str(event.aggregate.version),
            str(event.payload.get("to", "requested" if event.type.endswith(".requested") else "")),
        )
    console.print(table)
    window = life.window
    last_day = window.last_day.isoformat() if window.last_day else "?"
    console.print(
        f"Signed for {life.order.signed_at:%m-%d %H:%M}; the 7-day no-reason window "
        f"({window.basis}) runs to the end of {last_day}. Return {life.case.id} came in time, was "
        f"approved, and is {life.case.state}."
    )
    console.print(f"A second request at 00:05 the next day was refused: {life.refused}.\n")
    _print_refund(console, life)


def _print_refund(console: Console, life: Lifecycle) -> None:
    done = life.refunded
    quote = done.quote
    (line,) = quote.lines
    table = Table(
        title=f"4. Refunding what came back: {line.units} of the 2 units returned (CNY)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("Item", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    table.add_column("Why", overflow="fold")
    rows = [
        ("List price", line.list_price, f"{line.units} × {line.line_id}, as sold"),
        ("Coupon share", -line.coupon_share, "the coupon's part is kept, not paid in cash"),
        ("Goods", quote.goods, "price actually paid, cumulative rounding"),
        ("Shipping", quote.shipping, "CN: the consumer pays return freight, outbound kept"),
        ("Fees", -(quote.restocking_fee + quote.label_fee), f"none on a {quote.basis} return"),
        ("Refund", quote.total, ", ".join(f"{t.method} {_fmt(t.amount)}" for t in quote.tenders)),
    ]
    for label, amount, why in rows:
        table.add_row(label, _num(amount), why)
    console.print(table)
    refund = done.refunds[0]
    arrival = done.arrival
    console.print(
        f"Refund {refund.id} {refund.state} (key {refund.idempotency_key}); the ledger shows "
        f"{_fmt(done.ledger.refunded)} refunded and {_fmt(done.ledger.refundable)} still "
        f"refundable. Case {life.case.id}: {life.case.state}."
    )
    console.print(
        f"Tell the customer: to the bank card behind Alipay between {arrival.earliest:%m-%d} and "
        f"{arrival.latest:%m-%d}. {arrival.note}\n"
    )


def _print_support(console: Console, support: Support) -> None:
    ticket = support.ticket
    table = Table(
        title=f"5. Ticket {ticket.id}, the eve of National Day ({support.now:%m-%d %H:%M})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("Metric", "Target", "Deadline", "State"):
        table.add_column(name, no_wrap=True)
    for status in support.report.statuses:
        hours = "working" if status.business_hours else "calendar"
        minutes = int(status.target.total_seconds() // 60)
        target = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"
        deadline = f"{status.deadline:%m-%d %H:%M}" if status.deadline else "paused"
        if status.fulfilled_at is not None:
            state = "met" if not status.breached else "late"
        else:
            state = "paused" if status.paused else ("BREACHED" if status.breached else "running")
        table.add_row(status.metric, f"{target} ({hours})", deadline, state)
    console.print(table)
    said = support.promise
    console.print(
        "China calendar: 10-01 to 10-07 are off and 10-10 (Sat) is worked, so 4 working hours "
        f"from 17:00 run to 10-08. Promise for a 2-hour lookup (1.5x, rounded up): "
        f"{said.say_at:%m-%d %H:%M} (expected {said.expected_at:%m-%d %H:%M})."
    )


def _print_complaints(console: Console, complaints: Complaints) -> None:
    incident = complaints.incident
    console.rule("6. Complaints", align="left", style="")
    console.print(
        f"Three complaints in 26 minutes about batch {incident.value} → incident {incident.id} "
        f"(response level {incident.response_level}), linking {', '.join(incident.complaints)}."
    )
    first, repeat = complaints.first, complaints.repeat
    console.print(
        f"Diamond customer, parcel 2 days late: {first.priority} {first.tier} → "
        f"{first.route}. Her second complaint a day later: {repeat.priority} {repeat.tier} → "
        f"{repeat.route}, ahead of the queue."
    )
    for reason in repeat.reasons:
        console.print(f"  · {reason.rule}: {reason.effect}")


def _print_compensation(console: Console, compensation: Compensation) -> None:
    decision = compensation.decision
    console.rule("7. Compensation for the late parcel (shop standard)", align="left", style="")
    for line in decision.explain("en").splitlines():
        console.print(line, markup=False, highlight=False)
    comparison = compensation.comparison
    table = Table(
        title=(
            f"What {compensation.sample_size} synthetic incidents would have cost, with and "
            "without the 30-day customer cap"
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("Measure", no_wrap=True)
    table.add_column("As is", justify="right", no_wrap=True)
    table.add_column("No cap", justify="right", no_wrap=True)
    table.add_column("Change", justify="right", no_wrap=True)
    keep = ("granted", "decisions granted", "status", "hit a cap", "incidents decided")
    for measure, *values in comparison.rows():
        if measure.startswith(keep):
            short = measure.replace("incidents decided differently", "decided differently")
            table.add_row(short, *values)
    console.print(table)


def _print_replies(console: Console, replies: Replies) -> None:
    console.rule("8. The late-delivery apology, in the customer's language", align="left", style="")
    for reply in replies.rendered:
        console.print(
            f"[bold]{reply.format_locale}[/bold] ({reply.text_locale} wording): {reply.text}"
        )


def _print_batch(console: Console, batch: Batch) -> None:
    console.rule("9. A stock-out refund batch, as a dry run", align="left", style="")
    console.print(batch.csv.rstrip(), markup=False, highlight=False)
    summary = batch.summary
    amounts = ", ".join(_fmt(amount) for amount in summary.refunded.values())
    console.print(
        f"\n{summary.done} rows would be refunded ({amounts}); {summary.invalid_count} reported "
        "and skipped:"
    )
    for line, message in sorted(summary.invalid):
        console.print(f"  line {line}: {message}", markup=False, highlight=False)
    console.print(
        "Without --dry-run, `csdesk refunds run stockout.csv --shop-url …` journals each row "
        "before sending it and resumes after a crash without paying anyone twice."
    )


def _demo_json(result: DemoResult) -> dict[str, Any]:
    order = result.order
    return {
        "order": {
            "id": order.id,
            "customer": {"id": order.customer.id, **order.customer.masked},
            "total": order.total.to_dict(),
            "lines": [
                {"id": line.id, "quantity": line.quantity, **_split_json(line.split)}
                for line in order.lines
            ],
        },
        "refunds": [
            {"line": result.refund_line_id, "units": step.units, **_split_json(step.split)}
            for step in result.refunds
        ],
        "refunded": result.refunded.to_dict(),
        "replies": {r.format_locale: r.text for r in result.replies.rendered},
        "batch": result.batch.summary.to_dict(),
        "compensation": {
            "decision": result.compensation.decision.to_dict(),
            "comparison": {
                "a": result.compensation.comparison.a.summary(),
                "b": result.compensation.comparison.b.summary(),
                "differing": result.compensation.comparison.differing,
            },
        },
        "complaints": {
            "incident": {
                "key": result.complaints.incident.value,
                "complaints": result.complaints.incident.complaints,
            },
            "first": [result.complaints.first.priority, str(result.complaints.first.tier)],
            "repeat": [result.complaints.repeat.priority, str(result.complaints.repeat.tier)],
        },
        "lifecycle": {
            "events": [
                {"type": e.type, "version": e.aggregate.version, "at": e.occurred_at.isoformat()}
                for e in result.lifecycle.events
            ],
            "order_state": result.lifecycle.order.state,
            "window_last_day": str(result.lifecycle.window.last_day),
            "case": {"id": result.lifecycle.case.id, "state": result.lifecycle.case.state},
            "refused": result.lifecycle.refused,
            "support": {
                "ticket": result.support.ticket.id,
                "deadlines": {
                    s.metric: s.deadline.isoformat() if s.deadline else None
                    for s in result.support.report.statuses
                },
                "promise": result.support.promise.say_at.isoformat(),
            },
            "refund": {
                "total": result.lifecycle.refunded.quote.total.to_dict(),
                "units": result.lifecycle.refunded.quote.units,
                "state": result.lifecycle.refunded.refunds[0].state,
                "refundable_left": result.lifecycle.refunded.ledger.refundable.to_dict(),
                "arrival": [
                    str(result.lifecycle.refunded.arrival.earliest),
                    str(result.lifecycle.refunded.arrival.latest),
                ],
            },
        },
    }


def _split_json(split: PaidSplit) -> dict[str, str]:
    return {
        "list_price": str(split.list_price.amount),
        "line_discount": str(split.line_discount.amount),
        "order_discount": str(split.order_discount.amount),
        "shipping": str(split.shipping.amount),
        "tax": str(split.tax.amount),
        "paid": str(split.paid.amount),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process arguments); return the exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="csdesk")
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
