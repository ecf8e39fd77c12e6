"""The docs cannot hide a broken example, and what they tell a newcomer to run works.

Issue 19: the Money page's example was an include mangled to ``--8 < --"…"`` shown as code, hidden
from the tests by a ``skip: next`` marker; the install commands named a package not on PyPI; the
home page's "API reference" was not a link; the repository and the wheel had no LICENSE.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_block_is_skipped_and_every_include_is_real(page: Path) -> None:
    fence = None
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{page.name}:{number}"
        assert "skip:" not in line, f"{where}: a skip marker hides a block from the tests"
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if "8<" in line or "8 <" in line:
            found = INCLUDE.match(line.strip())
            assert found, f"{where}: not an include mkdocs understands: {line!r}"
            assert fence != "python", f"{where}: an include in a python block (Sybil runs those)"
            target = found.group(1)
            assert (ROOT / target).is_file() or (ROOT / "examples" / target).is_file(), where


def test_no_page_tells_to_install_from_pypi() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"pip install '?csdesk", text), f"{page.name}: csdesk is not on PyPI"


def test_the_home_page_links_the_api_reference() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "[The API reference](reference/csdesk.md)" in index
    assert (ROOT / "docs" / "reference" / "csdesk.md").is_file()


def test_the_wheel_carries_the_license(tmp_path: Path) -> None:
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("csdesk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names[-8:]
