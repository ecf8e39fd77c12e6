from datetime import timedelta

import pytest

from csdesk import (
    AfterSaleCase,
    Condition,
    InvalidInputError,
    InvalidTransitionError,
    QuantityError,
    TransitionRejectedError,
)
from csdesk.policies import return_policy, timer_preset
from csdesk.workflows import AfterSaleWorkflow, fire, open_case
from tests.factories import CUSTOMER, SIGNED, STAFF, SYSTEM, delivered_order, new_case

CN_LAW = return_policy("cn_consumer_law")
CN_TIMERS = timer_preset("cn_platform")
EU_TIMERS = timer_preset("eu_crd")
IN_TIME = SIGNED + timedelta(days=3)


def open_return(units: int = 2, **kwargs):  # type: ignore[no-untyped-def]
    order = delivered_order()
    return open_case(
        order,
        id="AS-1",
        type="return_and_refund",
        lines={"1": units},
        reason="no_reason",
        actor=CUSTOMER,
        now=IN_TIME,
        policy=CN_LAW,
        **kwargs,
    )


class TestOpenCase:
    def test_in_window(self) -> None:
        case, events = open_return()
        assert (case.state, case.version, case.statutory_basis) == ("requested", 1, "cn_7day")
        assert [e.type for e in events] == ["aftersale.requested"]
        assert events[0].payload["policy"] == "cn_consumer_law"

    def test_after_the_window_names_the_last_day(self) -> None:
        order = delivered_order()
        # The 7th day is Sunday 8 March, a statutory rest day: the window runs through Monday.
        with pytest.raises(TransitionRejectedError, match="closed on 2026-03-09"):
            open_case(
                order,
                id="AS-1",
                type="return_and_refund",
                lines={"1": 1},
                reason="x",
                actor=CUSTOMER,
                now=SIGNED + timedelta(days=9),
                policy=CN_LAW,
            )

    def test_staff_override_is_recorded(self) -> None:
        order = delivered_order()
        _, events = open_case(
            order,
            id="AS-1",
            type="return_and_refund",
            lines={"1": 1},
            reason="x",
            actor=STAFF,
            now=SIGNED + timedelta(days=8),
            policy=CN_LAW,
            override="goodwill for a gold member",
        )
        assert [e.type for e in events] == ["aftersale.requested", "aftersale.policy_overridden"]
        assert events[1].causation_id == events[0].id

    def test_excluded_goods(self) -> None:
        order = delivered_order()
        with pytest.raises(TransitionRejectedError, match="perishable"):
            open_case(
                order,
                id="AS-1",
                type="return_and_refund",
                lines={"3": 1},
                reason="x",
                actor=CUSTOMER,
                now=IN_TIME,
                policy=CN_LAW,
            )

    def test_refund_only_needs_no_window(self) -> None:
        order = delivered_order()
        case, _ = open_case(
            order,
            id="AS-1",
            type="refund_only",
            lines={"3": 1},
            reason="spoiled on arrival",
            actor=CUSTOMER,
            now=SIGNED + timedelta(days=30),
            policy=CN_LAW,
        )
        assert case.statutory_basis == "none"

    def test_quantities_across_cases_never_exceed_the_line(self) -> None:
        order = delivered_order()
        first, _ = open_return(units=4)
        with pytest.raises(TransitionRejectedError, match="1 unit"):
            open_case(
                order,
                id="AS-2",
                type="return_and_refund",
                lines={"1": 2},
                reason="x",
                actor=CUSTOMER,
                now=IN_TIME,
                policy=CN_LAW,
                existing=[first],
            )
        first.state = "canceled"
        second, _ = open_case(
            order,
            id="AS-2",
            type="return_and_refund",
            lines={"1": 5},
            reason="x",
            actor=CUSTOMER,
            now=IN_TIME,
            policy=CN_LAW,
            existing=[first],
        )
        assert second.lines[0].requested == 5

    def test_units_must_be_positive(self) -> None:
        with pytest.raises(QuantityError):
            open_return(units=0)


class TestDecisions:
    def test_reject_needs_a_reason(self) -> None:
        case = new_case(basis="none")
        with pytest.raises(InvalidInputError, match="reason"):
            fire(AfterSaleWorkflow, case, "reject", actor=STAFF, now=IN_TIME)
        assert case.state == "requested"

    def test_statutory_return_needs_a_finding_or_exclusion(self) -> None:
        case = new_case(basis="cn_7day")
        with pytest.raises(TransitionRejectedError, match="finding"):
            fire(AfterSaleWorkflow, case, "reject", actor=STAFF, now=IN_TIME, reason="used")
        fire(
            AfterSaleWorkflow,
            case,
            "reject",
            actor=STAFF,
            now=IN_TIME,
            reason="used",
            finding="labels removed, soiled (Interim Measures art. 9(3))",
        )
        assert case.state == "rejected"
        assert case.finding is not None

    def test_revise_and_escalate(self) -> None:
        case = new_case(basis="none")
        fire(AfterSaleWorkflow, case, "reject", actor=STAFF, now=IN_TIME, reason="no photos")
        fire(AfterSaleWorkflow, case, "revise", actor=CUSTOMER, now=IN_TIME)
        assert (case.state, case.rejection) == ("requested", None)
        fire(AfterSaleWorkflow, case, "escalate", actor=CUSTOMER, now=IN_TIME)
        fire(AfterSaleWorkflow, case, "approve", actor=STAFF, now=IN_TIME)
        assert case.state == "awaiting_return"

    def test_refund_only_approval_skips_the_return(self) -> None:
        case = new_case(type="refund_only", basis="none")
        fire(AfterSaleWorkflow, case, "approve", actor=STAFF, now=IN_TIME)
        assert case.state == "approved"
        events = fire(AfterSaleWorkflow, case, "resolve", actor=STAFF, now=IN_TIME)
        assert events[1].type == "aftersale.refund_requested"
        assert events[1].payload["lines"] == {"1": 2}

    def test_auto_approve_when_the_platform_says_so(self) -> None:
        case = new_case()
        with pytest.raises(TransitionRejectedError, match="has until"):
            fire(
                AfterSaleWorkflow,
                case,
                "auto_approve",
                actor=SYSTEM,
                now=case.requested_at + timedelta(days=4),
                timers=CN_TIMERS,
            )
        fire(
            AfterSaleWorkflow,
            case,
            "auto_approve",
            actor=SYSTEM,
            now=case.requested_at + timedelta(days=5),
            timers=CN_TIMERS,
        )
        assert case.state == "awaiting_return"

    def test_eu_preset_escalates_instead_of_approving(self) -> None:
        case = new_case(basis="eu_withdrawal")
        with pytest.raises(TransitionRejectedError, match="approves on expiry"):
            fire(
                AfterSaleWorkflow,
                case,
                "auto_approve",
                actor=SYSTEM,
                now=case.requested_at + timedelta(days=30),
                timers=EU_TIMERS,
            )


class TestTheGoodsComingBack:
    def approved(self) -> AfterSaleCase:
        case = new_case()
        fire(AfterSaleWorkflow, case, "approve", actor=STAFF, now=IN_TIME)
        return case

    def test_tracking_number_required(self) -> None:
        case = self.approved()
        with pytest.raises(InvalidInputError, match="tracking_number"):
            fire(AfterSaleWorkflow, case, "mark_shipped", actor=CUSTOMER, now=IN_TIME)
        with pytest.raises(InvalidInputError, match="tracking_number"):
            fire(
                AfterSaleWorkflow,
                case,
                "mark_shipped",
                actor=CUSTOMER,
                now=IN_TIME,
                tracking_number=" ",
            )

    def test_receive_never_more_than_requested(self) -> None:
        case = self.approved()
        fire(
            AfterSaleWorkflow,
            case,
            "mark_shipped",
            actor=CUSTOMER,
            now=IN_TIME,
            tracking_number="YT123",
        )
        with pytest.raises(TransitionRejectedError, match="only 2 were requested"):
            fire(
                AfterSaleWorkflow,
                case,
                "receive",
                actor=STAFF,
                now=IN_TIME,
                received={"1": 3},
                condition="resellable",
            )
        fire(
            AfterSaleWorkflow,
            case,
            "receive",
            actor=STAFF,
            now=IN_TIME,
            received={"1": 1},
            condition="resellable",
        )
        assert case.lines[0].received == 1
        assert case.lines[0].condition is Condition.RESELLABLE
        events = fire(AfterSaleWorkflow, case, "resolve", actor=STAFF, now=IN_TIME)
        assert events[1].payload["lines"] == {"1": 1}  # the refund follows the received units

    def test_unknown_condition(self) -> None:
        case = self.approved()
        with pytest.raises(TransitionRejectedError, match="unknown condition"):
            fire(
                AfterSaleWorkflow,
                case,
                "receive",
                actor=STAFF,
                now=IN_TIME,
                received={"1": 1},
                condition="shiny",
            )

    def test_ship_back_timeout_depends_on_the_preset(self) -> None:
        case = self.approved()
        late = IN_TIME + timedelta(days=15)
        with pytest.raises(TransitionRejectedError, match="does not lapse"):
            fire(
                AfterSaleWorkflow,
                case,
                "ship_back_timeout",
                actor=SYSTEM,
                now=late,
                timers=EU_TIMERS,
            )
        fire(AfterSaleWorkflow, case, "ship_back_timeout", actor=SYSTEM, now=late, timers=CN_TIMERS)
        assert case.state == "canceled"

    def test_auto_receive(self) -> None:
        case = self.approved()
        fire(
            AfterSaleWorkflow,
            case,
            "mark_shipped",
            actor=CUSTOMER,
            now=IN_TIME,
            tracking_number="YT1",
        )
        fire(
            AfterSaleWorkflow,
            case,
            "auto_receive",
            actor=SYSTEM,
            now=IN_TIME + timedelta(days=10),
            timers=CN_TIMERS,
        )
        assert case.lines[0].condition is Condition.UNCHECKED
        assert case.lines[0].received == 2

    def test_no_cancel_once_resolving(self) -> None:
        case = new_case(type="refund_only", basis="none")
        fire(AfterSaleWorkflow, case, "approve", actor=STAFF, now=IN_TIME)
        fire(AfterSaleWorkflow, case, "resolve", actor=STAFF, now=IN_TIME)
        with pytest.raises(InvalidTransitionError) as caught:
            fire(AfterSaleWorkflow, case, "cancel", actor=CUSTOMER, now=IN_TIME, reason="x")
        assert caught.value.reason == "no_transition"
        fire(AfterSaleWorkflow, case, "complete", actor=SYSTEM, now=IN_TIME)
        assert case.state == "resolved"
