"""``--format pdf``: the HTML review printed to ``review.pdf`` (A4) by headless Chromium.

The page is the one ``--format html`` writes; its print CSS puts the county and period at
the top of every page and the page number at the bottom. Chromium (Debian's ``chromium``,
installed by deploy/local/install.sh) runs headless with a new empty profile and every
background network feature off, so printing needs no network and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lastmile.io.atomic import write_bytes
from lastmile.review.i18n import Lang
from lastmile.review.render_html import render_html

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PRINT_TIMEOUT_S = 120


class PdfError(RuntimeError):
    """Chromium is missing or did not print the report (the message says which)."""


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise PdfError("Chromium not found (looked for chromium, chromium-browser on PATH)")


def chromium_command(chromium: str, profile: Path, *args: str) -> list[str]:
    """Chromium headless with an empty profile and no background networking."""
    return [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]


def print_pdf(html: str, pdf: Path) -> None:
    """Print one HTML page to `pdf` with headless Chromium; PdfError when it fails."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="lastmile-pdf-") as tmp:
        page, out = Path(tmp) / "review.html", Path(tmp) / "review.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = chromium_command(
            chromium,
            Path(tmp) / "profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        )
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print within {PRINT_TIMEOUT_S} s") from None
        data = out.read_bytes() if out.is_file() else b""
        if not data.startswith(b"%PDF"):
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PdfError(f"Chromium printed no PDF (exit {done.returncode}): {last}")
    write_bytes(pdf, data)


def write_pdf(review: dict[str, Any], out_dir: Path, lang: Lang) -> list[Path]:
    path = out_dir / "review.pdf"
    print_pdf(render_html(review, lang), path)
    return [path]
