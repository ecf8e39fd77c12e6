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

import hashlib
import hmac
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import httpx

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import InvalidInputError, WebhookSignatureError
from csdesk.integrations._sqlite import connect, setup, transaction

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryReport",
    "Subscriber",
    "WebhookRelay",
    "sign",
    "signature_header",
    "verify_webhook",
]

SIGNATURE_HEADER = "Csdesk-Signature"
"""The header that carries the signature."""

log = logging.getLogger("csdesk.integrations.webhooks")


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
        if name == "t" and value.isdigit():
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
    """What one pass of the relay did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


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
"""


class WebhookRelay:
    """Deliver a SQLite store's outbox to subscribers: signed, at least once, ordered.

    Order holds per aggregate: an event waits for the ones before it on the same entity.

    Args:
        path: The `SqliteStore` file whose ``outbox`` table holds the events.
        subscribers: Where to deliver.
        secrets: Signing secrets, newest first (two during a rotation).
        max_attempts: Attempts before an event is dead-lettered.
        base: The first backoff, in seconds (doubling, with jitter, up to ``cap``).
        cap: The longest backoff, in seconds.
        timeout: Seconds per delivery attempt.
        transport: An ``httpx`` transport (tests).
    """

    @checked
    def __init__(
        self,
        path: str | Path,
        subscribers: Sequence[Subscriber],
        secrets: Sequence[str],
        *,
        max_attempts: int = 8,
        base: float = 2.0,
        cap: float = 3600.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        seed: int | None = None,
    ) -> None:
        if not secrets or not all(secrets):
            raise InvalidInputError("give at least one non-empty webhook secret")
        names = [s.name for s in subscribers]
        if len(set(names)) != len(names):
            raise InvalidInputError("subscriber names must be unique")
        self.subscribers = tuple(subscribers)
        self._secrets = tuple(secrets)
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self._rng = random.Random(seed)
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
        """One pass: enqueue new events, then attempt every due delivery once."""
        require_aware(now, "now")
        report = DeliveryReport()
        for subscriber in self.subscribers:
            self._enqueue(subscriber, now)
            for seq, body in self._due(subscriber, now, limit):
                self._deliver(subscriber, seq, body, now, report)
            (report_waiting,) = self._db.execute(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE subscriber = ? AND state = "
                "'pending'",
                (subscriber.name,),
            ).fetchone()
            report.waiting += report_waiting
        return report

    def _deliver(
        self, subscriber: Subscriber, seq: int, body: str, now: datetime, report: DeliveryReport
    ) -> None:
        data = body.encode()
        event_id, event_type = _event_head(body)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(data, self._secrets, now=now),
            "Csdesk-Event-Id": event_id,
            "Csdesk-Event-Type": event_type,
            "Idempotency-Key": event_id,
        }
        try:
            response = self._http.post(subscriber.url, content=data, headers=headers)
        except httpx.TransportError as error:
            problem = type(error).__name__
        else:
            if 200 <= response.status_code < 300:
                self._db.execute(
                    "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
                    "delivered_at = ?, last_error = NULL WHERE subscriber = ? AND seq = ?",
                    (now.isoformat(), subscriber.name, seq),
                )
                report.delivered += 1
                return
            problem = f"HTTP {response.status_code}"
        (attempts,) = self._db.execute(
            "SELECT attempts + 1 FROM webhook_deliveries WHERE subscriber = ? AND seq = ?",
            (subscriber.name, seq),
        ).fetchone()
        dead = attempts >= self.max_attempts
        wait = self._rng.uniform(0.5, 1.0) * min(self.cap, self.base * 2 ** (attempts - 1))
        self._db.execute(
            "UPDATE webhook_deliveries SET attempts = ?, state = ?, next_at = ?, last_error = ? "
            "WHERE subscriber = ? AND seq = ?",
            (
                attempts,
                "dead" if dead else "pending",
                (now + timedelta(seconds=wait)).isoformat(),
                problem,
                subscriber.name,
                seq,
            ),
        )
        report.failed += 1
        report.dead += dead
        report.errors.append(f"{subscriber.name} #{seq}: {problem}")
        log.warning(
            "webhook %s #%d to %s: %s (attempt %d%s)",
            event_type,
            seq,
            subscriber.name,
            problem,
            attempts,
            ", dead-lettered" if dead else "",
        )

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


def _event_head(body: str) -> tuple[str, str]:
    import json

    data = json.loads(body)
    return str(data.get("id", "")), str(data.get("type", ""))
