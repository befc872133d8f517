"""Which carrier topic a violation record goes to, and the ACLs a carrier's feed needs.

Pure: no Kafka client here. ADR 0004: the router copies each record of ``violations.v1``
(key = responsible carrier) to ``violations.v1.<CARRIER>``; a carrier's principal
``User:<CARRIER>`` may read only that topic (a **literal** ACL: carrier codes can be
prefixes of one another) and its consumer groups ``carrier.<CARRIER>.*`` (prefixed).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

SOURCE = "violations.v1"
# records whose key cannot name a topic go here, outside the violations.v1. namespace a
# carrier's ACLs could ever cover
DLQ = "lastmile.router-dlq.v1"
ROUTER_GROUP_SUFFIX = "-router"  # consumer group: <app id>-router (lastmile-router)
# a Kafka topic name allows [a-zA-Z0-9._-]; the contract allows any 1-16 characters
CARRIER_CODE = re.compile(r"[A-Za-z0-9_.-]{1,16}")


@dataclass(frozen=True)
class Route:
    """Where one record goes: its carrier's topic, or the dead-letter topic with a reason."""

    topic: str
    carrier: str | None
    reason: str | None = None


def feed_topic(source_topic: str, carrier: str) -> str:
    return f"{source_topic}.{carrier}"


def route(source_topic: str, dlq_topic: str, key: bytes | None) -> Route:
    """The carrier topic of a record of `source_topic` keyed `key`, or the DLQ and why."""
    if not key:
        return Route(dlq_topic, None, "no_key")
    try:
        carrier = key.decode("utf-8")
    except UnicodeDecodeError:
        return Route(dlq_topic, None, "key_not_utf8")
    if not CARRIER_CODE.fullmatch(carrier) or carrier in (".", ".."):
        return Route(dlq_topic, None, "carrier_not_a_topic_name")
    return Route(feed_topic(source_topic, carrier), carrier)


def carrier_acls(carrier: str, source_topic: str = SOURCE) -> list[list[str]]:
    """kafka-acls.sh arguments granting User:<carrier> its own feed and nothing else."""
    if not CARRIER_CODE.fullmatch(carrier):
        raise ValueError(f"carrier {carrier!r}: want 1-16 of A-Z a-z 0-9 _ . -")
    if "." in carrier:
        raise ValueError(
            f"carrier {carrier!r}: a dot in the code would let the prefixed group ACL "
            f"carrier.{carrier}. overlap another carrier's; use a code without dots"
        )
    principal = f"User:{carrier}"
    return [
        [
            "--add",
            "--allow-principal",
            principal,
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            feed_topic(source_topic, carrier),
            "--resource-pattern-type",
            "literal",
        ],
        [
            "--add",
            "--allow-principal",
            principal,
            "--operation",
            "Read",
            "--group",
            f"carrier.{carrier}.",
            "--resource-pattern-type",
            "prefixed",
        ],
    ]


def acl_command_lines(
    carriers: list[str], bootstrap: str, command_config: str, source_topic: str = SOURCE
) -> list[str]:
    """Shell lines an operator runs (kafka-acls.sh of the Kafka distribution)."""
    lines = []
    for carrier in carriers:
        for args in carrier_acls(carrier, source_topic):
            base = ["kafka-acls.sh", "--bootstrap-server", bootstrap]
            if command_config:
                base += ["--command-config", command_config]
            lines.append(shlex.join(base + args))
    return lines
