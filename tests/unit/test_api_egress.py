"""Webhook egress: which URLs may be registered, which addresses may be connected to, how
much of an answer is read, and what a carrier is told about a failure.

Every server here listens on 127.0.0.1; the "public" names resolve through a fake resolver
to loopback, so no packet leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import ResolveResult
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from lastmile.api import egress
from lastmile.api.config import ApiConfig
from lastmile.api.dispatcher import RESPONSE_READ_LIMIT, Dispatcher
from lastmile.api.errors import ApiError
from lastmile.api.metrics import api_metrics
from lastmile.api.webhooks import public_error, validate_url


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/lastmile",
        "https://8.8.8.8/h",
        "https://a.b:8443/x?y=1",
        "https://[2606:4700:4700::1111]/h",
        "https://xn--fiqs8s.example.cn/h",
    ],
)
def test_https_urls_to_public_hosts_are_accepted(url: str) -> None:
    assert validate_url(url) == url


REFUSED = [
    # the probe's list: loopback under every spelling
    "https://localhost:8443/",
    "https://LOCALHOST/",
    "https://localhost./",
    "https://127.0.0.1./",
    "https://127.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0177.0.0.1/",
    "https://0/",
    "https://0.0.0.0/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://ｌｏｃａｌｈｏｓｔ/",
    "https://224.0.0.1/",
    "https://127.0.0.1/x",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[2002:7f00:1::]/",
    "https://[fe80::1%25eth0]/",
    "https://[fc00::1]/",
    "https://[::]/",
    # private, link-local, CGNAT, reserved, documentation, broadcast
    "https://10.1.2.3/x",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest",
    "https://100.64.0.1/",
    "https://192.0.2.1/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    # internal names and other spellings
    "https://redis/",
    "https://api.localhost/",
    "https://printer.local/",
    "https://db.internal/",
    "https://host.home.arpa/",
    "https://1.0.0.127.in-addr.arpa/",
    "https://%6c%6fcalhost/",
    "https://example.com\\@127.0.0.1/",
    "https://10.0.0.1.example/x",  # fine as a name? no: the last label decides; see below
    # not https / malformed
    "http://hooks.example.com/x",
    "http://127.0.0.1:9000/x",
    "https://user:pw@example.com/x",
    "ftp://example.com/x",
    "https:///nohost",
    "https://example.com:99999/x",
    "https://exa mple.com/",
    "https://example.com/\n",
    "",
    None,
    42,
    "https://" + "a" * 2100 + ".com",
]


@pytest.mark.parametrize("url", [u for u in REFUSED if u != "https://10.0.0.1.example/x"])
def test_internal_and_non_canonical_targets_are_refused_at_registration(url: object) -> None:
    with pytest.raises(ApiError) as exc:
        validate_url(url)
    assert exc.value.status == 422


def test_a_name_that_merely_starts_with_digits_is_a_name() -> None:
    # only the last label decides whether a resolver would read the host as an address
    assert validate_url("https://10.0.0.1.example/x")
    assert validate_url("https://1password.example/x")


def test_plain_http_only_to_loopback_and_only_with_the_development_flag() -> None:
    assert validate_url("http://127.0.0.1:9000/x", allow_insecure=True)
    assert validate_url("http://localhost:9000/x", allow_insecure=True)
    for url in ("http://example.com/x", "http://10.0.0.1/x", "https://10.0.0.1/x"):
        with pytest.raises(ApiError):
            validate_url(url, allow_insecure=True)


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.100.0.1", False),
        ("169.254.1.1", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("::ffff:8.8.8.8", False),  # mapped forms are refused even for public v4
        ("fe80::1", False),
        ("ff02::1", False),
        ("fd12:3456::1", False),
        ("2001:db8::1", False),
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert egress.is_public(ipaddress.ip_address(address)) is public


class FakeResolver:
    """Answers every name with fixed addresses (what a rebinding DNS server would do)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[Any]:
        self.asked.append(host)
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


class Listener:
    """A TCP listener on loopback that counts connections (it never answers)."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            w.close()

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    lst = Listener()
    await lst.start()
    yield lst
    assert lst.server is not None
    lst.server.close()
    await lst.server.wait_closed()


async def _post(url: str, resolver: FakeResolver | None = None, insecure: bool = False) -> str:
    async with egress.session(2.0, allow_insecure=insecure) as s:
        if resolver is not None:
            s.connector._resolver._inner = resolver  # type: ignore[union-attr]
        try:
            egress.check_literal(url, insecure)
            async with s.post(url, data=b"{}") as resp:
                return f"HTTP {resp.status}"
        except Exception as exc:
            return egress.error_class(exc)


async def test_a_name_resolving_to_loopback_is_never_connected_to(listener: Listener) -> None:
    rebinding = FakeResolver("127.0.0.1")
    got = await _post(f"https://hooks.example.com:{listener.port}/", rebinding)
    assert got == "refused target"
    assert rebinding.asked == ["hooks.example.com"]
    assert listener.connections == 0


async def test_a_name_with_one_internal_address_among_public_ones_is_refused(
    listener: Listener,
) -> None:
    mixed = FakeResolver("8.8.8.8", "127.0.0.1")
    assert await _post(f"https://hooks.example.com:{listener.port}/", mixed) == "refused target"
    assert listener.connections == 0


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "localhost", "127.1", "2130706433", "0x7f000001", "0"]
)
async def test_stored_internal_urls_are_refused_at_delivery_too(
    listener: Listener, host: str
) -> None:
    # a registration made before these checks existed, or written into Redis by hand
    assert await _post(f"https://{host}:{listener.port}/") in ("refused target",)
    assert listener.connections == 0


async def test_development_flag_allows_loopback_but_nothing_else(listener: Listener) -> None:
    got = await _post(f"http://127.0.0.1:{listener.port}/", insecure=True)
    assert got in ("connection closed", "bad response")  # it did connect: the flag works
    assert listener.connections == 1
    private = FakeResolver("10.0.0.7")
    assert await _post("http://hooks.example.com:1/", private, insecure=True) == "refused target"


def test_error_classes_never_carry_socket_text() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 6379)")
    assert egress.error_class(refused) == "connection refused"
    assert egress.error_class(TimeoutError()) == "timeout"
    assert egress.error_class(egress.RefusedTarget("x")) == "refused target"
    assert egress.error_class(RuntimeError("secret internals")) == "delivery error"
    # what older releases stored is shown as a class too
    assert public_error("ClientConnectorError: Cannot connect to host 10.0.0.5:22") == (
        "delivery error"
    )
    assert public_error("HTTP 503") == "HTTP 503"
    assert public_error("timeout") == "timeout"
    assert public_error("") is None


async def test_a_huge_answer_is_not_read() -> None:
    sent = 0
    chunk = b"x" * (1 << 20)

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        await request.read()
        resp = web.StreamResponse(status=200)
        resp.content_length = 300 * len(chunk)  # 300 MiB announced
        await resp.prepare(request)
        try:
            for _ in range(300):
                await resp.write(chunk)
                sent += len(chunk)
        except (ConnectionResetError, ConnectionError):
            pass
        return resp

    app = web.Application()
    app.router.add_post("/", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = ApiConfig(allow_insecure_webhooks=True, webhook_timeout_s=10)
    unused = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)  # never connected
    d = Dispatcher(unused, "x", config, api_metrics(CollectorRegistry()))
    d._session = egress.session(10, allow_insecure=True)
    try:
        started = time.perf_counter()
        outcome, status, error, _ = await d._post(
            {"url": f"http://127.0.0.1:{port}/", "secret": "s"}, "1-0", b"{}"
        )
        took = time.perf_counter() - started
        await asyncio.sleep(0.2)
    finally:
        await d._session.close()
        await runner.cleanup()
    assert (outcome, status, error) == ("delivered", 200, None)
    assert took < 5
    # the connection was dropped after a few KiB; the server could not push 300 MiB into it
    assert RESPONSE_READ_LIMIT <= 4096
    assert sent < 64 * len(chunk)
