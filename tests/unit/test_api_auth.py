"""API keys: format, hashing, bearer parsing; webhook URL rules."""

from __future__ import annotations

import hashlib

import pytest

from lastmile.api.auth import KEY_RE, bearer_token, hash_key, new_key
from lastmile.api.errors import ApiError
from lastmile.api.webhooks import validate_url


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


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/lastmile", "https://8.8.8.8/h", "https://a.b:8443/x?y=1"]
)
def test_https_urls_are_accepted(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "http://127.0.0.1:9000/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://user:pw@example.com/x",
        "ftp://example.com/x",
        "https:///nohost",
        "https://example.com:99999/x",
        "https://exa mple.com/",
        "",
        None,
        42,
        "https://" + "a" * 2100 + ".com",
    ],
)
def test_unsafe_urls_are_refused(url: object) -> None:
    with pytest.raises(ApiError) as exc:
        validate_url(url)
    assert exc.value.status == 422


def test_loopback_http_only_with_the_explicit_flag() -> None:
    assert validate_url("http://127.0.0.1:9000/x", allow_insecure_loopback=True)
    assert validate_url("http://localhost:9000/x", allow_insecure_loopback=True)
    with pytest.raises(ApiError):
        validate_url("http://example.com/x", allow_insecure_loopback=True)
