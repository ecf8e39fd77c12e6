"""What every ``csdesk`` command shares: how errors reach the terminal, and their exit codes.

Exit codes, the same for every command: 0 done; 1 done, but the result has failures the command
reports (rows that failed, lint errors, dead letters); 2 bad usage or bad input (a missing or
unreadable file, a row or policy that does not validate, an unknown name): the message says what
and where, and nothing was changed; 3 rendered but not sendable (``replies render``); 70 a bug in
csdesk (no traceback unless ``CSDESK_DEBUG=1``); 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from csdesk.errors import CsdeskError
from csdesk.privacy import scrub

__all__ = ["BadInput", "CsdeskGroup", "InternalError", "open_input"]

DEBUG_ENV = "CSDESK_DEBUG"


class BadInput(click.ClickException):
    """Bad usage or bad input: exit code 2, with a message that says what and where."""

    exit_code = 2


class InternalError(click.ClickException):
    """An error csdesk did not expect: exit code 70 (EX_SOFTWARE), no traceback."""

    exit_code = 70


class CsdeskGroup(click.Group):
    """A click group that turns csdesk errors into exit code 2 and hides tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except CsdeskError as error:
            raise BadInput(f"[{error.code}] {scrub(str(error))}") from None
        except (OSError, UnicodeError) as error:
            raise BadInput(scrub(str(error))) from None
        except Exception as error:
            if os.environ.get(DEBUG_ENV):
                raise
            raise InternalError(
                f"unexpected {type(error).__name__} (a bug in csdesk: please report it with the "
                f"command line; set {DEBUG_ENV}=1 for the traceback)"
            ) from None


class LazyGroup(CsdeskGroup):
    """A group whose subcommands are imported only when one of them runs.

    ``lazy`` maps each name to ``("module:attribute", "short help")``; ``csdesk --help`` lists
    them from the short help without importing them (a test checks each short help against the
    real command's).
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, _, attribute = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][1]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def open_input(path: str) -> TextIO:
    """``path`` opened as UTF-8 text, or standard input for ``-``."""
    return sys.stdin if path == "-" else open(path, encoding="utf-8")


def database_url(option: str, value: str) -> str:
    """A SQLAlchemy URL from ``--db``-like options: a URL as given, or an existing SQLite file.

    Raises:
        BadInput: neither a URL nor an existing file.
    """
    if "://" in value:
        return value
    path = Path(value)
    if not path.is_file():
        raise BadInput(
            f"{option} {value!r}: no such file; give a database URL (sqlite:///desk.db, "
            "postgresql+psycopg://user@host/db, mysql+pymysql://user@host/db) or a SQLite file"
        )
    return f"sqlite:///{path.resolve()}"
