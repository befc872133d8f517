"""The committed JSON Schemas: generated from the definitions, and usable by stock tools.

``check-jsonschema`` (the CLI, exactly as a courier firm's engineer would run it: no
``--base-uri``, no registry) checks each schema against its metaschema and each sample
message against its schema; ``jsonschema_rs``, an independent implementation, agrees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import orjson
import pytest

from lastmile.contract import schemas
from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
EXAMPLES = SCHEMAS / "examples"
CHECK = Path(sys.executable).with_name("check-jsonschema")
# schema file → the sample messages it must accept
SAMPLES = {
    "scan.v1.schema.json": sorted(EXAMPLES.glob("scan.v1.*.json")),
    "complaint.v1.schema.json": [EXAMPLES / "complaint.v1.json"],
    "violation.v1.schema.json": [EXAMPLES / "violation.v1.json"],
    "network.v1.schema.json": [REPO / "services/lastmile/data/yiyuan.network.json"],
}


def check_jsonschema(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_committed_schemas_are_what_the_definitions_produce():
    produced = schemas.rendered()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.schema.json")}
    assert committed == produced, "run `make contract` and commit schemas/"


def test_every_ref_is_local():
    assert any('"$ref"' in p.read_text() for p in SCHEMAS.glob("*.schema.json"))
    for path in SCHEMAS.glob("*.schema.json"):
        refs = [v for k, v in _walk(json.loads(path.read_text())) if k == "$ref"]
        assert all(r.startswith("#/$defs/") for r in refs), (path.name, refs)


def _walk(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_check_jsonschema_accepts_every_schema_and_sample():
    assert all(SAMPLES.values()), SAMPLES
    result = check_jsonschema("--check-metaschema", *sorted(SCHEMAS.glob("*.schema.json")))
    assert result.returncode == 0, result.stdout + result.stderr
    for schema, samples in SAMPLES.items():
        result = check_jsonschema("--schemafile", SCHEMAS / schema, *samples)
        assert result.returncode == 0, (schema, result.stdout + result.stderr)


def test_check_jsonschema_refuses_a_bad_sample(tmp_path):
    doc = json.loads((EXAMPLES / "scan.v1.delivered.json").read_text())
    cases = {
        "month13": {**doc, "occurred_at": "2026-13-02T10:15:00+08:00"},  # format checked
        "nosignoff": {k: v for k, v in doc.items() if k != "signoff"},  # if/then checked
        "goods": {**doc, "goods": {"category": "gold"}},
    }
    for name, bad in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad))
        result = check_jsonschema("--schemafile", SCHEMAS / "scan.v1.schema.json", path)
        assert result.returncode == 1, (name, result.stdout)
        with pytest.raises(InvalidMessage):
            decode_scan(orjson.dumps(bad))


def test_an_independent_validator_agrees_on_the_samples():
    for schema_name, samples in SAMPLES.items():
        validator = jsonschema_rs.validator_for(
            json.loads((SCHEMAS / schema_name).read_text()), validate_formats=True
        )
        for sample in samples:
            assert validator.is_valid(json.loads(sample.read_text())), sample.name


def test_the_samples_decode():
    for sample in SAMPLES["scan.v1.schema.json"]:
        decode_scan(sample.read_bytes())
    decode_complaint((EXAMPLES / "complaint.v1.json").read_bytes())
