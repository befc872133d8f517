"""The per-parcel rules of the rulebook (contract §5), one small function each.

A detector takes a ParcelContext and returns at most one Finding: the parcel's first
offending instance by (event time, id), so the answer depends only on the set of events.
Rules apply to inbound parcels only (destination village in the network); the caller
checks that once. The cross-parcel bulk sign-off rule lives in ``bulk``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import NamedTuple

from lastmile.domain.events import ComplaintEvent, ScanEvent
from lastmile.domain.facts import Destination
from lastmile.domain.findings import Finding
from lastmile.domain.geo import approx_m, haversine_m
from lastmile.domain.network import Network, Village
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.domain.vocabulary import MOVEMENT_TYPES


class ParcelContext(NamedTuple):
    path: ParcelPath
    network: Network
    config: RuleConfig
    dest: Destination
    village: Village  # the destination village (inbound parcels only)
    delivered: tuple[ScanEvent, ...]


def _finding(
    vtype: str, rule: str, scan: ScanEvent, evidence: tuple[str, ...], **detail: object
) -> Finding:
    return Finding(
        vtype,
        rule,
        scan.parcel_id,
        scan.carrier,
        scan.courier_id,
        scan.occurred_at,
        evidence,
        dict(detail),
    )


def _complaint_finding(
    vtype: str, rule: str, ctx: ParcelContext, complaint: ComplaintEvent, need_delivered: bool
) -> Finding | None:
    """Complaint rules: blame the latest delivered scan's carrier, else the latest scan's."""
    blamed = (
        ctx.delivered[-1] if ctx.delivered else (ctx.path.scans[-1] if ctx.path.scans else None)
    )
    if blamed is None or (need_delivered and not ctx.delivered):
        return None
    evidence = (complaint.complaint_id, blamed.event_id)
    return Finding(
        vtype,
        rule,
        complaint.parcel_id,
        blamed.carrier,
        blamed.courier_id,
        complaint.filed_at,
        evidence,
        {"category": complaint.category},
    )


def _first_complaint(ctx: ParcelContext, category: str) -> ComplaintEvent | None:
    return next((c for c in ctx.path.complaints if c.category == category), None)


# --- wrong_address (不按址投递) ------------------------------------------------------


def left_at_town_or_county(ctx: ParcelContext) -> Finding | None:
    """wrong_address/left_at_town_or_county: delivered at a town- or county-tier node."""
    for d in ctx.delivered:
        tier = ctx.network.tier_of(d.node_id)
        if tier == "town" or tier == "county":
            return _finding(
                "wrong_address",
                "left_at_town_or_county",
                d,
                (d.event_id,),
                node_id=d.node_id,
                tier=tier,
            )
    return None


def wrong_village_point(ctx: ParcelContext) -> Finding | None:
    """wrong_address/wrong_village_point: delivered at a village point of another village."""
    points = ctx.village.points
    for d in ctx.delivered:
        node = ctx.network.node(d.node_id)
        if node is not None and node.tier == "village" and d.node_id not in points:
            return _finding(
                "wrong_address",
                "wrong_village_point",
                d,
                (d.event_id,),
                node_id=d.node_id,
                node_village=node.village,
                destination_village=ctx.village.code,
            )
    return None


def far_from_address(ctx: ParcelContext) -> Finding | None:
    """wrong_address/far_from_address: delivered > 1,000 m from the address and every point."""
    limit = ctx.config.far_from_address_m
    dest = ctx.dest
    for d in ctx.delivered:
        if d.lat is None or d.lon is None:
            continue
        to_address = None
        if dest.lat is not None and dest.lon is not None:
            to_address = haversine_m(d.lat, d.lon, dest.lat, dest.lon)
            if to_address <= limit:
                continue
        to_point = ctx.network.distance_to_village_m(d.lat, d.lon, ctx.village)
        if to_point > limit:
            detail: dict[str, object] = {"distance_to_nearest_point_m": round(to_point, 1)}
            if to_address is not None:
                detail["distance_to_address_m"] = round(to_address, 1)
            return Finding(
                "wrong_address",
                "far_from_address",
                d.parcel_id,
                d.carrier,
                d.courier_id,
                d.occurred_at,
                (d.event_id,),
                detail,
            )
    return None


def wrong_address_complaint(ctx: ParcelContext) -> Finding | None:
    """wrong_address/complaint: a not_delivered_to_address complaint on a delivered parcel."""
    c = _first_complaint(ctx, "not_delivered_to_address")
    return _complaint_finding("wrong_address", "complaint", ctx, c, True) if c else None


# --- false_signoff (虚假签收) -----------------------------------------------------------


def movement_after_signoff(ctx: ParcelContext) -> Finding | None:
    """false_signoff/movement_after_signoff: moved > 10 min after a sign-off, no return between."""
    if not ctx.delivered:
        return None
    gap = ctx.config.movement_after_signoff_s
    open_signoff: ScanEvent | None = None  # earliest sign-off not cancelled by a return
    for s in ctx.path.scans:
        t = s.type
        if t == "delivered":
            if open_signoff is None:
                open_signoff = s
        elif t == "returned":
            open_signoff = None
        elif open_signoff is not None and t in MOVEMENT_TYPES and s.ts - open_signoff.ts > gap:
            return _finding(
                "false_signoff",
                "movement_after_signoff",
                open_signoff,
                (open_signoff.event_id, s.event_id),
                movement_type=t,
                minutes_after=round((s.ts - open_signoff.ts) / 60, 1),
            )
    return None


def impossible_travel(ctx: ParcelContext) -> Finding | None:
    """false_signoff/impossible_travel: sign-off > 3 km and > 120 km/h from an earlier scan."""
    min_m = ctx.config.impossible_travel_min_m
    max_kmh = ctx.config.impossible_travel_kmh
    max_mps = max_kmh / 3.6
    located = [s for s in ctx.path.scans if s.lat is not None and s.lon is not None]
    for d in ctx.delivered:
        if d.lat is None or d.lon is None:
            continue
        for e in located:
            if e.ts >= d.ts:
                break
            # rule the pair out cheaply when even 2 % more distance would be near or slow
            quick = approx_m(e.lat, e.lon, d.lat, d.lon) * 1.02  # type: ignore[arg-type]
            if quick <= min_m or quick <= max_mps * (d.ts - e.ts):
                continue
            dist = haversine_m(e.lat, e.lon, d.lat, d.lon)  # type: ignore[arg-type]
            if dist <= min_m:
                continue
            kmh = (dist / 1000) / ((d.ts - e.ts) / 3600)
            if kmh > max_kmh:
                return _finding(
                    "false_signoff",
                    "impossible_travel",
                    d,
                    (e.event_id, d.event_id),
                    distance_m=round(dist, 1),
                    speed_kmh=round(kmh, 1),
                    minutes=round((d.ts - e.ts) / 60, 2),
                )
    return None


def false_signoff_complaint(ctx: ParcelContext) -> Finding | None:
    """false_signoff/complaint: a not_received complaint on a parcel that has a sign-off."""
    c = _first_complaint(ctx, "not_received")
    return _complaint_finding("false_signoff", "complaint", ctx, c, True) if c else None


# --- extra_fee (违规二次收费) ------------------------------------------------------------


def fee_charged(ctx: ParcelContext) -> Finding | None:
    """extra_fee/fee_charged: a fee collected as delivery_surcharge or other (COD is legitimate)."""
    for s in ctx.path.scans:
        if s.type == "fee_charged" and s.fee_reason != "cod_payment":
            return _finding(
                "extra_fee",
                "fee_charged",
                s,
                (s.event_id,),
                amount=s.fee_amount,
                reason=s.fee_reason,
            )
    return None


def extra_fee_complaint(ctx: ParcelContext) -> Finding | None:
    """extra_fee/complaint: an extra_fee complaint on an inbound parcel."""
    c = _first_complaint(ctx, "extra_fee")
    return _complaint_finding("extra_fee", "complaint", ctx, c, False) if c else None


PARCEL_DETECTORS: tuple[Callable[[ParcelContext], Finding | None], ...] = (
    left_at_town_or_county,
    wrong_village_point,
    far_from_address,
    wrong_address_complaint,
    movement_after_signoff,
    impossible_travel,
    false_signoff_complaint,
    fee_charged,
    extra_fee_complaint,
)


# The same rules grouped by what they need, so a parcel skips the rules it cannot break.
_NEED_SIGNOFF = (
    left_at_town_or_county,
    wrong_village_point,
    far_from_address,
    movement_after_signoff,
    impossible_travel,
)
_NEED_COMPLAINT = (wrong_address_complaint, false_signoff_complaint, extra_fee_complaint)
assert set(PARCEL_DETECTORS) == {*_NEED_SIGNOFF, *_NEED_COMPLAINT, fee_charged}


_type = attrgetter("type")
_TRIGGERS = frozenset({"delivered", "fee_charged"})


def can_break_a_rule(path: ParcelPath) -> bool:
    """Every per-parcel rule needs a sign-off, a fee or a complaint (bulk needs a sign-off)."""
    return bool(path.complaints) or not _TRIGGERS.isdisjoint(map(_type, path.scans))


def detect_parcel(ctx: ParcelContext) -> list[Finding]:
    """Every per-parcel rule's finding for one inbound parcel."""
    found: list[Finding] = []
    groups: list[tuple[Callable[[ParcelContext], Finding | None], ...]] = []
    if ctx.delivered:
        groups.append(_NEED_SIGNOFF)
    if ctx.path.complaints:
        groups.append(_NEED_COMPLAINT)
    if "fee_charged" in map(_type, ctx.path.scans):
        groups.append((fee_charged,))
    for group in groups:
        for detector in group:
            f = detector(ctx)
            if f is not None:
                found.append(f)
    return found
