"""What the CLI says about an error no command caught: one line, a hint, an exit status.

Known families get a precise line (a file that cannot be read or written, an unreachable
Redis or Kafka, a bad LASTMILE_* variable); anything else is named by its class and first
line. ``lastmile --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import errno

USAGE, RUNTIME = 2, 1


def _first_line(text: object, limit: int = 300) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line[:limit]


def describe(exc: BaseException) -> tuple[str, str, int]:
    """(message, hint, exit status) for an uncaught exception."""
    from pydantic import ValidationError
    from redis.exceptions import RedisError

    from lastmile.settings import SettingsError, settings_error

    if isinstance(exc, SettingsError):
        return str(exc), "fix or unset the variable (docs/configuration.md)", USAGE
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return str(settings_error(exc)), "fix or unset the variable", USAGE
    if isinstance(exc, RedisError):
        return (
            f"Redis is not usable: {type(exc).__name__}: {_first_line(exc)}",
            "is Redis up? check LASTMILE_REDIS_URL",
            RUNTIME,
        )
    from lastmile.io.kafka_access import KafkaRefused
    from lastmile.io.redis_client import RedisRefused
    from lastmile.io.secret_files import SecretFileError

    if isinstance(exc, SecretFileError):
        return str(exc), "fix the LASTMILE_* variable it names", USAGE
    if isinstance(exc, KafkaRefused):
        return str(exc), "see docs/configuration.md (Kafka security)", RUNTIME
    if isinstance(exc, RedisRefused):
        return str(exc), "see docs/redis.md", RUNTIME
    if type(exc).__module__.startswith(("aiokafka", "kafka")):
        if "Authorization" in type(exc).__name__:
            return (
                f"Kafka refused the operation: {type(exc).__name__}: {_first_line(exc)}",
                "the principal (LASTMILE_KAFKA_SASL_USERNAME) needs an ACL for it "
                "(docs/decisions/0004-carrier-feed-isolation.md)",
                RUNTIME,
            )
        return (
            f"Kafka is not usable: {type(exc).__name__}: {_first_line(exc)}",
            "is Kafka up? check LASTMILE_KAFKA_BOOTSTRAP and LASTMILE_KAFKA_SECURITY_PROTOCOL",
            RUNTIME,
        )
    if isinstance(exc, OSError):
        where = exc.filename or ""
        what = exc.strerror or _first_line(exc) or type(exc).__name__
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EISDIR):
            hint = "choose a path you can write (and read), with free space"
        elif exc.errno == errno.ENOENT:
            hint = "check the path"
        else:
            hint = "check the path, the service and the network"
        return (f"{where}: {what}" if where else what), hint, RUNTIME
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply", "check the file", USAGE
    if isinstance(exc, MemoryError):
        return "out of memory", "give a smaller input", RUNTIME
    return (
        f"{type(exc).__name__}: {_first_line(exc)}",
        "run again with --debug for the traceback, and report it if the input was valid",
        RUNTIME,
    )
