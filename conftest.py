"""Sybil: run the code in docs/*.md, README.md and the docstrings under src/ as tests."""

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser
from sybil.parsers.rest import DocTestParser
from sybil.sybil import SybilCollection

markdown = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["*.md"],
    path="docs",
    name="docs",
)
readme = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["README.md"],
    path=".",
    name="readme",
)
docstrings = Sybil(parsers=[DocTestParser()], patterns=["*.py"], path="src", name="docstrings")

pytest_collect_file = SybilCollection((markdown, readme, docstrings)).pytest()
