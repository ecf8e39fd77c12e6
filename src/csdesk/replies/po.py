"""Reply templates for translators: export to PO, import back, linted, fallbacks kept.

Translators work in PO files (Weblate, Crowdin, Poedit); csdesk's templates are TOML. `export_po`
writes one PO catalogue per target locale: one message per template subject, body and variable
fallback, keyed by ``msgctxt`` (``late_delivery_apology.body``), with the source locale's text as
``msgid``, the target's current text (if any) as ``msgstr``, and the template's variables as a
comment. `import_po` reads it back into the templates: a translated message sets that locale's
variant; an untranslated or fuzzy one changes nothing (the locale keeps its current text, or
falls back along the locale chain as before); every updated template is linted, and any error
refuses the whole import, naming the messages. `write_templates` puts the result into the shop's
TOML files, keeping their comments and order (tomlkit, in the ``cli`` extra).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from csdesk._checks import checked
from csdesk.errors import PolicyError
from csdesk.replies.catalog import ReplyTemplate
from csdesk.replies.lint import lint

__all__ = ["export_po", "import_po", "po_text", "write_templates"]

_FIELDS = ("subject", "body")


@checked
def export_po(templates: Iterable[ReplyTemplate], locale: str, *, source: str = "en") -> Catalog:
    """A PO catalogue to translate ``templates`` from ``source`` into ``locale``.

    Templates without a ``source`` variant are left out (there is nothing to translate from).
    """
    catalog = Catalog(locale=locale.replace("-", "_"), project="csdesk reply templates",
                      fuzzy=False)  # fmt: skip
    for template in sorted(templates, key=lambda t: t.id):
        original = template.variants.get(source)
        if original is None:
            continue
        target = template.variants.get(locale)
        names = ", ".join(v.name for v in template.variables) or "none"
        comments = [f"variables: {names}; keep {{{{ … }}}} and {{% … %}} as they are"]
        for field in _FIELDS:
            text = getattr(original, field)
            if not text:
                continue
            current = getattr(target, field) if target is not None else None
            catalog.add(text, current or "", context=f"{template.id}.{field}",
                        auto_comments=comments)  # fmt: skip
        for variable in template.variables:
            if source in variable.fallback:
                catalog.add(variable.fallback[source], variable.fallback.get(locale, ""),
                            context=f"{template.id}.fallback.{variable.name}",
                            auto_comments=[f"said when {variable.name} is missing"])  # fmt: skip
    return catalog


@checked
def po_text(catalog: Catalog) -> str:
    """The catalogue as PO text (UTF-8)."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False)
    return buffer.getvalue().decode("utf-8")


@checked
def import_po(
    templates: Mapping[str, ReplyTemplate], po: str | Path, locale: str
) -> dict[str, ReplyTemplate]:
    """``templates`` with ``locale``'s translations from the PO file (or text) ``po``.

    Only templates a translated message touches are returned; untranslated and fuzzy messages
    change nothing.

    Raises:
        PolicyError: the PO does not parse, names a template or field that does not exist, or a
            translated template fails lint; the errors name the messages.
    """
    text = Path(po).read_text(encoding="utf-8") if isinstance(po, Path) else po
    try:
        catalog = read_po(io.StringIO(text), locale=locale.replace("-", "_"), abort_invalid=True)
    except Exception as error:  # babel raises plain errors on malformed PO
        raise PolicyError(f"not a PO file: {error}") from None
    changes: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        context = message.context or ""
        template_id, _, field = context.partition(".")
        template = templates.get(template_id)
        if template is None or not (field in _FIELDS or field.startswith("fallback.")):
            problems.append(f"{context or '(no msgctxt)'}: no such template or field")
            continue
        data = changes.setdefault(template_id, template.model_dump(mode="python"))
        if field.startswith("fallback."):
            name = field.removeprefix("fallback.")
            found = [v for v in data["variables"] if v["name"] == name]
            if not found:
                problems.append(f"{context}: {template_id} has no variable {name!r}")
                continue
            found[0]["fallback"][locale] = str(message.string)
        else:
            variant = data["variants"].setdefault(locale, {"subject": None, "body": ""})
            variant[field] = str(message.string)
    updated: dict[str, ReplyTemplate] = {}
    for template_id, data in changes.items():
        try:
            template = ReplyTemplate.model_validate(data)
        except PolicyError as error:
            problems.append(f"{template_id}: {error.message}")
            continue
        errors = [i for i in lint(template) if i.severity == "error" and i.variant == locale]
        problems.extend(f"{template_id}.{i.variant}: {i.rule}: {i.message}" for i in errors)
        updated[template_id] = template
    if problems:
        raise PolicyError(
            f"the {locale} translations were not imported: " + "; ".join(problems[:20])
        )
    return updated


@checked
def write_templates(
    folder: str | Path, updated: Mapping[str, ReplyTemplate], locale: str
) -> list[Path]:
    """Write ``locale``'s variants (and fallbacks) of ``updated`` into the TOML files in ``folder``.

    Each template's file is the ``.toml`` file whose ``id`` is the template's (a missing one is
    created); comments and the order of keys are kept. Returns the files written.

    Raises:
        PolicyError: tomlkit is missing (install the ``cli`` extra).
    """
    try:
        import tomlkit
    except ImportError as error:
        raise PolicyError(
            f"writing template files needs tomlkit (the 'cli' extra): {error}"
        ) from None
    root = Path(folder)
    files: dict[str, Path] = {}
    for path in sorted(root.glob("*.toml")):
        parsed = tomlkit.parse(path.read_text(encoding="utf-8"))
        if isinstance(parsed.get("id"), str):
            files[str(parsed["id"])] = path
    written = []
    for template_id, template in sorted(updated.items()):
        path = files.get(template_id, root / f"{template_id}.toml")
        document = (tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists()
                    else tomlkit.parse(_fresh(template)))  # fmt: skip
        variant = template.variants[locale]
        variants = document.setdefault("variants", tomlkit.table())
        table = tomlkit.table()
        if variant.subject is not None:
            table["subject"] = variant.subject
        table["body"] = variant.body
        variants[locale] = table
        for stored, variable in zip(document.get("variables", []), template.variables,
                                    strict=False):  # fmt: skip
            if locale in variable.fallback:
                stored.setdefault("fallback", tomlkit.inline_table())[locale] = variable.fallback[
                    locale
                ]
        path.write_text(tomlkit.dumps(document), encoding="utf-8")
        written.append(path)
    return written


def _fresh(template: ReplyTemplate) -> str:
    import tomlkit

    data = template.model_dump(mode="json", exclude_none=True)
    data["variants"] = {}
    return tomlkit.dumps(data)
