from pathlib import Path

import pytest

from csdesk.workflows import AfterSaleWorkflow, OrderWorkflow, RefundWorkflow, Workflow, mermaid

DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize(
    ("name", "workflow"),
    [("order", OrderWorkflow), ("aftersale", AfterSaleWorkflow), ("refund", RefundWorkflow)],
)
def test_docs_diagram_is_the_machine(name: str, workflow: type[Workflow]) -> None:  # type: ignore[type-arg]
    stored = (DOCS / "diagrams" / f"{name}.mmd").read_text(encoding="utf-8")
    assert stored == mermaid(workflow), (
        f"docs/diagrams/{name}.mmd is out of date: run python scripts/diagrams.py"
    )


def test_the_workflows_page_includes_both_diagrams() -> None:
    page = (DOCS / "workflows.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/diagrams/order.mmd"' in page
    assert '--8<-- "docs/diagrams/aftersale.mmd"' in page


def test_the_refunds_page_includes_its_diagram() -> None:
    page = (DOCS / "refunds.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/diagrams/refund.mmd"' in page


def test_diagrams_show_no_private_names() -> None:
    # Issue 19: the order diagram showed csdesk's private callbacks (`_record_modify`).
    for workflow in (OrderWorkflow, AfterSaleWorkflow, RefundWorkflow):
        diagram = mermaid(workflow)
        assert " _" not in diagram
        assert "_record" not in diagram
