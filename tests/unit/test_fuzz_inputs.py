"""Fuzzing every decoder and file reader of outside input (issue 11, deliverable 4).

Whatever bytes arrive, each reader either returns a value or raises its one documented
invalid-input error, never anything else (which would be a traceback for a user or a crashed
worker):

| reader | documented error |
|---|---|
| ``decode_scan`` / ``decode_complaint`` (the worker's and ``detect``'s decoder) | ``InvalidMessage`` |
| ``pipeline.intake.decode_batch`` (a batch off the topics) | none: a dead letter each |
| ``io.events.read_events`` (a JSONL export) | none: a dead letter each |
| ``load_network`` / ``load_network_text`` (network file, JSON or YAML) | ``NetworkError`` |
| ``load_rule_config`` (rules file, JSON or YAML) | ``ConfigError`` |

Inputs: arbitrary bytes, arbitrary JSON documents, and good documents mutated at a random
place (a value replaced by any JSON value, or removed), which reach far deeper than random
bytes. Events the decoder accepts are also run through the core (``detect_events``), which
must not fail on any valid event either.

The examples are bounded (profile ``fuzz``: 100 per test, derandomized so CI sees the same
inputs every run; a few seconds in all). For a deeper run:
``LASTMILE_TEST_FUZZ_PROFILE=fuzz-deep .venv/bin/pytest -q tests/unit/test_fuzz_inputs.py``.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import TINY_NETWORK
from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.domain.engine import Detection, detect_events
from lastmile.domain.network import Network, NetworkError, load_network_text
from lastmile.domain.rules import ConfigError, RuleConfig
from lastmile.io.events import InputStats, read_events
from lastmile.io.files import load_network, load_rule_config
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.intake import decode_batch
from lastmile.pipeline.records import COMPLAINTS, SCANS, RawMessage

settings.register_profile(
    "fuzz",
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same inputs every run: a CI failure is reproducible, never flaky
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz-deep", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FUZZ = settings.get_profile(os.environ.get("LASTMILE_TEST_FUZZ_PROFILE", "fuzz"))

GOOD_SCAN: dict[str, Any] = {
    "event_id": "E-1",
    "parcel_id": "YT1234567890",
    "carrier": "ZTO",
    "type": "delivered",
    "occurred_at": "2026-11-02T10:15:00+08:00",
    "node_id": "P-APPLE",
    "courier_id": "ZTO-NLS-03",
    "location": {"lat": 36.12, "lon": 118.0, "accuracy_m": 8},
    "destination": {"village": "990001101001", "lat": 36.12, "lon": 118.0},
    "signoff": {"method": "station"},
    "handover": {"to_carrier": "YTO"},
    "fee": {"amount": 3, "reason": "other"},
    "device_model": "PDA-7",
}
GOOD_COMPLAINT: dict[str, Any] = {
    "complaint_id": "12305-0001",
    "parcel_id": "YT1234567890",
    "category": "not_received",
    "filed_at": "2026-11-04T09:00:00Z",
    "carrier": "ZTO",
    "text": "never arrived",
}
GOOD_RULES: dict[str, Any] = {
    "stuck_hours": 48,
    "severity": {"wrong_address/complaint": "high"},
    "remote_raises_severity": True,
}

# JSON scalars as the wire may carry them, with the awkward ones (huge ints, -0.0, infinities
# as YAML can spell them, empty and long strings, look-alike times and enum values)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "2026-11-02T10:15:00Z",
            "2026-11-02T10:15:00",
            "2026-02-30T10:15:00Z",
            "9999-12-31T23:59:59+23:59",
            "0001-01-01T00:00:00-23:59",
            "delivered",
            "fee_charged",
            "handover",
            "station",
            "cod_payment",
            "county",
            "town",
            "village",
            "P-APPLE",
            "T-E",
            "990001101001",
            "x" * 300,
        ]
    ),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document (dict keys, list indexes), the root included."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, good: Any, max_changes: int = 3) -> Any:
    """A good document with up to ``max_changes`` places replaced by any value, or removed."""
    doc = copy.deepcopy(good)
    for _ in range(draw(st.integers(1, max_changes))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            doc = draw(JSON_VALUES)
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
        if not isinstance(doc, dict | list):
            break
    return doc


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


# raw message bodies: any bytes, any JSON, mutated good messages, and the same spelled oddly
def bodies(good: dict[str, Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(_dumps),
        mutated(good, max_changes=1).map(_dumps),  # often still valid: reaches the core
        mutated(good).map(_dumps),
        mutated(good).map(lambda d: _dumps(d)[: len(_dumps(d)) // 2]),  # cut short
        mutated(good).map(lambda d: _dumps(d).decode().encode("utf-16")),  # not UTF-8
        st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),  # nested deep
    )


def _decode_or_refuse(decode: Any, raw: bytes) -> Any:
    try:
        return decode(raw)
    except InvalidMessage as exc:
        assert exc.reason and exc.detail  # the dead letter's headers say why
        return None


DETECTED_AT = datetime(2026, 11, 20, tzinfo=UTC)


@FUZZ
@given(raw=bodies(GOOD_SCAN))
def test_the_scan_decoder_accepts_or_refuses_with_invalid_message(raw, network):
    event = _decode_or_refuse(decode_scan, raw)
    if event is not None:  # a valid event must not break the core either
        detect_events([event], network, RuleConfig(), DETECTED_AT)


@FUZZ
@given(raw=bodies(GOOD_COMPLAINT))
def test_the_complaint_decoder_accepts_or_refuses_with_invalid_message(raw, network):
    event = _decode_or_refuse(decode_complaint, raw)
    if event is not None:
        detect_events([event], network, RuleConfig(), DETECTED_AT)


@FUZZ
@given(
    batch=st.lists(
        st.tuples(
            st.sampled_from([SCANS, COMPLAINTS]),
            st.none() | st.binary(max_size=20),
            st.none() | bodies(GOOD_SCAN) | bodies(GOOD_COMPLAINT),
        ),
        max_size=8,
    )
)
def test_a_batch_off_the_topics_becomes_events_and_dead_letters_only(batch, network):
    messages = [RawMessage(kind, kind + ".v1", 0, i, k, v) for i, (kind, k, v) in enumerate(batch)]
    fx = Effects()
    located = decode_batch(messages, fx)
    assert len(located) + len(fx.dead_letters) == len(messages)  # nothing lost
    assert all(d.reason and d.origin for d in fx.dead_letters)
    detect_events([loc.event for loc in located], network, RuleConfig(), DETECTED_AT)


@FUZZ
@given(lines=st.lists(bodies(GOOD_SCAN), max_size=6), bom=st.booleans())
def test_a_jsonl_export_is_read_line_by_line_with_dead_letters(lines, bom, network):
    lines = [line.replace(b"\n", b" ") for line in lines]  # one message per line
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scans.jsonl"
        path.write_bytes(data)
        dlq_path = Path(tmp) / "dlq.jsonl"
        stats = InputStats()
        detection = Detection(network)
        with dlq_path.open("wb") as dlq:
            read_events(str(path), "scans", decode_scan, detection, dlq, stats)
        dead = dlq_path.read_bytes().splitlines()
    assert stats.valid + sum(stats.invalid.values()) == stats.lines
    assert len(dead) == sum(stats.invalid.values())
    for line in dead:  # each dead letter is one JSON object naming its reason
        assert json.loads(line)["reason"]
    detection.violations(DETECTED_AT)


def _network_texts() -> st.SearchStrategy[tuple[bytes, str]]:
    as_json = st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(_dumps),
        mutated(TINY_NETWORK, max_changes=4).map(_dumps),
    ).map(lambda b: (b, ".json"))
    as_yaml = st.one_of(
        st.text(max_size=200).map(str.encode),
        mutated(TINY_NETWORK, max_changes=4).map(
            lambda d: yaml.safe_dump(d, allow_unicode=True).encode()
        ),
        st.sampled_from(YAML_ODDITIES),
    ).map(lambda b: (b, ".yaml"))
    return as_json | as_yaml


# YAML that parses to things JSON cannot: tags, dates, anchors, complex keys, deep nesting
YAML_ODDITIES = [
    b"!!python/object:os.system {}",
    b"version: 1\ncounty: !!binary aGVsbG8=\n",
    b"version: 1\ntowns: 2026-11-02\n",
    b"a: &x [*x]\n",
    b"? [1, 2]\n: 3\n",
    b"version: .inf\n",
    b"stuck_hours: .nan\n",
    b"bulk_min_signoffs: 1e400\n",
    b"severity: {wrong_address/complaint: [high]}\n",
    b"[" * 3000 + b"]" * 3000,
    b"\t- tab",
    b"\xff\xfe\x00",
]


@FUZZ
@given(case=_network_texts())
def test_the_network_file_loads_or_is_refused_with_network_error(case):
    text, suffix = case
    try:
        net = load_network_text(text, suffix)
    except NetworkError as exc:
        assert str(exc)
        return
    assert isinstance(net, Network)


@FUZZ
@given(
    case=st.one_of(
        st.binary(max_size=200).map(lambda b: (b, ".json")),
        st.binary(max_size=200).map(lambda b: (b, ".yaml")),
        JSON_VALUES.map(lambda d: (_dumps(d), ".json")),
        mutated(GOOD_RULES).map(lambda d: (_dumps(d), ".json")),
        mutated(GOOD_RULES).map(lambda d: (yaml.safe_dump(d).encode(), ".yaml")),
        st.sampled_from(YAML_ODDITIES).map(lambda b: (b, ".yml")),
    )
)
def test_the_rules_and_network_files_load_or_are_refused_naming_the_file(case):
    """The two file readers the commands call, from a real file on disk."""
    data, suffix = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        try:
            config = load_rule_config(path)
        except ConfigError as exc:
            assert str(path) in str(exc)
        else:
            assert isinstance(config, RuleConfig)
        try:
            load_network(path)
        except NetworkError as exc:
            assert str(path) in str(exc)


def test_the_good_seeds_are_accepted():
    """The mutations start from documents every reader accepts (else they prove little)."""
    assert decode_scan(orjson.dumps(GOOD_SCAN)).parcel_id == "YT1234567890"
    assert decode_complaint(orjson.dumps(GOOD_COMPLAINT)).parcel_id == "YT1234567890"
    assert load_network_text(_dumps(TINY_NETWORK)).county_code == "990001"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(yaml.safe_dump(GOOD_RULES))
        assert load_rule_config(path).stuck_hours == 48
