"""``csdesk policy simulate`` and ``csdesk policy sample``: compensation policies on history."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click
from rich import box
from rich.console import Console
from rich.table import Table

from csdesk.errors import CsdeskError
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
from csdesk.scripts._cli import BadInput

__all__ = ["policy"]


@click.group()
def policy() -> None:
    """Policies: simulate and compare compensation policies; print file schemas.

    `simulate` replays history through a compensation policy or compares two versions; `schema`
    prints the JSON Schema of a kind of policy or template file.
    """


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


@policy.command("schema")
@click.argument("kind", metavar="KIND")
def schema_command(kind: str) -> None:
    """Print the JSON Schema of a kind of csdesk file, for editors and CI checks.

    KIND is one of approval, arrival, compensation, price_protection, refunds, returns,
    review_recovery, sla, template, tiering, timers. Save it and name it on the first line of
    your TOML file (#:schema ./returns.schema.json) for Taplo or Even Better TOML to complete
    keys and flag mistakes.
    Exit codes: 0 printed; 2 no such kind.
    """
    from csdesk.errors import CsdeskError
    from csdesk.schemas import render

    try:
        click.echo(render(kind), nl=False)
    except CsdeskError as error:
        raise BadInput(str(error)) from None
