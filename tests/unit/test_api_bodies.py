"""Request bodies are decoded with the same definitions the OpenAPI document shows."""

from __future__ import annotations

import pytest

from lastmile.api.bodies import (
    AckRequest,
    BodyRefused,
    DecisionRequest,
    DisputeRequest,
    WebhookRequest,
    decode_request,
)


def test_good_bodies_decode():
    assert decode_request(AckRequest, b"").note is None
    assert decode_request(AckRequest, b'{"note": "seen"}').note == "seen"
    assert decode_request(DisputeRequest, b'{"reason": "signed by the owner", "x": 1}').reason
    decision = decode_request(DecisionRequest, b'{"outcome": "dismissed", "note": "photo ok"}')
    assert decision.outcome == "dismissed"
    assert decode_request(WebhookRequest, b'{"url": "https://a.example/h"}').replay is False


@pytest.mark.parametrize(
    ("kind", "raw", "names"),
    [
        (DisputeRequest, b"{}", "`reason`"),
        (DisputeRequest, b'{"reason": "   "}', "$.reason"),  # blank
        (DisputeRequest, b'{"reason": ""}', "$.reason"),
        (DisputeRequest, b'{"reason": "' + b"x" * 1001 + b'"}', "$.reason"),
        (DisputeRequest, b'{"reason": 7}', "$.reason"),
        (DecisionRequest, b'{"outcome": "maybe", "note": "n"}', "$.outcome"),
        (DecisionRequest, b'{"outcome": "upheld"}', "`note`"),
        (AckRequest, b'{"note": "\\t"}', "$.note"),
        (AckRequest, b"[1]", "object"),
        (WebhookRequest, b'{"url": "https://a.example/h", "replay": "yes"}', "$.replay"),
        (AckRequest, b'{"note": ', "not valid JSON"),
        (AckRequest, b'{"note": "\xff"}', "UTF-8"),
        (AckRequest, b'{"x": ' + b"[" * 16000 + b"]" * 16000 + b"}", "nested too deeply"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(kind, raw, names):
    with pytest.raises(BodyRefused) as err:
        decode_request(kind, raw)
    assert names in str(err.value)
