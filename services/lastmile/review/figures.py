"""From a collection to the review's figures: one row per town, per carrier, and totals.

Pure. The JSON report is exactly the dict ``build_review`` returns; the HTML, Markdown and
CSV renderers only lay it out, so every format shows the same numbers.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from statistics import median
from typing import Any

from lastmile.domain.indicators import quantile
from lastmile.domain.network import Network
from lastmile.domain.rules import RULES, RuleConfig
from lastmile.domain.vocabulary import COMPLAINT_CATEGORIES
from lastmile.review.collected import TYPES, UNKNOWN, Collected, ViolationRef
from lastmile.review.period import CHINA
from lastmile.review.produce import produce_sections
from lastmile.review.ranking import BRAND_TARGET, METHOD, rank_towns

FORMAT = "lastmile.review.v2"  # v2: notes and the ranking method in both editions
WORST_N = 10
WORST_PER_TOWN = 3

# figures compared with the previous period (key in a row -> better when "up" or "down")
CHANGE_KEYS = {
    "parcels": None,
    "deliveries": None,
    "on_time_rate": "up",
    "end_to_end_median_h": "down",
    "violations_total": "down",
    "violations_per_10k_deliveries": "down",
    "complaints_per_million_parcels": "down",
    "coverage": "up",
    "brand_count": "up",
}


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


def pseudonym(courier_id: str, salt: str = "") -> str:
    """A stable pseudonymous courier id: the firm can map it back, readers cannot."""
    digest = hashlib.blake2b(courier_id.encode(), key=salt.encode()[:64], digest_size=5).hexdigest()
    return f"K-{digest}"


def _known_sum(items: Iterable[tuple[str | None, int]], carrier: str | None) -> int | None:
    """Sum of counts keyed by carrier; None when a carrier filter meets an unknown carrier."""
    total = 0
    for c, n in items:
        if carrier is not None and c is None:
            return None
        total += n
    return total


def _per(n: int, base: int | None, scale: float) -> float | None:
    return round(n / base * scale, 1) if base else None


def core_row(c: Collected, config: RuleConfig, carrier: str | None = None) -> dict[str, Any]:
    """Figures every slice has: parcels, deliveries, time, violations, complaints."""
    parcels = _known_sum(((k[1], n) for k, n in c.parcels.items()), carrier)
    deliveries = sum(c.deliveries.values())
    remote = sum(n for k, n in c.deliveries.items() if k[2])
    hours = [h for v in c.e2e.values() for h in v]
    on_time = sum(1 for h in hours if h <= config.on_time_hours)
    by_type = Counter({t: 0 for t in TYPES})
    by_rule: Counter[str] = Counter()
    for (_, _, vtype, rule), n in c.violations.items():
        by_type[vtype] += n
        by_rule[f"{vtype}/{rule}"] += n
    v_total = sum(by_type.values())
    complaints = _known_sum(((k[1], n) for k, n in c.complaints.items()), carrier)
    by_cat = Counter({k: 0 for k in COMPLAINT_CATEGORIES})
    for (_, _, cat), n in c.complaints.items():
        by_cat[cat] += n
    return {
        "parcels": parcels,
        "deliveries": deliveries,
        "deliveries_remote": remote,
        "end_to_end_measured": len(hours),
        "on_time_72h": on_time,
        "on_time_rate": round(on_time / len(hours), 4) if hours else None,
        "end_to_end_median_h": _r(quantile(hours, 0.5)),
        "end_to_end_p90_h": _r(quantile(hours, 0.9)),
        "violations": dict(by_type),
        "violations_total": v_total,
        "violations_by_rule": {k: by_rule[k] for k in RULES if by_rule[k]},
        "violations_per_10k_deliveries": _per(v_total, deliveries, 1e4),
        "violations_per_10k_by_type": {t: _per(by_type[t], deliveries, 1e4) for t in TYPES},
        "complaints": dict(by_cat) if complaints is not None else None,
        "complaints_total": complaints,
        "complaints_per_million_parcels": (
            _per(complaints, parcels, 1e6)
            if complaints is not None and parcels is not None
            else None
        ),
    }


def dwell_table(c: Collected) -> dict[str, Any] | None:
    if c.dwell is None:
        return None
    by_tier: dict[str, list[float]] = defaultdict(list)
    for (tier, _), hours in c.dwell.items():
        by_tier[tier].extend(hours)
    return {
        tier: {"hops": len(v), "median_h": _r(quantile(v, 0.5)), "p90_h": _r(quantile(v, 0.9))}
        for tier, v in sorted(by_tier.items())
    }


def stuck_table(c: Collected) -> dict[str, int] | None:
    if c.stuck is None:
        return None
    out: Counter[str] = Counter()
    for (tier, _), n in c.stuck.items():
        out[tier] += n
    return dict(sorted(out.items()))


def worst_villages(refs: list[ViolationRef], network: Network, n: int) -> list[dict[str, Any]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in refs:
        if r.village is not None:
            counts[r.village][r.type] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:n]
    out = []
    for code, by_type in ranked:
        v = network.village(code)
        out.append(
            {
                "code": code,
                "name": v.name if v else code,
                "town": v.town if v else UNKNOWN,
                "violations_total": sum(by_type.values()),
                "violations": {t: by_type[t] for t in TYPES},
            }
        )
    return out


def worst_couriers(refs: list[ViolationRef], salt: str, n: int) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in refs:
        if r.courier_id is not None:
            counts[(r.carrier, r.courier_id)][r.type] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:n]
    return [
        {
            "courier": pseudonym(courier, salt),
            "carrier": carrier,
            "violations_total": sum(by_type.values()),
            "violations": {t: by_type[t] for t in TYPES},
        }
        for (carrier, courier), by_type in ranked
    ]


def town_row(
    c: Collected, network: Network, config: RuleConfig, code: str, carrier: str | None
) -> dict[str, Any]:
    town = network.towns.get(code)
    s = c.restrict(town=code, carrier=carrier)
    row: dict[str, Any] = {"code": code, "name": town.name if town else "（未知乡镇）unknown town"}
    row.update(core_row(s, config, carrier))
    if town is not None:
        villages = network.villages_of(code)
        reached = c.reached.get(code, set()) & set(villages)
        undetermined = (c.undetermined.get(code, set()) & set(villages)) - reached
        brands = sorted(c.brands.get(code, set()))
        row.update(
            {
                "villages": len(villages),
                "villages_reached": len(reached),
                "villages_undetermined": len(undetermined),
                "coverage": round(len(reached) / len(villages), 4) if villages else None,
                "villages_not_reached": [
                    {"code": v, "name": network.villages[v].name}
                    for v in villages
                    if v not in reached and v not in undetermined
                ],
                "brands": brands,
                "brand_count": len(brands),
                "brand_fusion_met": len(brands) >= BRAND_TARGET,
            }
        )
    row["dwell_hours"] = dwell_table(s)
    row["stuck_over_48h"] = stuck_table(s)
    row["worst_villages"] = worst_villages(s.refs, network, WORST_PER_TOWN)
    return row


def carrier_row(c: Collected, config: RuleConfig, code: str) -> dict[str, Any]:
    row: dict[str, Any] = {"code": code}
    row.update(core_row(c.restrict(carrier=code), config, code))
    return row


def _carriers(c: Collected) -> list[str]:
    found = {k[1] for k in c.deliveries} | {k[1] for k in c.violations} | {k[1] for k in c.e2e}
    found |= {k[1] for k in c.parcels if k[1] is not None}
    return sorted(found)


def _town_codes(c: Collected, network: Network) -> list[str]:
    codes = list(network.towns)
    has_unknown = any(
        k[0] == UNKNOWN for k in (*c.parcels, *c.deliveries, *c.violations, *c.complaints)
    )
    return [*codes, UNKNOWN] if has_unknown else codes


def _change(cur: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
    out = {}
    for key, better in CHANGE_KEYS.items():
        if key not in cur:
            continue
        a = cur.get(key)
        b = prev.get(key) if prev else None
        delta = None if a is None or b is None else round(a - b, 4)
        out[key] = {"previous": b, "change": delta, "better": better}
    return out


MEDIAN_KEYS = (
    "coverage",
    "on_time_rate",
    "end_to_end_median_h",
    "violations_per_10k_deliveries",
    "complaints_per_million_parcels",
    "brand_count",
)


def county_medians(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over the county's towns of each figure a single-town report compares.

    Towns without the figure (no deliveries, not available) are left out; None when none has it.
    """

    def mid(values: Iterable[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return _r(median(known), 4) if known else None

    out: dict[str, Any] = {k: mid(r.get(k) for r in rows) for k in MEDIAN_KEYS}
    out["violations_per_10k_by_type"] = {
        t: mid(r["violations_per_10k_by_type"][t] for r in rows) for t in TYPES
    }
    out["towns"] = len(rows)
    return out


def build_review(
    cur: Collected,
    prev: Collected | None,
    network: Network,
    config: RuleConfig,
    *,
    town: str | None = None,
    carrier: str | None = None,
    salt: str = "",
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The whole review as one JSON-ready dict."""
    if town is not None and town not in network.towns and town != UNKNOWN:
        raise ValueError(f"town {town!r} is not in the network of {network.county_name}")
    scope = cur.restrict(town=town, carrier=carrier)
    prev_scope = prev.restrict(town=town, carrier=carrier) if prev is not None else None
    codes = [t for t in _town_codes(cur, network) if town is None or t == town]
    towns = [town_row(scope, network, config, t, carrier) for t in codes]
    prev_towns = (
        {t: town_row(prev_scope, network, config, t, carrier) for t in codes}
        if prev_scope is not None and not prev_scope.empty
        else {}
    )
    for row in towns:
        row["change"] = _change(row, prev_towns.get(row["code"]))
    carriers = [
        carrier_row(scope, config, k) for k in _carriers(scope) if carrier is None or k == carrier
    ]
    prev_carriers = (
        {k: carrier_row(prev_scope, config, k) for k in _carriers(prev_scope)}
        if prev_scope is not None and not prev_scope.empty
        else {}
    )
    for row in carriers:
        row["change"] = _change(row, prev_carriers.get(row["code"]))
    totals = core_row(scope, config, carrier)
    prev_totals = (
        core_row(prev_scope, config, carrier) if prev_scope and not prev_scope.empty else None
    )
    totals["change"] = _change(totals, prev_totals)
    medians: dict[str, Any] | None = None
    if town is None:
        ranking = rank_towns([r for r in towns if r["code"] in network.towns], totals)
    else:  # a town's report shows its place among all the county's towns
        county = cur.restrict(carrier=carrier)
        all_rows = [town_row(county, network, config, t, carrier) for t in network.towns]
        ranking = rank_towns(all_rows, core_row(county, config, carrier))
        medians = county_medians(all_rows)
        placed = {r["code"]: r for r in all_rows}
        for row in towns:
            if row["code"] in placed:
                row["score"], row["rank"] = (
                    placed[row["code"]]["score"],
                    placed[row["code"]]["rank"],
                )
    notes = list(scope.notes)  # a first period is told by previous_period.available
    return {
        "format": FORMAT,
        "county": {"code": network.county_code, "name": network.county_name},
        "period": {
            "from": cur.period.start.isoformat(),
            "to": cur.period.end.isoformat(),
            "days": cur.period.days,
        },
        "previous_period": {
            "from": cur.period.previous().start.isoformat(),
            "to": cur.period.previous().end.isoformat(),
            "available": bool(prev_scope is not None and not prev_scope.empty),
        },
        "source": cur.source,
        "filters": {"town": town, "carrier": carrier},
        "generated_at": (generated_at or datetime.now(CHINA))
        .astimezone(CHINA)
        .isoformat(timespec="seconds"),
        "thresholds": {
            "on_time_hours": config.on_time_hours,
            "stuck_hours": config.stuck_hours,
            "coverage_days": config.coverage_days,
            "brand_target": BRAND_TARGET,
        },
        "totals": totals,
        "dwell_hours": dwell_table(scope),
        "stuck_over_48h": stuck_table(scope),
        "towns": towns,
        "carriers": carriers,
        "worst_villages": worst_villages(scope.refs, network, WORST_N),
        "worst_couriers": worst_couriers(scope.refs, salt, WORST_N),
        "ranking": {"method": METHOD.both(), "towns": ranking},
        "county_medians": medians,
        **(
            produce_sections(cur.produce, network, config, cur.period.end_ts, town, carrier)
            if cur.produce is not None
            else {}
        ),
        "notes": notes,
    }
