"""Redis clients with bounds: a capped connection pool and socket/command timeouts.

A frozen Redis must make a request fail within seconds (then the API answers 503), and
many slow requests must not open an unbounded number of connections: a
``BlockingConnectionPool`` waits at most ``pool_wait_s`` for a free connection and then
raises ``redis.exceptions.ConnectionError`` like any other outage.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
)

# server answers that mean "not now" rather than "your command is wrong"
_TRANSIENT_REPLIES = ("OOM ", "MISCONF ", "LOADING ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ")


def connect(
    url: str,
    *,
    max_connections: int = 50,
    timeout_s: float = 5.0,
    pool_wait_s: float = 2.0,
    decode_responses: bool = True,
) -> Redis:
    """A client whose pool holds at most `max_connections` and whose commands time out.

    Blocking reads (XREAD BLOCK) must block for less than `timeout_s`.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_wait_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 3.0),
        health_check_interval=30,
        decode_responses=decode_responses,
    )
    return Redis(connection_pool=pool)


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


__all__ = ["RedisError", "connect", "is_unavailable", "sibling"]
