"""`AfterSaleDesk`: filing after-sale cases against the store, one order at a time.

`csdesk.workflows.open_case` checks the units a new case asks for against the order's other cases,
but it is given those cases: two workers filing at once would each see none and both claim the
same units. `AfterSaleDesk.open` files the case in one transaction that first locks the order's row
(``FOR UPDATE`` on PostgreSQL and MariaDB; SQLite has one writer), reads the order's cases from
the store, checks, and writes the case and its events, so the units of a line are claimed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csdesk._checks import checked
from csdesk.events import Actor, DomainEvent
from csdesk.models import AfterSaleCase, CaseType, Order
from csdesk.policies.returns import ReturnPolicy
from csdesk.storage import SqlStore
from csdesk.workflows import open_case

__all__ = ["AfterSaleDesk"]


class AfterSaleDesk:
    """After-sale cases on a `csdesk.storage.SqlStore` (move them with ``store.run``)."""

    @checked
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    @checked
    def open(
        self,
        order_id: str,
        *,
        id: str,
        type: CaseType | str,
        lines: Mapping[str, int],
        reason: str,
        actor: Actor,
        now: datetime,
        policy: ReturnPolicy,
        **options: Any,
    ) -> tuple[AfterSaleCase, list[DomainEvent]]:
        """File a case on the stored order; the order's stored cases count against its units.

        ``options`` are `csdesk.workflows.open_case`'s (``statutory_basis``, ``zone``,
        ``informed``, ``country``, ``subdivision``, ``override``).

        Raises:
            TransitionRejectedError: the window is closed, the goods are excluded, or the units
                do not fit with the order's other cases.
            NotFoundError: no such order.
            InvalidInputError: a case with that id exists already.
        """
        with self.store.transaction("open case") as connection:
            order = self.store.load_in(connection, Order, order_id, lock=True)
            existing = self.store.of_order_in(connection, AfterSaleCase, order_id)
            case, events = open_case(
                order,
                id=id,
                type=type,
                lines=lines,
                reason=reason,
                actor=actor,
                now=now,
                policy=policy,
                existing=existing,
                **options,
            )
            self.store.insert_in(connection, case, events)
            return case, events
