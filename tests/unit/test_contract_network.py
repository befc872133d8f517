"""network.v1: what the loader accepts, the generated schema accepts too.

The loader (lastmile.domain.network) checks more than a schema can (unique ids, points of
the right village, one town-tier centre per town), so the converse does not hold; but a
file the loader takes must never be one the published schema refuses.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from builders import TINY_NETWORK
from lastmile.domain.network import NetworkError, parse_network

SCHEMA = Draft202012Validator(
    json.loads(
        (Path(__file__).resolve().parents[2] / "schemas/network.v1.schema.json").read_text()
    ),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)
VALUES = st.one_of(
    st.just(...),  # delete the field
    st.none(),
    st.booleans(),
    st.integers(-200, 200),
    st.floats(-200, 200, allow_nan=False),
    st.sampled_from(["", "county", "town", "village", "T-E", "990001101", "990001101001"]),
    st.lists(st.sampled_from(["P-APPLE", "", 3]), max_size=2),
    st.just({}),
)
ENTRIES = ("county", "towns", "villages", "nodes")


def _mutate(doc: dict[str, Any], section: str, index: int, field: str, value: Any) -> None:
    target = doc[section] if section == "county" else doc[section][index % len(doc[section])]
    if value is ...:
        target.pop(field, None)
    else:
        target[field] = value


def _fields(section: str) -> list[str]:
    entry = TINY_NETWORK[section] if section == "county" else TINY_NETWORK[section][0]
    return [*entry, "remote", "name", "town", "village"]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_network_the_loader_accepts_is_valid_for_the_schema(data):
    doc = copy.deepcopy(TINY_NETWORK)
    for _ in range(data.draw(st.integers(1, 2))):
        section = data.draw(st.sampled_from(ENTRIES))
        field = data.draw(st.sampled_from(_fields(section)))
        _mutate(doc, section, data.draw(st.integers(0, 50)), field, data.draw(VALUES))
    try:
        parse_network(doc)
    except NetworkError:
        return
    assert SCHEMA.is_valid(doc), (doc, [e.message for e in SCHEMA.iter_errors(doc)][:3])


def test_the_tiny_network_is_valid_for_both():
    parse_network(TINY_NETWORK)
    assert SCHEMA.is_valid(TINY_NETWORK)


def test_a_node_field_of_another_type_is_refused_naming_the_node():
    doc = copy.deepcopy(TINY_NETWORK)
    node = next(n for n in doc["nodes"] if n["tier"] == "county")
    node["town"] = 5
    try:
        parse_network(doc)
    except NetworkError as exc:
        assert f"node {node['id']!r}" in str(exc) and "'town'" in str(exc)
    else:
        raise AssertionError("a county node with town=5 was accepted")
    assert not SCHEMA.is_valid(doc)
