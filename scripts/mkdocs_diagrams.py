"""mkdocs hook: draw the workflow state diagrams when the docs are built.

Each machine becomes ``diagrams/<name>.svg`` in the built site, drawn by Graphviz from the
machine itself (`csdesk.workflows.svg`), so the pages show pictures with no JavaScript and no
network: no CDN that is unreachable offline or from mainland China. The pages embed them as
images: ``![...](diagrams/order.svg)``.
"""

from __future__ import annotations

from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from csdesk.workflows import (
    AfterSaleWorkflow,
    OrderWorkflow,
    RefundWorkflow,
    ReviewCaseWorkflow,
    TicketWorkflow,
    Workflow,
    svg,
)

DIAGRAMS: dict[str, type[Workflow[Any]]] = {
    "order": OrderWorkflow,
    "aftersale": AfterSaleWorkflow,
    "refund": RefundWorkflow,
    "ticket": TicketWorkflow,
    "review_case": ReviewCaseWorkflow,
}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add one generated SVG file per workflow to the site."""
    for name, workflow in DIAGRAMS.items():
        files.append(File.generated(config, f"diagrams/{name}.svg", content=svg(workflow)))
    return files
