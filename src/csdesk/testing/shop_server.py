"""A real shop API for tests: Starlette on uvicorn, SQLite behind it, faults on demand.

It implements the contract `csdesk.integrations.shop_api` documents — orders in csdesk's schema,
refunds created once per ``Idempotency-Key`` (a repeat of the same body answers with the first
refund, another body with 409), over-refunds refused with 422 — and injects the failures a refund
script must survive: 500s, 429 with ``Retry-After``, slow answers, a timeout *after* the refund was
committed, and connections dropped before or after the commit.

Needs the ``testing`` extra (``pip install 'csdesk[testing]'``). Use `serve` in a test::

    backend = ShopBackend(tmp_path / "shop.db")
    backend.add_order(order)
    with serve(create_app(backend, token="t")) as base_url:
        ...

Every fault is chosen per request from a seeded RNG, so a failing run can be replayed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send
except ImportError as error:
    raise ImportError(
        "csdesk.testing.shop_server needs the 'testing' extra (Starlette and uvicorn): from a "
        f"checkout of csdesk, pip install -e '.[testing]' ({error})"
    ) from error

from csdesk.integrations.sqlitedb import connect, transaction
from csdesk.models import Order
from csdesk.money import Money

__all__ = [
    "FAULT_KINDS",
    "ODD_ANSWERS",
    "Faults",
    "ShopBackend",
    "create_app",
    "read_orders",
    "serve",
]

FAULT_KINDS = (
    "error_500",
    "rate_limit",
    "slow",
    "timeout_after_commit",
    "drop_before",
    "drop_after",
)
"""The faults `Faults` can inject (and chooses from by default)."""

ODD_ANSWERS = ("html_200", "bad_json", "pending", "redirect")
"""Answers a real shop (or the proxy in front of it) sometimes gives to ``POST /refunds``, for
`Faults.kinds`: ``html_200`` commits the refund and answers a 200 HTML page; ``bad_json`` commits
and answers cut-off JSON; ``pending`` commits and answers 202 with ``status: pending`` (the refund
succeeds afterwards: a recheck or a replay shows ``succeeded``); ``redirect`` commits nothing and
answers 302 to another path."""


@dataclass
class Faults:
    """Which faults to inject, how often, and how they behave.

    Attributes:
        rate: The share of requests (0 to 1) that get a fault.
        kinds: The faults to choose from, uniformly.
        seed: Seeds the choice.
        retry_after: The ``Retry-After`` of a 429, in seconds.
        slow_seconds: How long a slow answer takes.
        hang_seconds: How long the server sits on a committed refund before answering (set it
            above the client's timeout).
        paths: Which requests may fail: ``"refunds"`` (POST /refunds), ``"orders"`` (GET).
        latency: Seconds every ``POST /refunds`` takes, fault or not (a payment gateway's
            round trip).
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: int = 1
    slow_seconds: float = 0.2
    hang_seconds: float = 1.5
    paths: tuple[str, ...] = ("refunds", "orders")
    latency: float = 0.0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS) - set(ODD_ANSWERS)
        if unknown or not 0 <= self.rate <= 1:
            raise ValueError(
                f"faults: rate in [0, 1], kinds among {FAULT_KINDS + ODD_ANSWERS}; got {unknown}"
            )
        self._rng = random.Random(self.seed)

    def pick(self, path: str) -> str | None:
        """The fault for this request, or ``None``."""
        if path not in self.paths or self._rng.random() >= self.rate:
            return None
        return self._rng.choice(self.kinds)


class ShopBackend:
    """The shop's data: orders and refunds in SQLite, refunds deduplicated by idempotency key."""

    def __init__(self, path: str | Path) -> None:
        # Commits survive the server process dying (what the tests kill), not a power cut.
        self._db = connect(path, synchronous="NORMAL", check_same_thread=False)
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS refunds (
                id TEXT PRIMARY KEY,
                idempotency_key TEXT NOT NULL UNIQUE,
                body_hash TEXT NOT NULL,
                order_id TEXT NOT NULL,
                minor INTEGER NOT NULL CHECK (minor > 0),
                currency TEXT NOT NULL,
                shipping_minor INTEGER NOT NULL DEFAULT 0,
                data TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS refunds_by_order ON refunds (order_id);
            CREATE TABLE IF NOT EXISTS refunded_units (
                order_id TEXT NOT NULL,
                line_id TEXT NOT NULL,
                units INTEGER NOT NULL,
                PRIMARY KEY (order_id, line_id)
            );
            """
        )
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def add_order(self, order: Order) -> None:
        """Store (or replace) an order."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO orders (id, data) VALUES (?, ?)",
                (order.id, order.model_dump_json()),
            )

    def add_orders(self, orders: list[Order]) -> None:
        """Store many orders in one transaction."""
        with self._lock, transaction(self._db, immediate=False):
            self._db.executemany(
                "INSERT OR REPLACE INTO orders (id, data) VALUES (?, ?)",
                [(order.id, order.model_dump_json()) for order in orders],
            )

    def order_json(self, order_id: str) -> str | None:
        """The stored order's JSON."""
        row = self._db.execute("SELECT data FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else str(row[0])

    def refunds(self) -> list[dict[str, Any]]:
        """Every refund, as the API returns them."""
        rows = self._db.execute("SELECT data FROM refunds ORDER BY rowid").fetchall()
        return [json.loads(row[0]) for row in rows]

    def order_refunds(self, order_id: str) -> list[dict[str, Any]]:
        """An order's refunds, oldest first."""
        rows = self._db.execute(
            "SELECT data FROM refunds WHERE order_id = ? ORDER BY rowid", (order_id,)
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def refund(self, refund_id: str | None = None, key: str | None = None) -> dict[str, Any] | None:
        """One refund by id or by idempotency key."""
        column, value = ("id", refund_id) if refund_id is not None else ("idempotency_key", key)
        row = self._db.execute(f"SELECT data FROM refunds WHERE {column} = ?", (value,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def create_refund(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
        """Create a refund once per key: ``(status, payload, replayed)``."""
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock, transaction(self._db):
            return self._create(key, digest, body)

    def _create(
        self, key: str, digest: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], bool]:
        found = self._db.execute(
            "SELECT body_hash, data FROM refunds WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if found is not None:
            if found[0] != digest:
                return (
                    409,
                    _error("idempotency_conflict", f"key {key!r} was used for another request"),
                    False,
                )
            self.stats["replayed"] += 1
            return 200, json.loads(found[1]), True
        order_id = body.get("order_id")
        try:
            amount = Money.from_dict(body["amount"])
            minor = amount.minor_units
        except Exception as error:
            return 422, _error("invalid_input", f"amount: {error}"), False
        if minor <= 0:
            return 422, _error("invalid_input", "amount must be positive"), False
        stored = self.order_json(str(order_id))
        if stored is None:
            return 404, _error("not_found", f"no order {order_id!r}"), False
        order = json.loads(stored)
        if amount.currency != order["currency"]:
            return 422, _error("currency_mismatch", f"order is in {order['currency']}"), False
        captured = sum(Money.from_dict(p["captured"]).minor_units for p in order["payments"])
        (done,) = self._db.execute(
            "SELECT COALESCE(SUM(minor), 0) FROM refunds WHERE order_id = ?", (order_id,)
        ).fetchone()
        if done + minor > captured:
            left = Money.from_minor(captured - done, amount.currency)
            return 422, _error("over_refund", f"{left} is refundable on order {order_id}"), False
        units_problem = self._units_problem(order, body.get("lines") or {})
        if units_problem is not None:
            return 422, _error("over_refund_units", units_problem), False
        shipping = body.get("shipping")
        shipping_minor = Money.from_dict(shipping).minor_units if shipping else 0
        if shipping_minor:
            fee = Money.from_dict(order["shipping_fee"]).minor_units
            (before,) = self._db.execute(
                "SELECT COALESCE(SUM(shipping_minor), 0) FROM refunds WHERE order_id = ?",
                (order_id,),
            ).fetchone()
            if before + shipping_minor > fee:
                return (
                    422,
                    _error("over_refund_shipping", "the shipping was refunded already"),
                    False,
                )
        refund = {
            "id": f"RF-{uuid.uuid4().hex[:12]}",
            "order_id": order_id,
            "amount": amount.to_dict(),
            "reason": body.get("reason", ""),
            "lines": body.get("lines") or {},
            "shipping": shipping,
            "status": "succeeded",
            "idempotency_key": key,
            "created_at": datetime.now(UTC).isoformat(),
        }
        self._db.execute(
            "INSERT INTO refunds (id, idempotency_key, body_hash, order_id, minor, currency, "
            "shipping_minor, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (refund["id"], key, digest, order_id, minor, amount.currency, shipping_minor,
             json.dumps(refund)),
        )  # fmt: skip
        for line_id, units in (body.get("lines") or {}).items():
            self._db.execute(
                "INSERT INTO refunded_units (order_id, line_id, units) VALUES (?, ?, ?) "
                "ON CONFLICT (order_id, line_id) DO UPDATE SET units = units + excluded.units",
                (order_id, str(line_id), int(units)),
            )
        self.stats["created"] += 1
        return 201, refund, False

    def _units_problem(self, order: dict[str, Any], lines: dict[str, Any]) -> str | None:
        """Why refunding ``lines`` would pass a line's units (bought, minus canceled), if so."""
        quantities = {str(line["id"]): int(line["quantity"]) for line in order["lines"]}
        canceled = {str(k): int(v) for k, v in (order.get("canceled_units") or {}).items()}
        for line_id, units in lines.items():
            if str(line_id) not in quantities or not isinstance(units, int) or units <= 0:
                return f"line {line_id!r}: no such line, or not a positive number of units"
            (done,) = self._db.execute(
                "SELECT COALESCE(SUM(units), 0) FROM refunded_units WHERE order_id = ? AND "
                "line_id = ?",
                (order["id"], str(line_id)),
            ).fetchone()
            left = quantities[str(line_id)] - canceled.get(str(line_id), 0) - done
            if units > left:
                return f"line {line_id}: {units} units asked, {left} left to refund"
        return None


def _odd(kind: str, payload: dict[str, Any]) -> Response:
    """An odd answer to a committed refund (see `ODD_ANSWERS`)."""
    if kind == "html_200":
        return Response("<html><body>Gateway OK</body></html>", 200, media_type="text/html")
    if kind == "bad_json":
        return Response(json.dumps(payload)[:20], 200, media_type="application/json")
    return JSONResponse({**payload, "status": "pending"}, 202)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


class _Dropped(Response):
    """Promise a body and send a fraction of it: the client sees the connection drop."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": "RF-', "more_body": False})


def create_app(
    backend: ShopBackend, *, token: str | None = None, faults: Faults | None = None
) -> Starlette:
    """The Starlette app serving ``backend``; requests need ``Bearer token`` when one is given."""
    state = {"faults": faults or Faults()}

    def authorised(request: Request) -> bool:
        return token is None or request.headers.get("authorization") == f"Bearer {token}"

    def denied() -> JSONResponse:
        return JSONResponse(_error("unauthorised", "a valid bearer token is required"), 401)

    async def fault(kind: str | None) -> Response | None:
        if kind is not None:
            backend.stats[f"fault:{kind}"] += 1
        if kind == "error_500":
            return JSONResponse(_error("internal", "injected 500"), 500)
        if kind == "rate_limit":
            retry_after = str(state["faults"].retry_after)
            return JSONResponse(
                _error("rate_limited", "slow down"), 429, {"Retry-After": retry_after}
            )
        if kind == "slow":
            await asyncio.sleep(state["faults"].slow_seconds)
        if kind == "drop_before":
            return _Dropped()
        return None

    async def get_order(request: Request) -> Response:
        if not authorised(request):
            return denied()
        backend.stats["get_order"] += 1
        early = await fault(state["faults"].pick("orders"))
        if early is not None:
            return early
        stored = backend.order_json(request.path_params["order_id"])
        if stored is None:
            return JSONResponse(_error("not_found", "no such order"), 404)
        return Response(stored, media_type="application/json")

    async def post_refund(request: Request) -> Response:
        if not authorised(request):
            return denied()
        backend.stats["post_refund"] += 1
        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse(_error("invalid_input", "Idempotency-Key header is required"), 400)
        kind = state["faults"].pick("refunds")
        if state["faults"].latency:
            await asyncio.sleep(state["faults"].latency)
        early = await fault(kind)
        if early is not None:
            return early
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(_error("invalid_input", "body is not JSON"), 400)
        if kind == "redirect":
            return Response(status_code=302, headers={"Location": "/v2/refunds"})
        status, payload, replayed = backend.create_refund(key, body)
        if status < 300 and kind in ("html_200", "bad_json", "pending"):
            return _odd(kind, payload)
        if kind == "timeout_after_commit":
            await asyncio.sleep(state["faults"].hang_seconds)
        if kind == "drop_after":
            return _Dropped()
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(payload, status, headers)

    async def get_refund(request: Request) -> Response:
        if not authorised(request):
            return denied()
        found = backend.refund(refund_id=request.path_params["refund_id"])
        if found is None:
            return JSONResponse(_error("not_found", "no such refund"), 404)
        return JSONResponse(found)

    async def order_refunds(request: Request) -> Response:
        if not authorised(request):
            return denied()
        order_id = request.path_params["order_id"]
        if backend.order_json(order_id) is None:
            return JSONResponse(_error("not_found", "no such order"), 404)
        return JSONResponse({"refunds": backend.order_refunds(order_id)})

    async def find_refund(request: Request) -> Response:
        if not authorised(request):
            return denied()
        found = backend.refund(key=request.query_params.get("idempotency_key", ""))
        if found is None:
            return JSONResponse(_error("not_found", "no refund with that key"), 404)
        return JSONResponse(found)

    async def set_faults(request: Request) -> Response:
        data = await request.json()
        options: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        state["faults"] = Faults(**options)
        return JSONResponse({"ok": True})

    async def stats(request: Request) -> Response:
        return JSONResponse(dict(backend.stats))

    return Starlette(
        routes=[
            Route("/orders/{order_id}", get_order, methods=["GET"]),
            Route("/orders/{order_id}/refunds", order_refunds, methods=["GET"]),
            Route("/refunds", post_refund, methods=["POST"]),
            Route("/refunds", find_refund, methods=["GET"]),
            Route("/refunds/{refund_id}", get_refund, methods=["GET"]),
            Route("/_control/faults", set_faults, methods=["POST"]),
            Route("/_control/stats", stats, methods=["GET"]),
        ]
    )


@contextmanager
def serve(app: Starlette, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` under uvicorn in a background thread; yield its base URL; stop it after."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="critical",
        access_log=False,
        lifespan="off",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="csdesk-shop-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test shop server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def read_orders(path: str | Path, *, now: datetime | None = None) -> list[Order]:
    """Orders to serve, from a CSV, JSON or JSONL file; each placed and paid if not already.

    * JSON (a list, or ``{"orders": [...]}``) and JSONL (one per line): each item is an order in
      csdesk's schema (as ``GET /orders/{id}`` answers), or a draft ``{"id", "customer_id",
      "lines": [{"sku", "name", "quantity", "unit_price"}], "currency", "shipping_fee",
      "paid_with"}`` with prices as strings;
    * CSV: one row per line, grouped by ``order_id``, with the columns ``order_id``,
      ``customer_id``, ``sku``, ``name``, ``quantity``, ``unit_price``, ``currency`` and the
      optional ``shipping_fee`` and ``paid_with`` (read from an order's first row).

    A draft is placed at ``now`` (default: the current time) and paid in full by ``paid_with``
    (default ``alipay``).

    Raises:
        InvalidInputError: the file cannot be read; the message names the line and what is wrong.
    """
    import csv

    from csdesk.errors import CsdeskError, InvalidInputError

    file = Path(path)
    at = now or datetime.now(UTC)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read {file}: {error}") from None
    items: list[tuple[int, dict[str, Any]]] = []
    try:
        if file.suffix.lower() == ".csv":
            grouped: dict[str, tuple[int, dict[str, Any]]] = {}
            for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
                key = (row.get("order_id") or "").strip()
                if not key:
                    raise InvalidInputError(f"{file.name} line {number}: no order_id")
                line = {k: row.get(k) for k in ("sku", "name", "quantity", "unit_price")}
                if key not in grouped:
                    draft: dict[str, Any] = {
                        "id": key,
                        "customer_id": row.get("customer_id"),
                        "currency": row.get("currency"),
                        "lines": [],
                        "shipping_fee": row.get("shipping_fee") or None,
                        "paid_with": row.get("paid_with") or None,
                    }
                    grouped[key] = (number, draft)
                grouped[key][1]["lines"].append(line)
            items = list(grouped.values())
        elif file.suffix.lower() == ".jsonl":
            items = [
                (n, json.loads(raw)) for n, raw in enumerate(text.splitlines(), 1) if raw.strip()
            ]
        else:
            data = json.loads(text)
            listed = data.get("orders") if isinstance(data, dict) else data
            if not isinstance(listed, list):
                raise InvalidInputError(
                    f'{file.name}: a JSON list of orders, or {{"orders": [...]}}'
                )
            items = [(n, item) for n, item in enumerate(listed, start=1)]
    except ValueError as error:
        raise InvalidInputError(
            f"{file.name}: not valid {file.suffix[1:] or 'JSON'}: {error}"
        ) from None
    orders = []
    for number, item in items:
        try:
            orders.append(_order_from_item(item, at))
        except (CsdeskError, KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(f"{file.name} item {number}: {error}") from None
    return orders


def _order_from_item(item: Any, at: datetime) -> Order:
    from csdesk.events import Actor
    from csdesk.models import Customer, LineDraft, Payment
    from csdesk.workflows import PayOrder, run

    if not isinstance(item, dict):
        raise TypeError("an order is a JSON object")
    lines = item.get("lines") or []
    if lines and isinstance(lines[0], dict) and "split" in lines[0]:
        return Order.model_validate(item)
    currency = str(item.get("currency") or "CNY")
    shipping = item.get("shipping_fee")
    for value in [shipping, *(line.get("unit_price") for line in lines)]:
        if isinstance(value, float):
            raise ValueError(f"{value!r} is a JSON number: write amounts as strings ('5.50')")
    order = Order.place(
        id=str(item["id"]),
        customer=Customer(id=str(item.get("customer_id") or "C-test")),
        placed_at=at,
        lines=[
            LineDraft(
                sku=str(line["sku"]),
                name=str(line.get("name") or line["sku"]),
                quantity=int(line["quantity"]),
                unit_price=Money(str(line["unit_price"]), currency),
            )
            for line in lines
        ],
        shipping_fee=Money(str(shipping), currency) if shipping else None,
    )
    paid = Payment(id="P-1", method=str(item.get("paid_with") or "alipay"),
                   captured=order.total, captured_at=at)  # fmt: skip
    run(order, PayOrder(payments=[paid]), actor=Actor(kind="customer"), now=at)
    return order
