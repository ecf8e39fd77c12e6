"""Every decision result shares the envelope, and `explain` words each in three locales.

The test makes one of each result the library returns (return window, refund quote, tier,
compensation decision, SLA status, arrival estimate, deadline, promise, rendered reply), checks
the envelope on each, that every `Decided` subclass in the package is among them, that every step
code has wording in every catalogue, and that a result reads back equal from its JSON.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from datetime import UTC, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

import csdesk
from csdesk import Customer, ExchangeItem, LineDraft, Money, Order, Payment
from csdesk.decision import Decided, PolicyRef, Step
from csdesk.events import Actor
from csdesk.policies import (
    ApprovalRequest,
    Complaint,
    PricePoint,
    Refunded,
    approval_policy,
    assess,
    claim_price_protection,
    decide_approval,
    estimate_arrival,
    price_protection_policy,
    quote_exchange,
    quote_refund,
    refund_policy,
    return_policy,
    return_window,
    tiering_policy,
    timer_preset,
)
from csdesk.policies.compensation import Agent, compensation_policy, decide
from csdesk.policies.compensation.samples import sample_incidents
from csdesk.replies import EXPLAIN_LOCALES, builtin_templates, explain, explain_step, render
from csdesk.sla import BusinessCalendar, SlaPolicy, promise, sla_report
from csdesk.workflows import TicketWorkflow, fire, open_ticket
from csdesk.workflows.timers import deadlines

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 5, 9, 0, tzinfo=SHANGHAI)
OFFICE = {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}


def _order() -> Order:
    order = Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI),
        lines=[LineDraft(sku="MUG", name="杯", quantity=2, unit_price=Money("64.25", "CNY"))],
        pay_by=datetime(2026, 3, 1, 10, 30, tzinfo=SHANGHAI),
    )
    order.signed_at = datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI)
    paid_at = datetime(2026, 3, 1, 10, 5, tzinfo=SHANGHAI)
    order.payments = (
        Payment(id="P-1", method="alipay", captured=order.total, captured_at=paid_at),
    )
    return order


def _sla_status() -> Decided:
    calendar = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE)
    policy = SlaPolicy.model_validate(
        {
            "id": "std",
            "version": "1",
            "source": "test",
            "as_of": "2026-01-01",
            "targets": {"P3": [{"metric": "first_reply", "minutes": 60}]},
        }
    )
    agent = Actor(kind="staff", id="a-1")
    ticket, events = open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=agent, now=NOW
    )
    later = NOW + timedelta(hours=2)
    more = fire(TicketWorkflow, ticket, "reply", actor=agent, now=later, body="on its way")
    report = sla_report(
        ticket, [*events, *more], policies=[policy], calendar=calendar, now=NOW + timedelta(hours=3)
    )
    return report.statuses[0]


def results() -> dict[str, Decided]:
    """One of each decision result."""
    order = _order()
    calendar = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE)
    incident = next(iter(sample_incidents(1, seed=5)))
    return {
        "ReturnWindow": return_window(order, "1", policy=return_policy("cn_consumer_law"), now=NOW),
        "RefundQuote": quote_refund(
            order,
            lines={"1": 1},
            reason="no_reason",
            policy=refund_policy("cn_default"),
            now=NOW,
            refunded=Refunded.of(order),
        ),
        "TierAssessment": assess(
            Complaint(id="CP-1", received_at=NOW, text="我要投诉", days_late=3),
            policy=tiering_policy("seeds"),
            now=NOW,
        ),
        "Decision": decide(
            incident,
            policy=compensation_policy("shop_standard"),
            agent=Agent(id="a-1", role="agent"),
            now=NOW,
        ),
        "SlaStatus": _sla_status(),
        "ArrivalEstimate": estimate_arrival("card", NOW, calendar, zone="Asia/Shanghai"),
        "Deadline": deadlines(order, timer_preset("cn_platform"))[0],
        "Promise": promise(NOW, timedelta(hours=2), calendar=calendar),
        "ApprovalDecision": decide_approval(
            ApprovalRequest(
                case_type="return_and_refund",
                reason="no_reason",
                amount=Money("59.00", "CNY"),
                customer_tier="gold",
                orders=5,
                return_rate="0.1",
            ),
            approval_policy("shop_default"),
            now=NOW,
        ),
        "PriceProtectionClaim": claim_price_protection(
            _order(),
            "1",
            prices=[
                PricePoint(
                    sku="MUG", price=Money("59.00", "CNY"), at=datetime(2026, 3, 3, tzinfo=UTC)
                )
            ],
            paid_at=datetime(2026, 3, 1, 10, 5, tzinfo=SHANGHAI),
            policy=price_protection_policy("jd_style"),
            now=NOW,
        ),
        "ExchangeQuote": quote_exchange(
            _order(),
            [ExchangeItem(line_id="1", units=1, sku="MUG-L", unit_price=Money("70.00", "CNY"))],
            policy=return_policy("cn_consumer_law"),
            now=NOW,
        ),
        "RenderResult": render(
            builtin_templates()["late_delivery_apology"],
            {"order_id": "SO-1", "days_late": 3, "coupon": Money("10.00", "CNY")},
            locale="zh-CN",
            now=NOW,
        ),
    }


RESULTS = results()


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_every_decided_class_in_the_package_is_enumerated() -> None:
    for module in pkgutil.walk_packages(csdesk.__path__, "csdesk."):
        if not module.name.startswith(("csdesk.scripts", "csdesk.testing")):
            importlib.import_module(module.name)
    in_package = {c.__name__ for c in _subclasses(Decided) if c.__module__.startswith("csdesk")}
    assert in_package == set(RESULTS)


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_the_envelope(name: str) -> None:
    result = RESULTS[name]
    assert type(result).__name__ == name
    assert isinstance(result.policy, PolicyRef)
    assert len(result.policy.hash) == 64
    assert result.policy.source
    assert result.trace
    assert all(isinstance(step, Step) and step.code for step in result.trace)
    assert len(result.inputs_hash) == 64
    assert result.decided_at.tzinfo is not None
    assert result.answer is not None
    assert result.model_config.get("frozen")


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_a_result_reads_back_equal_from_its_json(name: str) -> None:
    result = RESULTS[name]
    again = type(result).model_validate_json(result.model_dump_json())
    assert again == result
    assert again.inputs_hash == result.inputs_hash


@pytest.mark.parametrize("locale", ["en", "zh-CN", "zh-TW", "en-GB", "zh-HK"])
@pytest.mark.parametrize("name", sorted(RESULTS))
def test_explain_words_every_result(name: str, locale: str) -> None:
    result = RESULTS[name]
    text = explain(result, locale, tz="Asia/Shanghai")
    lines = text.splitlines()
    assert len(lines) >= len(result.trace) + 2
    assert result.policy is not None
    assert result.policy.id in lines[-1]
    assert "{{" not in text
    assert "{%" not in text


def test_traditional_and_simplified_wording_differ() -> None:
    decision = RESULTS["Decision"]
    assert explain(decision, "zh-TW") != explain(decision, "zh-CN")
    assert "依據" in explain(decision, "zh-TW")
    assert "依据" in explain(decision, "zh-CN")


def _catalogue(locale: str) -> dict[str, dict[str, str]]:
    path = resources.files("csdesk.replies") / "explanations" / f"{locale}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_catalogues_word_the_same_codes() -> None:
    keys = {
        locale: {k: set(v) for k, v in _catalogue(locale).items()} for locale in EXPLAIN_LOCALES
    }
    assert keys["zh_Hans"] == keys["en"]
    assert keys["zh_Hant"] == keys["en"]


def test_every_code_the_deciders_write_has_wording() -> None:
    seen: set[str] = set()
    policy = compensation_policy("shop_standard")
    for incident in sample_incidents(400, seed=11):
        decision = decide(incident, policy=policy, agent=Agent(id="a", role="agent"), now=NOW)
        seen.update(step.code for step in decision.trace)
        for step in decision.trace:
            explain_step(step, "zh-TW")
    for result in RESULTS.values():
        seen.update(step.code for step in result.trace)
    assert seen <= set(_catalogue("en")["steps"])


def test_a_step_without_wording_is_a_clear_error() -> None:
    from csdesk.decision import step
    from csdesk.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"no wording for trace step 'made\.up'"):
        explain_step(step("x", "made.up"), "en")


def test_the_inputs_hash_follows_the_inputs() -> None:
    order = _order()
    policy = return_policy("cn_consumer_law")
    first = return_window(order, "1", policy=policy, now=NOW)
    same = return_window(order, "1", policy=policy, now=NOW + timedelta(hours=1))
    other = return_window(order, "1", policy=policy, now=NOW, informed=False)
    assert first.inputs_hash == same.inputs_hash != other.inputs_hash
    assert first.decided_at != same.decided_at


def test_decided_at_is_the_now_given() -> None:
    at = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    window = return_window(_order(), "1", policy=return_policy("cn_consumer_law"), now=at)
    assert window.decided_at == at
