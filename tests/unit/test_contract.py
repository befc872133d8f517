"""The contract: the decoder agrees with the schemas, and with what it replaced.

A corpus of good and bad messages (and hypothesis-made variations of them, and a
simulated county's lines) must be accepted or refused alike by the committed JSON Schema
(draft 2020-12, formats checked, loaded with no registry: every $ref is local), by the
msgspec decoder of the hot path, by the hand decoder it replaced and by the pydantic
models (tests/reference_decoders.py); a valid message gives the same event record from
both decoders, an invalid one a reason from the bounded set.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from lastmile.contract.decode import REASONS, InvalidMessage, decode_complaint, decode_scan
from reference_decoders import (
    Complaint,
    Scan,
    Violation,
    hand_decode_complaint,
    hand_decode_scan,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _validator(name: str) -> Draft202012Validator:
    """The committed schema alone: no registry, no base URI (it must be self-contained)."""
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


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
    (
        "outbound fresh produce",
        _with(GOOD_SCAN, type="collected", signoff=..., goods={"category": "fresh_produce"}),
        True,
    ),
    (
        "fresh produce marked not perishable",
        _with(GOOD_SCAN, goods={"category": "fresh_produce", "perishable": False}),
        True,
    ),
    ("perishable food", _with(GOOD_SCAN, goods={"category": "food", "perishable": True}), True),
    ("documents", _with(GOOD_SCAN, goods={"category": "documents"}), True),
    ("null goods", _with(GOOD_SCAN, goods=None), True),
    ("unknown goods category", _with(GOOD_SCAN, goods={"category": "gold"}), False),
    ("goods without category", _with(GOOD_SCAN, goods={"perishable": True}), False),
    ("string perishable", _with(GOOD_SCAN, goods={"category": "food", "perishable": "yes"}), False),
    ("goods not an object", _with(GOOD_SCAN, goods="fresh_produce"), False),
    ("half an address point", _with(GOOD_SCAN, destination={"village": "V", "lat": 36.0}), True),
    ("null signoff on delivered", _with(GOOD_SCAN, signoff=None), False),
    ("null event_id", _with(GOOD_SCAN, event_id=None), False),
]

COMPLAINT_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("good complaint", GOOD_COMPLAINT, True),
    ("extra fields ignored", _with(GOOD_COMPLAINT, caller_region="370323"), True),
    ("unknown category", _with(GOOD_COMPLAINT, category="rude"), False),
    ("missing filed_at", _with(GOOD_COMPLAINT, filed_at=...), False),
    ("naive filed_at", _with(GOOD_COMPLAINT, filed_at="2026-11-04T09:00:00"), False),
    ("integer complaint_id", _with(GOOD_COMPLAINT, complaint_id=7), False),
]


def _outcome(decode: Any, raw: bytes) -> Any:
    """The record, or the refusal's reason (which must be one of the bounded codes)."""
    try:
        return decode(raw)
    except InvalidMessage as exc:
        assert exc.reason in REASONS, exc.reason
        assert exc.detail
        return InvalidMessage


def scan_verdicts(msg: Any) -> tuple[bool, bool, bool, bool]:
    """(schema, pydantic, hand decoder, msgspec decoder); both decoders' records equal."""
    raw = orjson.dumps(msg)
    schema_ok = SCAN_SCHEMA.is_valid(msg)
    try:
        Scan.model_validate_json(raw)
        model_ok = True
    except ValidationError:
        model_ok = False
    hand, fast = _outcome(hand_decode_scan, raw), _outcome(decode_scan, raw)
    if hand is not InvalidMessage and fast is not InvalidMessage:
        assert fast == hand, (msg, fast, hand)
        assert type(fast.ts) is float
    return schema_ok, model_ok, hand is not InvalidMessage, fast is not InvalidMessage


@pytest.mark.parametrize(("name", "msg", "valid"), SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_scan_corpus_is_judged_alike_by_schema_models_and_decoders(name, msg, valid):
    assert scan_verdicts(msg) == (valid, valid, valid, valid)


def test_goods_resolve_to_a_perishable_flag():
    def flag(goods: Any) -> tuple[str | None, bool | None]:
        event = decode_scan(orjson.dumps(_with(GOOD_SCAN, goods=goods)))
        return event.goods_category, event.perishable

    assert flag(...) == (None, None)
    assert flag({"category": "fresh_produce"}) == ("fresh_produce", True)
    assert flag({"category": "fresh_produce", "perishable": False}) == ("fresh_produce", False)
    assert flag({"category": "fresh_produce", "perishable": None}) == ("fresh_produce", True)
    assert flag({"category": "food"}) == ("food", False)
    assert flag({"category": "general", "perishable": True}) == ("general", True)


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
    hand, fast = _outcome(hand_decode_complaint, raw), _outcome(decode_complaint, raw)
    assert fast == hand
    assert (fast is not InvalidMessage) is valid


def test_not_json_is_refused_with_a_reason():
    with pytest.raises(InvalidMessage) as err:
        decode_scan(b'{"event_id": "E1", ')
    assert err.value.reason == "invalid_json"


@pytest.mark.parametrize("depth", [2_000, 200_000])
def test_deep_nesting_is_refused_not_raised(depth):
    """Even in a field the contract ignores: msgspec (like orjson) refuses deep nesting, and
    the refusal must be a dead letter, never an exception that stops the worker."""
    good = orjson.dumps(GOOD_SCAN)[:-1]
    deep = good + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(InvalidMessage) as err:
        decode_scan(deep)
    assert err.value.reason == "invalid_json"
    assert _outcome(hand_decode_scan, deep) is InvalidMessage
    complaint = orjson.dumps(GOOD_COMPLAINT)[:-1] + b', "x": ' + b"[" * depth
    with pytest.raises(InvalidMessage):
        decode_complaint(complaint + b"]" * depth + b"}")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (orjson.dumps(GOOD_SCAN).replace(b'"delivered"', b'"delivered\xff"'), "invalid_json"),
        (orjson.dumps(GOOD_SCAN).replace(b'"E-1"', b'"E-\xc3"'), "invalid_json"),
        (orjson.dumps(GOOD_SCAN).replace(b'"lat":36.05', b'"lat":1e400'), "out_of_range"),
        (orjson.dumps(GOOD_SCAN).replace(b'"E-1"', b'"\\ud800"'), "invalid_json"),
    ],
)
def test_odd_bytes_are_refused_not_raised(raw, reason):
    with pytest.raises(InvalidMessage) as err:
        decode_scan(raw)
    assert err.value.reason == reason
    assert _outcome(hand_decode_scan, raw) is InvalidMessage


def test_decoder_reasons_name_the_problem():
    cases = {
        "missing_field": _with(GOOD_SCAN, parcel_id=...),
        "bad_time": _with(GOOD_SCAN, occurred_at="yesterday"),
        "bad_enum": _with(GOOD_SCAN, type="lost"),
        "missing_block": _with(GOOD_SCAN, signoff=...),
        "wrong_type": _with(GOOD_SCAN, carrier=3),
        "bad_length": _with(GOOD_SCAN, carrier=""),
        "out_of_range": _with(GOOD_SCAN, location={"lat": 0, "lon": 200}),
        "not_an_object": [GOOD_SCAN],
    }
    for reason, msg in cases.items():
        with pytest.raises(InvalidMessage) as err:
            decode_scan(orjson.dumps(msg))
        assert err.value.reason == reason, msg
        assert err.value.reason == _outcome_reason(hand_decode_scan, orjson.dumps(msg)), msg


def _outcome_reason(decode: Any, raw: bytes) -> str:
    with pytest.raises(InvalidMessage) as err:
        decode(raw)
    return err.value.reason


def test_the_detail_names_the_field():
    bad = _with(GOOD_SCAN, location={"lat": 0, "lon": 200})
    with pytest.raises(InvalidMessage) as err:
        decode_scan(orjson.dumps(bad))
    assert err.value.detail.startswith("$.location.lon")
    with pytest.raises(InvalidMessage) as err:
        decode_complaint(orjson.dumps(_with(GOOD_COMPLAINT, filed_at="2026-11-04")))
    assert err.value.reason == "bad_time"
    assert err.value.detail.startswith("$.filed_at")


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
        {"category": st.sampled_from(["fresh_produce", "food", "documents", "gold"])},
        optional={"perishable": st.one_of(st.none(), st.booleans(), st.just("yes"))},
    ),
    st.fixed_dictionaries(
        {"village": st.one_of(st.none(), st.text(max_size=3))},
        optional={"lat": st.integers(-100, 100), "lon": st.floats(-200, 200)},
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
    verdicts = scan_verdicts(msg)
    assert len(set(verdicts)) == 1, (msg, verdicts)


@settings(max_examples=150, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(["complaint_id", "parcel_id", "category", "filed_at", "x"]),
        st.one_of(st.just(...), FIELD_VALUES, st.sampled_from(["other", "extra_fee"])),
        max_size=2,
    )
)
def test_any_mutation_of_a_complaint_is_judged_alike(changes):
    msg = _with(GOOD_COMPLAINT, **changes)
    raw = orjson.dumps(msg)
    hand, fast = _outcome(hand_decode_complaint, raw), _outcome(decode_complaint, raw)
    assert fast == hand, msg
    assert COMPLAINT_SCHEMA.is_valid(msg) is (fast is not InvalidMessage), msg


def test_a_simulated_county_is_decoded_alike():
    """Every line of a simulated stream (invalid lines included): same verdict, same record."""
    from lastmile.domain.network import load_network
    from lastmile.simulator import simulate

    yiyuan = Path(__file__).resolve().parents[2] / "services/lastmile/data/yiyuan.network.json"
    sim = simulate(load_network(yiyuan), days=1, parcels_per_day=300, seed=11)
    invalid = 0
    for lines, fast_decode, hand_decode, schema in (
        (sim.scan_lines, decode_scan, hand_decode_scan, SCAN_SCHEMA),
        (sim.complaint_lines, decode_complaint, hand_decode_complaint, COMPLAINT_SCHEMA),
    ):
        for line in lines:
            fast, hand = _outcome(fast_decode, line), _outcome(hand_decode, line)
            assert fast == hand, line
            invalid += fast is InvalidMessage
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                assert fast is InvalidMessage
                continue
            assert schema.is_valid(doc) is (fast is not InvalidMessage), line
    assert invalid > 0  # the simulator injects invalid lines: both kinds were exercised


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


def _reasons(raw: bytes) -> list[str | None]:
    reasons: list[str | None] = []
    for decode in (decode_scan, hand_decode_scan):
        try:
            decode(raw)
            reasons.append(None)
        except InvalidMessage as exc:
            reasons.append(exc.reason)
    return reasons


@pytest.mark.parametrize(("name", "msg", "valid"), SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_each_corpus_fault_gets_the_reason_the_hand_decoder_gave(name, msg, valid):
    msgspec_reason, hand_reason = _reasons(orjson.dumps(msg))
    assert msgspec_reason == hand_reason


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(SCAN_FIELDS), value=st.one_of(st.just(...), FIELD_VALUES))
def test_one_fault_gets_the_reason_the_hand_decoder_gave(field, value):
    """With several faults the decoders may name different ones first (msgspec reports in
    the message's own field order); with one, the dead letter's reason is unchanged."""
    assume(not isinstance(value, dict) or len(value) == 1)  # a block with one field: one fault
    msgspec_reason, hand_reason = _reasons(orjson.dumps(_with(GOOD_SCAN, **{field: value})))
    assert msgspec_reason == hand_reason, (field, value)


@settings(max_examples=300, deadline=None)
@given(
    cuts=st.lists(
        st.tuples(
            st.integers(0, 400),
            st.one_of(
                st.binary(max_size=4),
                st.sampled_from([b"\xff", b"\xc3", b"\\ud800", b"1e400", b"[" * 3000, b"null"]),
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_mangled_bytes_are_refused_or_decoded_never_raised(cuts):
    """Raw bytes as a broken producer might send them: a record or an InvalidMessage."""
    raw = orjson.dumps(GOOD_SCAN)
    for at, junk in cuts:
        at %= len(raw) + 1
        raw = raw[:at] + junk + raw[at:]
    for decode in (decode_scan, decode_complaint):
        try:
            decode(raw)
        except InvalidMessage as exc:
            assert exc.reason in REASONS
