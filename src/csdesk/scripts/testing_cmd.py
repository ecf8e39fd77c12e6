"""``csdesk testing``: a test shop API to try refund batches and integrations against."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from csdesk.scripts._cli import BadInput

__all__ = ["testing"]


@click.group()
def testing() -> None:
    """A test shop API to try refund batches and integrations against, with faults.

    It speaks the shop contract of `csdesk refunds run`. Needs the 'testing' extra (Starlette
    and uvicorn).
    """


@testing.command("serve")
@click.option(
    "--orders",
    "orders_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Orders to serve: CSV (one row per line: order_id, customer_id, sku, name, quantity, "
    "unit_price, currency, optional shipping_fee and paid_with), JSON or JSONL (csdesk orders, "
    "or drafts); drafts are placed and paid in full.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The port (0: any free one).",
)
@click.option(
    "--token",
    envvar="CSDESK_SHOP_TOKEN",
    help="The bearer token clients must send [env: CSDESK_SHOP_TOKEN]; without one, any request "
    "is served.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The shop's SQLite file, kept across runs (default: a temporary one).",
)
@click.option(
    "--latency",
    type=click.FloatRange(0, 60),
    default=0.0,
    show_default=True,
    help="Seconds every POST /refunds takes (a payment gateway's round trip).",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="The share of requests that get a fault.",
)
@click.option(
    "--faults",
    "fault_kinds",
    metavar="KIND,…",
    help="The faults to choose from (default: all the transport faults): error_500, rate_limit, "
    "slow, timeout_after_commit, drop_before, drop_after, html_200, bad_json, pending, redirect.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the fault choice.")
def serve_command(
    orders_path: Path | None,
    host: str,
    port: int,
    token: str | None,
    db_path: Path | None,
    latency: float,
    fault_rate: float,
    fault_kinds: str | None,
    seed: int,
) -> None:
    """Serve the test shop until Ctrl-C; the first line printed is its URL.

    GET /orders/{id}, GET /orders/{id}/refunds, POST /refunds (with Idempotency-Key),
    GET /refunds/{id}, GET /refunds?idempotency_key=K, and POST /_control/faults to change the
    faults while it runs. Exit codes: 0 stopped; 2 bad options or orders file.
    """
    import tempfile

    import uvicorn

    from csdesk.errors import CsdeskError
    from csdesk.testing.shop_server import FAULT_KINDS, Faults, ShopBackend, create_app, read_orders

    try:
        kinds = tuple(k.strip() for k in fault_kinds.split(",")) if fault_kinds else FAULT_KINDS
        faults = Faults(rate=fault_rate, kinds=kinds, seed=seed, latency=latency)
        orders = read_orders(orders_path) if orders_path is not None else []
    except (CsdeskError, ValueError) as error:
        raise BadInput(str(error)) from None
    with tempfile.TemporaryDirectory(prefix="csdesk-shop-") as scratch:
        backend = ShopBackend(db_path or Path(scratch) / "shop.db")
        backend.add_orders(orders)
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as error:
            raise BadInput(f"cannot listen on {host}:{port}: {error}") from None
        bound = listener.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"http://{shown}:{bound}", nl=True)
        click.echo(
            f"csdesk test shop: {len(orders)} orders, "
            f"{'token required' if token else 'no token'}; Ctrl-C stops it",
            err=True,
        )
        app = create_app(backend, token=token, faults=faults)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            backend.close()
