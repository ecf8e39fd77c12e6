"""State diagrams drawn from the workflow machines: Mermaid text, Graphviz DOT and SVG.

python-statemachine extracts a diagram model from a machine and renders it; csdesk drops its own
private callbacks (``_record_…``) from that model first, so a diagram shows states, events and
guards: the names a reader can use.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from statemachine.contrib.diagram.extract import extract
from statemachine.contrib.diagram.graphviz import (
    GraphvizError,
    GraphvizNotFoundError,
    run_graphviz,
)
from statemachine.contrib.diagram.model import ActionType, DiagramGraph, DiagramState
from statemachine.contrib.diagram.renderers.mermaid import MermaidRenderer

from csdesk._checks import checked
from csdesk.errors import InvalidInputError, MissingDependencyError

if TYPE_CHECKING:
    from csdesk.workflows._engine import Workflow

__all__ = ["dot", "mermaid", "svg"]

# Graphviz names the start dot after id() of the machine: stable names keep the output stable.
_RANDOM_IDS = re.compile(r"(__initial|__atomic)_\d+")


def _public(body: str) -> bool:
    return bool(body.strip()) and not body.strip().startswith("_")


def _public_state(state: DiagramState) -> None:
    kept = []
    for action in state.actions:
        if action.type is ActionType.INTERNAL:
            event, _, callbacks = action.body.partition(" / ")
            names = [name for name in callbacks.split(", ") if _public(name)]
            action.body = f"{event} / {', '.join(names)}" if names else event
            kept.append(action)
        elif _public(action.body):
            kept.append(action)
    state.actions = kept
    for child in state.children:
        _public_state(child)


def _graph(workflow: type[Workflow[Any]]) -> DiagramGraph:
    from csdesk.workflows._engine import Workflow

    if not (isinstance(workflow, type) and issubclass(workflow, Workflow)):
        raise InvalidInputError(
            f"expected a workflow class such as OrderWorkflow, got {type(workflow).__name__}"
        )
    graph = extract(workflow)
    for state in graph.states:
        _public_state(state)
    for transition in graph.transitions:
        transition.actions = [name for name in transition.actions if _public(name)]
    return graph


@checked
def mermaid(workflow: type[Workflow[Any]]) -> str:
    """The workflow's state diagram in Mermaid syntax, generated from the machine itself.

    Internal actions (csdesk's private ``_record_…`` callbacks) are left out: a diagram shows
    states, events and guards, the names a reader can use.

    Examples:
        >>> from csdesk.workflows import RefundWorkflow, mermaid
        >>> print(mermaid(RefundWorkflow).splitlines()[0])
        stateDiagram-v2
    """
    return MermaidRenderer().render(_graph(workflow)).rstrip("\n") + "\n"


@checked
def dot(workflow: type[Workflow[Any]]) -> str:
    """The workflow's state diagram in Graphviz's DOT language, generated from the machine.

    Needs the ``diagrams`` extra (pydot). The same diagram as `mermaid`, for ``dot -Tsvg`` or
    any Graphviz tool; `svg` runs Graphviz for you.

    Raises:
        MissingDependencyError: pydot is not installed.
    """
    try:
        from statemachine.contrib.diagram.renderers.dot import DotRenderer, DotRendererConfig
    except ImportError as error:
        raise MissingDependencyError(
            f"Graphviz diagrams need pydot: pip install -e '.[diagrams]' ({error})",
            dependency="pydot",
            install="pip install -e '.[diagrams]'",
        ) from None
    config = DotRendererConfig(state_font_size="11", transition_font_size="9")
    source: str = DotRenderer(config).render(_graph(workflow)).to_string()
    return _RANDOM_IDS.sub(lambda match: match.group(1) + "_0", source)


@checked
def svg(workflow: type[Workflow[Any]]) -> str:
    """The workflow's state diagram as an SVG picture, drawn by Graphviz from `dot`.

    Needs the ``diagrams`` extra (pydot) and Graphviz's ``dot`` program (Debian: ``apt install
    graphviz``). The documentation draws its diagrams with this when it is built, so they show
    without JavaScript or a network.

    Raises:
        MissingDependencyError: pydot or the ``dot`` program is not installed.
    """
    source = dot(workflow)
    try:
        picture = run_graphviz(source, "svg").decode("utf-8")
    except GraphvizNotFoundError:
        raise MissingDependencyError(
            "drawing a diagram needs Graphviz's dot program: apt install graphviz "
            "(or see https://graphviz.org/download/)",
            dependency="dot",
            install="apt install graphviz",
        ) from None
    except GraphvizError as error:  # pragma: no cover - Graphviz failing on our own DOT source
        raise MissingDependencyError(
            f"Graphviz's dot program failed: {error}",
            dependency="dot",
            install="apt install graphviz",
        ) from None
    # Drop the XML prologue and DOCTYPE: the picture can be inlined in HTML as it is.
    return picture[picture.index("<svg") :]
