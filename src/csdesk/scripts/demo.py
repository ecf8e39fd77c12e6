"""The scenario ``csdesk demo`` plays, as data: built here, printed by `csdesk.scripts.main`.

Each capability adds its step. So far: a Double 11 order with a line promotion, a store coupon,
shipping and included VAT, placed and split per line; then a partial return of one line refunded in
three goes, each share computed with cumulative rounding, which add up to exactly what was paid.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from csdesk.errors import TransitionRejectedError
from csdesk.events import Actor, DomainEvent
from csdesk.integrations.refund_batch import (
    BatchSummary,
    MappingOrders,
    file_digest,
    read_rows,
    run_batch,
)
from csdesk.ledger import PaymentLedger
from csdesk.models import (
    AfterSaleCase,
    Customer,
    ExchangeItem,
    LineDraft,
    Order,
    PaidSplit,
    Payment,
    Refund,
    ReviewCase,
    Shipment,
    Ticket,
    Transfer,
)
from csdesk.money import Money, sum_money
from csdesk.policies.approval import (
    ApprovalDecision,
    ApprovalRequest,
    approval_policy,
    decide_approval,
)
from csdesk.policies.arrival import ArrivalEstimate, estimate_arrival
from csdesk.policies.compensation import (
    Agent,
    CustomerSnapshot,
    Decision,
    LateDelivery,
    OrderSnapshot,
    PolicyComparison,
    Received,
    compare,
    compensation_policy,
    decide,
)
from csdesk.policies.compensation.samples import sample_incidents
from csdesk.policies.crisis import CrisisDetector, CrisisIncident, CrisisPolicy
from csdesk.policies.refunds import RefundQuote, refund_policy
from csdesk.policies.returns import ReturnWindow, return_policy, return_window
from csdesk.policies.review_recovery import review_recovery_policy
from csdesk.policies.tiering import Complaint, TierAssessment, assess, tiering_policy
from csdesk.refund_desk import RefundDesk
from csdesk.replies import RenderResult, builtin_templates, render
from csdesk.sla import (
    HandoverReport,
    Promise,
    SlaPolicy,
    SlaReport,
    apology_batch,
    china_calendar,
    handover_report,
    outage_backlog,
    promise,
    sla_report,
)
from csdesk.storage import SqlStore
from csdesk.workflows import (
    ApproveCase,
    Command,
    CompleteCase,
    ConfirmCause,
    DeliverOrder,
    DeliverParcel,
    LogContact,
    MarkReturnShipped,
    OfferCompensation,
    PayExchangeDifference,
    PayOrder,
    PostReply,
    ReceiveReturn,
    RecordOutage,
    ResolveCase,
    ResolveReview,
    ShipOrder,
    ShipReplacement,
    SubmitRefund,
    SucceedRefund,
    TransferTicket,
    open_case,
    open_review_case,
    open_ticket,
    review_incident,
    run,
)

__all__ = [
    "AfterSale",
    "Batch",
    "Compensation",
    "Complaints",
    "DemoResult",
    "Desk",
    "Lifecycle",
    "RefundStep",
    "Refunded",
    "Replies",
    "Support",
    "run_demo",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class RefundStep:
    """One partial refund of the demo's returned line."""

    units: int
    already: int
    split: PaidSplit


@dataclass(frozen=True)
class Refunded:
    """The refund of the units that came back."""

    quote: RefundQuote
    refunds: tuple[Refund, ...]
    ledger: PaymentLedger
    arrival: ArrivalEstimate


@dataclass(frozen=True)
class Lifecycle:
    """The demo order's life after placement, the two return requests, and the refund."""

    events: tuple[DomainEvent, ...]
    order: Order
    window: ReturnWindow
    case: AfterSaleCase
    refused: str
    refunded: Refunded


@dataclass(frozen=True)
class Support:
    """A ticket opened on the eve of National Day, its SLA deadlines and the time promised."""

    ticket: Ticket
    report: SlaReport
    promise: Promise
    now: datetime


@dataclass(frozen=True)
class Complaints:
    """Three complaints about one batch becoming an incident; a diamond customer's repeat."""

    incident: CrisisIncident
    first: TierAssessment
    repeat: TierAssessment


@dataclass(frozen=True)
class Compensation:
    """The demo order's late parcel decided by the shop standard; two policy versions compared."""

    decision: Decision
    comparison: PolicyComparison
    sample_size: int


@dataclass(frozen=True)
class Batch:
    """A stock-out refund batch, quoted as a dry run: the CSV and what it would refund."""

    csv: str
    summary: BatchSummary


@dataclass(frozen=True)
class Replies:
    """The late-delivery apology, rendered for three customers."""

    rendered: tuple[RenderResult, ...]


@dataclass(frozen=True)
class Desk:
    """A day at the desk: ping-pong, approval by rule, a review recovered, an outage, handover."""

    transfer: Transfer
    owners: dict[str, str | None]
    approval: ApprovalDecision
    review: ReviewCase
    offer: Decision
    backlog: int
    apology: str
    outage_elapsed: timedelta
    outage_paused: timedelta
    handover: HandoverReport


@dataclass(frozen=True)
class AfterSale:
    """Two parcels and a return while the second travels; an exchange with a difference."""

    split: Order
    window_first: ReturnWindow
    window_second: ReturnWindow
    split_return: AfterSaleCase
    exchange: AfterSaleCase


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo computed, for printing or for a test to check."""

    order: Order
    refund_line_id: str
    refunds: tuple[RefundStep, ...]
    lifecycle: Lifecycle
    support: Support
    complaints: Complaints
    compensation: Compensation
    replies: Replies
    batch: Batch
    desk: Desk
    aftersale: AfterSale

    @property
    def refunded(self) -> Money:
        """The sum of the partial refunds."""
        return sum_money((step.split.paid for step in self.refunds), self.order.currency)


def _cny(amount: str) -> Money:
    return Money(amount, "CNY")


COUPON = _cny("300.00")  # 满减: 300 off over 2,000
SHIPPING = _cny("12.00")
# 13% VAT included in the prices: the host's tax engine computes it on what is paid.
VAT = ((_cny("799.00") + _cny("1749.95") + _cny("59.70") - COUPON + SHIPPING) * 13 / 113).quantize()


def run_demo() -> DemoResult:
    """Place the demo order and refund its thermos line in three goes (2, then 1, then 2 units)."""
    customer = Customer(
        id="C-88001",
        tier="gold",
        name="张三丰",
        phone="+86 138-1234-5678",
        address="浙江省杭州市西湖区文三路90号",
    )
    order = Order.place(
        id="SO-20261111-0042",
        customer=customer,
        placed_at=datetime(2026, 11, 11, 20, 15, tzinfo=SHANGHAI),
        lines=[
            LineDraft(
                sku="DJ-900",
                name="羽绒服 Down jacket",
                quantity=1,
                unit_price=_cny("899.00"),
                line_discount=_cny("100.00"),
            ),
            LineDraft(sku="TC-500", name="保温杯 Thermos", quantity=5, unit_price=_cny("349.99")),
            LineDraft(sku="SK-003", name="袜子 Socks", quantity=3, unit_price=_cny("19.90")),
        ],
        order_discount=COUPON,
        shipping_fee=SHIPPING,
        tax=VAT,
        tax_included=True,
    )
    line = order.line("2")
    refunds: list[RefundStep] = []
    already = 0
    for units in (2, 1, 2):
        refunds.append(RefundStep(units, already, line.refund_split(units=units, already=already)))
        already += units
    compensation = _compensation(order)
    return DemoResult(
        order=order,
        refund_line_id=line.id,
        refunds=tuple(refunds),
        lifecycle=_lifecycle(order.model_copy(deep=True)),
        support=_support(),
        complaints=_complaints(),
        compensation=compensation,
        replies=_replies(compensation.decision),
        batch=_batch(order),
        desk=_desk(),
        aftersale=_aftersale(),
    )


def _aftersale() -> AfterSale:
    """拆单 and 换货: a return from the first parcel while the second travels, an exchange."""
    placed = datetime(2026, 11, 11, 21, 0, tzinfo=SHANGHAI)
    customer, agent = Actor(kind="customer", id="C-88001"), Actor(kind="staff", id="agent-07")
    order = Order.place(
        id="SO-20261111-0077",
        customer=Customer(id="C-88001"),
        placed_at=placed,
        lines=[
            LineDraft(sku="TC-500", name="保温杯 Thermos", quantity=2, unit_price=_cny("349.99")),
            LineDraft(sku="DJ-900-M", name="羽绒服 Down jacket M", quantity=1,
                      unit_price=_cny("899.00"), line_discount=_cny("100.00")),
        ],
    )  # fmt: skip
    payment = Payment(id="P-77", method="alipay", captured=order.total, captured_at=placed)
    run(order, PayOrder(payments=[payment]), actor=customer, now=placed)
    first = Shipment(id="PCL-1", carrier="SF Express", tracking_number="SF1", lines={"1": 2})
    run(order, ShipOrder(shipment=first), actor=agent, now=placed + timedelta(hours=12))
    second = Shipment(id="PCL-2", carrier="YTO", tracking_number="YT2")
    run(order, ShipOrder(shipment=second), actor=agent, now=placed + timedelta(days=2))
    signed = placed + timedelta(days=2)
    run(order, DeliverParcel(shipment_id="PCL-1", signed_at=signed), actor=agent, now=signed)
    policy = return_policy("cn_consumer_law")
    looked = signed + timedelta(days=1)
    window_first = return_window(order, "1", policy=policy, now=looked)
    window_second = return_window(order, "2", policy=policy, now=looked)
    split_return, _ = open_case(
        order,
        id="AS-76",
        type="return_and_refund",
        lines={"1": 1},
        reason="no_reason",
        actor=customer,
        now=looked,
        policy=policy,
    )
    jacket = placed + timedelta(days=4)
    run(order, DeliverParcel(shipment_id="PCL-2", signed_at=jacket), actor=agent, now=jacket)
    larger = ExchangeItem(line_id="2", units=1, sku="DJ-900-L", name="羽绒服 Down jacket L",
                          unit_price=_cny("849.00"))  # fmt: skip
    case, _ = open_case(order, id="AS-77", type="exchange", lines={"2": 1}, reason="size",
                        actor=customer, now=jacket + timedelta(days=1), policy=policy,
                        exchange=[larger], existing=[split_return])  # fmt: skip
    later = jacket + timedelta(days=3)
    run(case, ApproveCase(), actor=agent, now=later)
    run(case, MarkReturnShipped(tracking_number="YT9"), actor=customer, now=later)
    run(case, ReceiveReturn(received={"2": 1}, condition="resellable"), actor=agent, now=later)
    assert case.difference is not None
    paid = Payment(id="P-78", method="alipay", captured=case.difference, captured_at=later)
    run(case, PayExchangeDifference(payment=paid), actor=customer, now=later)
    run(case, ResolveCase(), actor=agent, now=later)
    out = Shipment(id="PCL-3", carrier="SF Express", tracking_number="SF3")
    run(case, ShipReplacement(shipment=out), actor=agent, now=later)
    run(case, CompleteCase(), actor=agent, now=later + timedelta(days=2))
    return AfterSale(split=order, window_first=window_first, window_second=window_second,
                     split_return=split_return, exchange=case)  # fmt: skip


def _desk() -> Desk:
    """Monday at the desk (the seeds' daily work): each step runs the library's own commands."""
    morning = datetime(2026, 11, 16, 9, 30, tzinfo=SHANGHAI)
    customer = Actor(kind="customer", id="C-88001")
    lin, wang, system = (
        Actor(kind="staff", id="lin"),
        Actor(kind="staff", id="wang"),
        Actor.system(),
    )
    sla = SlaPolicy.from_data(
        {
            "id": "desk",
            "version": "2026.1",
            "source": "our service terms",
            "as_of": "2026-11-01",
            "targets": {
                "P3": [
                    {"metric": "first_reply", "minutes": 30},
                    {"metric": "resolution", "minutes": 480},
                ]
            },
        }
    )
    calendar = china_calendar(weekly=OFFICE_HOURS)
    ticket, log = open_ticket(
        id="T-501",
        category="order_problem",
        customer_id="C-88001",
        actor=customer,
        now=morning,
        group="pre_sales",
    )
    log += run(ticket, PostReply(body="您好"), actor=lin, now=morning + timedelta(minutes=2))
    log += run(
        ticket,
        TransferTicket(
            to_group="after_sales", reason="a thermos return", keep=("answer",), case_id="AS-2"
        ),
        actor=lin,
        now=morning + timedelta(minutes=5),
    )
    log += run(
        ticket,
        TransferTicket(to_group="pre_sales", reason="not ours?"),
        actor=wang,
        now=morning + timedelta(minutes=30),
    )
    approval = decide_approval(
        ApprovalRequest(
            case_type="return_and_refund",
            reason="no_reason",
            amount=_cny("349.99"),
            customer_tier="gold",
            orders=14,
            refunds=1,
            return_rate="0.04",
        ),
        approval_policy("shop_default"),
        now=morning + timedelta(minutes=40),
    )
    afternoon = morning.replace(hour=15, minute=0)
    recovery = review_recovery_policy("seeds")
    review, _ = open_review_case(
        id="RV-9",
        review_id="R-88",
        order_id="SO-20261111-0042",
        customer_id="C-88001",
        rating=1,
        sku="TC-500",
        posted_at=afternoon - timedelta(hours=3),
        actor=system,
        now=afternoon,
    )
    run(
        review,
        LogContact(policy=recovery, channel="phone", reached=False),
        actor=lin,
        now=afternoon,
    )
    later = afternoon + timedelta(hours=2)
    run(review, LogContact(policy=recovery, channel="phone", reached=True), actor=lin, now=later)
    run(review, ConfirmCause(root_cause="damaged"), actor=lin, now=later)
    snapshot = OrderSnapshot(
        id="SO-20261111-0042",
        paid_total=_cny("349.99"),
        item_paid=_cny("349.99"),
        shipping_paid=_cny("0.00"),
        skus=("TC-500",),
    )
    buyer = CustomerSnapshot(id="C-88001", received={30: Received(amount=_cny("0"))})
    offer = decide(
        review_incident(review, order=snapshot, customer=buyer),
        policy=compensation_policy("shop_standard"),
        agent=Agent(id="lin", role="agent"),
        now=later,
    )
    run(review, OfferCompensation(decision=offer), actor=lin, now=later)
    run(review, ResolveReview(note="补偿已接受"), actor=lin, now=later + timedelta(minutes=10))
    start, end = morning.replace(hour=15, minute=10), morning.replace(hour=15, minute=50)
    waiting, wait_log = open_ticket(
        id="T-502",
        category="order_problem",
        customer_id="C-88002",
        actor=Actor(kind="customer", id="C-88002"),
        now=start + timedelta(minutes=5),
        group="after_sales",
    )
    backlog = outage_backlog(
        [ticket, waiting], {"T-501": log, "T-502": wait_log}, start=start, end=end
    )
    for item in backlog:
        assert item.ticket_id == waiting.id
        wait_log += run(
            waiting,
            RecordOutage(start=start, end=end, reason="chat system down"),
            actor=system,
            now=end,
        )
    wait_log += run(
        waiting, PostReply(body="抱歉久等"), actor=wang, now=end + timedelta(minutes=10)
    )
    status = sla_report(
        waiting, wait_log, policies=[sla], calendar=calendar, now=end + timedelta(hours=1)
    ).status("first_reply")
    handover = handover_report(
        [ticket, waiting],
        {"T-501": log, "T-502": wait_log},
        policies=[sla],
        calendar=calendar,
        shift_end=morning.replace(hour=18, minute=0),
    )
    return Desk(
        transfer=ticket.transfers[-1],
        owners={duty.value: team for duty, team in ticket.owners.items()},
        approval=approval,
        review=review,
        offer=offer,
        backlog=len(backlog),
        apology=apology_batch(backlog, next_update="今天 17:00 前", now=end)[0][1].text,
        outage_elapsed=status.elapsed,
        outage_paused=status.paused_for,
        handover=handover,
    )


STOCKOUT_CSV = """order_id,lines,amount,currency,reason,key
SO-20261111-0042,3:3,,,out_of_stock,
SO-20261111-0043,2:1,,,out_of_stock,
SO-20261111-0044,,20.00,CNY,price_adjustment,
SO-20261111-0045,2:9,,,out_of_stock,
SO-20261111-0046,,5.00,CNY,goodwill,
"""


def _batch(order: Order) -> Batch:
    """The socks ran out: refund four orders in one batch, as a dry run on the embedded orders.

    Row 5 asks for 9 thermoses of an order that has 5, and row 6 names an order the shop does not
    have: both are reported with their line numbers; the rest are quoted with the CN refund policy.
    """
    paid_at = datetime(2026, 11, 11, 20, 16, tzinfo=SHANGHAI)
    orders: dict[str, Order] = {}
    for number in range(42, 46):
        copy = order.model_copy(update={"id": f"SO-20261111-{number:04d}"}, deep=True)
        payment = Payment(
            id=f"PAY-{number}", method="alipay", captured=copy.total, captured_at=paid_at
        )
        run(copy, PayOrder(payments=[payment]), actor=Actor(kind="customer"), now=paid_at)
        orders[copy.id] = copy
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stockout.csv"
        path.write_text(STOCKOUT_CSV, encoding="utf-8")
        digest, _ = file_digest(path)
        summary = asyncio.run(
            run_batch(
                read_rows(path, namespace=digest[:16]),
                orders=MappingOrders(orders),
                policy=refund_policy("cn_default"),
                now=datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI),
                dry_run=True,
            )
        )
    return Batch(STOCKOUT_CSV, summary)


def _compensation(order: Order) -> Compensation:
    """The parcel arrives 3 days late: what the shop standard offers.

    Then what loosening its 30-day customer cap would have cost over 400 synthetic incidents.
    """
    shop = compensation_policy("shop_standard")
    late = LateDelivery(
        id="INC-20261118-7",
        occurred_at=datetime(2026, 11, 18, 9, 30, tzinfo=SHANGHAI),
        days_late=3,
        fault="carrier",
        order=OrderSnapshot.from_order(order),
        customer=CustomerSnapshot(
            id=order.customer.id,
            tier=order.customer.tier,
            received={30: Received(amount=_cny("0.00"), count=0)},
        ),
    )
    decision = decide(
        late,
        policy=shop,
        agent=Agent(id="chat-bot", role="bot"),
        now=datetime(2026, 11, 18, 9, 31, tzinfo=SHANGHAI),
    )
    data = shop.model_dump(mode="json")
    data["version"] = "2026.2-no-customer-cap"
    data["caps"] = [cap for cap in data["caps"] if cap["id"] != "customer_30d"]
    looser = compensation_policy(data)
    size = 400
    comparison = compare(shop, looser, sample_incidents(size, seed=2026))
    return Compensation(decision, comparison, size)


def _replies(decision: Decision) -> Replies:
    """The late-delivery apology with the decided coupon, for Shanghai, Taipei and London."""
    apology = builtin_templates()["late_delivery_apology"]
    context = {"order_id": "SO-20261111-0042", "days_late": 3, "coupon": decision.offers[0].value}
    return Replies(
        tuple(
            render(apology, context, locale=tag, now=decision.decided_at)
            for tag in ("zh-CN", "zh-TW", "en-GB")
        )
    )


def _complaints() -> Complaints:
    """Thermos batch TC-500-2611 leaks; a diamond customer complains twice about her parcel."""
    policy = tiering_policy("seeds")
    detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=3, multiplier=3))
    morning = datetime(2026, 11, 16, 9, 40, tzinfo=SHANGHAI)
    texts = ["保温杯漏水，烫到手了", "The thermos leaks at the lid", "杯盖漏水，要求退货"]
    raised = []
    for minute, text in zip((0, 11, 26), texts, strict=True):
        complaint = Complaint(
            id=f"CP-{minute}",
            received_at=morning + timedelta(minutes=minute),
            text=text,
            sku="TC-500",
            batch="TC-500-2611",
        )
        raised += [
            c.incident
            for c in detector.observe(complaint.id, complaint.received_at, batch=complaint.batch)
            if c.kind == "raised"
        ]
    diamond = Customer(id="C-90001", tier="diamond")
    first = Complaint(
        id="CP-101",
        received_at=morning,
        text="快递怎么还没到？我要投诉",
        days_late=2,
        order_id="SO-20261111-0099",
        customer_id="C-90001",
    )
    again = first.model_copy(update={"id": "CP-102", "received_at": morning + timedelta(days=1)})
    return Complaints(
        incident=raised[0],
        first=assess(first, policy=policy, now=morning, customer=diamond),
        repeat=assess(
            again, policy=policy, now=again.received_at, customer=diamond, history=[first]
        ),
    )


OFFICE_HOURS = {
    day: [("09:00", "12:00"), ("13:30", "18:30")] for day in ("mon", "tue", "wed", "thu", "fri")
}


def _support() -> Support:
    """A late-delivery ticket at 17:00 on 2026-09-30, before the National Day break."""
    calendar = china_calendar(weekly=OFFICE_HOURS)
    policy = SlaPolicy.from_data(
        {
            "id": "standard",
            "version": "2026.1",
            "source": "demo shop's terms: reply in 30 working minutes, resolve in 4 working hours",
            "as_of": "2026-09-01",
            "targets": {
                "p2": [
                    {"metric": "first_reply", "minutes": 30},
                    {"metric": "next_reply", "minutes": 60},
                    {"metric": "resolution", "minutes": 240},
                    {"metric": "total_resolution", "minutes": 2880, "business_hours": False},
                ]
            },
            "escalations": [{"level": 1, "after_minutes": 0, "notify": "after-sales lead"}],
        }
    )
    eve = datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)
    customer = Actor(kind="customer", id="C-88001")
    agent = Actor(kind="staff", id="agent-07")
    ticket, events = open_ticket(
        id="T-20260930-017",
        category="order_problem",
        priority="p2",
        customer_id="C-88001",
        actor=customer,
        now=eve,
        order_id="SO-20261111-0042",
        subject="快递三天没动了",
    )
    events += run(
        ticket,
        PostReply(body="您好，我马上为您查询物流，请稍等"),
        actor=agent,
        now=eve + timedelta(minutes=12),
    )
    now = eve + timedelta(minutes=25)
    report = sla_report(ticket, events, policies=[policy], calendar=calendar, now=now)
    said = promise(eve + timedelta(minutes=20), timedelta(hours=2), calendar=calendar)
    return Support(ticket, report, said, now)


def _lifecycle(order: Order) -> Lifecycle:
    """Pay, ship, deliver; a return in time and one too late; refund what came back."""
    customer = Actor(kind="customer", id=order.customer.id)
    agent = Actor(kind="staff", id="agent-07")
    courier = Actor(kind="platform", id="sf-express")
    alipay = Actor(kind="platform", id="alipay")
    paid_at = order.placed_at + timedelta(minutes=3)
    signed_at = datetime(2026, 11, 14, 15, 0, tzinfo=SHANGHAI)
    payment = Payment(
        id="PAY-1",
        method="alipay",
        captured=order.total,
        captured_at=paid_at,
        reference="2026111122001",
    )
    parcel = Shipment(id="PCL-1", carrier="SF Express", tracking_number="SF1409876543210")
    events: list[DomainEvent] = []
    policy = return_policy("cn_consumer_law")
    in_time = datetime(2026, 11, 21, 22, 40, tzinfo=SHANGHAI)
    with SqlStore.memory() as store:
        store.insert(order)
        steps: list[tuple[Command[Order], Actor, datetime]] = [
            (PayOrder(payments=[payment]), customer, paid_at),
            (ShipOrder(shipment=parcel), agent, datetime(2026, 11, 12, 9, 30, tzinfo=SHANGHAI)),
            (DeliverOrder(signed_at=signed_at), courier, signed_at),
        ]
        for command, actor, now in steps:
            events += store.run(order.id, command, actor=actor, now=now)
        delivered = store.load(Order, order.id)
        case, opened = open_case(
            delivered,
            id="AS-7001",
            type="return_and_refund",
            lines={"2": 2},
            reason="no_reason",
            actor=customer,
            now=in_time,
            policy=policy,
        )
        store.insert(case, opened)
        events += opened
        case_steps: list[tuple[Command[AfterSaleCase], Actor, datetime]] = [
            (ApproveCase(), agent, in_time + timedelta(minutes=20)),
            (
                MarkReturnShipped(tracking_number="YT7788990011"),
                customer,
                datetime(2026, 11, 22, 10, 5, tzinfo=SHANGHAI),
            ),
            (
                ReceiveReturn(received={"2": 1}, condition="resellable"),
                agent,
                datetime(2026, 11, 24, 14, 30, tzinfo=SHANGHAI),
            ),
            (ResolveCase(), agent, datetime(2026, 11, 24, 14, 35, tzinfo=SHANGHAI)),
        ]
        for step, actor, now in case_steps:
            events += store.run(case.id, step, actor=actor, now=now)
        refund = _refund(store, events, agent, alipay)
        done_at = refund.refunds[0].succeeded_at or in_time
        events += store.run(case.id, CompleteCase(), actor=agent, now=done_at)
        case = store.load(AfterSaleCase, case.id)
    try:
        open_case(
            delivered,
            id="AS-7002",
            type="return_and_refund",
            lines={"3": 1},
            reason="no_reason",
            actor=customer,
            now=datetime(2026, 11, 24, 0, 5, tzinfo=SHANGHAI),
            policy=policy,
            existing=[case],
        )
        refused = "(accepted)"
    except TransitionRejectedError as error:
        refused = error.reason
    window = return_window(delivered, "2", policy=policy, now=in_time)
    return Lifecycle(tuple(events), delivered, window, case, refused, refund)


def _refund(store: SqlStore, events: list[DomainEvent], agent: Actor, provider: Actor) -> Refunded:
    """Refund the units the shop received, as the case's resolve event handed them over."""
    handover = next(e for e in reversed(events) if e.type == "aftersale.refund_requested")
    desk = RefundDesk(store)
    now = handover.occurred_at
    quote, refunds = desk.request(
        str(handover.payload["order_id"]),
        idempotency_key=f"{handover.payload['case_id']}:refund",
        lines=dict(handover.payload["lines"]),  # type: ignore[arg-type]
        reason="no_reason",
        basis=str(handover.payload["statutory_basis"]),
        case_id=str(handover.payload["case_id"]),
        policy=refund_policy("cn_default"),
        actor=agent,
        now=now,
    )
    succeeded_at = now + timedelta(minutes=2)
    for refund in refunds:
        events += desk.command(
            refund.id, SubmitRefund(), actor=agent, now=now + timedelta(minutes=1)
        )
        events += desk.command(
            refund.id, SucceedRefund(reference="ALI-RF-88201"), actor=provider, now=succeeded_at
        )
    ledger = desk.ledger(refunds[0].order_id, refunds[0].payment_id)
    estimate = estimate_arrival("alipay_bank_card", succeeded_at, zone="Asia/Shanghai")
    return Refunded(quote, tuple(store.load(Refund, r.id) for r in refunds), ledger, estimate)
