"""`KeepAliveTransport`: httpx's behaviour on the wire, at a fifth of the cost.

Each test runs a scripted HTTP server on 127.0.0.1 (asyncio streams): it reads one request head
(and its body, by Content-Length) and answers with the bytes the test gives, so odd answers —
chunked, framed by the connection closing, oversized, never sent — are exact.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest

from csdesk.errors import InvalidInputError
from csdesk.integrations.shop_api import AsyncShopClient
from csdesk.integrations.transport import KeepAliveTransport

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Given the request (head and body), write an answer; return whether to keep the connection."""


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


async def _serve(answer: Answer) -> tuple[asyncio.Server, str, dict[str, Any]]:
    seen: dict[str, Any] = {"connections": 0, "requests": []}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                seen["requests"].append(request)
                keep = await answer(request, writer)
                await writer.drain()
                if not keep:
                    break
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", seen


def _ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
        % (len(body), extra, body)
    )


def _run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_connections_are_kept_and_reused() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(_ok())
        return True

    async def test() -> None:
        server, url, seen = await _serve(answer)
        async with server, httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            for _ in range(5):
                response = await client.post(url + "/refunds?x=1", json={"a": 1})
                assert response.status_code == 200
                assert response.json() == {"ok": True}
                assert response.http_version == "HTTP/1.1"
        assert seen["connections"] == 1
        first = seen["requests"][0]
        assert first.startswith(b"POST /refunds?x=1 HTTP/1.1\r\n")
        assert first.endswith(b'{"a":1}')

    _run(test)


def test_chunked_and_close_framed_answers_are_read_whole() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"GET /chunked" in request:
            writer.write(
                b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
            )
            return True
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        return False

    async def test() -> None:
        server, url, seen = await _serve(answer)
        async with server, httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            chunked = await client.get(url + "/chunked")
            assert (chunked.status_code, chunked.content) == (201, b"abcdefg")
            closing = await client.get(url + "/close")
            assert closing.content == b"until the end"
            again = await client.get(url + "/chunked")  # the closed one is not reused
            assert again.content == b"abcdefg"
        assert seen["connections"] == 2

    _run(test)


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(_ok())
        return False  # closes after every answer, without saying so

    async def test() -> None:
        server, url, seen = await _serve(answer)
        async with server, httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            for _ in range(3):
                assert (await client.get(url + "/")).status_code == 200
                await asyncio.sleep(0.05)  # the close reaches the client
        assert seen["connections"] == 3

    _run(test)


def test_odd_answers_are_httpx_errors() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"/cut" in request:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
            return False
        if b"/garbage" in request:
            writer.write(b"SMTP ready\r\n\r\n")
            return False
        if b"/big" in request:
            writer.write(_ok(b"x" * 5000))
            return True
        if b"/silent" in request:
            await asyncio.sleep(2)
            return False
        return False  # /nothing: closed without an answer

    async def test() -> None:
        server, url, _ = await _serve(answer)
        transport = KeepAliveTransport(max_body=1000)
        async with server, httpx.AsyncClient(transport=transport, timeout=0.3) as client:
            with pytest.raises(httpx.RemoteProtocolError, match="mid-answer"):
                await client.get(url + "/cut")
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await client.get(url + "/garbage")
            with pytest.raises(httpx.RemoteProtocolError, match="over 1000 bytes"):
                await client.get(url + "/big")
            with pytest.raises(httpx.RemoteProtocolError, match="mid-answer"):
                await client.get(url + "/nothing")
            with pytest.raises(httpx.ReadTimeout):
                await client.get(url + "/silent")

    _run(test)


def test_connect_failures_and_unsupported_requests() -> None:
    async def test() -> None:
        server, url, _ = await _serve(lambda request, writer: asyncio.sleep(0, False))
        server.close()
        await server.wait_closed()
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            with pytest.raises(httpx.ConnectError, match="cannot connect"):
                await client.get(url + "/")
            with pytest.raises(httpx.UnsupportedProtocol, match="HEAD"):
                await client.head(url + "/")
        with pytest.raises(InvalidInputError, match="at least 1"):
            KeepAliveTransport(connections=0)

    _run(test)


def test_the_connection_cap_holds_and_waiters_get_a_pool_timeout() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.2)
        writer.write(_ok())
        return True

    async def test() -> None:
        server, url, seen = await _serve(answer)
        transport = KeepAliveTransport(connections=2)
        async with server, httpx.AsyncClient(transport=transport) as client:
            answers = await asyncio.gather(*(client.get(url + "/") for _ in range(6)))
            assert [a.status_code for a in answers] == [200] * 6
            assert seen["connections"] == 2
            short = httpx.Timeout(5, pool=0.05)
            busy = [asyncio.ensure_future(client.get(url + "/")) for _ in range(2)]
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await client.get(url + "/", timeout=short)
            await asyncio.gather(*busy)

    _run(test)


def test_the_shop_client_uses_it_unless_a_proxy_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    plain = AsyncShopClient("https://shop.example/api", token="t")
    assert isinstance(plain._http._transport, KeepAliveTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    proxied = AsyncShopClient("https://shop.example/api", token="t")
    assert not isinstance(proxied._http._transport, KeepAliveTransport)
    assert proxied._http._mounts  # httpx's own transport, through the proxy
    monkeypatch.setenv("NO_PROXY", "shop.example")
    bypassed = AsyncShopClient("https://shop.example/api", token="t")
    assert isinstance(bypassed._http._transport, KeepAliveTransport)

    async def close() -> None:
        for client in (plain, proxied, bypassed):
            await client.aclose()

    _run(close)


def test_https_with_a_verified_certificate(tmp_path: Any) -> None:
    """A self-signed certificate made with Debian's openssl: trusted when given, refused if not."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl (Debian's package) is needed for the TLS test"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(_ok())
        return True

    async def test() -> None:
        served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        served.load_cert_chain(cert, key)
        seen = {"requests": 0}

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await _read_request(reader) is not None:
                    seen["requests"] += 1
                    await answer(b"", writer)
                    await writer.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=served)
        port = server.sockets[0].getsockname()[1]
        trusted = ssl.create_default_context(cafile=str(cert))
        async with server:
            async with httpx.AsyncClient(transport=KeepAliveTransport(verify=trusted)) as client:
                for _ in range(2):
                    response = await client.get(f"https://localhost:{port}/")
                    assert response.json() == {"ok": True}
            async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(f"https://localhost:{port}/")
        assert seen["requests"] == 2

    _run(test)
