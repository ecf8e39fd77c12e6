"""The shop API client: retries, backoff, Retry-After, idempotency keys, errors, the token."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from csdesk import Money
from csdesk.errors import InvalidInputError, RemoteRejectedError, RemoteUnavailableError
from csdesk.integrations.shop_api import (
    AsyncShopClient,
    RefundRequest,
    RetryPolicy,
    ShopClient,
)
from tests.integrations.shop_fixtures import Shop

REQUEST = RefundRequest(order_id="SO-1", amount=Money("5.00", "CNY"), reason="goodwill")
REFUND = {
    "id": "RF-1",
    "order_id": "SO-1",
    "amount": {"amount": "5.00", "currency": "CNY"},
    "reason": "goodwill",
    "status": "succeeded",
    "idempotency_key": "k",
    "created_at": "2026-03-01T10:00:00+00:00",
}


def scripted(*answers: Any) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that plays ``answers`` in turn: a status code, (status, headers) or an error."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        body = REFUND if status < 300 else {"code": f"c{status}", "message": f"said {status}"}
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handle), seen


def client(transport: httpx.MockTransport, waits: list[float], **retry: Any) -> ShopClient:
    return ShopClient(
        "http://shop.test/api",
        token="secret-token-123",
        retry=RetryPolicy(**{"attempts": 5, "base": 0.1, **retry}),
        transport=transport,
        seed=1,
        sleep=waits.append,
    )


def test_retries_timeouts_5xx_and_429_with_the_same_key() -> None:
    transport, seen = scripted(
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        500,
        (429, {"Retry-After": "3"}),
        201,
    )
    waits: list[float] = []
    with client(transport, waits) as shop:
        refund = shop.create_refund(REQUEST, idempotency_key="key-1")
    assert refund.id == "RF-1"
    assert len(seen) == 5
    assert {r.headers["Idempotency-Key"] for r in seen} == {"key-1"}
    assert waits[3] == 3.0  # Retry-After honoured
    assert all(0 <= w <= 0.1 * 2**i for i, w in enumerate(waits[:3]))  # full jitter, doubling


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_never_retries_other_client_errors(status: int) -> None:
    transport, seen = scripted(status)
    waits: list[float] = []
    with client(transport, waits) as shop, pytest.raises(RemoteRejectedError) as caught:
        shop.create_refund(REQUEST, idempotency_key="k")
    assert len(seen) == 1
    assert waits == []
    assert caught.value.status == status
    assert caught.value.remote_code == f"c{status}"
    assert f"HTTP {status} (c{status}): said {status}" in str(caught.value)


def test_gives_up_with_what_it_saw_last() -> None:
    transport, seen = scripted(503, 503, httpx.ReadTimeout("slow"))
    waits: list[float] = []
    with (
        client(transport, waits, attempts=3) as shop,
        pytest.raises(RemoteUnavailableError) as caught,
    ):
        shop.create_refund(REQUEST, idempotency_key="k")
    assert caught.value.attempts == 3
    assert caught.value.last == "ReadTimeout"
    assert "repeat it with the same idempotency key" in str(caught.value)
    assert len(seen) == 3


def test_retry_after_as_an_http_date_and_capped() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    transport, _ = scripted((429, {"Retry-After": later}), 201)
    waits: list[float] = []
    with client(transport, waits, max_retry_after=30.0) as shop:
        shop.create_refund(REQUEST, idempotency_key="k")
    assert waits == [30.0]


def test_the_token_is_sent_but_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    transport, seen = scripted(500, 201)
    caplog.set_level(logging.DEBUG)
    with client(transport, []) as shop:
        assert "secret-token-123" not in repr(shop)
        assert "***" in repr(shop)
        shop.create_refund(REQUEST, idempotency_key="k")
    assert seen[0].headers["Authorization"] == "Bearer secret-token-123"
    assert "retrying" in caplog.text
    assert "secret-token-123" not in caplog.text


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSDESK_SHOP_TOKEN", "from-env")
    transport, seen = scripted(201)
    with ShopClient("http://shop.test", transport=transport) as shop:
        shop.create_refund(REQUEST, idempotency_key="k")
    assert seen[0].headers["Authorization"] == "Bearer from-env"


def test_bad_retry_policies_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        RetryPolicy(attempts=0)


def test_async_client_retries_the_same_way() -> None:
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(502, json={"code": "bad_gateway"})
        return httpx.Response(201, json=REFUND)

    async def go() -> str:
        async with AsyncShopClient(
            "http://shop.test",
            token="t",
            retry=RetryPolicy(base=0.001),
            transport=httpx.MockTransport(handle),
        ) as shop:
            return (await shop.create_refund(REQUEST, idempotency_key="a")).id

    assert asyncio.run(go()) == "RF-1"
    assert [c.headers["Idempotency-Key"] for c in calls] == ["a", "a"]


# -- against the real test server ---------------------------------------------------------------


def test_against_the_server_replays_conflicts_and_over_refunds(shop: Shop) -> None:
    with ShopClient(shop.url, retry=RetryPolicy(attempts=2, timeout=5)) as api:
        order = api.get_order("SO-1")
        assert order.id == "SO-1"
        first = api.create_refund(REQUEST, idempotency_key="once")
        again = api.create_refund(REQUEST, idempotency_key="once")
        assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
        assert api.get_refund(first.id).amount == Money("5.00", "CNY")
        assert api.find_refund("once") == api.get_refund(first.id)
        assert api.find_refund("never") is None
        other = REQUEST.model_copy(update={"amount": Money("6.00", "CNY")})
        with pytest.raises(RemoteRejectedError) as conflict:
            api.create_refund(other, idempotency_key="once")
        assert (conflict.value.status, conflict.value.remote_code) == (409, "idempotency_conflict")
        huge = REQUEST.model_copy(update={"amount": Money("99999.00", "CNY")})
        with pytest.raises(RemoteRejectedError, match=r"over_refund.*1615\.65 CNY is refundable"):
            api.create_refund(huge, idempotency_key="huge")
        with pytest.raises(RemoteRejectedError) as missing:
            api.get_order("SO-nope")
        assert missing.value.status == 404
    with ShopClient(shop.url, token="wrong") as api, pytest.raises(RemoteRejectedError) as denied:
        api.get_order("SO-1")
    assert denied.value.status == 401
    assert len(shop.backend.refunds()) == 1


def test_a_timeout_after_the_commit_is_retried_into_the_same_refund(shop: Shop) -> None:
    from csdesk.testing.shop_server import Faults

    shop.set_faults(Faults(rate=1.0, kinds=("timeout_after_commit",), hang_seconds=0.5))
    with ShopClient(shop.url, retry=RetryPolicy(attempts=3, timeout=0.2, base=0.01)) as api:
        with pytest.raises(RemoteUnavailableError):
            api.create_refund(REQUEST, idempotency_key="slow-one")
        shop.set_faults(Faults())
        refund = api.create_refund(REQUEST, idempotency_key="slow-one")
    assert refund.replayed
    assert len(shop.backend.refunds()) == 1
