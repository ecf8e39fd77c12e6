"""``csdesk replies lint`` and ``csdesk replies render``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from csdesk.errors import CsdeskError
from csdesk.money import Money
from csdesk.replies import builtin_templates, load_template, render
from csdesk.replies.lint import lint
from csdesk.scripts._cli import BadInput, open_input

__all__ = ["replies"]


@click.group()
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


def _typed(value: Any, kind: str) -> Any:
    if kind == "money" and isinstance(value, dict):
        return Money.from_dict(value)
    if kind == "decimal" and isinstance(value, str | int):
        return Decimal(str(value))
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "duration" and isinstance(value, int | str):
        return timedelta(minutes=int(value))
    return value


@replies.command("render")
@click.argument("template_name", metavar="TEMPLATE")
@click.option(
    "--context",
    "context_path",
    default="-",
    show_default=True,
    help="A JSON file of the template's variables (- for stdin). Money as "
    '{"amount": "10.00", "currency": "CNY"}, dates as ISO 8601, durations in minutes.',
)
@click.option("--locale", default="zh-CN", show_default=True, help="The customer's locale.")
@click.option("--tz", help="The customer's time zone, for dates and times.")
@click.option("--slot", "slots", multiple=True, metavar="NAME=TEXT", help="Fill an agent slot.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-8601",
    help="The instant the reply is for, with its offset (default: the current time).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result with its metadata.")
def render_command(
    template_name: str,
    context_path: str,
    locale: str,
    tz: str | None,
    slots: tuple[str, ...],
    now_text: str | None,
    as_json: bool,
) -> None:
    """Render TEMPLATE (a built-in id such as late_delivery_apology, or a .toml file).

    The reply goes to stdout. Exit codes: 0 rendered and sendable; 2 bad template, context or
    locale; 3 rendered, but agent slots are still empty (not sendable).
    """
    try:
        if template_name.endswith(".toml"):
            template = load_template(Path(template_name))
        else:
            catalogue = builtin_templates()
            if template_name not in catalogue:
                known = ", ".join(sorted(catalogue))
                raise BadInput(f"no built-in template {template_name!r}; they are {known}")
            template = catalogue[template_name]
        needs = ", ".join(v.name for v in template.variables if v.required) or "none"
        if context_path == "-" and sys.stdin.isatty():
            raise BadInput(
                "give the template's variables with --context FILE, or pipe a JSON object in "
                f"(variables it needs: {needs})"
            )
        with open_input(context_path) as stream:
            text = stream.read()
        where = "stdin" if context_path == "-" else context_path
        if not text.strip():
            raise BadInput(
                f"the context on {where} is empty: give a JSON object of the template's "
                f"variables (it needs: {needs})"
            )
        try:
            raw = json.loads(text)
        except ValueError as error:
            raise BadInput(f"the context on {where} is not JSON ({error})") from None
        if not isinstance(raw, dict):
            raise BadInput(f"{context_path}: the context is a JSON object of variables")
        kinds = {v.name: v.type for v in template.variables}
        context = {k: _typed(v, kinds.get(k, "str")) for k, v in raw.items()}
        filled = dict(slot.split("=", 1) for slot in slots)
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
        result = render(template, context, locale=locale, tz=tz, slots=filled, now=now)
    except (CsdeskError, ValueError, OSError, RecursionError) as error:
        raise BadInput(str(error)) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "text": result.text,
                    "subject": result.subject,
                    "text_locale": result.text_locale,
                    "format_locale": result.format_locale,
                    "template": result.template_id,
                    "version": result.template_version,
                    "unfilled_slots": list(result.unfilled_slots),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo(result.text)
    if result.unfilled_slots:
        click.echo(f"unfilled slots: {', '.join(result.unfilled_slots)}", err=True)
        raise SystemExit(3)


def _templates(folder: Path | None) -> dict[str, Any]:
    if folder is None:
        return dict(builtin_templates())
    found = {}
    for path in sorted(folder.glob("*.toml")):
        template = load_template(path)
        found[template.id] = template
    if not found:
        raise BadInput(f"no template files (*.toml) in {folder}")
    return found


@replies.command("export-po")
@click.option("--locale", required=True, help="The locale to translate into (zh-Hant, ja…).")
@click.option("--source", default="en", show_default=True, help="The locale to translate from.")
@click.option(
    "--templates",
    "folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of template files (default: the built-in catalogue).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PO file to write (default: stdout).",
)
def export_po_command(locale: str, source: str, folder: Path | None, output: Path | None) -> None:
    """Export reply templates to a PO file for translators (Weblate, Crowdin, Poedit).

    One message per subject, body and variable fallback, keyed by msgctxt (template.field), with
    the --source text as msgid and the --locale text, if any, as msgstr. Exit codes: 0 written;
    2 bad folder or template.
    """
    from csdesk.replies.po import export_po, po_text

    try:
        text = po_text(export_po(_templates(folder).values(), locale, source=source))
    except CsdeskError as error:
        raise BadInput(str(error)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@replies.command("import-po")
@click.argument(
    "po_file", metavar="PO_FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--locale", required=True, help="The locale the PO file translates into.")
@click.option(
    "--templates",
    "folder",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The folder of template files to update (copy the built-in ones there first to "
    "translate those).",
)
def import_po_command(po_file: Path, locale: str, folder: Path) -> None:
    """Import a translated PO file into the template files of --templates.

    Translated messages set the locale's variant; untranslated and fuzzy ones change nothing.
    Every updated template is linted first: any error refuses the whole import and names the
    messages. Comments and key order in the files are kept. Exit codes: 0 imported; 2 a bad PO
    file, an unknown template or field, or a translation that fails lint (nothing written).
    """
    from csdesk.replies.po import import_po, write_templates

    try:
        updated = import_po(_templates(folder), po_file, locale)
        written = write_templates(folder, updated, locale)
    except CsdeskError as error:
        raise BadInput(str(error)) from None
    click.echo(f"{len(written)} template(s) updated in {folder} for {locale}")
