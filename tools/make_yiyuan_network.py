#!/usr/bin/env python3
"""Generate the Yiyuan County (沂源县) sample network file, deterministically.

    python tools/make_yiyuan_network.py [OUT]   # default services/lastmile/data/yiyuan.network.json

Stdlib only. The county, its 12 town-level units, the county seat's position and the
number of villages of 南鲁山镇 come from public sources (see docs/sample-network.md).
Town coordinates are approximate; villages, their names, positions and service points
are SAMPLE data generated here with a fixed seed: they are not the real villages.
Running the script twice gives byte-identical output.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

SEED = 370323
EARTH_RADIUS_M = 6_371_008.8

COUNTY = {"code": "370323", "name": "沂源县"}
COUNTY_SEAT = (36.18, 118.17)  # 南麻, the county seat
COUNTY_NODE = {
    "id": "YY-C-1",
    "tier": "county",
    "name": "沂源县快递共同配送中心",
    "lat": 36.172,
    "lon": 118.158,
}

# (code suffix, name, node abbreviation, approx lat, lon, villages, spread radius km)
# Approximate centres of each town's public service centre; only the seat (36.18 N,
# 118.17 E) and 南鲁山镇 (NW, ~10.5 km from the seat) are taken from sources.
TOWNS = [
    ("001", "南麻街道", "NM", 36.188, 118.150, 24, 8.0),
    ("002", "历山街道", "LS", 36.212, 118.196, 22, 8.0),
    ("100", "南鲁山镇", "NLS", 36.247, 118.090, 40, 11.0),
    ("101", "鲁村镇", "LC", 36.158, 117.985, 38, 11.0),
    ("102", "大张庄镇", "DZZ", 36.318, 118.020, 34, 11.0),
    ("103", "燕崖镇", "YY", 36.318, 118.185, 30, 10.0),
    ("104", "中庄镇", "ZZ", 36.262, 118.318, 32, 10.0),
    ("105", "西里镇", "XL", 36.060, 118.040, 28, 10.0),
    ("106", "东里镇", "DL", 36.058, 118.300, 36, 11.0),
    ("107", "张家坡镇", "ZJP", 36.040, 118.168, 30, 10.0),
    ("108", "石桥镇", "SQ", 36.152, 118.352, 28, 10.0),
    ("109", "悦庄镇", "YZ", 36.130, 118.240, 30, 9.0),
]

REMOTE_SHARE = 0.15
SECOND_POINT_SHARE = 0.3
MIN_SPACING_M = 1300.0  # between points of different villages


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def offset(lat: float, lon: float, dist_m: float, bearing_rad: float) -> tuple[float, float]:
    """A point dist_m away from (lat, lon) on a bearing (flat approximation, fine at km scale)."""
    dlat = dist_m * math.cos(bearing_rad) / 111_195.0
    dlon = dist_m * math.sin(bearing_rad) / (111_195.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def build() -> dict:
    rng = random.Random(SEED)
    towns, villages, nodes = [], [], [dict(COUNTY_NODE)]
    placed: list[tuple[float, float]] = []  # every village point placed so far

    def clear_of_others(lat: float, lon: float, spacing: float) -> bool:
        return all(haversine_m(lat, lon, a, b) >= spacing for a, b in placed)

    for suffix, name, abbr, tlat, tlon, n_villages, radius_km in TOWNS:
        code = COUNTY["code"] + suffix
        center_id = f"YY-T-{abbr}"
        towns.append({"code": code, "name": name, "center_node": center_id})
        nodes.append(
            {
                "id": center_id,
                "tier": "town",
                "town": code,
                "name": f"{name}快递公共服务中心",
                "lat": tlat,
                "lon": tlon,
            }
        )
        town_villages = []
        for i in range(n_villages):
            vcode = f"{code}{201 + i:03d}"
            spacing = MIN_SPACING_M
            for attempt in range(4000):
                if attempt and attempt % 1000 == 0:
                    spacing -= 50.0  # relax a little if the area is crowded
                dist = 1500.0 + (radius_km * 1000.0 - 1500.0) * math.sqrt(rng.random())
                vlat, vlon = offset(tlat, tlon, dist, rng.uniform(0, 2 * math.pi))
                if not clear_of_others(vlat, vlon, spacing):
                    continue
                p1 = offset(vlat, vlon, rng.uniform(20, 150), rng.uniform(0, 2 * math.pi))
                pts = [p1]
                if rng.random() < SECOND_POINT_SHARE:
                    pts.append(
                        offset(vlat, vlon, rng.uniform(200, 400), rng.uniform(0, 2 * math.pi))
                    )
                if all(clear_of_others(a, b, spacing) for a, b in pts):
                    break
            else:  # pragma: no cover - the parameters above always succeed
                raise SystemExit(f"cannot place village {vcode}")
            placed.extend(pts)
            point_ids = []
            for k, (plat, plon) in enumerate(pts):
                pid = f"YY-V-{suffix}{201 + i:03d}" + ("" if k == 0 else "B")
                point_ids.append(pid)
                vname = f"{name}样例村{i + 1:02d}"
                nodes.append(
                    {
                        "id": pid,
                        "tier": "village",
                        "village": vcode,
                        "name": f"{vname}快递服务网点"
                        if k == 0
                        else f"{vname}电商服务站(快商合作)",
                        "lat": plat,
                        "lon": plon,
                    }
                )
            town_villages.append(
                {
                    "code": vcode,
                    "name": f"{name}样例村{i + 1:02d}",
                    "town": code,
                    "lat": vlat,
                    "lon": vlon,
                    "remote": False,
                    "points": point_ids,
                    "sample": True,
                    "_dist": haversine_m(tlat, tlon, vlat, vlon),
                }
            )
        # the outlying ~15 % (farthest from the town centre) are remote (偏远)
        n_remote = round(len(town_villages) * REMOTE_SHARE)
        for v in sorted(town_villages, key=lambda v: -v["_dist"])[:n_remote]:
            v["remote"] = True
        for v in town_villages:
            del v["_dist"]
        villages.extend(town_villages)

    return {
        "version": 1,
        "county": dict(COUNTY),
        "sample": True,
        "note": (
            "Sample network for Yiyuan County generated by tools/make_yiyuan_network.py: "
            "county, towns and the seat position from public sources; town coordinates "
            "approximate; villages, their names, positions and points are sample data."
        ),
        "towns": towns,
        "villages": villages,
        "nodes": nodes,
    }


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    out = Path(argv[1]) if len(argv) > 1 else root / "services/lastmile/data/yiyuan.network.json"
    doc = build()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: {len(doc['towns'])} towns, {len(doc['villages'])} villages, "
        f"{len(doc['nodes'])} nodes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
