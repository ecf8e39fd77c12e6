"""The ``csdesk`` console script: the root group, ``demo``, and the command groups' registration.

Each command group lives in a module of its own (``refunds``, ``replies_cmd``, ``policy_cmd``,
``sla_cmd``, ``outbox_cmd``, ``calendar_cmd``, ``db_cmd``); what ``demo`` prints is in
``demo_view``.

Progress and chatter go to stderr; results go to stdout, as tables for people or as JSON with
``--json`` for machines.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

try:
    import click
    import rich  # noqa: F401 - only to say which extra is missing
except ImportError as error:
    raise ImportError(
        "the csdesk command needs the 'cli' extra (click and rich): from a checkout of csdesk, "
        f"pip install -e '.[cli]' ({error})"
    ) from error

from csdesk._version import __version__
from csdesk.scripts._cli import LazyGroup

__all__ = ["COMMANDS", "cli", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "calendar": (
        "csdesk.scripts.calendar_cmd:calendar",
        "The China calendar's official data: what it covers, and loading next year's notice.",
    ),
    "db": (
        "csdesk.scripts.db_cmd:db",
        "Create or upgrade csdesk's tables in your database, and say where they are.",
    ),
    "desk": (
        "csdesk.scripts.desk_cmd:desk",
        "The desk's daily work on a csdesk database: the shift handover.",
    ),
    "outbox": (
        "csdesk.scripts.outbox_cmd:outbox",
        "The outbox of a csdesk database: deliver its events as signed webhooks.",
    ),
    "policy": (
        "csdesk.scripts.policy_cmd:policy",
        "Policies: simulate and compare compensation policies; print file schemas.",
    ),
    "refunds": (
        "csdesk.scripts.refunds:refunds",
        "Refund batches: crash-safe, idempotent, resumable.",
    ),
    "replies": ("csdesk.scripts.replies_cmd:replies", "Reply templates."),
    "sla": ("csdesk.scripts.sla_cmd:sla", "SLA deadlines on business calendars."),
    "testing": (
        "csdesk.scripts.testing_cmd:testing",
        "A test shop API to try refund batches and integrations against, with faults.",
    ),
}
"""The command groups, imported only when one runs (``csdesk --help`` stays fast)."""


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="csdesk")
@click.option("-v", "--verbose", is_flag=True, help="Log retries and other warnings to stderr.")
def cli(verbose: bool) -> None:
    """Customer-service rules for shop back ends: refunds, returns, complaints, SLAs.

    Results go to stdout (tables, or JSON with --json); progress and logs go to stderr.
    """
    if verbose:
        handler = _StderrNow()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logging.getLogger("csdesk").addHandler(handler)
        logging.getLogger("csdesk").setLevel(logging.INFO)


class _StderrNow(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is when a record comes.

    While a progress bar shows, rich replaces ``sys.stderr`` with a proxy that prints above the
    bar, so log lines never land on the bar.
    """

    @property
    def stream(self) -> Any:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """The stream is always the current ``sys.stderr``."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for machines.")
def demo(as_json: bool) -> None:
    """Play a realistic scenario end to end on built-in defaults.

    An order placed and refunded in three goes, its life through the workflows, a return and its
    refund, SLA deadlines over National Day, complaints, compensation, replies in three locales and
    a stock-out refund batch as a dry run. Nothing is written outside memory.

    Exit codes: 0 done.
    """
    from rich.console import Console

    from csdesk.scripts.demo import run_demo
    from csdesk.scripts.demo_view import demo_json, print_demo

    result = run_demo()
    if as_json:
        click.echo(json.dumps(demo_json(result), ensure_ascii=False, indent=2))
        return
    print_demo(Console(), result)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process arguments); return the exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="csdesk")
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
