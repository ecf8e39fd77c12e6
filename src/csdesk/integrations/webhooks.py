"""Signed webhooks: deliver the outbox's events to subscribers, and verify them on arrival.

**Signing.** Each delivery carries ``Csdesk-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]``:
an HMAC-SHA256, keyed with a shared secret, over ``"<t>." + body`` — the scheme Stripe uses. While
a secret is being rotated the sender signs with both the new and the old secret (two ``v1``
values), so a receiver that still has only the old one keeps verifying; once every receiver has the
new secret, the old one is dropped.

**Verifying.** `verify_webhook` checks the header against the receiver's secrets in constant time
and refuses a timestamp outside the tolerance (five minutes by default), so a captured delivery
cannot be replayed later. Receivers should also ignore an ``Csdesk-Event-Id`` they have seen:
delivery is at least once.

**Delivering.** `WebhookRelay` reads the events a `csdesk.storage.SqlStore` wrote to its outbox
(SQLite, PostgreSQL or MariaDB/MySQL) and POSTs them to each subscriber: at least once, in order
per aggregate (an event waits until the ones before it, for the same order or refund, were
delivered), with exponential backoff and jitter between attempts, and a dead-letter state after
``max_attempts`` — which holds back the aggregate's later events until an operator requeues or
skips it. Any number of relays may run at once, on any machines: deliveries are claimed with
leases.

Examples:
    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    >>> header = signature_header(b'{"id": "evt-1"}', ["whsec_new", "whsec_old"], now=now)
    >>> header.count("v1=")
    2
    >>> verify_webhook(b'{"id": "evt-1"}', header, ["whsec_old"], now=now)
    1795424400
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import random
import secrets as secrets_module
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import Connection, Select, and_, delete, func, insert, or_, select, update

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import InvalidInputError, WebhookSignatureError
from csdesk.privacy import get_logger
from csdesk.storage.schema import outbox, webhook_deliveries, webhook_endpoints
from csdesk.storage.sql import SqlStore

__all__ = [
    "DEFAULT_SCHEDULE",
    "MAX_RETRY_AFTER",
    "SIGNATURE_HEADER",
    "DeliveryReport",
    "Subscriber",
    "WebhookRelay",
    "sign",
    "signature_header",
    "standard_signature",
    "verify_webhook",
]

SIGNATURE_HEADER = "Csdesk-Signature"
"""The header that carries the signature."""

log = get_logger("csdesk.integrations.webhooks")


@checked
def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    if not secret:
        raise InvalidInputError("a webhook secret cannot be empty")
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@checked
def signature_header(body: bytes, secrets: Sequence[str], *, now: datetime) -> str:
    """The ``Csdesk-Signature`` value for ``body``: one ``v1`` per active secret (newest first)."""
    if not secrets:
        raise InvalidInputError("give at least one webhook secret")
    timestamp = int(require_aware(now, "now").timestamp())
    return f"t={timestamp}," + ",".join(f"v1={sign(body, s, timestamp)}" for s in secrets)


@checked
def verify_webhook(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> int:
    """Check a delivery's signature; return its timestamp.

    Args:
        body: The raw request body, exactly as received (before any JSON parsing).
        header: The ``Csdesk-Signature`` header, or ``None`` when it is missing.
        secrets: The receiver's secrets; during a rotation, both the new and the old one.
        now: The receiver's clock (aware).
        tolerance: How far the timestamp may be from ``now``, either way.

    Raises:
        WebhookSignatureError: ``missing``, ``malformed``, ``mismatch`` (tampered body, wrong
            secret) or ``stale`` (outside the tolerance: a replay).
    """
    if not header:
        raise WebhookSignatureError("missing", f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError(
            "malformed", f"{SIGNATURE_HEADER} must look like t=<seconds>,v1=<hex>"
        )
    age = require_aware(now, "now").timestamp() - timestamp
    if abs(age) > tolerance.total_seconds():
        raise WebhookSignatureError(
            "stale",
            f"the signature is {abs(age):.0f} s {'old' if age > 0 else 'in the future'}; at most "
            f"{tolerance.total_seconds():.0f} s is accepted (a replayed or delayed delivery)",
        )
    for secret in secrets:
        expected = sign(body, secret, timestamp)
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return timestamp
    raise WebhookSignatureError(
        "mismatch", "no signature matches: the body was changed or the secret is wrong"
    )


@dataclass(frozen=True)
class Subscriber:
    """Where events go.

    Attributes:
        name: A stable name (deliveries are tracked per subscriber).
        url: The endpoint that receives the POSTs.
        event_types: Deliver only these event types (``order.paid``…) or prefixes ending in
            ``.`` (``refund.``); every event when empty.
    """

    name: str
    url: str
    event_types: tuple[str, ...] = ()

    def wants(self, event_type: str) -> bool:
        """Whether this subscriber receives ``event_type``."""
        if not self.event_types:
            return True
        return any(
            event_type == wanted or (wanted.endswith(".") and event_type.startswith(wanted))
            for wanted in self.event_types
        )


@dataclass
class DeliveryReport:
    """What one pass of the relay did.

    Attributes:
        delivered: Deliveries a subscriber answered with a 2xx.
        failed: Attempts that failed (and will be retried, or were dead-lettered).
        dead: Deliveries dead-lettered in this pass.
        waiting: Deliveries still pending after the pass, over all subscribers.
        deferred: Deliveries not attempted in this pass because their subscriber was
            unreachable, throttling or out of time (not counted as attempts).
        disabled: Subscribers that answered 410 Gone in this pass and are now disabled.
        errors: One line per failed attempt.
    """

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    waiting: int = 0
    deferred: int = 0
    disabled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


DEFAULT_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(days=1),
    timedelta(days=1),
)
"""The waits before each retry: Standard Webhooks' schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h) and two daily retries, so a receiver that is down is retried for 3 days 3 h 35 min 5 s
after the first attempt, in 10 attempts, before the delivery is dead-lettered. Each wait varies
by ±10 % (jitter) so that many deliveries do not retry at the same instant."""

MAX_RETRY_AFTER = timedelta(days=1)
"""The longest ``Retry-After`` a 429 or 503 answer can impose; a longer one counts as this."""


@dataclass(frozen=True)
class _Outcome:
    """What one POST did: ``ok``, or the problem, and what the answer asks of the sender."""

    seq: int
    event_type: str
    sent_at: datetime
    ok: bool = False
    problem: str = ""
    retry_after: timedelta | None = None
    gone: bool = False
    endpoint_down: bool = False


_LIVE = ("pending", "dead")  # states that hold back an aggregate's later events


class WebhookRelay:
    """Deliver a store's outbox to subscribers: signed, at least once, ordered, from many relays.

    The relay works in two steps, both safe with any number of relay processes on any number of
    machines (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB; SQLite serializes writers):

    1. **Fan-out.** Undelivered outbox rows are claimed, one delivery row per interested
       subscriber is written, and the outbox row is marked handed on (``delivered_at``), all in one
       transaction. No high-water mark is kept, so an event whose transaction committed after a
       later one's is never skipped. (The relay is the outbox's consumer: do not also consume the
       same outbox with `csdesk.storage.SqlStore.claim_events`.)
    2. **Delivery.** Each relay claims due deliveries with a lease, POSTs them outside any
       transaction, and records the outcome only if it still holds the lease. A relay killed
       mid-pass leaves its claims to expire; another relay sends them again (at least once).

    Order holds per subscriber and aggregate: an event waits while an earlier event of the same
    order, case or refund is not yet handed on, or is pending or dead-lettered for that
    subscriber. Subscribers are served side by side, each in its own thread with its own
    budget, so a slow or hanging receiver never delays (or makes stale) another's deliveries.
    Each delivery is signed with the time it is actually sent.

    Args:
        store: The store whose outbox holds the events: a `csdesk.storage.SqlStore` on an engine
            or URL (the relay commits its own claims, so not one inside a host's transaction),
            or a database URL (the relay opens and closes the store).
        subscribers: Where to deliver.
        secrets: Signing secrets, newest first (two during a rotation).
        name: This relay's name in the claims (default: host, process and a random part).
        lease: How long a claimed delivery is this relay's; past it another relay may send it.
            Must exceed ``pass_seconds`` plus ``timeout``.
        schedule: The waits before each retry (`DEFAULT_SCHEDULE`: about three days).
        max_attempts: Attempts before an event is dead-lettered; by default one more than the
            schedule's retries. Fewer cut the schedule short; more repeat its last wait.
        jitter: Each wait is multiplied by a random factor within ``1 ± jitter``.
        timeout: Seconds per delivery attempt.
        pass_seconds: Wall time one pass may spend on one subscriber; the rest waits for the
            next pass (not counted as attempts).
        standard_headers: Also send the Standard Webhooks headers (``webhook-id``,
            ``webhook-timestamp``, ``webhook-signature``) for receivers that verify with a
            Standard Webhooks library. A ``whsec_``-prefixed secret is base64-decoded for them.
        transport: An ``httpx`` transport (tests).
        seed: Seeds the jitter (tests).
        clock: What tells the time at the moment of sending (tests); the real UTC clock by
            default.

    Raises:
        InvalidInputError: no secret, duplicate subscriber names, a bad schedule or lease, or a
            store inside a host's transaction.
        StorageError: the database cannot be reached or its csdesk tables are not current.
    """

    @checked
    def __init__(
        self,
        store: SqlStore | str,
        subscribers: Sequence[Subscriber],
        secrets: Sequence[str],
        *,
        name: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        schedule: Sequence[timedelta] = DEFAULT_SCHEDULE,
        max_attempts: int | None = None,
        jitter: float = 0.1,
        timeout: float = 10.0,
        pass_seconds: float = 30.0,
        standard_headers: bool = False,
        transport: httpx.BaseTransport | None = None,
        seed: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not secrets or not all(isinstance(s, str) and s for s in secrets):
            raise InvalidInputError("give at least one non-empty webhook secret")
        names = [s.name for s in subscribers]
        if len(set(names)) != len(names):
            raise InvalidInputError("subscriber names must be unique")
        if any(not 0 < len(n) <= 128 for n in names):
            raise InvalidInputError("a subscriber name has 1 to 128 characters")
        if not schedule or any(
            not isinstance(wait, timedelta) or wait < timedelta(0) for wait in schedule
        ):
            raise InvalidInputError("schedule is a non-empty list of non-negative timedeltas")
        if max_attempts is not None and max_attempts < 1:
            raise InvalidInputError("max_attempts must be at least 1")
        if not 0 <= jitter < 1 or timeout <= 0 or pass_seconds <= 0:
            raise InvalidInputError("jitter is within [0, 1); timeout and pass_seconds positive")
        if lease.total_seconds() <= pass_seconds + timeout:
            raise InvalidInputError(
                f"the lease ({lease.total_seconds():g} s) must exceed pass_seconds + timeout "
                f"({pass_seconds + timeout:g} s), or another relay could send a delivery this "
                "one is still sending"
            )
        self.name = (
            name or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets_module.token_hex(4)}"
        )
        if len(self.name) > 64:
            raise InvalidInputError("a relay name has at most 64 characters")
        self.subscribers = tuple(subscribers)
        self._secrets = tuple(secrets)
        self.lease = lease
        self.max_attempts = max_attempts or len(schedule) + 1
        self.schedule = tuple(schedule)
        self.jitter = jitter
        self.pass_seconds = pass_seconds
        self.standard_headers = standard_headers
        self._rng = random.Random(seed)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._owns_store = isinstance(store, str)
        self._store = SqlStore(store) if isinstance(store, str) else store
        if self._store.in_host_transaction:
            raise InvalidInputError(
                "the webhook relay commits its own claims: give it a store on an engine or a URL, "
                "not one inside a host's transaction"
            )
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return (
            f"WebhookRelay(name={self.name!r}, subscribers={[s.name for s in self.subscribers]}, "
            "secrets=***)"
        )

    def close(self) -> None:
        """Close the HTTP connections (and the store, when the relay opened it)."""
        self._http.close()
        if self._owns_store:
            self._store.close()

    def __enter__(self) -> WebhookRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def wait_before_retry(self, retry: int) -> timedelta:
        """The scheduled wait before retry number ``retry`` (1 for the first), before jitter."""
        return self.schedule[min(retry, len(self.schedule)) - 1]

    def _locking(self, query: Select[Any], of: Any) -> Select[Any]:
        if self._store.dialect == "postgresql":
            return query.with_for_update(skip_locked=True, of=of)
        if self._store.dialect != "sqlite":  # MariaDB/MySQL: SKIP LOCKED without OF
            return query.with_for_update(skip_locked=True)
        return query

    def fan_out(self, *, now: datetime, limit: int = 1000) -> int:
        """Hand undelivered outbox events to the subscribers; returns how many were handed on.

        Each event becomes one pending delivery per subscriber that wants its type, and is marked
        handed on in the same transaction. Events nobody wants are marked too.
        """
        require_aware(now, "now")
        query = self._locking(
            select(outbox.c.seq, outbox.c.kind, outbox.c.entity_id, outbox.c.type)
            .where(outbox.c.delivered_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(limit),
            outbox,
        )
        with self._store.transaction("webhook fan-out") as connection:
            rows = connection.execute(query).all()
            if not rows:
                return 0
            deliveries = [
                {
                    "subscriber": subscriber.name,
                    "seq": row.seq,
                    "aggregate": f"{row.kind}:{row.entity_id}",
                    "state": "pending",
                    "attempts": 0,
                    "next_at": now,
                }
                for row in rows
                for subscriber in self.subscribers
                if subscriber.wants(row.type)
            ]
            if deliveries:
                connection.execute(insert(webhook_deliveries), deliveries)
            connection.execute(
                update(outbox)
                .where(outbox.c.seq.in_([row.seq for row in rows]))
                .values(delivered_at=now, claimed_by=self.name, lease_until=None)
            )
        return len(rows)

    def _claim(self, subscriber: Subscriber, now: datetime, limit: int) -> list[tuple[int, str]]:
        """Claim due deliveries that are first in their aggregate; return them with their bodies."""
        d, earlier = webhook_deliveries, webhook_deliveries.alias("earlier")
        mine, before = outbox.alias("mine"), outbox.alias("before")
        held_back = (
            select(earlier.c.seq)
            .where(
                earlier.c.subscriber == d.c.subscriber,
                earlier.c.aggregate == d.c.aggregate,
                earlier.c.seq < d.c.seq,
                earlier.c.state.in_(_LIVE),
            )
            .exists()
        )
        not_handed_on = (
            select(before.c.seq)
            .join(
                mine,
                and_(mine.c.kind == before.c.kind, mine.c.entity_id == before.c.entity_id),
            )
            .where(mine.c.seq == d.c.seq, before.c.seq < d.c.seq, before.c.delivered_at.is_(None))
            .exists()
        )
        query = self._locking(
            select(d.c.seq)
            .where(
                d.c.subscriber == subscriber.name,
                d.c.state == "pending",
                d.c.next_at <= now,
                or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
                ~held_back,
                ~not_handed_on,
            )
            .order_by(d.c.seq)
            .limit(limit),
            d,
        )
        with self._store.transaction("webhook claim") as connection:
            seqs = list(connection.execute(query).scalars())
            if not seqs:
                return []
            connection.execute(
                update(d)
                .where(d.c.subscriber == subscriber.name, d.c.seq.in_(seqs))
                .values(claimed_by=self.name, lease_until=now + self.lease)
            )
            found = connection.execute(
                select(outbox.c.seq, outbox.c.body).where(outbox.c.seq.in_(seqs))
            )
            bodies = {int(seq): str(body) for seq, body in found}
        return [(seq, bodies[seq]) for seq in seqs]

    @checked
    def run_once(self, *, now: datetime, limit: int = 500) -> DeliveryReport:
        """One pass: fan out new events, then attempt every due delivery once.

        Subscribers are served in parallel. For one subscriber, deliveries go in order; a
        timeout or connection failure, a 429 or a 410 ends that subscriber's pass (the rest are
        ``deferred``, released for the next pass and not counted as attempts), and so does its
        ``pass_seconds`` budget.
        """
        require_aware(now, "now")
        if limit < 1:
            raise InvalidInputError("run_once needs limit >= 1")
        report = DeliveryReport()
        handed_on = 1000
        while handed_on == 1000:  # a full page: there may be more
            handed_on = self._store.retrying(lambda: self.fan_out(now=now))
        disabled = self._store.retrying(self.disabled)
        work = {
            subscriber: self._store.retrying(partial(self._claim, subscriber, now, limit))
            for subscriber in self.subscribers
            if subscriber.name not in disabled
        }
        busy = {subscriber: due for subscriber, due in work.items() if due}
        if busy:
            with ThreadPoolExecutor(max_workers=len(busy)) as pool:
                futures = {sub: pool.submit(self._send_all, sub, due) for sub, due in busy.items()}
                outcomes = {sub: future.result() for sub, future in futures.items()}
            for subscriber, results in outcomes.items():
                unsent = [seq for seq, _ in busy[subscriber][len(results) :]]
                self._store.retrying(partial(self._record_all, subscriber, results, unsent, report))
                report.deferred += len(unsent)
        with self._store.transaction("webhook states") as connection:
            report.waiting = connection.execute(
                select(func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.state == "pending")
            ).scalar_one()
        return report

    def _record_all(
        self,
        subscriber: Subscriber,
        results: list[_Outcome],
        unsent: list[int],
        report: DeliveryReport,
    ) -> None:
        """Record a subscriber's outcomes in one transaction (all of them, or none: retried)."""
        partial = DeliveryReport()
        with self._store.transaction("webhook record") as connection:
            for outcome in results:
                self._record(connection, subscriber, outcome, partial)
            if unsent:
                self._release(connection, subscriber, unsent)
        report.delivered += partial.delivered
        report.failed += partial.failed
        report.dead += partial.dead
        report.disabled.extend(partial.disabled)
        report.errors.extend(partial.errors)

    def _release(self, connection: Connection, subscriber: Subscriber, seqs: list[int]) -> None:
        d = webhook_deliveries
        connection.execute(
            update(d)
            .where(
                d.c.subscriber == subscriber.name, d.c.seq.in_(seqs), d.c.claimed_by == self.name
            )
            .values(claimed_by=None, lease_until=None)
        )

    def _send_all(self, subscriber: Subscriber, due: list[tuple[int, str]]) -> list[_Outcome]:
        """POST ``due`` in order (in a worker thread: HTTP only, no database)."""
        deadline = time.monotonic() + self.pass_seconds
        results: list[_Outcome] = []
        for seq, body in due:
            outcome = self._post(subscriber, seq, body)
            results.append(outcome)
            if outcome.endpoint_down or outcome.gone or time.monotonic() > deadline:
                break
        return results

    def _post(self, subscriber: Subscriber, seq: int, body: str) -> _Outcome:
        data = body.encode()
        event_id, event_type = _event_head(body)
        sent_at = self._clock()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(data, self._secrets, now=sent_at),
            "Csdesk-Event-Id": event_id,
            "Csdesk-Event-Type": event_type,
            "Idempotency-Key": event_id,
        }
        if self.standard_headers:
            timestamp = int(sent_at.timestamp())
            headers["webhook-id"] = event_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = " ".join(
                standard_signature(event_id, timestamp, data, secret) for secret in self._secrets
            )
        try:
            response = self._http.post(subscriber.url, content=data, headers=headers)
        except httpx.TransportError as error:
            return _Outcome(seq, event_type, sent_at, problem=type(error).__name__,
                            endpoint_down=True)  # fmt: skip
        status = response.status_code
        if 200 <= status < 300:
            return _Outcome(seq, event_type, sent_at, ok=True)
        if status == 410:
            return _Outcome(seq, event_type, sent_at, problem="HTTP 410 Gone", gone=True)
        retry_after = _retry_after(response, sent_at) if status in (429, 503) else None
        return _Outcome(
            seq, event_type, sent_at, problem=f"HTTP {status}", retry_after=retry_after,
            endpoint_down=status == 429,
        )  # fmt: skip

    def _record(
        self,
        connection: Connection,
        subscriber: Subscriber,
        outcome: _Outcome,
        report: DeliveryReport,
    ) -> None:
        d = webhook_deliveries
        held = (
            d.c.subscriber == subscriber.name,
            d.c.seq == outcome.seq,
            d.c.claimed_by == self.name,
        )
        if outcome.ok:
            connection.execute(
                update(d)
                .where(*held)
                .values(
                    state="delivered",
                    attempts=d.c.attempts + 1,
                    delivered_at=outcome.sent_at,
                    last_error=None,
                    claimed_by=None,
                    lease_until=None,
                )
            )
            report.delivered += 1
            return
        if outcome.gone:
            self._release(connection, subscriber, [outcome.seq])
            connection.execute(delete(webhook_endpoints).where(
                webhook_endpoints.c.subscriber == subscriber.name))  # fmt: skip
            connection.execute(
                insert(webhook_endpoints).values(
                    subscriber=subscriber.name,
                    disabled_at=outcome.sent_at,
                    reason="the endpoint answered 410 Gone",
                )
            )
            report.disabled.append(subscriber.name)
            report.errors.append(f"{subscriber.name}: 410 Gone, disabled")
            log.warning("webhook subscriber %s answered 410 Gone: disabled", subscriber.name)
            return
        attempts = connection.execute(select(d.c.attempts + 1).where(*held)).scalar_one_or_none()
        if attempts is None:  # the lease ran out and another relay holds it now
            return
        dead = attempts >= self.max_attempts
        wait = self.wait_before_retry(attempts) * self._rng.uniform(
            1 - self.jitter, 1 + self.jitter
        )
        if outcome.retry_after is not None:
            wait = outcome.retry_after
        connection.execute(
            update(d)
            .where(*held)
            .values(
                attempts=attempts,
                state="dead" if dead else "pending",
                next_at=outcome.sent_at + wait,
                last_error=outcome.problem,
                claimed_by=None,
                lease_until=None,
            )
        )
        report.failed += 1
        report.dead += dead
        report.errors.append(f"{subscriber.name} #{outcome.seq}: {outcome.problem}")
        log.warning(
            "webhook %s #%d to %s: %s (attempt %d%s)",
            outcome.event_type,
            outcome.seq,
            subscriber.name,
            outcome.problem,
            attempts,
            ", dead-lettered" if dead else f", next in {wait.total_seconds():.0f} s",
        )

    def disabled(self) -> dict[str, str]:
        """The disabled subscribers and why (a 410 Gone answer)."""
        e = webhook_endpoints
        with self._store.transaction("webhook endpoints") as connection:
            return {
                str(name): str(reason)
                for name, reason in connection.execute(select(e.c.subscriber, e.c.reason))
            }

    @checked
    def enable(self, subscriber: str) -> bool:
        """Deliver to a disabled subscriber again; its pending deliveries resume in order."""
        e = webhook_endpoints
        with self._store.transaction("webhook enable") as connection:
            result = connection.execute(delete(e).where(e.c.subscriber == subscriber))
            return int(result.rowcount) == 1

    def dead_letters(self, subscriber: str | None = None) -> list[tuple[str, int, str]]:
        """``(subscriber, seq, last error)`` of every dead-lettered delivery."""
        d = webhook_deliveries
        query = select(d.c.subscriber, d.c.seq, d.c.last_error).where(d.c.state == "dead")
        if subscriber is not None:
            query = query.where(d.c.subscriber == subscriber)
        with self._store.transaction("webhook dead letters") as connection:
            return [
                (str(a), int(b), str(c))
                for a, b, c in connection.execute(query.order_by(d.c.seq, d.c.subscriber))
            ]

    @checked
    def requeue(self, subscriber: str, seq: int, *, now: datetime) -> bool:
        """Give a dead-lettered delivery a new round of attempts."""
        require_aware(now, "now")
        d = webhook_deliveries
        with self._store.transaction("webhook requeue") as connection:
            result = connection.execute(
                update(d)
                .where(d.c.subscriber == subscriber, d.c.seq == seq, d.c.state == "dead")
                .values(state="pending", attempts=0, next_at=now)
            )
            return int(result.rowcount) == 1

    @checked
    def skip(self, subscriber: str, seq: int) -> bool:
        """Give up on a dead-lettered delivery, letting its aggregate's later events go."""
        d = webhook_deliveries
        with self._store.transaction("webhook skip") as connection:
            result = connection.execute(
                update(d)
                .where(d.c.subscriber == subscriber, d.c.seq == seq, d.c.state == "dead")
                .values(state="skipped")
            )
            return int(result.rowcount) == 1

    def states(self) -> dict[str, int]:
        """Deliveries per state."""
        d = webhook_deliveries
        with self._store.transaction("webhook states") as connection:
            return {
                str(state): int(count)
                for state, count in connection.execute(
                    select(d.c.state, func.count()).group_by(d.c.state)
                )
            }


def _retry_after(response: httpx.Response, sent_at: datetime) -> timedelta | None:
    """A 429/503's ``Retry-After`` (seconds or an HTTP date), at most `MAX_RETRY_AFTER`."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit() and len(value) <= 9:
        wait = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        wait = when - sent_at
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def _standard_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(
                "a whsec_ secret must be base64 after the prefix (Standard Webhooks)"
            ) from None
    return secret.encode()


@checked
def standard_signature(message_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The Standard Webhooks ``webhook-signature`` entry: ``v1,<base64 HMAC-SHA256>``.

    Signed content is ``"{message_id}.{timestamp}.{body}"``; a ``whsec_`` secret is base64-decoded
    first, as the Standard Webhooks libraries do.

    Examples:
        >>> standard_signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
        ...                    b'{"test": 2432232314}', "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    """
    if not secret:
        raise InvalidInputError("a webhook secret cannot be empty")
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _event_head(body: str) -> tuple[str, str]:
    import json

    data = json.loads(body)
    return str(data.get("id", "")), str(data.get("type", ""))
