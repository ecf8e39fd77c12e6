"""An HTTP/1.1 keep-alive transport for ``httpx.AsyncClient``, parsing with httptools.

httpx's default async transport (httpcore over anyio, with h11 in pure Python) spends about a
millisecond of CPU on every request on the 2-core benchmark machine: more than a shop's refund
endpoint itself, so a refund batch sending 32 requests at once was no faster than a loop sending
one at a time. `KeepAliveTransport` does the same job with asyncio's own protocol machinery and
the C parser uvicorn uses (httptools), at about a fifth of the cost; the ``httpx.AsyncClient`` in
front of it (URLs, headers, timeouts, ``Response``) is unchanged.

It speaks plain HTTP/1.1 (with TLS for ``https``), one request at a time per connection, and keeps
up to ``connections`` open per origin. What it does not do, and what to use then:

* proxies: `csdesk.integrations.shop_api.AsyncShopClient` falls back to httpx's own transport when
  the environment names a proxy for the shop (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``);
* HTTP/2, ``HEAD``, ``CONNECT``, upgrades and streaming answers: every answer is read whole (up to
  ``max_body`` bytes) before the ``Response`` is returned.

Failures are httpx's own exceptions (``httpx.ConnectError``, ``httpx.ReadTimeout``,
``httpx.RemoteProtocolError``…), so code written against httpx handles them unchanged. A request is
never re-sent by the transport: retrying is the caller's decision (the shop clients retry with the
same ``Idempotency-Key``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from typing import Any, cast

import httptools
import httpx

from csdesk._checks import checked
from csdesk.errors import InvalidInputError

__all__ = ["KeepAliveTransport"]

MAX_BODY = 16 * 2**20
"""The largest answer body `KeepAliveTransport` reads by default (16 MiB)."""

_Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One connection: feeds the parser, wakes the request waiting for its answer."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused: asyncio.Future[None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reset()

    def reset(self) -> None:
        """Forget the previous answer (a connection carries one request at a time)."""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.framed = False  # Content-Length or chunked: the parser sees the end
        self.head_done = False
        self.complete = False
        self.status = 0
        self.keep_alive = False
        self.error: httpx.TransportError | None = None

    # asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked: a server talking out of turn
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)
        if self.waiter is None or self.complete:
            return
        if self.head_done and not self.framed:  # a body that ends when the connection does
            self.complete = True
            self._wake()
            return
        why = f": {exc}" if exc is not None else ""
        self._fail(httpx.RemoteProtocolError(f"the server closed the connection mid-answer{why}"))

    def pause_writing(self) -> None:
        if self.paused is None or self.paused.done():
            self.paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.paused is not None and not self.paused.done():
            self.paused.set_result(None)

    # httptools callbacks --------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes | None) -> None:
        self.headers.append((name, value or b""))
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in (value or b"").lower()
        ):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self._fail(httpx.RemoteProtocolError(f"the answer is over {self.max_body} bytes"))
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # before the parser resets
        self._wake()

    # ----------------------------------------------------------------------------------------

    def _fail(self, error: httpx.TransportError) -> None:
        if self.error is None:
            self.error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, data: bytes, write_timeout: float | None, read_timeout: float | None,
                       request: httpx.Request) -> None:  # fmt: skip
        """Send one request and wait for its whole answer (or raise an httpx error)."""
        assert self.transport is not None
        self.reset()
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            self.transport.write(data)
            if self.paused is not None and not self.paused.done():
                try:
                    async with asyncio.timeout(write_timeout):
                        await asyncio.shield(self.paused)
                except TimeoutError:
                    raise httpx.WriteTimeout("timed out sending", request=request) from None
            try:
                async with asyncio.timeout(read_timeout):
                    await self.waiter
            except TimeoutError:
                raise httpx.ReadTimeout(
                    "timed out waiting for the answer", request=request
                ) from None
        finally:
            self.waiter = None
        if self.error is not None:
            self.error.request = request
            raise self.error


class _Pool:
    """The connections to one origin: idle ones to reuse, and a cap on how many are open."""

    def __init__(self, size: int) -> None:
        self.idle: deque[_Connection] = deque()
        self.slots = asyncio.Semaphore(size)

    def take(self) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return connection
        return None


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` async transport: HTTP/1.1 keep-alive connections over asyncio + httptools.

    Args:
        connections: Connections kept per origin (requests beyond wait for one, up to the pool
            timeout).
        verify: The TLS context for ``https`` (``True``: the system's default CA bundle,
            ``False``: no verification, for test servers only).
        max_body: The largest answer body read; a longer one is a ``httpx.RemoteProtocolError``.

    Use it as ``httpx.AsyncClient(transport=KeepAliveTransport())``.

    Raises:
        InvalidInputError: ``connections`` or ``max_body`` below 1, or not an ``int``.
    """

    @checked
    def __init__(
        self,
        *,
        connections: int = 32,
        verify: ssl.SSLContext | bool = True,
        max_body: int = MAX_BODY,
    ) -> None:
        if connections < 1 or max_body < 1:
            raise InvalidInputError(
                f"connections and max_body must be at least 1, got {connections} and {max_body}"
            )
        self._size = connections
        self._max_body = max_body
        if isinstance(verify, ssl.SSLContext):
            self._tls: ssl.SSLContext | None = verify
        elif verify:
            self._tls = None  # made when the first https connection needs it
        else:
            self._tls = ssl.create_default_context()
            self._tls.check_hostname = False
            self._tls.verify_mode = ssl.CERT_NONE
        self._pools: dict[_Origin, _Pool] = {}
        self._closed = False

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle connection (or a new one) and read its whole answer."""
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url}", request=request)
        if request.method in ("HEAD", "CONNECT"):
            raise httpx.UnsupportedProtocol(
                f"{request.method} is not supported by KeepAliveTransport; use httpx's own",
                request=request,
            )
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self._size)
        body = await request.aread()
        head = b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), url.raw_path)
        data = head + b"".join(b"%s: %s\r\n" % pair for pair in request.headers.raw) + b"\r\n"
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await pool.slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None
        try:
            connection = pool.take() or await self._connect(origin, timeouts, request)
            try:
                await connection.exchange(
                    data + body, timeouts.get("write"), timeouts.get("read"), request
                )
            except BaseException:
                connection.close()
                raise
            if connection.keep_alive and not connection.closed and not self._closed:
                pool.idle.append(connection)
            else:
                connection.close()
        finally:
            pool.slots.release()
        return httpx.Response(
            connection.status,
            headers=connection.headers,
            content=b"".join(connection.body),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def _connect(
        self, origin: _Origin, timeouts: dict[str, float | None], request: httpx.Request
    ) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = {}
        if scheme == "https":
            tls = {"ssl": self._context(), "server_hostname": host}
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._max_body), host, port, **tls
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out",
                                       request=request) from None  # fmt: skip
        except (OSError, ssl.SSLError) as error:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {error}",
                                     request=request) from None  # fmt: skip
        sock = connection.transport.get_extra_info("socket") if connection.transport else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    async def aclose(self) -> None:
        """Close every idle connection; busy ones close when their answer is in."""
        self._closed = True
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
