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

**Delivering.** `WebhookRelay` reads the events a `csdesk.integrations.SqliteStore` wrote to its
outbox and POSTs them to each subscriber: at least once, in order per aggregate (an event waits
until the ones before it, for the same order or refund, were delivered), with exponential backoff
and jitter between attempts, and a dead-letter state after ``max_attempts`` — which holds back the
aggregate's later events until an operator requeues or skips it.

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
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType

import httpx

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import InvalidInputError, WebhookSignatureError
from csdesk.integrations.sqlitedb import connect, setup, transaction
from csdesk.privacy import get_logger

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    subscriber  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    aggregate   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'skipped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT NOT NULL,
    last_error  TEXT,
    delivered_at TEXT,
    PRIMARY KEY (subscriber, seq)
);
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_deliveries (subscriber, state, next_at);
CREATE TABLE IF NOT EXISTS webhook_cursor (subscriber TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    subscriber  TEXT PRIMARY KEY,
    disabled_at TEXT NOT NULL,
    reason      TEXT NOT NULL
);
"""


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


class WebhookRelay:
    """Deliver a SQLite store's outbox to subscribers: signed, at least once, ordered.

    Order holds per aggregate: an event waits for the ones before it on the same entity.
    Subscribers are served side by side, each in its own thread with its own budget, so a slow or
    hanging receiver never delays (or makes stale) another's deliveries. Each delivery is signed
    with the time it is actually sent.

    Args:
        path: The `SqliteStore` file whose ``outbox`` table holds the events.
        subscribers: Where to deliver.
        secrets: Signing secrets, newest first (two during a rotation).
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
    """

    @checked
    def __init__(
        self,
        path: str | Path,
        subscribers: Sequence[Subscriber],
        secrets: Sequence[str],
        *,
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
        if not schedule or any(
            not isinstance(wait, timedelta) or wait < timedelta(0) for wait in schedule
        ):
            raise InvalidInputError("schedule is a non-empty list of non-negative timedeltas")
        if max_attempts is not None and max_attempts < 1:
            raise InvalidInputError("max_attempts must be at least 1")
        if not 0 <= jitter < 1 or timeout <= 0 or pass_seconds <= 0:
            raise InvalidInputError("jitter is within [0, 1); timeout and pass_seconds positive")
        self.subscribers = tuple(subscribers)
        self._secrets = tuple(secrets)
        self.max_attempts = max_attempts or len(schedule) + 1
        self.schedule = tuple(schedule)
        self.jitter = jitter
        self.pass_seconds = pass_seconds
        self.standard_headers = standard_headers
        self._rng = random.Random(seed)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._db = connect(path, timeout=30)
        if (
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
            ).fetchone()
            is None
        ):
            raise InvalidInputError(f"{path} has no outbox table: is it a csdesk SqliteStore?")
        setup(self._db, _SCHEMA, path)
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"WebhookRelay(subscribers={[s.name for s in self.subscribers]}, secrets=***)"

    def close(self) -> None:
        """Close the database and the connections."""
        self._http.close()
        self._db.close()

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

    def _enqueue(self, subscriber: Subscriber, now: datetime) -> None:
        row = self._db.execute(
            "SELECT seq FROM webhook_cursor WHERE subscriber = ?", (subscriber.name,)
        ).fetchone()
        after = row[0] if row else 0
        events = self._db.execute(
            "SELECT seq, kind, entity_id, type FROM outbox WHERE seq > ? ORDER BY seq", (after,)
        ).fetchall()
        if not events:
            return
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR IGNORE INTO webhook_deliveries (subscriber, seq, aggregate, state, "
                "next_at) VALUES (?, ?, ?, 'pending', ?)",
                [
                    (subscriber.name, seq, f"{kind}:{entity}", now.isoformat())
                    for seq, kind, entity, kind_of_event in events
                    if subscriber.wants(kind_of_event)
                ],
            )
            self._db.execute(
                "INSERT INTO webhook_cursor (subscriber, seq) VALUES (?, ?) ON CONFLICT "
                "(subscriber) DO UPDATE SET seq = excluded.seq",
                (subscriber.name, events[-1][0]),
            )

    def _due(self, subscriber: Subscriber, now: datetime, limit: int) -> list[tuple[int, str]]:
        """Pending deliveries whose time has come and that are first in their aggregate."""
        return self._db.execute(
            "SELECT d.seq, o.body FROM webhook_deliveries d JOIN outbox o ON o.seq = d.seq "
            "WHERE d.subscriber = ? AND d.state = 'pending' AND d.next_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.subscriber = d.subscriber "
            "AND e.aggregate = d.aggregate AND e.seq < d.seq AND e.state IN ('pending', 'dead')) "
            "ORDER BY d.seq LIMIT ?",
            (subscriber.name, now.isoformat(), limit),
        ).fetchall()

    @checked
    def run_once(self, *, now: datetime, limit: int = 500) -> DeliveryReport:
        """One pass: enqueue new events, then attempt every due delivery once.

        Subscribers are served in parallel. For one subscriber, deliveries go in order; a
        timeout or connection failure, a 429 or a 410 ends that subscriber's pass (the rest are
        ``deferred``, not counted as attempts), and so does its ``pass_seconds`` budget.
        """
        require_aware(now, "now")
        report = DeliveryReport()
        disabled = self.disabled()
        work: dict[Subscriber, list[tuple[int, str]]] = {}
        for subscriber in self.subscribers:
            self._enqueue(subscriber, now)
            if subscriber.name not in disabled:
                work[subscriber] = self._due(subscriber, now, limit)
        busy = {subscriber: due for subscriber, due in work.items() if due}
        if busy:
            with ThreadPoolExecutor(max_workers=len(busy)) as pool:
                futures = {sub: pool.submit(self._send_all, sub, due) for sub, due in busy.items()}
                outcomes = {sub: future.result() for sub, future in futures.items()}
            for subscriber, results in outcomes.items():
                for outcome in results:
                    self._record(subscriber, outcome, report)
                report.deferred += len(busy[subscriber]) - len(results)
        (report.waiting,) = self._db.execute(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'"
        ).fetchone()
        return report

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

    def _record(self, subscriber: Subscriber, outcome: _Outcome, report: DeliveryReport) -> None:
        if outcome.ok:
            self._db.execute(
                "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
                "delivered_at = ?, last_error = NULL WHERE subscriber = ? AND seq = ?",
                (outcome.sent_at.isoformat(), subscriber.name, outcome.seq),
            )
            report.delivered += 1
            return
        if outcome.gone:
            self._disable(subscriber.name, outcome.sent_at, "the endpoint answered 410 Gone")
            report.disabled.append(subscriber.name)
            report.errors.append(f"{subscriber.name}: 410 Gone, disabled")
            log.warning("webhook subscriber %s answered 410 Gone: disabled", subscriber.name)
            return
        (attempts,) = self._db.execute(
            "SELECT attempts + 1 FROM webhook_deliveries WHERE subscriber = ? AND seq = ?",
            (subscriber.name, outcome.seq),
        ).fetchone()
        dead = attempts >= self.max_attempts
        wait = self.wait_before_retry(attempts) * self._rng.uniform(
            1 - self.jitter, 1 + self.jitter
        )
        if outcome.retry_after is not None:
            wait = outcome.retry_after
        self._db.execute(
            "UPDATE webhook_deliveries SET attempts = ?, state = ?, next_at = ?, last_error = ? "
            "WHERE subscriber = ? AND seq = ?",
            (
                attempts,
                "dead" if dead else "pending",
                (outcome.sent_at + wait).isoformat(),
                outcome.problem,
                subscriber.name,
                outcome.seq,
            ),
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

    def _disable(self, subscriber: str, at: datetime, reason: str) -> None:
        self._db.execute(
            "INSERT INTO webhook_endpoints (subscriber, disabled_at, reason) VALUES (?, ?, ?) "
            "ON CONFLICT (subscriber) DO UPDATE SET disabled_at = excluded.disabled_at, "
            "reason = excluded.reason",
            (subscriber, at.isoformat(), reason),
        )

    def disabled(self) -> dict[str, str]:
        """The disabled subscribers and why (a 410 Gone answer)."""
        return dict(self._db.execute("SELECT subscriber, reason FROM webhook_endpoints"))

    @checked
    def enable(self, subscriber: str) -> bool:
        """Deliver to a disabled subscriber again; its pending deliveries resume in order."""
        cursor = self._db.execute(
            "DELETE FROM webhook_endpoints WHERE subscriber = ?", (subscriber,)
        )
        return cursor.rowcount == 1

    def dead_letters(self, subscriber: str | None = None) -> list[tuple[str, int, str]]:
        """``(subscriber, seq, last error)`` of every dead-lettered delivery."""
        query = "SELECT subscriber, seq, last_error FROM webhook_deliveries WHERE state = 'dead'"
        args: tuple[str, ...] = ()
        if subscriber is not None:
            query += " AND subscriber = ?"
            args = (subscriber,)
        return [
            (str(a), int(b), str(c)) for a, b, c in self._db.execute(query + " ORDER BY seq", args)
        ]

    @checked
    def requeue(self, subscriber: str, seq: int, *, now: datetime) -> bool:
        """Give a dead-lettered delivery a new round of attempts."""
        cursor = self._db.execute(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ? "
            "WHERE subscriber = ? AND seq = ? AND state = 'dead'",
            (now.isoformat(), subscriber, seq),
        )
        return cursor.rowcount == 1

    @checked
    def skip(self, subscriber: str, seq: int) -> bool:
        """Give up on a dead-lettered delivery, letting its aggregate's later events go."""
        cursor = self._db.execute(
            "UPDATE webhook_deliveries SET state = 'skipped' WHERE subscriber = ? AND seq = ? "
            "AND state = 'dead'",
            (subscriber, seq),
        )
        return cursor.rowcount == 1

    def states(self) -> dict[str, int]:
        """Deliveries per state."""
        return dict(
            self._db.execute(
                "SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state"
            ).fetchall()
        )


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
