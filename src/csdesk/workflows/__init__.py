"""Workflows: the order and after-sale lifecycles, their timers, and the engine that runs them.

Every command goes through `fire`: load the entity, fire one event, save state, version and events
in one transaction (see `csdesk.integrations.sqlite_store` for the pattern). Timers are deadlines
computed from what happened (`deadlines`, `due_events`); the host's scheduler fires them.
"""

from csdesk.workflows._engine import Stateful, Workflow, allowed_events, fire, mermaid
from csdesk.workflows.aftersale import AfterSaleWorkflow, open_case
from csdesk.workflows.order import OrderWorkflow
from csdesk.workflows.refund import (
    RefundsRequested,
    RefundWorkflow,
    apply_to_ledger,
    request_refunds,
)
from csdesk.workflows.sweep import due_events
from csdesk.workflows.ticket import TicketWorkflow, open_ticket
from csdesk.workflows.timers import Deadline, case_deadlines, deadlines, order_deadlines

__all__ = [
    "AfterSaleWorkflow",
    "Deadline",
    "OrderWorkflow",
    "RefundWorkflow",
    "RefundsRequested",
    "Stateful",
    "TicketWorkflow",
    "Workflow",
    "allowed_events",
    "apply_to_ledger",
    "case_deadlines",
    "deadlines",
    "due_events",
    "fire",
    "mermaid",
    "open_case",
    "open_ticket",
    "order_deadlines",
    "request_refunds",
]
