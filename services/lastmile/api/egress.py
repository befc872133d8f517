"""Outbound webhook requests that can only reach the public internet.

Two checks, because neither alone is enough:

- at registration (``check_url``): ``https`` only, an ASCII host name with a dot or a
  canonical IP literal, no ``localhost``-style or internal names, no numeric spellings a
  resolver would read as an IPv4 address (``127.1``, ``2130706433``, ``0x7f000001``, ``0``);
- at connection time (``PublicResolver`` and ``check_literal``): every address a host name
  resolves to must be a global unicast address, or the request is refused before any
  socket opens. aiohttp connects only to the addresses the resolver returned, so a name
  that resolves to a public address when registered and to 127.0.0.1 later (DNS
  rebinding) is refused too.

With ``allow_insecure`` (a development flag) plain ``http`` and loopback targets are
accepted; private, link-local and every other non-global range stay refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from urllib.parse import SplitResult, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# names that always mean this machine or a private network, whatever DNS says
_INTERNAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".lan",
    ".home",
    ".corp",
    ".home.arpa",
    ".arpa",
    ".onion",
    ".invalid",
    ".test",
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
# the WHATWG URL parser (and inet_aton) read a host whose last label is a number as IPv4
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.ASCII | re.IGNORECASE)
_EMBEDDING_V6 = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.IPv6Network("2002::/16"),  # 6to4
    ipaddress.IPv6Network("2001::/32"),  # Teredo
)
_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT
_COMPAT_V6 = ipaddress.IPv6Network("::/96")  # IPv4-compatible (deprecated)


class RefusedTarget(OSError):
    """The destination is not a public address (or a name that only resolves to one)."""


def is_public(ip: IPAddress) -> bool:
    """A global unicast address: nothing private, loopback, link-local, CGNAT, multicast,
    reserved, unspecified, documentation, or an IPv6 form embedding an IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None or ip.scope_id or ip.is_site_local:
            return False
        if ip in _COMPAT_V6 or any(ip in net for net in _EMBEDDING_V6):
            return False
    elif ip in _SHARED_V4:
        return False
    special = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    return ip.is_global and not special


def allowed_address(ip: IPAddress, allow_loopback: bool) -> bool:
    return is_public(ip) or (allow_loopback and ip.is_loopback)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)  # only canonical dotted quads for IPv4
    except ValueError:
        return None


def check_host(host: str, allow_loopback: bool = False) -> str | None:
    """Why `host` (as urlsplit gives it: lower-case, no brackets) is refused, or None."""
    ip = _literal(host)
    if ip is not None:
        if allowed_address(ip, allow_loopback):
            return None
        return "the address is not a public (global unicast) address"
    if not host.isascii():
        return "the host name must be ASCII (give an international name in its xn-- form)"
    if host.endswith("."):
        return "the host name must not end with a dot"
    labels = host.split(".")
    if allow_loopback and host == "localhost":
        return None
    if host == "localhost" or any(host.endswith(s) for s in _INTERNAL_SUFFIXES):
        return "the host name is a local or internal name"
    if len(labels) < 2:
        return "the host must be a fully qualified domain name"
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return "the host is a non-canonical spelling of an IP address"
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "the host is not a valid domain name"
    return None


def _is_loopback_name(host: str) -> bool:
    ip = _literal(host)
    return host == "localhost" if ip is None else ip.is_loopback


def check_url(url: str, allow_insecure: bool = False) -> str | None:
    """Why a webhook URL is refused at registration, or None if it may be stored."""
    try:
        parts: SplitResult = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "url is not a valid URL"
    if not host or parts.username is not None or parts.password is not None:
        return "url needs a host and no user information"
    if parts.scheme == "http" and allow_insecure and _is_loopback_name(host):
        return None
    if parts.scheme != "https":
        return "url must use https"
    if "%" in parts.netloc or "\\" in url:
        return "url must not contain '%' in the host or backslashes"
    why = check_host(host, allow_loopback=allow_insecure)
    return None if why is None else f"url refused: {why}"


class PublicResolver(AbstractResolver):
    """Resolves with the default resolver and refuses a name if any address is not public.

    Refusing the whole name (rather than dropping the bad addresses) keeps a name with a
    mix of public and internal records from being used to reach the internal ones.
    """

    def __init__(self, allow_loopback: bool = False) -> None:
        self._inner = DefaultResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        why = check_host(host.lower(), self._allow_loopback)
        if why is not None:
            raise RefusedTarget(why)
        results = await self._inner.resolve(host, port, family)
        for r in results:
            ip = _literal(r["host"].split("%")[0])
            if ip is None or not allowed_address(ip, self._allow_loopback):
                raise RefusedTarget("the name resolves to a non-public address")
        if not results:
            raise RefusedTarget("the name resolves to no address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_literal(url: str, allow_loopback: bool = False) -> None:
    """aiohttp connects to IP literals without asking the resolver: check them here."""
    host = urlsplit(url).hostname or ""
    ip = _literal(host)
    if ip is not None and not allowed_address(ip, allow_loopback):
        raise RefusedTarget("the address is not a public address")
    if ip is None and check_host(host, allow_loopback) is not None:
        raise RefusedTarget("the host is not allowed")


def session(timeout_s: float, allow_insecure: bool = False) -> aiohttp.ClientSession:
    """A client session whose connections can only reach allowed addresses."""
    connector = aiohttp.TCPConnector(
        resolver=PublicResolver(allow_loopback=allow_insecure),
        use_dns_cache=False,  # resolve (and check) for every new connection
        limit=100,
        limit_per_host=4,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 5.0)),
        headers={"User-Agent": "lastmile-webhooks/1"},
        auto_decompress=False,  # the answer is never parsed; do not inflate it
        trust_env=False,  # no proxies from the environment
        max_line_size=8190,
        max_field_size=8190,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        nxt = getattr(cur, "os_error", None)
        cur = nxt if isinstance(nxt, BaseException) else (cur.__cause__ or cur.__context__)
    return seen


def error_class(exc: BaseException) -> str:
    """What the carrier is told about a failed attempt: a class, never the socket text
    (which would tell open, closed and filtered ports of any host apart)."""
    chain = _chain(exc)
    if any(isinstance(e, RefusedTarget) for e in chain):
        return "refused target"
    if any(isinstance(e, asyncio.TimeoutError | TimeoutError) for e in chain):
        return "timeout"
    if any(isinstance(e, ssl.SSLError | aiohttp.ClientSSLError) for e in chain):
        return "TLS error"
    if any(isinstance(e, socket.gaierror | aiohttp.ClientConnectorDNSError) for e in chain):
        return "DNS error"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, aiohttp.ClientConnectorError) for e in chain):
        return "connection failed"
    if any(isinstance(e, aiohttp.ServerDisconnectedError | ConnectionResetError) for e in chain):
        return "connection closed"
    if any(isinstance(e, aiohttp.ClientResponseError | aiohttp.ClientPayloadError) for e in chain):
        return "bad response"
    return "delivery error"


ERROR_CLASSES = (
    "refused target",
    "timeout",
    "TLS error",
    "DNS error",
    "connection refused",
    "connection failed",
    "connection closed",
    "bad response",
    "delivery error",
)
