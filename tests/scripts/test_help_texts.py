"""Every command's help names what it needs (issue 19).

`sla due --help` left out the ticket's required `customer_id`; `replies render` with no context
waited on stdin, then said ``Expecting value: line 1 column 1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from csdesk.models import Ticket
from csdesk.scripts.main import cli


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


COMMANDS = sorted(_commands(cli))


def test_the_command_tree_is_walked() -> None:
    assert ("refunds", "run") in COMMANDS
    assert ("sla", "due") in COMMANDS
    assert len(COMMANDS) >= 12


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_help_names_its_required_arguments(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    for param in command.params:
        if isinstance(param, click.Argument):
            assert param.make_metavar(click.Context(command)) in result.output, param.name
        elif param.required:
            option = max(param.opts, key=len)
            assert option in result.output, option
            assert "[required]" in result.output, option
    assert command.help, f"{' '.join(path)} has no help text"


def test_sla_due_names_every_field_a_ticket_needs() -> None:
    result = CliRunner().invoke(cli, ["sla", "due", "--help"], terminal_width=200)
    required = [name for name, field in Ticket.model_fields.items() if field.is_required()]
    assert "customer_id" in required
    for name in required:
        assert f'"{name}"' in result.output, name


def test_replies_render_says_what_context_it_needs() -> None:
    runner = CliRunner()
    empty = runner.invoke(cli, ["replies", "render", "refund_breakdown"], input="")
    assert empty.exit_code == 2
    assert "is empty" in empty.output
    assert "order_id" in empty.output
    broken = runner.invoke(cli, ["replies", "render", "refund_breakdown"], input="{nope")
    assert broken.exit_code == 2
    assert "is not JSON" in broken.output
