"""Webhooks: signatures (tampering, wrong secret, replay, rotation) and the outbox relay."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from csdesk.errors import InvalidInputError, WebhookSignatureError
from csdesk.events import Actor, AggregateRef, DomainEvent
from csdesk.integrations import SqliteStore
from csdesk.integrations.webhooks import (
    DEFAULT_SCHEDULE,
    SIGNATURE_HEADER,
    Subscriber,
    WebhookRelay,
    sign,
    signature_header,
    standard_signature,
    verify_webhook,
)
from csdesk.testing.shop_server import serve
from tests.factories import new_order

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BODY = b'{"id": "evt-1", "type": "refund.succeeded"}'


def test_a_good_signature_verifies() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    assert verify_webhook(BODY, header, ["s3cret"], now=NOW + timedelta(seconds=30)) == int(
        NOW.timestamp()
    )


def test_a_tampered_body_is_refused() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY.replace(b"succeeded", b"failed"), header, ["s3cret"], now=NOW)
    assert caught.value.reason == "mismatch"
    assert caught.value.code == "webhook_signature"


def test_a_wrong_secret_is_refused() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    with pytest.raises(WebhookSignatureError, match="secret is wrong"):
        verify_webhook(BODY, header, ["other"], now=NOW)


@pytest.mark.parametrize("shift", [timedelta(minutes=6), timedelta(minutes=-6), timedelta(days=3)])
def test_a_timestamp_outside_the_window_is_refused(shift: timedelta) -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY, header, ["s3cret"], now=NOW + shift)
    assert caught.value.reason == "stale"


def test_the_replay_window_is_configurable() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    later = NOW + timedelta(minutes=9)
    assert verify_webhook(BODY, header, ["s3cret"], now=later, tolerance=timedelta(minutes=10))


def test_a_rotated_secret_verifies_during_the_rotation() -> None:
    during = signature_header(BODY, ["new", "old"], now=NOW)
    assert verify_webhook(BODY, during, ["old"], now=NOW)  # receivers not yet updated
    assert verify_webhook(BODY, during, ["new"], now=NOW)  # receivers already updated
    assert verify_webhook(BODY, during, ["new", "old"], now=NOW)
    after = signature_header(BODY, ["new"], now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(BODY, after, ["old"], now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "malformed"),
        ("t=abc,v1=x", "malformed"),
        ("t=1", "malformed"),
    ],
)
def test_missing_and_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY, header, ["s3cret"], now=NOW)
    assert caught.value.reason == reason


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, "k", 1700000000) == expected
    with pytest.raises(InvalidInputError):
        sign(BODY, "", 1)


FAST = (timedelta(milliseconds=5), timedelta(milliseconds=10), timedelta(milliseconds=20))

# -- the relay ----------------------------------------------------------------------------------


def events_for(store: SqliteStore, aggregates: int, per: int) -> list[DomainEvent]:
    """Interleaved events on several orders, written to the store's outbox."""
    written = []
    for step in range(per):
        for number in range(aggregates):
            order = new_order(f"SO-{number}")
            event = DomainEvent(
                type="order.noted",
                occurred_at=NOW,
                actor=Actor(kind="system"),
                aggregate=AggregateRef(kind="order", id=order.id, version=step + 1),
                payload={"step": step},
            )
            if step == 0:
                store.insert(order, [event])
            else:
                stored = store.load(type(order), order.id)
                bumped = stored.model_copy(update={"version": stored.version + 1})
                store.save(bumped, [event], expected_version=stored.version)
            written.append(event)
    return written


class Receiver:
    """A subscriber endpoint that verifies signatures and fails on demand."""

    def __init__(
        self, secrets: list[str], fail_first: int = 0, always_fail: set[str] | None = None
    ):
        self.secrets = secrets
        self.fail_first = fail_first
        self.always_fail = always_fail or set()
        self.received: list[dict[str, Any]] = []
        self.calls = 0
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            try:
                verify_webhook(
                    body, request.headers.get(SIGNATURE_HEADER), self.secrets, now=datetime.now(UTC)
                )
            except WebhookSignatureError as error:
                return JSONResponse({"error": error.reason}, 400)
            with self.lock:
                self.calls += 1
                data = json.loads(body)
                if self.calls <= self.fail_first or data["aggregate"]["id"] in self.always_fail:
                    return JSONResponse({"error": "try later"}, 503)
                assert request.headers["Csdesk-Event-Id"] == data["id"]
                self.received.append(data)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "desk.db") as opened:
        yield opened


def drain(relay: WebhookRelay, rounds: int = 60) -> None:
    """Run passes on the real clock (the receivers check the signature's timestamp)."""
    import time

    for _ in range(rounds):
        report = relay.run_once(now=datetime.now(UTC))
        if report.waiting == 0:
            return
        time.sleep(0.03)  # past the tests' tiny backoffs


def test_the_relay_delivers_everything_signed_in_order_per_aggregate(
    store: SqliteStore, tmp_path: Path
) -> None:
    written = events_for(store, aggregates=4, per=5)
    receiver = Receiver(["new", "old"], fail_first=7)
    with serve(receiver.app()) as url:
        relay = WebhookRelay(
            tmp_path / "desk.db",
            [Subscriber("crm", url + "/hook")],
            ["new", "old"],
            schedule=FAST,
            seed=1,
        )
        with relay:
            drain(relay)
            assert relay.states() == {"delivered": len(written)}
    ids = {e["id"] for e in receiver.received}
    assert ids == {e.id for e in written}  # at least once: every event arrived
    per_aggregate: dict[str, list[int]] = defaultdict(list)
    for event in receiver.received:
        per_aggregate[event["aggregate"]["id"]].append(event["payload"]["step"])
    assert all(steps == sorted(steps) for steps in per_aggregate.values()), per_aggregate


def test_a_dead_letter_holds_back_its_aggregate_only(store: SqliteStore, tmp_path: Path) -> None:
    events_for(store, aggregates=3, per=3)
    receiver = Receiver(["k"], always_fail={"SO-1"})
    with (
        serve(receiver.app()) as url,
        WebhookRelay(
            tmp_path / "desk.db",
            [Subscriber("crm", url + "/hook")],
            ["k"],
            max_attempts=3,
            schedule=FAST,
        ) as relay,
    ):
        drain(relay, rounds=10)
        dead = relay.dead_letters()
        assert len(dead) == 1
        assert dead[0][2] == "HTTP 503"
        assert relay.states() == {"delivered": 6, "dead": 1, "pending": 2}
        assert {e["aggregate"]["id"] for e in receiver.received} == {"SO-0", "SO-2"}
        receiver.always_fail.clear()
        assert relay.requeue("crm", dead[0][1], now=datetime.now(UTC))
        drain(relay)
        assert relay.states() == {"delivered": 9}
    steps = [e["payload"]["step"] for e in receiver.received if e["aggregate"]["id"] == "SO-1"]
    assert steps == [0, 1, 2]


def test_a_receiver_with_the_wrong_secret_never_accepts(store: SqliteStore, tmp_path: Path) -> None:
    events_for(store, aggregates=1, per=1)
    receiver = Receiver(["receiver-secret"])
    with (
        serve(receiver.app()) as url,
        WebhookRelay(
            tmp_path / "desk.db",
            [Subscriber("crm", url + "/hook")],
            ["sender-secret"],
            max_attempts=2,
            schedule=FAST,
        ) as relay,
    ):
        drain(relay, rounds=5)
        assert relay.states() == {"dead": 1}
        assert relay.dead_letters()[0][2] == "HTTP 400"
    assert receiver.received == []


def test_subscribers_filter_event_types_and_the_relay_needs_an_outbox(
    store: SqliteStore, tmp_path: Path
) -> None:
    assert Subscriber("a", "http://x", ("refund.",)).wants("refund.succeeded")
    assert not Subscriber("a", "http://x", ("refund.",)).wants("order.paid")
    assert Subscriber("a", "http://x").wants("order.paid")
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(InvalidInputError, match="no outbox table"):
        WebhookRelay(tmp_path / "empty.db", [], ["k"])
    with pytest.raises(InvalidInputError):
        WebhookRelay(tmp_path / "desk.db", [], [])
    assert "secrets=***" in repr(WebhookRelay(tmp_path / "desk.db", [], ["k"]))


# -- hardening: secrets, timestamps, schedule, 410, Retry-After, isolation, standard headers ------


def test_a_bare_string_secret_is_refused_not_split_into_characters() -> None:
    header = signature_header(BODY, ["w"], now=NOW)
    with pytest.raises(InvalidInputError, match="secrets"):
        verify_webhook(BODY, header, "whsec_long_secret_w", now=NOW)
    with pytest.raises(InvalidInputError):
        signature_header(BODY, "whsec", now=NOW)


@pytest.mark.parametrize("digits", [13, 400, 5000])
def test_huge_timestamps_are_malformed_not_a_crash(digits: int) -> None:
    header = f"t={'9' * digits},v1={'0' * 64}"
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY, header, ["k"], now=NOW)
    assert caught.value.reason == "malformed"


class Clock:
    """A settable clock for the relay's signing time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _relay(tmp_path: Path, handler: Any, clock: Clock, **options: Any) -> WebhookRelay:
    import httpx

    return WebhookRelay(
        tmp_path / "desk.db",
        options.pop("subscribers", [Subscriber("crm", "http://crm.test/hook")]),
        ["k"],
        transport=httpx.MockTransport(handler),
        clock=clock,
        seed=3,
        **options,
    )


def test_the_default_schedule_retries_for_about_three_days(
    store: SqliteStore, tmp_path: Path
) -> None:
    import httpx

    assert sum(DEFAULT_SCHEDULE, timedelta()) == timedelta(days=3, hours=3, minutes=35, seconds=5)
    events_for(store, aggregates=1, per=1)
    clock = Clock(NOW)
    attempts: list[datetime] = []

    def down(request: httpx.Request) -> httpx.Response:
        attempts.append(clock.now)
        return httpx.Response(500)

    with _relay(tmp_path, down, clock) as relay:
        while relay.states() != {"dead": 1} and len(attempts) < 50:
            relay.run_once(now=clock.now)
            (next_at,) = relay._db.execute("SELECT next_at FROM webhook_deliveries").fetchone()
            clock.now = max(clock.now, datetime.fromisoformat(next_at))
    assert len(attempts) == len(DEFAULT_SCHEDULE) + 1 == 10
    span = attempts[-1] - attempts[0]
    assert timedelta(days=2, hours=20) < span < timedelta(days=3, hours=12), span


def test_410_disables_the_endpoint_until_enabled(store: SqliteStore, tmp_path: Path) -> None:
    import httpx

    events_for(store, aggregates=2, per=1)
    clock = Clock(NOW)
    status = [410]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Csdesk-Event-Id"])
        return httpx.Response(status[0])

    with _relay(tmp_path, handler, clock) as relay:
        report = relay.run_once(now=NOW)
        assert report.disabled == ["crm"]
        assert relay.disabled() == {"crm": "the endpoint answered 410 Gone"}
        assert relay.run_once(now=NOW + timedelta(hours=1)).delivered == 0
        assert len(seen) == 1  # nothing sent while disabled
        assert relay.states() == {"pending": 2}
        status[0] = 200
        assert relay.enable("crm")
        assert relay.run_once(now=NOW + timedelta(hours=2)).delivered == 2


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "120", timedelta(seconds=120)),
        (503, "7", timedelta(seconds=7)),
        (503, "Sun, 22 Nov 2026 09:10:00 GMT", timedelta(minutes=10)),
        (429, "999999999", timedelta(days=1)),
        (503, "soon", None),
    ],
)
def test_429_and_503_honour_retry_after(
    store: SqliteStore, tmp_path: Path, status: int, retry_after: str, expected: timedelta | None
) -> None:
    import httpx

    events_for(store, aggregates=1, per=1)
    clock = Clock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": retry_after})

    with _relay(tmp_path, handler, clock) as relay:
        relay.run_once(now=clock.now)
        (next_at,) = relay._db.execute("SELECT next_at FROM webhook_deliveries").fetchone()
    wait = datetime.fromisoformat(next_at) - clock.now
    if expected is None:  # an unreadable Retry-After: the schedule's first wait, with jitter
        assert timedelta(seconds=4.5) <= wait <= timedelta(seconds=5.5)
    else:
        assert wait == expected


def test_a_hanging_subscriber_does_not_make_a_healthy_one_stale(
    store: SqliteStore, tmp_path: Path
) -> None:
    import time

    import httpx

    events_for(store, aggregates=3, per=2)
    accepted: list[str] = []
    started = time.monotonic()
    finished: dict[str, float] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.test":
            time.sleep(1.5)
            raise httpx.ReadTimeout("hung", request=request)
        # The receiver checks the signature on its own clock with a 1-second tolerance.
        verify_webhook(
            request.content, request.headers[SIGNATURE_HEADER], ["k"],
            now=datetime.now(UTC), tolerance=timedelta(seconds=1),
        )  # fmt: skip
        accepted.append(request.headers["Csdesk-Event-Id"])
        finished["fast"] = time.monotonic() - started
        return httpx.Response(200)

    subscribers = [
        Subscriber("slow", "http://slow.test/h"),
        Subscriber("fast", "http://fast.test/h"),
    ]
    stale_pass_time = datetime.now(UTC) - timedelta(minutes=10)
    with _relay(tmp_path, handler, Clock(NOW), subscribers=subscribers) as relay:
        relay._clock = lambda: datetime.now(UTC)
        report = relay.run_once(now=datetime.now(UTC))
        report_late = relay.run_once(now=stale_pass_time)  # signing never uses the pass time
    assert len(accepted) == 3  # the first event of each aggregate, in the first pass
    assert finished["fast"] < 1.0  # served while the slow one hung
    assert report.deferred == 2  # the slow one's other two wait for a later pass
    assert report.failed == 1
    assert report_late.delivered == 0  # nothing due at a time in the past


def test_standard_webhooks_headers_on_request(store: SqliteStore, tmp_path: Path) -> None:
    import httpx

    events_for(store, aggregates=1, per=1)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    clock = Clock(NOW)
    with _relay(tmp_path, handler, clock, standard_headers=True) as relay:
        relay.run_once(now=NOW)
    (request,) = seen
    event_id = request.headers["webhook-id"]
    timestamp = int(request.headers["webhook-timestamp"])
    assert timestamp == int(NOW.timestamp())
    assert request.headers["webhook-signature"] == standard_signature(
        event_id, timestamp, request.content, "k"
    )
    assert event_id == request.headers["Csdesk-Event-Id"]
