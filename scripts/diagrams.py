"""Regenerate docs/diagrams/*.mmd from the workflow machines: python scripts/diagrams.py."""

from pathlib import Path

from csdesk.workflows import AfterSaleWorkflow, OrderWorkflow, RefundWorkflow, mermaid

DIAGRAMS = Path(__file__).resolve().parents[1] / "docs" / "diagrams"

if __name__ == "__main__":
    pairs = (("order", OrderWorkflow), ("aftersale", AfterSaleWorkflow), ("refund", RefundWorkflow))
    for name, workflow in pairs:
        (DIAGRAMS / f"{name}.mmd").write_text(mermaid(workflow), encoding="utf-8")
        print(f"wrote docs/diagrams/{name}.mmd")
