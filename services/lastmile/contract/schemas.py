"""The JSON Schemas (draft 2020-12) of the v1 messages, derived from their definitions.

``python -m lastmile.contract.schemas [DIR]`` (``make contract``) writes them to ``schemas/``;
a unit test fails when the committed files differ from what this module produces.

Each schema is self-contained: its ``$ref``s point into its own ``$defs`` only, so a stock
validator resolves every reference offline with no ``--base-uri`` or registry. The ``$id``
names the document (the reserved ``.example`` host is never fetched).
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from lastmile.contract.messages import (
    NODE_TIER_NEEDS,
    REQUIRED_BLOCKS,
    Complaint,
    Message,
    NetworkFile,
    Scan,
    Violation,
)
from lastmile.domain.rules import RULES

ID_BASE = "https://lastmile.example/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
# schema name → its definition
MESSAGES: dict[str, type[Message]] = {
    "scan.v1": Scan,
    "complaint.v1": Complaint,
    "violation.v1": Violation,
    "network.v1": NetworkFile,
}


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def _clean(node: Any) -> Any:
    """Tidy msgspec's output: docstrings dedented, struct titles dropped from $defs."""
    if isinstance(node, dict):
        out = {k: _clean(v) for k, v in node.items()}
        if isinstance(out.get("description"), str):
            out["description"] = inspect.cleandoc(out["description"])
        return out
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def _if_then(field: str, value: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {field: {"const": value}}, "required": [field]}, "then": then}


def _scan_rules(defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The block each scan type requires: present and not null (its object, not ``null``)."""
    out = []
    for stype, block in REQUIRED_BLOCKS.items():
        name = block.capitalize()  # the Struct of the block: Handover, Signoff, Fee
        if name not in defs:
            raise KeyError(f"no definition {name} for the {block} block")
        then = {"required": [block], "properties": {block: {"$ref": f"#/$defs/{name}"}}}
        out.append(_if_then("type", stype, then))
    return out


def violation_rule_conditions() -> list[dict[str, Any]]:
    """The rule names each violation type may carry (contract §5)."""
    by_type: dict[str, list[str]] = {}
    for key, (vtype, _severity) in RULES.items():
        by_type.setdefault(vtype, []).append(key.split("/", 1)[1])
    return [
        _if_then("type", vtype, {"properties": {"rule": {"enum": rules}}})
        for vtype, rules in by_type.items()
    ]


def _network_rules(defs: dict[str, Any]) -> None:
    defs["Node"]["allOf"] = [
        _if_then("tier", tier, {"required": [field]}) for tier, field in NODE_TIER_NEEDS.items()
    ]


def build(name: str) -> dict[str, Any]:
    """The schema document of one message (``scan.v1``, ...)."""
    kind = MESSAGES[name]
    (_, components) = msgspec.json.schema_components([kind], ref_template="#/$defs/{name}")
    components = _clean(components)
    top = components.pop(kind.__name__)
    top.pop("title", None)
    for schema in components.values():
        schema.pop("title", None)
    doc: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": ID_BASE + file_name(name),
        "title": name,
        **top,
    }
    if kind is Scan:
        doc["allOf"] = _scan_rules(components)
    elif kind is Violation:
        doc["allOf"] = violation_rule_conditions()
    elif kind is NetworkFile:
        _network_rules(components)
    if components:
        doc["$defs"] = dict(sorted(components.items()))
    return doc


def render(name: str) -> str:
    return json.dumps(build(name), indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """file name → text of every generated schema."""
    return {file_name(name): render(name) for name in MESSAGES}


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in rendered().items():
        path = directory / fname
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("schemas")
    for path in write(target):
        sys.stdout.write(f"wrote {path}\n")
