"""Redis clients with bounds: a capped connection pool and socket/command timeouts.

A frozen Redis must make a request fail within seconds (then the API answers 503), and
many slow requests must not open an unbounded number of connections: a
``BlockingConnectionPool`` waits at most ``pool_wait_s`` for a free connection and then
raises ``redis.exceptions.ConnectionError`` like any other outage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ConnectionError,
    NoPermissionError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
)

from lastmile.io.secret_files import read_secret, readable
from lastmile.settings import Settings

# server answers that mean "not now" rather than "your command is wrong"
_TRANSIENT_REPLIES = ("OOM ", "MISCONF ", "LOADING ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ")


def connect(
    url: str,
    *,
    max_connections: int = 50,
    timeout_s: float = 5.0,
    pool_wait_s: float = 2.0,
    decode_responses: bool = True,
    options: Mapping[str, Any] | None = None,
) -> Redis:
    """A client whose pool holds at most `max_connections` and whose commands time out.

    Blocking reads (XREAD BLOCK) must block for less than `timeout_s`. `options` are the
    credentials and TLS files of the settings (`redis_options`).
    """
    pool = BlockingConnectionPool.from_url(
        url,
        **dict(options or {}),
        max_connections=max_connections,
        timeout=pool_wait_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 3.0),
        health_check_interval=30,
        decode_responses=decode_responses,
    )
    return Redis(connection_pool=pool)


# what to check when Redis refuses (docs/redis.md)
REDIS_HINTS: dict[type[Exception], str] = {
    AuthenticationError: "check the user in LASTMILE_REDIS_URL and LASTMILE_REDIS_PASSWORD_FILE",
    NoPermissionError: "the ACL user lacks a command or the key pattern of LASTMILE_REDIS_PREFIX "
    "(docs/redis.md)",
}


def redis_options(settings: Settings) -> dict[str, Any]:
    """Connection arguments beside the URL: the password file and the TLS files."""
    opts: dict[str, Any] = {}
    if settings.redis_password_file:
        opts["password"] = read_secret("REDIS_PASSWORD_FILE", settings.redis_password_file)
    if settings.redis_ssl_cafile:
        opts["ssl_ca_certs"] = readable("REDIS_SSL_CAFILE", settings.redis_ssl_cafile)
    if settings.redis_ssl_certfile:
        opts["ssl_certfile"] = readable("REDIS_SSL_CERTFILE", settings.redis_ssl_certfile)
        opts["ssl_keyfile"] = readable("REDIS_SSL_KEYFILE", settings.redis_ssl_keyfile)
    return opts


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisRefused(RuntimeError):
    """Redis refused the credentials or the commands lastmile needs: retrying does not help."""


async def check_redis_access(url: str, options: Mapping[str, Any] | None = None) -> None:
    """PING once with the credentials, so a wrong password, a missing ACL permission or an
    untrusted certificate stop a command at start with what is wrong. An unreachable
    server passes (the worker and the API wait for Redis and say so in their health)."""
    import ssl

    redis = connect(url, max_connections=2, timeout_s=5.0, options=options)
    try:
        await redis.ping()
    except AuthenticationError as exc:
        raise RedisRefused(
            f"Redis at {shown_url(url)} refused the credentials ({exc}); check the user in "
            "LASTMILE_REDIS_URL and its password (LASTMILE_REDIS_PASSWORD_FILE)"
        ) from None
    except AuthorizationError as exc:
        raise RedisRefused(
            f"Redis at {shown_url(url)} refused a command ({exc}); the ACL user needs the "
            "commands and key patterns of docs/redis.md"
        ) from None
    except ConnectionError as exc:
        if isinstance(exc.__context__, ssl.SSLError) or "SSL" in str(exc):
            raise RedisRefused(
                f"TLS with Redis at {shown_url(url)} failed ({exc}); check "
                "LASTMILE_REDIS_SSL_CAFILE and that the server speaks TLS (rediss://)"
            ) from None
        if "NOAUTH" in str(exc) or "Authentication required" in str(exc):
            raise RedisRefused(
                f"Redis at {shown_url(url)} wants a password: set LASTMILE_REDIS_PASSWORD_FILE"
            ) from None
    except ResponseError as exc:
        if str(exc).startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
            raise RedisRefused(f"Redis at {shown_url(url)} refused: {exc}") from None
        raise
    except (TimeoutError, OSError):
        pass
    finally:
        await redis.aclose()


def sibling(redis: Redis, max_connections: int, min_timeout_s: float) -> Redis:
    """Another client to the same server with its own pool (e.g. for long blocking reads,
    so they can never take the connections ordinary requests need)."""
    kwargs = dict(redis.connection_pool.connection_kwargs)
    timeout = kwargs.get("socket_timeout")
    kwargs["socket_timeout"] = max(timeout or 0.0, min_timeout_s)
    kwargs.setdefault("socket_connect_timeout", 3.0)
    pool = BlockingConnectionPool(
        connection_class=redis.connection_pool.connection_class,
        max_connections=max_connections,
        timeout=1,
        **kwargs,
    )
    return Redis(connection_pool=pool)


def is_unavailable(exc: BaseException) -> bool:
    """True when a Redis error means the server is unreachable, frozen, full or loading:
    the request may succeed later (503), as opposed to a bug (500)."""
    if isinstance(exc, ConnectionError | TimeoutError | BusyLoadingError | ReadOnlyError):
        return True
    if isinstance(exc, ResponseError):
        return str(exc).startswith(_TRANSIENT_REPLIES)
    return False


__all__ = [
    "RedisError",
    "RedisRefused",
    "check_redis_access",
    "connect",
    "is_unavailable",
    "redis_options",
    "shown_url",
    "sibling",
]
