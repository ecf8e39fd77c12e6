"""``csdesk calendar check``: whether the China calendar's official data reaches a date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import click

from csdesk.scripts._cli import BadInput
from csdesk.sla import (
    china_coverage,
    load_china_year,
)

__all__ = ["calendar"]


@click.group()
def calendar() -> None:
    """The China calendar's official data: what it covers, and loading next year's notice."""


@calendar.command("check")
@click.option(
    "--until",
    "until_text",
    required=True,
    metavar="DATE",
    help="The last day deadlines must reach (e.g. today + 90 days), as YYYY-MM-DD.",
)
@click.option(
    "--load",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A year's notice as TOML or JSON to validate and load first (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check_command(until_text: str, files: tuple[Path, ...], as_json: bool) -> None:
    """Say whether the China calendar's official data reaches DATE, and validate year files.

    Run it from cron each week with --until a quarter ahead: it fails in time for the State
    Council's notice for next year (published each November) to be loaded, with --load to check
    the file first, then with $CSDESK_CHINA_CALENDAR pointing at it.

    Exit codes: 0 covered; 1 not covered (the message names the missing years); 2 a bad date or
    a year file that does not validate.
    """
    try:
        until = date.fromisoformat(until_text)
    except ValueError:
        raise BadInput(f"--until {until_text!r}: write a date as YYYY-MM-DD") from None
    loaded = [load_china_year(path) for path in files]
    report = china_coverage(until, today=datetime.now(UTC).date())
    if as_json:
        data = {**report.__dict__, "until": report.until.isoformat()}
        data["loaded"] = [year.year for year in loaded]
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for year in loaded:
            click.echo(f"loaded {year.year}: {year.notice} ({year.working_days()} working days)")
        click.echo(report.message)
    if not report.ok:
        raise SystemExit(1)
