"""Arrows point inward: entry points → adapters → pipeline → domain → nothing of ours.

Read from the source (``ast``), so a forbidden import anywhere in a module, even inside a
function, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "services" / "lastmile"


def imports_of(package: str) -> dict[str, set[str]]:
    """module path → every module it imports (absolute names)."""
    out: dict[str, set[str]] = {}
    for path in sorted((PKG / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        out[str(path.relative_to(PKG))] = names
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, names in imports_of(package).items()
        for name in sorted(names)
        if name.startswith(forbidden)
    ]


ENGINE_AND_ENTRY_POINTS = (
    "faust",
    "aiokafka",
    "redis",
    "prometheus_client",
    "lastmile.worker",
    "lastmile.readmodel",
    "lastmile.api",
    "lastmile.cli",
    "lastmile.commands",
    "lastmile.settings",
)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # the domain: standard library and itself; no contract models, no pydantic, no I/O
        (
            "domain",
            (
                "pydantic",
                "lastmile.contract",
                "lastmile.pipeline",
                "lastmile.worker",
                "lastmile.readmodel",
                "lastmile.api",
                "lastmile.review",
                "lastmile.cli",
                "lastmile.commands",
                "faust",
                "redis",
                "aiokafka",
                "prometheus_client",
                "os",
                "time",
            ),
        ),
        # the pipeline: engine-agnostic (no Faust, Kafka, Redis, Prometheus, clock)
        ("pipeline", ("mode", "time", *ENGINE_AND_ENTRY_POINTS)),
        # the contract: the message definitions and their decoders, pure (no I/O, no engine)
        ("contract", ("pydantic", "lastmile.pipeline", *ENGINE_AND_ENTRY_POINTS)),
        # the read models: Redis and the core, never the engine or the entry points
        ("readmodel", ("faust", "aiokafka", "lastmile.worker", "lastmile.api", "lastmile.cli")),
        # reviews and the API: never the CLI's commands
        ("review", ("lastmile.cli", "lastmile.commands", "lastmile.worker")),
        ("api", ("lastmile.cli", "lastmile.commands", "lastmile.worker")),
        ("worker", ("lastmile.cli", "lastmile.commands", "lastmile.api", "lastmile.review")),
        # the carrier-feed router: Kafka and the shared io, nothing of the worker or the API
        (
            "router",
            (
                "faust",
                "redis",
                "lastmile.worker",
                "lastmile.api",
                "lastmile.review",
                "lastmile.cli",
            ),
        ),
    ],
)
def test_a_package_imports_only_inward(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(package, forbidden) == []


def test_only_the_read_model_package_spells_redis_keys() -> None:
    """Key families appear as string literals only in readmodel/keys.py."""
    families = (":vi:", ":roll:", ":parcel:", ":reached:", ":brands:", ":holds:", ":api:")
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = str(path.relative_to(PKG))
        if rel == "readmodel/keys.py":
            continue
        tree = ast.parse(path.read_text())
        docs = {  # docstrings may name keys; code may not spell them
            id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and any(f in node.value for f in families)
            ):
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert found == []
