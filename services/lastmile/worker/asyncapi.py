"""The AsyncAPI 3 document of the Kafka topics, built from the worker's own names.

``python -m lastmile.worker.asyncapi [FILE]`` (``make contract``) writes
``schemas/asyncapi.yaml``; a unit test fails when the committed copy differs and validates
it with the AsyncAPI parser (tools/asyncapi, installed by ``make install``). Topic names,
header names and dead-letter reasons come from the code that uses them; message payloads
are the generated JSON Schemas beside the document (``./scan.v1.schema.json`` ...).

Courier firms read their own violations from ``violations.v1.<CARRIER>`` (ADR 0004), over
SASL/SCRAM-SHA-512 on TLS with the principal ``User:<CARRIER>`` and a literal Read ACL on
that one topic; nobody outside lastmile reads ``violations.v1``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from lastmile.contract.decode import REASONS
from lastmile.contract.schemas import file_name
from lastmile.worker.outbox import DETAIL_HEADER, OFFSET_HEADER, REASON_HEADER
from lastmile.worker.topics import COMPLAINTS, SCANS, VIOLATIONS
from lastmile.worker.violation_log import PUBLISHER_HEADER, SOURCE_HEADER

CARRIER_FEED = VIOLATIONS + ".{carrier}"  # ADR 0004: one topic per courier firm
FEED_ID_HEADER = "violation_id"  # the router's header on each copied record
KAFKA_BINDING = "0.5.0"


def _payload(name: str) -> dict[str, Any]:
    return {"$ref": f"./{file_name(name)}"}


def _string_headers(**described: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {h: {"type": "string", "description": d} for h, d in described.items()},
    }


def _message(
    name: str, title: str, payload: dict[str, Any], key: str, headers: dict[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "title": title,
        "contentType": "application/json",
        "payload": payload,
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }
    if headers:
        out["headers"] = headers
    return out


def _dead_letters(source: str) -> dict[str, Any]:
    return {
        "address": f"{source}.dlq",
        "description": f"Invalid {source} messages, never dropped: value = the original bytes, "
        "key = the original key, the reason in the headers.",
        "messages": {
            "deadLetter": {
                "name": "deadLetter",
                "title": f"A refused {source} message",
                "contentType": "application/octet-stream",
                "payload": {"type": "string", "format": "binary"},
                "headers": {
                    "type": "object",
                    "required": [REASON_HEADER, DETAIL_HEADER, OFFSET_HEADER],
                    "properties": {
                        REASON_HEADER: {"type": "string", "enum": list(REASONS)},
                        DETAIL_HEADER: {
                            "type": "string",
                            "description": "which field, and why (e.g. `$.location.lat: "
                            "Expected `float` <= 90.0`)",
                        },
                        OFFSET_HEADER: {
                            "type": "string",
                            "description": "topic:partition:offset of the original",
                        },
                    },
                },
            }
        },
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/{kind}/{name}"}


def build() -> dict[str, Any]:
    violation_headers = _string_headers(
        **{
            SOURCE_HEADER: "topic:partition of the input that revealed it",
            PUBLISHER_HEADER: "stable id of the worker that published it",
        }
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "lastmile topics",
            "version": "1.0.0",
            "description": "Kafka topics of the lastmile monitor (快递进村 delivery-quality "
            "monitoring of express delivery into villages). Messages are JSON; payload schemas "
            "are the JSON Schemas beside this file. Unknown extra fields in scans and "
            "complaints are ignored. Invalid messages are never dropped: they go to the "
            "dead-letter topic with the original bytes and the reason in headers.",
            "contact": {"name": "lastmile maintainers", "url": "https://lastmile.example/"},
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "tags": [
                {"name": "input", "description": "what courier firms and the 12305 line send"},
                {"name": "feeds", "description": "what courier firms receive"},
                {"name": "operations", "description": "for the people who run lastmile"},
            ],
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "the local single-node KRaft broker of `make up` (no security)",
            },
            "production": {
                "host": "{bootstrap}",
                "protocol": "kafka-secure",
                "description": "a county's cluster: TLS and SASL/SCRAM-SHA-512 (SASL_SSL); "
                "allow.everyone.if.no.acl.found=false, ACLs as in ADR 0004",
                "variables": {
                    "bootstrap": {
                        "description": "bootstrap host:port of the county's Kafka cluster",
                        "examples": ["kafka-0.lastmile.internal:9093"],
                    }
                },
                "security": [_ref("components/securitySchemes", "scram")],
            },
        },
        "channels": {
            "scans": {
                "address": SCANS,
                "description": "Courier firms' scan events. Key = parcel_id. Co-partitioned "
                f"with {COMPLAINTS}.",
                "messages": {
                    "scan": _message("scan", "scan.v1", _payload("scan.v1"), "parcel_id", None)
                },
            },
            "complaints": {
                "address": COMPLAINTS,
                "description": "Complaints from the 12305 postal complaint line. Key = parcel_id.",
                "messages": {
                    "complaint": _message(
                        "complaint", "complaint.v1", _payload("complaint.v1"), "parcel_id", None
                    )
                },
            },
            "violations": {
                "address": VIOLATIONS,
                "description": "Each violation exactly once; the record of what was published. "
                "Key = responsible carrier. Read by lastmile's own services only (the router "
                "copies each record to the carrier's topic).",
                "messages": {
                    "violation": _message(
                        "violation",
                        "violation.v1",
                        _payload("violation.v1"),
                        "the responsible carrier",
                        violation_headers,
                    )
                },
            },
            "carrierViolations": {
                "address": CARRIER_FEED,
                "description": "One courier firm's violations only (ADR 0004): each record of "
                f"{VIOLATIONS} whose key is the carrier, value byte-identical. At least once: "
                "deduplicate on violation_id.",
                "parameters": {
                    "carrier": {
                        "description": "the carrier code, as in violation.v1 `carrier`",
                        "examples": ["ZTO", "EMS"],
                    }
                },
                "messages": {
                    "violation": _message(
                        "carrierViolation",
                        "violation.v1",
                        _payload("violation.v1"),
                        "the carrier (the topic's own)",
                        _string_headers(**{FEED_ID_HEADER: "the violation's id, for dedup"}),
                    )
                },
            },
            "scansDeadLetters": _dead_letters(SCANS),
            "complaintsDeadLetters": _dead_letters(COMPLAINTS),
        },
        "operations": {
            "sendScans": {
                "action": "send",
                "title": "A courier firm sends its scans",
                "channel": _ref("channels", "scans"),
                "tags": [{"name": "input"}],
            },
            "sendComplaints": {
                "action": "send",
                "title": "The 12305 line sends complaints",
                "channel": _ref("channels", "complaints"),
                "tags": [{"name": "input"}],
            },
            "receiveViolations": {
                "action": "receive",
                "title": "lastmile's router and projections read every violation",
                "channel": _ref("channels", "violations"),
                "tags": [{"name": "operations"}],
            },
            "receiveCarrierViolations": {
                "action": "receive",
                "title": "A courier firm reads its own violations",
                "description": "Principal User:<CARRIER>; literal ACL Read, Describe on "
                f"{VIOLATIONS}.<CARRIER> and Read on the prefixed group carrier.<CARRIER>.; "
                f"no ACL on {VIOLATIONS}.",
                "channel": _ref("channels", "carrierViolations"),
                "security": [_ref("components/securitySchemes", "scram")],
                "tags": [{"name": "feeds"}],
            },
            "receiveScanDeadLetters": {
                "action": "receive",
                "title": "Operators read refused scans",
                "channel": _ref("channels", "scansDeadLetters"),
                "tags": [{"name": "operations"}],
            },
            "receiveComplaintDeadLetters": {
                "action": "receive",
                "title": "Operators read refused complaints",
                "channel": _ref("channels", "complaintsDeadLetters"),
                "tags": [{"name": "operations"}],
            },
        },
        "components": {
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "SASL/SCRAM-SHA-512 over TLS; a courier firm's principal is "
                    "User:<CARRIER>, lastmile's own are User:lastmile-worker and "
                    "User:lastmile-router",
                }
            }
        },
    }


def render() -> str:
    header = "# generated by `python -m lastmile.worker.asyncapi` (make contract): do not edit\n"
    body = yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=100)
    return header + body


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schemas/asyncapi.yaml")
    target.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")
