"""Standard Webhooks signatures: what we sign verifies with the `standardwebhooks` package and
with the Python and Java examples of docs/api.md (the Java one compiled with the JDK's javac).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from lastmile.api.signing import (
    LegacySecretError,
    delivery_headers,
    new_secret,
    secret_key,
    sign_standard,
    verify_signature,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BODY = orjson.dumps(
    {"delivery_id": "1793577600123-0", "type": "violation", "violation": {"town": "南麻街道"}}
)
DELIVERY = "1793577600123-0"


def doc_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, f"want one {language} block in {DOC}"
    return blocks[0]


def signed(secret: str, at: int | None = None, body: bytes = BODY) -> dict[str, str]:
    return delivery_headers(secret, DELIVERY, int(time.time()) if at is None else at, body)


def test_a_new_secret_is_whsec_and_32_bytes_of_standard_base64() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert secret_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))
    assert new_secret() != secret


def test_a_delivery_verifies_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    headers = signed(secret)
    assert headers["webhook-id"] == DELIVERY == headers["X-Lastmile-Delivery"]
    assert headers["webhook-timestamp"] == headers["X-Lastmile-Timestamp"]
    assert Webhook(secret).verify(BODY, headers) == orjson.loads(BODY)


def test_the_package_refuses_tampering_a_wrong_secret_and_a_replay() -> None:
    secret = new_secret()
    headers = signed(secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("南麻".encode(), "鲁村".encode()), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, signed(secret, at=int(time.time()) - 301))
    other_id = {**headers, "webhook-id": "1793577600124-0"}  # the id is signed
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, other_id)


def test_several_signatures_during_a_rotation_any_one_matches() -> None:
    old, new = new_secret(), new_secret()
    ts = int(time.time())
    both = " ".join(sign_standard(s, DELIVERY, ts, BODY) for s in (old, new))
    headers = {"webhook-id": DELIVERY, "webhook-timestamp": str(ts), "webhook-signature": both}
    assert Webhook(old).verify(BODY, headers) and Webhook(new).verify(BODY, headers)


def test_the_deprecated_headers_still_verify() -> None:
    secret = new_secret()
    headers = signed(secret)
    assert verify_signature(
        secret, headers["X-Lastmile-Timestamp"], BODY, headers["X-Lastmile-Signature"]
    )


def test_a_legacy_url_safe_secret_gets_only_the_deprecated_headers() -> None:
    legacy = "whsec_" + "a-b_" * 10 + "xyz"  # the token_urlsafe alphabet of earlier releases
    with pytest.raises(LegacySecretError):
        secret_key(legacy)
    headers = signed(legacy)
    assert "webhook-signature" not in headers
    ts = headers["X-Lastmile-Timestamp"]
    assert verify_signature(legacy, ts, BODY, headers["X-Lastmile-Signature"])


def test_the_python_example_of_the_docs_verifies_and_refuses() -> None:
    scope: dict[str, object] = {}
    exec(compile(doc_block("python"), str(DOC), "exec"), scope)
    verified = scope["verified_delivery"]
    secret = new_secret()
    headers = signed(secret)
    assert verified(secret, BODY, headers) == orjson.loads(BODY)  # type: ignore[operator]
    assert verified(secret, BODY + b" ", headers) is None  # type: ignore[operator]


def test_the_java_example_of_the_docs_compiles_verifies_and_refuses(tmp_path: Path) -> None:
    javac, java = shutil.which("javac"), shutil.which("java")
    if not (javac and java):
        pytest.fail("javac/java missing: deploy/local/install.sh installs a JDK", pytrace=False)
    (tmp_path / "VerifyWebhook.java").write_text(doc_block("java"), encoding="utf-8")
    built = subprocess.run(
        [javac, "-d", str(tmp_path), str(tmp_path / "VerifyWebhook.java")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    secret = new_secret()
    headers = signed(secret)
    (tmp_path / "body.json").write_bytes(BODY)
    (tmp_path / "tampered.json").write_bytes(BODY.replace(b"violation", b"violatiom"))

    def run(body_file: str, secret_used: str = secret) -> subprocess.CompletedProcess[str]:
        args = [headers[h] for h in ("webhook-id", "webhook-timestamp", "webhook-signature")]
        cmd = [java, "-cp", str(tmp_path), "VerifyWebhook", secret_used, *args]
        return subprocess.run(
            [*cmd, str(tmp_path / body_file)], capture_output=True, text=True, timeout=60
        )

    ok = run("body.json")
    assert (ok.returncode, ok.stdout.strip()) == (0, "verified"), ok.stderr
    bad = run("tampered.json")
    assert (bad.returncode, bad.stdout.strip()) == (1, "refused"), bad.stderr
    wrong = run("body.json", new_secret())
    assert (wrong.returncode, wrong.stdout.strip()) == (1, "refused"), wrong.stderr
