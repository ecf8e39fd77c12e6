import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from csdesk.errors import InvalidInputError, MissingDependencyError
from csdesk.workflows import (
    AfterSaleWorkflow,
    OrderWorkflow,
    RefundWorkflow,
    ReviewCaseWorkflow,
    TicketWorkflow,
    Workflow,
    dot,
    mermaid,
    svg,
)

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
WORKFLOWS: list[type[Workflow[Any]]] = [
    OrderWorkflow,
    AfterSaleWorkflow,
    RefundWorkflow,
    TicketWorkflow,
    ReviewCaseWorkflow,
]

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz's dot is not installed (CI installs it and never skips)",
)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_diagrams_show_no_private_names(workflow: type[Workflow[Any]]) -> None:
    # Issue 19: the order diagram showed csdesk's private callbacks (`_record_modify`).
    for diagram in (mermaid(workflow), dot(workflow)):
        assert "_record" not in diagram
        assert " _" not in diagram.replace(" __initial_0", "")


def test_every_event_is_in_the_diagram() -> None:
    diagram = dot(OrderWorkflow)
    for label in ("Pay", "Ship", "Deliver", "Confirm receipt", "Cancel", "Close"):
        assert f">{label}<" in diagram, label
    assert "refunds_are_settled" in diagram  # guards are shown


def test_dot_is_stable() -> None:
    # The start node was named after id() of a machine: the same machine gave other text.
    assert dot(OrderWorkflow) == dot(OrderWorkflow)
    assert "__initial_0" in dot(OrderWorkflow)


@needs_graphviz
@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_svg_is_a_picture_of_the_machine(workflow: type[Workflow[Any]]) -> None:
    picture = svg(workflow)
    assert picture.startswith("<svg")
    assert picture.rstrip().endswith("</svg>")
    assert "_record" not in picture
    for state in workflow.states:
        assert state.name in picture


def test_svg_without_graphviz_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingDependencyError) as caught:
        svg(RefundWorkflow)
    assert caught.value.code == "missing_dependency"
    assert caught.value.dependency == "dot"
    assert "apt install graphviz" in str(caught.value)


def test_dot_without_pydot_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "statemachine.contrib.diagram.renderers.dot", None)
    with pytest.raises(MissingDependencyError) as caught:
        dot(RefundWorkflow)
    assert caught.value.install == "pip install -e '.[diagrams]'"
    assert isinstance(caught.value, ImportError)


@pytest.mark.parametrize("garbage", [None, "OrderWorkflow", 3, object, int])
def test_diagram_of_garbage_is_refused(garbage: Any) -> None:
    for draw in (mermaid, dot):
        with pytest.raises(InvalidInputError):
            draw(garbage)


@pytest.mark.parametrize(
    ("page", "name"),
    [
        ("workflows.md", "order"),
        ("workflows.md", "aftersale"),
        ("refunds.md", "refund"),
        ("sla.md", "ticket"),
        ("desk.md", "review_case"),
    ],
)
def test_the_pages_show_the_drawn_diagrams(page: str, name: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert f"](diagrams/{name}.svg)" in text
    assert "```mermaid" not in text  # mermaid.js came from a CDN: nothing shows offline


def test_the_docs_hook_draws_every_diagram_the_pages_use() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mkdocs_diagrams
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert set(mkdocs_diagrams.DIAGRAMS) == {
        "order",
        "aftersale",
        "refund",
        "ticket",
        "review_case",
    }
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "hooks:\n  - scripts/mkdocs_diagrams.py" in config
    assert "mermaid" not in config
