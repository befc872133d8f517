"""The contract three ways: JSON Schemas, pydantic models and the fast decoder agree.

A corpus of good and bad messages (and hypothesis-made variations of them) must be
accepted or refused alike by the committed JSON Schema (draft 2020-12, formats
checked), by the pydantic model and by the hot-path decoder.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from referencing import Registry, Resource

from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.contract.models import Complaint, Scan, Violation

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _validator(name: str) -> Draft202012Validator:
    docs = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json")}
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs.values()
    )
    schema = docs[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


SCAN_SCHEMA = _validator("scan.v1.schema.json")
COMPLAINT_SCHEMA = _validator("complaint.v1.schema.json")
VIOLATION_SCHEMA = _validator("violation.v1.schema.json")

GOOD_SCAN: dict[str, Any] = {
    "event_id": "E-1",
    "parcel_id": "YT1234567890",
    "carrier": "ZTO",
    "type": "delivered",
    "occurred_at": "2026-11-02T10:15:00+08:00",
    "node_id": "YY-V-100201",
    "courier_id": "ZTO-NLS-03",
    "location": {"lat": 36.05, "lon": 118.02, "accuracy_m": 8},
    "destination": {"village": "370323100201", "lat": 36.051, "lon": 118.021},
    "signoff": {"method": "station"},
    "device_model": "PDA-7",
}
GOOD_COMPLAINT: dict[str, Any] = {
    "complaint_id": "12305-0001",
    "parcel_id": "YT1234567890",
    "category": "not_received",
    "filed_at": "2026-11-04T09:00:00Z",
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


SCAN_CASES: list[tuple[str, dict[str, Any] | list[Any], bool]] = [
    ("full delivered scan", GOOD_SCAN, True),
    (
        "minimal arrival",
        {k: GOOD_SCAN[k] for k in ("event_id", "parcel_id", "carrier", "occurred_at")}
        | {"type": "arrived"},
        True,
    ),
    (
        "outbound destination",
        _with(GOOD_SCAN, type="collected", signoff=..., destination={"village": None}),
        True,
    ),
    ("UTC Z time", _with(GOOD_SCAN, occurred_at="2026-11-02T02:15:00Z"), True),
    (
        "fractional seconds",
        _with(GOOD_SCAN, occurred_at="2026-11-02T10:15:00.123456789+08:00"),
        True,
    ),
    (
        "nulls for optional fields",
        _with(GOOD_SCAN, node_id=None, courier_id=None, location=None),
        True,
    ),
    (
        "fee with COD",
        _with(
            GOOD_SCAN, type="fee_charged", signoff=..., fee={"amount": 0, "reason": "cod_payment"}
        ),
        True,
    ),
    (
        "handover",
        _with(GOOD_SCAN, type="handover", signoff=..., handover={"to_carrier": "EMS"}),
        True,
    ),
    (
        "outbound produce with goods",
        _with(
            GOOD_SCAN,
            type="collected",
            signoff=...,
            destination={"village": None},
            goods={"category": "fresh_produce"},
        ),
        True,
    ),
    (
        "goods marked perishable",
        _with(GOOD_SCAN, goods={"category": "food", "perishable": True}),
        True,
    ),
    ("goods null", _with(GOOD_SCAN, goods=None), True),
    ("unknown goods category", _with(GOOD_SCAN, goods={"category": "livestock"}), False),
    ("goods without category", _with(GOOD_SCAN, goods={"perishable": True}), False),
    (
        "goods perishable as text",
        _with(GOOD_SCAN, goods={"category": "food", "perishable": "yes"}),
        False,
    ),
    ("goods not an object", _with(GOOD_SCAN, goods="fresh_produce"), False),
    ("integer time", _with(GOOD_SCAN, occurred_at=1762049700), False),
    ("time without offset", _with(GOOD_SCAN, occurred_at="2026-11-02T10:15:00"), False),
    ("date only", _with(GOOD_SCAN, occurred_at="2026-11-02"), False),
    ("space separator", _with(GOOD_SCAN, occurred_at="2026-11-02 10:15:00+08:00"), False),
    ("month 13", _with(GOOD_SCAN, occurred_at="2026-13-02T10:15:00+08:00"), False),
    ("missing event_id", _with(GOOD_SCAN, event_id=...), False),
    ("empty event_id", _with(GOOD_SCAN, event_id=""), False),
    ("event_id too long", _with(GOOD_SCAN, event_id="E" * 65), False),
    ("parcel_id too long", _with(GOOD_SCAN, parcel_id="P" * 41), False),
    ("carrier too long", _with(GOOD_SCAN, carrier="C" * 17), False),
    ("numeric parcel_id", _with(GOOD_SCAN, parcel_id=12345), False),
    ("unknown type", _with(GOOD_SCAN, type="teleported"), False),
    ("unknown signoff method", _with(GOOD_SCAN, signoff={"method": "drone"}), False),
    ("delivered without signoff", _with(GOOD_SCAN, signoff=...), False),
    ("fee_charged without fee", _with(GOOD_SCAN, type="fee_charged", signoff=...), False),
    ("handover without handover", _with(GOOD_SCAN, type="handover", signoff=...), False),
    (
        "negative fee",
        _with(GOOD_SCAN, type="fee_charged", fee={"amount": -1, "reason": "other"}),
        False,
    ),
    (
        "unknown fee reason",
        _with(GOOD_SCAN, type="fee_charged", fee={"amount": 1, "reason": "tip"}),
        False,
    ),
    ("latitude out of range", _with(GOOD_SCAN, location={"lat": 91, "lon": 118}), False),
    ("location without lon", _with(GOOD_SCAN, location={"lat": 36}), False),
    ("string latitude", _with(GOOD_SCAN, location={"lat": "36.0", "lon": 118}), False),
    ("boolean latitude", _with(GOOD_SCAN, location={"lat": True, "lon": 118}), False),
    ("location not an object", _with(GOOD_SCAN, location=[36, 118]), False),
    ("not an object", [GOOD_SCAN], False),
]

COMPLAINT_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("good complaint", GOOD_COMPLAINT, True),
    ("extra fields ignored", _with(GOOD_COMPLAINT, caller_region="370323"), True),
    ("unknown category", _with(GOOD_COMPLAINT, category="rude"), False),
    ("missing filed_at", _with(GOOD_COMPLAINT, filed_at=...), False),
    ("naive filed_at", _with(GOOD_COMPLAINT, filed_at="2026-11-04T09:00:00"), False),
    ("integer complaint_id", _with(GOOD_COMPLAINT, complaint_id=7), False),
]


def scan_verdicts(msg: Any) -> tuple[bool, bool, bool]:
    raw = orjson.dumps(msg)
    schema_ok = SCAN_SCHEMA.is_valid(msg)
    try:
        Scan.model_validate_json(raw)
        model_ok = True
    except ValidationError:
        model_ok = False
    try:
        decode_scan(raw)
        fast_ok = True
    except InvalidMessage:
        fast_ok = False
    return schema_ok, model_ok, fast_ok


@pytest.mark.parametrize(("name", "msg", "valid"), SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_scan_corpus_is_judged_alike_by_schema_model_and_decoder(name, msg, valid):
    assert scan_verdicts(msg) == (valid, valid, valid)


@pytest.mark.parametrize(
    ("name", "msg", "valid"), COMPLAINT_CASES, ids=[c[0] for c in COMPLAINT_CASES]
)
def test_complaint_corpus_is_judged_alike(name, msg, valid):
    raw = orjson.dumps(msg)
    assert COMPLAINT_SCHEMA.is_valid(msg) is valid
    try:
        Complaint.model_validate_json(raw)
        assert valid
    except ValidationError:
        assert not valid
    try:
        decode_complaint(raw)
        assert valid
    except InvalidMessage:
        assert not valid


def test_not_json_is_refused_with_a_reason():
    with pytest.raises(InvalidMessage) as err:
        decode_scan(b'{"event_id": "E1", ')
    assert err.value.reason == "invalid_json"


def test_goods_resolve_the_perishable_flag_and_an_unknown_category_says_why():
    def decoded(goods: Any) -> tuple[str | None, bool | None]:
        e = decode_scan(orjson.dumps(_with(GOOD_SCAN, goods=goods)))
        return e.goods_category, e.perishable

    assert decoded(...) == (None, None)  # no goods: nothing resolved
    assert decoded({"category": "fresh_produce"}) == ("fresh_produce", True)
    assert decoded({"category": "fresh_produce", "perishable": False}) == ("fresh_produce", False)
    assert decoded({"category": "general"}) == ("general", False)
    assert decoded({"category": "food", "perishable": True}) == ("food", True)
    with pytest.raises(InvalidMessage) as err:
        decode_scan(orjson.dumps(_with(GOOD_SCAN, goods={"category": "livestock"})))
    assert err.value.reason == "bad_enum" and "goods.category" in err.value.detail


def test_decoder_reasons_name_the_problem():
    cases = {
        "missing_field": _with(GOOD_SCAN, parcel_id=...),
        "bad_time": _with(GOOD_SCAN, occurred_at="yesterday"),
        "bad_enum": _with(GOOD_SCAN, type="lost"),
        "missing_block": _with(GOOD_SCAN, signoff=...),
        "wrong_type": _with(GOOD_SCAN, carrier=3),
        "bad_length": _with(GOOD_SCAN, carrier=""),
        "out_of_range": _with(GOOD_SCAN, location={"lat": 0, "lon": 200}),
    }
    for reason, msg in cases.items():
        with pytest.raises(InvalidMessage) as err:
            decode_scan(orjson.dumps(msg))
        assert err.value.reason == reason, msg


# hypothesis: mutate good messages field by field; all three must still agree.
FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-200, 200),
    st.floats(-200, 200, allow_nan=False),
    st.text(max_size=70),
    st.sampled_from(
        [
            "2026-11-02T10:15:00+08:00",
            "2026-11-02T10:15:00",
            "2026-11-02T10:15:00.5Z",
            "delivered",
            "arrived",
            "fee_charged",
            "handover",
            "station",
            "drone",
        ]
    ),
    st.fixed_dictionaries({"method": st.sampled_from(["proxy", "locker", "x"])}),
    st.fixed_dictionaries(
        {"amount": st.integers(-2, 5), "reason": st.sampled_from(["other", "cod_payment", "?"])}
    ),
    st.fixed_dictionaries({"to_carrier": st.text(max_size=20)}),
    st.fixed_dictionaries({"lat": st.integers(-100, 100), "lon": st.integers(-200, 200)}),
    st.lists(st.integers(-1000, 1000), max_size=2),
    st.fixed_dictionaries(
        {"category": st.sampled_from(["fresh_produce", "general", "seeds"])},
        optional={"perishable": st.sampled_from([True, False, None, 1, "no"])},
    ),
)
SCAN_FIELDS = [
    "event_id",
    "parcel_id",
    "carrier",
    "type",
    "occurred_at",
    "node_id",
    "courier_id",
    "location",
    "destination",
    "handover",
    "signoff",
    "fee",
    "goods",
    "unknown_extra",
]


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(SCAN_FIELDS), st.one_of(st.just(...), FIELD_VALUES), max_size=3
    )
)
def test_any_mutation_of_a_scan_is_judged_alike(changes):
    msg = _with(GOOD_SCAN, **changes)
    schema_ok, model_ok, fast_ok = scan_verdicts(msg)
    assert schema_ok == model_ok == fast_ok, (msg, schema_ok, model_ok, fast_ok)


def test_violations_the_core_writes_satisfy_the_schema_and_the_model(network):
    from datetime import UTC, datetime

    from builders import complaint, inbound_path, scan
    from lastmile.domain.engine import detect_events
    from lastmile.domain.rules import RuleConfig

    events = [
        *inbound_path("P1"),
        scan("P1", "delivered", 720, "T-E"),
        scan("P1", "fee_charged", 715, "P-APPLE"),
        complaint("P1", "not_received", 900),
    ]
    found = detect_events(events, network, RuleConfig(), datetime(2026, 11, 9, tzinfo=UTC))
    assert {v["rule"] for v in found} == {
        "left_at_town_or_county",
        "far_from_address",
        "fee_charged",
        "complaint",
    }
    for v in found:
        doc = json.loads(orjson.dumps(v))
        assert VIOLATION_SCHEMA.is_valid(doc), list(VIOLATION_SCHEMA.iter_errors(doc))
        Violation.model_validate_json(orjson.dumps(v))


def test_the_asyncapi_description_names_every_topic_and_schema():
    import yaml

    doc = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text())
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        "scans.v1",
        "complaints.v1",
        "violations.v1",
        "scans.v1.dlq",
        "complaints.v1.dlq",
    }
    refs = {
        m["payload"].get("$ref") for c in doc["channels"].values() for m in c["messages"].values()
    } - {None}
    for ref in refs:
        assert (SCHEMAS / ref).is_file(), ref
