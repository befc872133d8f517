"""Kafka access: the one place that turns settings into Kafka client arguments.

Every Kafka client of lastmile (the worker's Faust app, its admin and violation-log
clients, ``publish``, ``demo``, ``lastmile router``, the tools that read a topic back) is
built from a :class:`KafkaAccess`: the bootstrap servers plus the security arguments of
``LASTMILE_KAFKA_SECURITY_PROTOCOL`` (PLAINTEXT, SSL or SASL_SSL), the SASL credentials and
the CA / client certificates. ``client_kwargs()`` gives aiokafka's producer, consumer and
admin keyword arguments; ``faust_credentials()`` gives the Faust app's
``broker_credentials``. A plain ``"host:port"`` string still works wherever a
KafkaAccess is taken (PLAINTEXT), which is what the local stack and most tests use.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

from lastmile.io.secret_files import SecretFileError, read_secret, readable
from lastmile.settings import ENV_PREFIX, Settings

KafkaAccessError = SecretFileError  # a credentials or certificate file that cannot be used


@dataclass(frozen=True)
class KafkaAccess:
    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, target: KafkaAccess | str) -> KafkaAccess:
        """A KafkaAccess as it is, or a bootstrap string as PLAINTEXT access."""
        return target if isinstance(target, KafkaAccess) else cls(target)

    @property
    def principal(self) -> str:
        """The Kafka principal this access authenticates as (for messages and ACL hints)."""
        return f"User:{self.username}" if self.username else "User:ANONYMOUS"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism:
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return kwargs

    def faust_credentials(self) -> Any:
        """The Faust app's ``broker_credentials`` (None for PLAINTEXT)."""
        from faust.auth import SASLCredentials, SSLCredentials

        if self.sasl_mechanism:
            return SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=self.ssl_context,
                mechanism=self.sasl_mechanism,
            )
        if self.ssl_context is not None:
            return SSLCredentials(self.ssl_context)
        return None

    def faust_broker(self) -> str:
        """The Faust app's ``broker`` URL for the same bootstrap servers."""
        return ";".join(f"kafka://{h.strip()}" for h in self.bootstrap.split(",") if h.strip())


def ssl_context(cafile: str, certfile: str, keyfile: str, prefix: str) -> ssl.SSLContext:
    """A client TLS context verifying the server (CA file or the system's CAs) and, with a
    certificate and key, presenting them. `prefix` names the variables in errors."""
    try:
        ctx = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH,
            cafile=readable(f"{prefix}_CAFILE", cafile) if cafile else None,
        )
    except ssl.SSLError as exc:
        raise KafkaAccessError(
            f"{ENV_PREFIX}{prefix}_CAFILE: not a PEM CA bundle ({exc})"
        ) from None
    if certfile:
        try:
            ctx.load_cert_chain(
                readable(f"{prefix}_CERTFILE", certfile), readable(f"{prefix}_KEYFILE", keyfile)
            )
        except ssl.SSLError as exc:
            raise KafkaAccessError(
                f"{ENV_PREFIX}{prefix}_CERTFILE / _KEYFILE: not a matching PEM pair ({exc})"
            ) from None
    return ctx


def kafka_access(settings: Settings) -> KafkaAccess:
    """The Kafka access the settings describe; KafkaAccessError when a file is unusable."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return KafkaAccess(settings.kafka_bootstrap)
    context = ssl_context(
        settings.kafka_ssl_cafile,
        settings.kafka_ssl_certfile,
        settings.kafka_ssl_keyfile,
        "KAFKA_SSL",
    )
    if protocol == "SSL":
        return KafkaAccess(settings.kafka_bootstrap, "SSL", ssl_context=context)
    password = settings.kafka_sasl_password or read_secret(
        "KAFKA_SASL_PASSWORD_FILE", settings.kafka_sasl_password_file
    )
    return KafkaAccess(
        settings.kafka_bootstrap,
        "SASL_SSL",
        sasl_mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_sasl_username,
        password=password,
        ssl_context=context,
    )


class KafkaRefused(RuntimeError):
    """The broker refused this access (bad credentials, an untrusted certificate): retrying
    does not help. The message says which principal and which setting to check."""


async def check_access(kafka: KafkaAccess | str, timeout_s: float = 15.0) -> None:
    """Connect once to a bootstrap server and authenticate, so that bad credentials or an
    untrusted certificate fail at start with what is wrong (aiokafka's own clients log the
    cause and raise only "Unable to bootstrap"). A server that is merely unreachable passes:
    the clients' own retries deal with that."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaConnectionError, KafkaError, SaslAuthenticationFailed

    access = KafkaAccess.of(kafka)
    if access.security_protocol == "PLAINTEXT":
        return
    host, _, port = access.bootstrap.split(",")[0].strip().rpartition(":")
    kwargs = access.client_kwargs()
    del kwargs["bootstrap_servers"]
    try:
        conn = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=int(timeout_s * 1000), **kwargs),
            timeout_s,
        )
    except SaslAuthenticationFailed as exc:
        raise KafkaRefused(
            f"Kafka at {access.bootstrap} refused the credentials of {access.principal} "
            f"({access.sasl_mechanism}): {exc}; check LASTMILE_KAFKA_SASL_USERNAME and its password"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise KafkaRefused(
            f"the TLS certificate of Kafka at {access.bootstrap} is not trusted "
            f"({exc.verify_message}); check LASTMILE_KAFKA_SSL_CAFILE"
        ) from None
    except ssl.SSLError as exc:
        raise KafkaRefused(
            f"TLS with Kafka at {access.bootstrap} failed: {exc}; is that a "
            f"{access.security_protocol} listener? check LASTMILE_KAFKA_SECURITY_PROTOCOL"
        ) from None
    except KafkaConnectionError as exc:
        # TLS 1.3: a broker that refuses the client certificate (or wants one) says so only
        # by closing the connection at the first request (the connection's ApiVersions)
        if access.security_protocol == "SSL" and "closed" in str(exc):
            raise KafkaRefused(
                f"Kafka at {access.bootstrap} closed the TLS connection at the first request: "
                "it wants a client certificate it trusts (LASTMILE_KAFKA_SSL_CERTFILE and "
                "LASTMILE_KAFKA_SSL_KEYFILE), or it is not an SSL listener"
            ) from None
        return  # unreachable for now: the clients retry
    except (TimeoutError, OSError, KafkaError):
        return  # unreachable for now: the clients retry
    conn.close()


def faust_app_kwargs(settings: Settings) -> dict[str, Any]:
    """The Faust app's broker, credentials and replication factor of its internal topics
    (changelogs, the assignor's topic); the worker command resolves the replication factor
    against the cluster first (lastmile.io.kafka_topics)."""
    access = kafka_access(settings)
    return {
        "broker": access.faust_broker(),
        "broker_credentials": access.faust_credentials(),
        "topic_replication_factor": settings.topic_replication_factor or 1,
    }


def changelog_topic_configs(settings: Settings) -> dict[str, str]:
    """Topic configs of the tables' changelogs (Faust creates them)."""
    return {"min.insync.replicas": str(settings.topic_min_insync_replicas or 1)}


__all__ = [
    "KafkaAccess",
    "KafkaAccessError",
    "KafkaRefused",
    "changelog_topic_configs",
    "check_access",
    "faust_app_kwargs",
    "kafka_access",
    "read_secret",
    "ssl_context",
]
