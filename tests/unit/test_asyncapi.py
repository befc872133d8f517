"""The AsyncAPI 3 document: generated, complete, and valid for the AsyncAPI parser.

The parser (@asyncapi/parser, installed by ``make install`` under tools/asyncapi) checks
the document against the AsyncAPI 3 specification and resolves every ``$ref``, the
payload schemas beside it included, with no network.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from lastmile.worker import asyncapi

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schemas" / "asyncapi.yaml"
VALIDATE = REPO / "tools" / "asyncapi" / "validate.js"
PARSER = REPO / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "parser"


def parse(path: Path) -> subprocess.CompletedProcess[str]:
    assert PARSER.is_dir(), "the AsyncAPI parser is missing: run `make install`"
    node = shutil.which("node")
    assert node, "node is missing: run `make install`"
    return subprocess.run(
        [node, str(VALIDATE), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_committed_document_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == asyncapi.render(), (
        "run `make contract` and commit schemas/asyncapi.yaml"
    )


def test_every_topic_with_its_payload_and_the_carrier_feeds_with_sasl():
    doc = yaml.safe_load(COMMITTED.read_text())
    channels = doc["channels"]
    assert {c["address"] for c in channels.values()} == {
        "scans.v1",
        "complaints.v1",
        "violations.v1",
        "violations.v1.{carrier}",
        "scans.v1.dlq",
        "complaints.v1.dlq",
    }
    for channel in channels.values():
        for message in channel["messages"].values():
            ref = message["payload"].get("$ref")
            assert ref is None or (COMMITTED.parent / ref).is_file(), ref
    assert set(channels["carrierViolations"]["parameters"]) == {"carrier"}
    feed = doc["operations"]["receiveCarrierViolations"]
    scheme = {"$ref": "#/components/securitySchemes/scram"}
    assert feed["security"] == [scheme]
    assert doc["components"]["securitySchemes"]["scram"]["type"] == "scramSha512"
    assert doc["servers"]["production"]["security"] == [scheme]
    assert doc["servers"]["production"]["protocol"] == "kafka-secure"
    assert doc["info"]["contact"] and doc["info"]["license"]


def test_the_asyncapi_parser_accepts_the_document():
    result = parse(COMMITTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout


def test_the_asyncapi_parser_refuses_a_broken_payload_schema(tmp_path):
    for path in COMMITTED.parent.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(COMMITTED, tmp_path / COMMITTED.name)
    scan = tmp_path / "scan.v1.schema.json"
    scan.write_text(scan.read_text().replace('"type": "object"', '"type": "record"', 1))
    result = parse(tmp_path / COMMITTED.name)
    assert result.returncode == 1, result.stdout
    assert "INVALID" in result.stdout
