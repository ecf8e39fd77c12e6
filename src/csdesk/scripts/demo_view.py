"""What ``csdesk demo`` prints: the demo's result as tables for people, or as JSON for machines."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from csdesk.models import PaidSplit
from csdesk.money import Money
from csdesk.replies import explain, explain_step
from csdesk.scripts.demo import (
    SHANGHAI,
    AfterSale,
    Batch,
    Compensation,
    Complaints,
    DemoResult,
    Desk,
    Lifecycle,
    Replies,
    Support,
)

__all__ = ["demo_json", "print_demo"]

LOCALE = "zh-CN"


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
        _num(split.tax + split.shipping_tax_amount),
        _num(split.paid),
    ]


def _split_table(title: str, first: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(first, no_wrap=True)
    table.add_column("Qty", justify="right")
    for name in ("List", "Disc.", "Coupon", "Ship.", "VAT", "Paid"):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def print_demo(console: Console, result: DemoResult) -> None:
    """Print the demo's eleven sections as tables and sentences (customer data masked)."""
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
    _print_desk(console, result.desk)
    _print_aftersale(console, result.aftersale)


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
    moved = " (its 7th day is a Saturday: moved to the Monday)" if window.rolled_over else ""
    console.print(
        f"Signed for {life.order.signed_at:%m-%d %H:%M}; the 7-day no-reason window "
        f"({window.basis}) runs to the end of {last_day}{moved}. Return {life.case.id} came in "
        f"time, was approved, and is {life.case.state}."
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
    console.rule(f"5. Ticket {ticket.id}", align="left", style="")
    console.print(
        f"Opened {ticket.created_at:%m-%d %H:%M}, the eve of National Day; the clocks as of "
        f"{support.now:%m-%d %H:%M}:"
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
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
    for step in repeat.trace:
        console.print(f"  · {explain_step(step, 'en')}", markup=False, highlight=False)


def _print_compensation(console: Console, compensation: Compensation) -> None:
    decision = compensation.decision
    console.rule("7. Compensation for the late parcel (shop standard)", align="left", style="")
    for line in explain(decision, "en").splitlines():
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
    for line, _outcome, _code, message in sorted(summary.problems):
        console.print(f"  line {line}: {message}", markup=False, highlight=False)
    console.print(
        "Without --dry-run, `csdesk refunds run stockout.csv --shop-url …` journals each row "
        "before sending it and resumes after a crash without paying anyone twice."
    )


def _print_desk(console: Console, desk: Desk) -> None:
    console.rule("10. A day at the desk", align="left", style="")
    transfer = desk.transfer
    console.print(
        f"09:30 pre-sales hands a return question to after-sales, keeping the customer's answers "
        f"(首问负责); after-sales sends it back within the hour: ping-pong, so it goes to "
        f"{transfer.to_group} instead. Answers: {desk.owners['answer']}, handling: "
        f"{desk.owners['handle']}."
    )
    approval = desk.approval
    first = explain(approval, "en").splitlines()[0]
    console.print(f"10:10 the thermos return by rule: {first}", markup=False, highlight=False)
    review = desk.review
    offers = ", ".join(_fmt(offer.value) for offer in desk.offer.offers)
    console.print(
        f"15:00 a one-star review of {review.sku}: {len(review.attempts)} calls two hours apart "
        f"(phone first, never after 21:00), cause confirmed {review.root_cause}, {offers} offered "
        f"for the damage (never for the review): {review.state}."
    )
    minutes = int(desk.outage_elapsed.total_seconds() // 60)
    paused = int(desk.outage_paused.total_seconds() // 60)
    console.print(
        f"15:10-15:50 the chat system is down: {desk.backlog} customer left unanswered, told "
        f"「{desk.apology}」; the outage is recorded on the ticket, so its first-reply clock "
        f"counts {minutes} minutes and pauses the {paused} of the outage.",
        markup=False,
        highlight=False,
    )
    lines = "; ".join(line.line() for line in desk.handover.open)
    console.print(f"18:00 handover: {lines}.", markup=False, highlight=False)


def _print_aftersale(console: Console, after: AfterSale) -> None:
    console.rule("11. Two parcels, and an exchange", align="left", style="")
    first, second = after.window_first, after.window_second
    console.print(
        f"{after.split.id} left in two parcels (拆单). A day after the thermoses' parcel was "
        f"signed for, their return window is {first.status.value} (until {first.last_day}), and "
        f"a return of one ({after.split_return.id}) is filed; the jacket's window, still "
        f"travelling, has {second.status.value.replace('_', ' ')}: a CN window runs per line from "
        "its parcel, an EU/UK one from the last parcel."
    )
    case = after.exchange
    item = case.exchange[0]
    parcel = case.replacement_shipment.tracking_number if case.replacement_shipment else "-"
    console.print(
        f"The jacket in M for {item.name} at {_fmt(item.unit_price)} (换货): the difference "
        f"{_fmt(case.difference or Money.zero('CNY'))} was paid before the new one left "
        f"(tracking {parcel}); case {case.id} {case.state.value}.",
        markup=False,
        highlight=False,
    )


def demo_json(result: DemoResult) -> dict[str, Any]:
    """The demo's result as JSON-ready data, for machines (``csdesk demo --json``)."""
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
        "aftersale": {
            "windows": [
                result.aftersale.window_first.status,
                result.aftersale.window_second.status,
            ],
            "exchange": {
                "difference": (result.aftersale.exchange.difference or Money.zero("CNY")).to_dict(),
                "state": result.aftersale.exchange.state,
            },
        },
        "desk": {
            "transfer": result.desk.transfer.model_dump(mode="json"),
            "approval": result.desk.approval.model_dump(mode="json"),
            "review": {
                "state": result.desk.review.state,
                "attempts": len(result.desk.review.attempts),
                "root_cause": result.desk.review.root_cause,
                "offers": [o.value.to_dict() for o in result.desk.offer.offers],
            },
            "outage": {
                "backlog": result.desk.backlog,
                "apology": result.desk.apology,
                "first_reply_minutes": result.desk.outage_elapsed.total_seconds() // 60,
                "paused_minutes": result.desk.outage_paused.total_seconds() // 60,
            },
            "handover": result.desk.handover.to_dict(),
        },
        "compensation": {
            "decision": result.compensation.decision.model_dump(mode="json"),
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
        "tax": str((split.tax + split.shipping_tax_amount).amount),
        "paid": str(split.paid.amount),
    }
