"""Review pseudonyms are keyed with a per-deployment secret, generated once and kept."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from lastmile.review.figures import pseudonym
from lastmile.review.secret import pseudonym_key


def test_a_key_is_generated_on_first_use_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "run" / "review.key"
    key, note = pseudonym_key("", str(path))
    assert note is not None and str(path) in note
    assert len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, note2 = pseudonym_key("", str(path))
    assert (again, note2) == (key, None)  # stable pseudonyms from report to report


def test_an_explicit_salt_wins_and_no_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "review.key"
    assert pseudonym_key("county-secret", str(path)) == ("county-secret", None)
    assert not path.exists()


def test_a_truncated_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "review.key"
    path.write_text("short\n")
    with pytest.raises(ValueError, match="too short"):
        pseudonym_key("", str(path))


def test_pseudonyms_cannot_be_undone_by_hashing_the_courier_ids(tmp_path: Path) -> None:
    key, _ = pseudonym_key("", str(tmp_path / "review.key"))
    ids = [f"c-{i:04d}" for i in range(10)]
    shown = {pseudonym(c, key) for c in ids}
    for c in ids:  # what the probe did: hash every id, unkeyed and with common salts
        for guess in (
            pseudonym(c, ""),
            pseudonym(c, "lastmile"),
            hashlib.blake2b(c.encode(), digest_size=5).hexdigest(),
        ):
            assert guess not in shown
            assert not any(guess in s for s in shown)
