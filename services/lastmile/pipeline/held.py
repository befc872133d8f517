"""Judging held findings once their hold is over, on the parcel's path as it is then."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from lastmile.domain.engine import analyse_parcel
from lastmile.domain.findings import is_held
from lastmile.domain.network import Network
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.records import Candidate, HoldKey


def judge_held(
    due: Iterable[HoldKey],
    stored: Callable[[str, int], ParcelPath | None],
    network: Network,
    config: RuleConfig,
    topic: str,
) -> tuple[list[Candidate], list[HoldKey]]:
    """The late-sensitive findings the due parcels still have (a late event may have
    cancelled some), and the holds judged. A parcel whose path is not readable here (its
    table still recovering after a restart) is not judged: its hold stays."""
    out: list[Candidate] = []
    judged: list[HoldKey] = []
    for key in due:
        path = stored(key.parcel_id, key.partition)
        if path is None:
            continue
        judged.append(key)
        a = analyse_parcel(path, network, config)
        source = f"{topic}:{key.partition}"
        out.extend(
            Candidate(f, a.dest, a.contract_carrier or f.carrier, source)
            for f in a.findings
            if is_held(f)
        )
    return out, judged
