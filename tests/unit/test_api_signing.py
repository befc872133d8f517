"""Webhook signatures, from the receiver's side: valid, tampered, wrong secret, replayed."""

from __future__ import annotations

import hashlib
import hmac

from lastmile.api.signing import sign, verify_signature

SECRET = "whsec_test"
BODY = b'{"delivery_id":"1-0","type":"violation"}'
NOW = 1_800_000_000


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v1={expected}"


def test_valid_signature_within_tolerance_is_accepted() -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify_signature(SECRET, str(NOW), BODY, header, tolerance_s=300, now=NOW + 299)
    assert verify_signature(SECRET, NOW, BODY, header, tolerance_s=300, now=NOW - 299)


def test_replay_outside_tolerance_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, NOW, BODY, header, tolerance_s=300, now=NOW + 301)
    assert not verify_signature(SECRET, NOW, BODY, header, tolerance_s=300, now=NOW - 301)


def test_tampering_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, NOW, BODY + b" ", header, now=NOW)
    assert not verify_signature("whsec_other", NOW, BODY, header, now=NOW)
    # the timestamp is signed: moving it forward to dodge the window breaks the signature
    assert not verify_signature(SECRET, NOW + 1, BODY, header, now=NOW + 1)
    assert not verify_signature(SECRET, NOW, BODY, header.replace("v1=", "v0="), now=NOW)
    assert not verify_signature(SECRET, "not-a-number", BODY, header, now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, "", now=NOW)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    header = f"{sign('whsec_old', NOW, BODY)}, {sign(SECRET, NOW, BODY)}"
    assert verify_signature(SECRET, NOW, BODY, header, now=NOW)
    assert verify_signature("whsec_old", NOW, BODY, header, now=NOW)
