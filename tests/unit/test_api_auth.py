"""API keys: format, hashing, bearer parsing (webhook URL rules: test_api_egress.py)."""

from __future__ import annotations

import hashlib

from lastmile.api.auth import KEY_RE, bearer_token, hash_key, new_key


def test_keys_are_random_256_bit_and_hashed_with_sha256() -> None:
    a, b = new_key(), new_key()
    assert a != b
    assert KEY_RE.match(a) and KEY_RE.match(b)
    assert hash_key(a) == hashlib.sha256(a.encode()).hexdigest()
    assert a not in hash_key(a)


def test_bearer_parsing() -> None:
    key = new_key()
    assert bearer_token(f"Bearer {key}") == key
    assert bearer_token(f"bearer   {key} ") == key
    for bad in (
        None,
        "",
        key,
        f"Basic {key}",
        "Bearer",
        "Bearer abc",
        f"Bearer {key}x",
        f"Token {key}",
    ):
        assert bearer_token(bad) is None
