"""Templates out to PO and back (issue 19 item 3): round trip, lint on import, fallbacks kept."""

from __future__ import annotations

import io
import shutil
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from csdesk.errors import PolicyError
from csdesk.replies import builtin_templates, load_template
from csdesk.replies.po import export_po, import_po, po_text, write_templates
from csdesk.scripts.main import cli


def _catalogue_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    source = resources.files("csdesk.replies") / "catalog"
    for entry in source.iterdir():
        if entry.name.endswith(".toml"):
            (folder / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_the_catalogue_round_trips_unchanged() -> None:
    templates = builtin_templates()
    for locale in ("zh-Hant", "zh-Hans"):
        text = po_text(export_po(templates.values(), locale, source="en"))
        back = import_po(templates, text, locale)
        assert set(back) == set(templates)
        assert all(back[key] == templates[key] for key in back), locale


def test_messages_carry_context_and_the_variables() -> None:
    text = po_text(export_po(builtin_templates().values(), "ja", source="en"))
    catalog = read_po(io.StringIO(text))
    message = next(m for m in catalog if m.context == "late_delivery_apology.body")
    assert message.string == ""  # nothing in Japanese yet
    assert "days_late" in message.auto_comments[0]
    contexts = {m.context for m in catalog}
    assert "please_wait.body" in contexts
    assert "late_delivery_apology.body" in contexts


def _translated(text: str, context: str, translation: str, fuzzy: bool = False) -> str:
    marker = f'msgctxt "{context}"'
    head, _, rest = text.partition(marker)
    assert rest, context
    msgid_part, _, after = rest.partition("msgstr ")
    _value, _, tail = after.partition("\n\n")
    flag = "#, fuzzy\n" if fuzzy else ""
    return f'{head}{flag}{marker}{msgid_part}msgstr "{translation}"\n\n{tail}'


def test_a_translation_imports_into_the_files_keeping_their_comments(tmp_path: Path) -> None:
    folder = _catalogue_copy(tmp_path)
    templates = {t.id: t for t in (load_template(p) for p in folder.glob("*.toml"))}
    text = po_text(export_po(templates.values(), "ja", source="en"))
    text = _translated(
        text, "please_wait.body", "少々お待ちください（{{ minutes }} 分ほど）：{{ slot.topic }}"
    )
    text = _translated(text, "greeting.body", "こんにちは", fuzzy=True)  # not reviewed: ignored
    updated = import_po(templates, text, "ja")
    assert set(updated) == {"please_wait"}
    written = write_templates(folder, updated, "ja")
    assert [p.name for p in written] == ["please_wait.toml"]
    saved = written[0].read_text(encoding="utf-8")
    assert saved.startswith("#")  # the file's own comment is still there
    reloaded = load_template(written[0])
    assert reloaded.variants["ja"].body.startswith("少々お待ちください")
    assert reloaded.variants["en"] == templates["please_wait"].variants["en"]
    assert "ja" not in load_template(folder / "greeting.toml").variants  # falls back as before


def test_a_broken_translation_is_refused_and_named(tmp_path: Path) -> None:
    templates = builtin_templates()
    text = po_text(export_po(templates.values(), "ja", source="en"))
    broken = _translated(text, "please_wait.body", "お待ちください {{ minutes ")
    with pytest.raises(PolicyError, match=r"please_wait\.ja: syntax"):
        import_po(templates, broken, "ja")
    unknown = text.replace('msgctxt "please_wait.body"', 'msgctxt "no_such.body"')
    unknown = _translated(unknown, "no_such.body", "x")
    with pytest.raises(PolicyError, match=r"no_such\.body: no such template"):
        import_po(templates, unknown, "ja")
    with pytest.raises(PolicyError, match="not a PO file"):
        import_po(templates, 'msgid "unterminated', "ja")


def test_the_commands(tmp_path: Path) -> None:
    folder = _catalogue_copy(tmp_path)
    out = tmp_path / "ja.po"
    runner = CliRunner()
    exported = runner.invoke(cli, ["replies", "export-po", "--locale", "ja", "--templates",
                                   str(folder), "-o", str(out)])  # fmt: skip
    assert exported.exit_code == 0, exported.output
    out.write_text(_translated(out.read_text(encoding="utf-8"), "please_wait.body",
                               "少々お待ちください：{{ slot.topic }}（{{ minutes }} 分）"),
                   encoding="utf-8")  # fmt: skip
    imported = runner.invoke(cli, ["replies", "import-po", str(out), "--locale", "ja",
                                   "--templates", str(folder)])  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "1 template(s) updated" in imported.output
    bad = tmp_path / "bad.po"
    bad.write_text(_translated(out.read_text(encoding="utf-8"), "greeting.body", "{% if %}"),
                   encoding="utf-8")  # fmt: skip
    before = (folder / "greeting.toml").read_text(encoding="utf-8")
    refused = runner.invoke(cli, ["replies", "import-po", str(bad), "--locale", "ja",
                                  "--templates", str(folder)])  # fmt: skip
    assert refused.exit_code == 2
    assert "greeting.ja: syntax" in refused.output
    assert (folder / "greeting.toml").read_text(encoding="utf-8") == before
    shutil.rmtree(folder)
