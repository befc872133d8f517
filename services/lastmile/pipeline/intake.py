"""Decoding a batch of raw input messages: events for the steps, dead letters for the rest."""

from __future__ import annotations

from collections.abc import Iterable

from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import Located
from lastmile.pipeline.records import COMPLAINTS, DeadLetter, RawMessage

_new = tuple.__new__  # a NamedTuple's own __new__ costs a Python call per record


def decode_batch(messages: Iterable[RawMessage], fx: Effects) -> list[Located]:
    """Valid events, in input order; each invalid message becomes a dead letter in ``fx``."""
    out: list[Located] = []
    append = out.append
    events = fx.metrics.events
    for m in messages:
        events[m.topic] += 1
        decode = decode_complaint if m.kind == COMPLAINTS else decode_scan
        raw = m.value if m.value is not None else b""
        try:
            append(_new(Located, (decode(raw), m.topic, m.partition)))
        except InvalidMessage as exc:
            origin = f"{m.topic}:{m.partition}:{m.offset}"
            fx.dead_letters.append(DeadLetter(m.kind, m.key, raw, exc.reason, exc.detail, origin))
            fx.metrics.invalid[(m.topic, exc.reason)] += 1
    return out
