"""Regenerate docs/diagrams/*.mmd from the workflow machines: python scripts/diagrams.py."""

from pathlib import Path

from csdesk.workflows import AfterSaleWorkflow, OrderWorkflow, mermaid

DIAGRAMS = Path(__file__).resolve().parents[1] / "docs" / "diagrams"

if __name__ == "__main__":
    for name, workflow in (("order", OrderWorkflow), ("aftersale", AfterSaleWorkflow)):
        (DIAGRAMS / f"{name}.mmd").write_text(mermaid(workflow), encoding="utf-8")
        print(f"wrote docs/diagrams/{name}.mmd")
