"""Fixtures shared by every test folder (builders live in tests/builders.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from builders import TINY_NETWORK
from lastmile.domain.network import Network, parse_network


@pytest.fixture(scope="session")
def network() -> Network:
    return parse_network(TINY_NETWORK)
