"""The traffic model: parcels, their scans, complaints and the violations injected on purpose.

Deterministic for a seed (one ``random.Random``; no clock, no global random, no set
iteration). Works on any network file. Every injected violation is recorded in the
ground truth; every other case is built to stay well clear of the rulebook's thresholds
(see docs/simulator.md), so that the truth equals what the rulebook says about the
generated set of events.

Times are handled as integer epoch seconds of the *scanning device* (true time plus the
device's clock skew); every gap between two scans made by different devices is much
larger than the largest skew, so skew never reorders a parcel's story.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson

from lastmile.domain.findings import violation_id
from lastmile.domain.geo import haversine_m
from lastmile.domain.network import Network, Node, Village
from lastmile.simulator.faults import SKEW_DAYS, DataFaults
from lastmile.simulator.rates import InjectionRates

TZ = timezone(timedelta(hours=8))
DEFAULT_START = date(2024, 6, 3)
HOUR = 3600
MIN = 60

CARRIER_SHARES: tuple[tuple[str, float], ...] = (
    ("ZTO", 0.20),
    ("YTO", 0.15),
    ("YUNDA", 0.15),
    ("JT", 0.12),
    ("EMS", 0.12),
    ("STO", 0.10),
    ("SF", 0.08),
    ("JD", 0.08),
)
WAYBILL_PREFIX = {
    "ZTO": "75",
    "YTO": "YT",
    "YUNDA": "43",
    "JT": "JT",
    "EMS": "11",
    "STO": "77",
    "SF": "SF",
    "JD": "JDV",
}
SIGNOFF_WEIGHTS = (("recipient", 0.45), ("proxy", 0.15), ("locker", 0.10), ("station", 0.30))

# Safety margins (the rulebook's defaults in brackets)
MAX_SKEW_S = 180  # device clock skew; every cross-device gap is >= 10 min
COURIER_GAP_S = 20  # an ordinary courier's sign-offs are >= 20 s apart [10 in 60 s]
NEAR_MAX_M = 700.0  # "near" a destination when <= 700 m [1,000 m]
FAR_MIN_M = 1300.0  # "far" when >= 1,300 m; in between the scan carries no location
INJECT_FAR_M = 2000.0  # injected far_from_address: >= 2 km
INJECT_TRAVEL_MIN_M = 7000.0  # injected impossible travel: >= 7 km [3 km] ...
INJECT_TRAVEL_KMH = (250.0, 700.0)  # ... at 250-700 km/h [120 km/h]
SAFE_TRAVEL_KMH = (50.0, 100.0)  # hard negative: fast but possible
BURST_SIZE = (12, 20)  # injected bulk bursts: 12-20 sign-offs [10] ...
BURST_SPAN_S = 40  # ... within <= 40 s [60 s], over >= 3 villages [3]

# scenario names (one per parcel at most)
S_LEFT = "left_at_town_or_county"
S_WRONG_POINT = "wrong_village_point"
S_FAR = "far_from_address"
S_MOVE = "movement_after_signoff"
S_TRAVEL = "impossible_travel"
S_BULK = "bulk_signoff"
S_FEE = "fee_charged"
S_C_ADDR = "wrong_address_complaint"
S_C_RECV = "false_signoff_complaint"
S_C_FEE = "extra_fee_complaint"
HN_KEEPER_BURST = "keeper_burst"
HN_FAST_OK = "fast_possible_travel"
HN_FAST_SHORT = "fast_short_hop"

TRUTH_KEY = {
    S_LEFT: ("wrong_address", "left_at_town_or_county"),
    S_WRONG_POINT: ("wrong_address", "wrong_village_point"),
    S_FAR: ("wrong_address", "far_from_address"),
    S_C_ADDR: ("wrong_address", "complaint"),
    S_MOVE: ("false_signoff", "movement_after_signoff"),
    S_TRAVEL: ("false_signoff", "impossible_travel"),
    S_BULK: ("false_signoff", "bulk_signoff"),
    S_C_RECV: ("false_signoff", "complaint"),
    S_FEE: ("extra_fee", "fee_charged"),
    S_C_FEE: ("extra_fee", "complaint"),
}

Loc = tuple[float, float, float]  # lat, lon, accuracy_m


@dataclass
class Parcel:
    pid: str
    carrier: str
    day: int
    kind: str  # "in", "out" or "foreign" (destination village not in the network)
    village: Village | None
    town: str | None
    addr: tuple[float, float] | None  # geocoded address point (in destination)
    house: tuple[float, float] | None  # where the recipient lives (door deliveries)
    point: Node | None  # the village point the parcel goes to
    method: str = "recipient"
    fate: str = "delivered"
    handover: bool = False
    cod: bool = False
    scenario: str | None = None
    dcarrier: str = ""  # the carrier that delivers (EMS after a handover)
    scans: list[list[Any]] = field(default_factory=list)
    ready: int = 0  # device time the parcel is ready for its sign-off (bursts)
    delivered_ts: int | None = None
    goods: dict[str, Any] | None = None  # outbound: the collected scan's goods block
    perishable: bool = False
    stall: str | None = None  # injected: "now" (still waiting at the end) or "once"


@dataclass
class Generated:
    """Everything simulate() produced before it is laid out as lines."""

    scans: list[bytes]  # distinct scan events (JSON), in generation order
    scan_types: list[str]
    complaints: list[bytes]
    truth: list[dict[str, str]]
    parcels: dict[str, int]
    hard_negatives: dict[str, int]
    truth_towns: dict[str, str]  # violation_id -> town code
    scan_ts: list[int]  # device time of each scan (for the arrival order)
    complaint_ts: list[int]
    start: date
    fault_truth: dict[str, Any] = field(default_factory=dict)


class _World:
    """Derived, read-only views of the network used by the generator."""

    def __init__(self, net: Network, parcels_per_day: int, rng: random.Random) -> None:
        self.net = net
        self.town_codes = [t for t in sorted(net.towns) if net.villages_of(t)]
        if not self.town_codes:
            raise ValueError("the network has no town with villages: nothing to deliver to")
        counties = sorted((n for n in net.nodes.values() if n.tier == "county"), key=lambda n: n.id)
        self.center: dict[str, Node] = {}
        self.county_of: dict[str, Node] = {}
        for t in self.town_codes:
            c = net.nodes[net.towns[t].center_node]
            self.center[t] = c
            self.county_of[t] = min(counties, key=lambda k: haversine_m(k.lat, k.lon, c.lat, c.lon))
        self.villages: list[Village] = []
        weights: list[float] = []
        for t in self.town_codes:
            for code in sorted(net.villages_of(t)):
                v = net.villages[code]
                self.villages.append(v)
                weights.append(0.6 if v.remote else 1.0)
        total = sum(weights)
        acc = 0.0
        self.cum_weights = []
        for w in weights:
            acc += w
            self.cum_weights.append(acc / total)
        self.points: dict[str, list[Node]] = {
            v.code: [net.nodes[p] for p in v.points] for v in self.villages
        }
        self.all_points: list[Node] = sorted(
            (n for n in net.nodes.values() if n.tier == "village" and n.village in self.points),
            key=lambda n: n.id,
        )
        # keepers: one per point; a few neighbouring villages share one keeper (2 villages)
        self.keeper: dict[str, str] = {p.id: f"K-{p.id}" for p in self.all_points}
        for t in self.town_codes:
            codes = sorted(net.villages_of(t))
            for i in range(0, len(codes) - 1, 2):
                if rng.random() < 0.12:
                    a, b = codes[i], codes[i + 1]
                    shared = f"K-{self.points[a][0].id}"
                    for p in self.points[a] + self.points[b]:
                        self.keeper[p.id] = shared
        # delivery routes: enough couriers per carrier and town for ~60 sign-offs a day
        n_vill = len(self.villages)
        self.route_count: dict[tuple[str, str], int] = {}
        for t in self.town_codes:
            share_t = len(net.villages_of(t)) / n_vill
            for brand, share_c in CARRIER_SHARES:
                load = parcels_per_day * share_t * share_c
                self.route_count[(brand, t)] = max(1, min(12, math.ceil(load / 60)))
        self.village_index = {}
        for t in self.town_codes:
            for i, code in enumerate(sorted(net.villages_of(t))):
                self.village_index[code] = i
        self.foreign_code = self._unknown_code()

    def _unknown_code(self) -> str:
        base = self.net.county_code + "999999"
        n = 0
        code = base
        while code in self.net.villages:
            n += 1
            code = f"{base}{n}"
        return code

    def route_courier(self, carrier: str, village: Village) -> str:
        r = self.village_index[village.code] % self.route_count[(carrier, village.town)]
        return f"{carrier}-{village.town}-R{r + 1}"


def _offset(lat: float, lon: float, dist_m: float, bearing: float) -> tuple[float, float]:
    dlat = dist_m * math.cos(bearing) / 111_195.0
    dlon = dist_m * math.sin(bearing) / (111_195.0 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


class _Gen:
    def __init__(
        self,
        net: Network,
        days: int,
        parcels_per_day: int,
        seed: int,
        start: date,
        rates: InjectionRates,
        progress: Callable[[str, int, int], None] | None,
        faults: DataFaults | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        # goods and data faults draw from their own generator: the rest of the traffic
        # stays what it was for a seed
        self.frng = random.Random(seed * 104_729 + 3)
        self.faults = faults or DataFaults()
        self.skew_rng = random.Random(seed * 7919 + 17)
        self.net = net
        self.days = days
        self.ppd = parcels_per_day
        self.seed = seed
        self.start = start
        self.rates = rates
        self.progress = progress
        self.w = _World(net, parcels_per_day, self.rng)
        self.base = int(datetime(start.year, start.month, start.day, tzinfo=TZ).timestamp())
        self.skews: dict[str, int] = {}
        self.slots: dict[str, list[int]] = {}
        self.parcels: list[Parcel] = []
        self.truth: dict[tuple[str, str, str], str] = {}  # (pid, type, rule) -> carrier
        self.hard: dict[str, int] = {}
        self.complaints: list[dict[str, Any]] = []
        self.complaint_ts: list[int] = []
        self.burst_n = 0
        self.silent = self.pick_silent_points(self.faults.silent_points)
        # villages whose every point is silent get no parcels
        self.silent_villages = {
            code for code, pts in self.w.points.items() if all(q.id in self.silent for q in pts)
        }

    def pick_silent_points(self, n: int) -> set[str]:
        """``n`` points, those of villages with another point first (the village is still
        served)."""
        if n <= 0:
            return set()
        pts = list(self.w.all_points)
        if n >= len(pts):
            raise ValueError(f"silent points: the network has only {len(pts)} village points")
        self.frng.shuffle(pts)
        pts.sort(key=lambda q: len(self.w.points[q.village or ""]) < 2)  # stable
        return {q.id for q in pts[:n]}

    # --- small helpers ------------------------------------------------------------

    def skew(self, device: str) -> int:
        s = self.skews.get(device)
        if s is None:
            r = self.skew_rng
            s = 0
            if r.random() < 0.10:
                s = r.randint(5, MAX_SKEW_S) * (1 if r.random() < 0.5 else -1)
            self.skews[device] = s
        return s

    def loc(self, lat: float, lon: float, force: bool = False) -> Loc | None:
        r = self.rng
        if not force and r.random() < 0.08:
            return None  # no GPS fix
        rnd = r.random
        acc = round(3.0 + 17.0 * rnd(), 1)
        dist = min(acc * 0.6 * rnd(), 25.0)  # a few metres of jitter, never more than 25 m
        bearing = 6.283185307179586 * rnd()
        dlat = dist * math.cos(bearing) / 111_195.0
        dlon = dist * math.sin(bearing) / (111_195.0 * math.cos(lat * 0.017453292519943295))
        return (round(lat + dlat, 6), round(lon + dlon, 6), acc)

    def alloc(self, courier: str, t: int, pinned: bool = False) -> int:
        """A sign-off time for an ordinary courier: >= 20 s from their other sign-offs."""
        lst = self.slots.setdefault(courier, [])
        if not pinned:
            while True:
                i = bisect_left(lst, t)
                if i > 0 and t - lst[i - 1] < COURIER_GAP_S:
                    t = lst[i - 1] + COURIER_GAP_S
                    continue
                if i < len(lst) and lst[i] - t < COURIER_GAP_S:
                    t = lst[i] + COURIER_GAP_S
                    continue
                break
        insort(lst, t)
        return t

    def daytime(self, t: int, lo_h: float = 7.0, hi_h: float = 18.5) -> int:
        """Move a true time to working hours (the next morning if too late)."""
        day0 = self.base + ((t - self.base) // 86400) * 86400
        h = (t - day0) / HOUR
        if h < lo_h:
            return day0 + int(lo_h * HOUR) + self.rng.randint(0, 2 * HOUR)
        if h > hi_h:
            return day0 + 86400 + int(lo_h * HOUR) + self.rng.randint(0, 2 * HOUR)
        return t

    def scan(
        self,
        p: Parcel,
        t_dev: int,
        stype: str,
        carrier: str,
        courier: str | None,
        node: Node | None,
        loc: Loc | None,
        **blocks: Any,
    ) -> list[Any]:
        s = [t_dev, stype, carrier, courier, node.id if node is not None else None, loc, blocks]
        p.scans.append(s)
        return s

    def at(
        self,
        p: Parcel,
        t_true: int,
        stype: str,
        carrier: str,
        courier: str,
        node: Node | None,
        loc: Loc | None,
        **blocks: Any,
    ) -> list[Any]:
        return self.scan(
            p, t_true + self.skew(courier), stype, carrier, courier, node, loc, **blocks
        )

    def near_or_far(self, p: Parcel, lat: float, lon: float) -> str:
        """How a delivered location relates to far_from_address: near, far or ambiguous."""
        assert p.village is not None
        d = self.net.distance_to_village_m(lat, lon, p.village)
        if p.addr is not None:
            d = min(d, haversine_m(lat, lon, p.addr[0], p.addr[1]))
        if d <= NEAR_MAX_M:
            return "near"
        if d >= FAR_MIN_M:
            return "far"
        return "ambiguous"

    def add_truth(self, p: Parcel, scenario: str, carrier: str) -> None:
        vtype, rule = TRUTH_KEY[scenario]
        self.truth.setdefault((p.pid, vtype, rule), carrier)

    def hn(self, name: str, n: int = 1) -> None:
        self.hard[name] = self.hard.get(name, 0) + n

    # --- planning -------------------------------------------------------------------

    def plan(self) -> None:
        r = self.rng
        w = self.w
        carriers = [c for c, _ in CARRIER_SHARES]
        cum, acc = [], 0.0
        for _, s in CARRIER_SHARES:
            acc += s
            cum.append(acc)
        used: set[str] = set()
        methods = [m for m, _ in SIGNOFF_WEIGHTS]
        mcum, acc = [], 0.0
        for _, s in SIGNOFF_WEIGHTS:
            acc += s
            mcum.append(acc)
        for day in range(self.days):
            for _ in range(self.ppd):
                carrier = carriers[min(bisect_left(cum, r.random() * cum[-1]), len(carriers) - 1)]
                while True:
                    pid = WAYBILL_PREFIX.get(carrier, carrier[:3]) + str(
                        r.randrange(10**11, 10**12)
                    )
                    if pid not in used:
                        used.add(pid)
                        break
                u = r.random()
                kind = "in" if u < 0.875 else ("out" if u < 0.997 else "foreign")
                v = w.villages[bisect_left(w.cum_weights, r.random())]
                while v.code in self.silent_villages:
                    v = w.villages[bisect_left(w.cum_weights, self.frng.random())]
                pts = w.points[v.code]
                if self.silent:
                    pts = [q for q in pts if q.id not in self.silent]
                base_pt = r.choice(pts)
                house = _offset(
                    base_pt.lat, base_pt.lon, r.uniform(50, 600), r.uniform(0, 2 * math.pi)
                )
                house = (round(house[0], 6), round(house[1], 6))
                addr = house if r.random() < 0.75 else None
                p = Parcel(pid, carrier, day, kind, v, v.town, addr, house, pts[0])
                if kind == "in":
                    p.method = methods[bisect_left(mcum, r.random() * mcum[-1])]
                    if p.method == "station" and len(pts) > 1 and r.random() < 0.5:
                        p.point = pts[1]  # the e-commerce station (快商合作)
                    if carrier != "EMS" and r.random() < (0.3 if v.remote else 0.1):
                        p.handover = True  # 邮快合作: EMS delivers from the town centre
                    f = r.random()
                    if f < 0.02:
                        p.fate = "refused"
                    elif f < 0.035:
                        p.fate = "delivered_returned"
                    elif f < 0.041:
                        p.fate = "stuck"  # > 48 h at the town centre, then delivered
                    elif f < 0.044:
                        p.fate = "held"  # still at the town centre at the end
                    elif f < 0.16:
                        p.fate = "slow"
                    p.cod = r.random() < 0.03
                elif kind == "out":
                    p.point = base_pt
                    self.goods(p)
                self.parcels.append(p)
        self.assign_scenarios()
        self.assign_stalls()

    def goods(self, p: Parcel) -> None:
        """The goods block of an outbound parcel (contract §7); 10 % send none."""
        f = self.frng
        u = f.random()
        if u < 0.10:
            return
        category = (
            "fresh_produce"  # apples, cherries, peaches, hawthorn
            if u < 0.72
            else "food"
            if u < 0.84
            else "general"
            if u < 0.94
            else "documents"
            if u < 0.97
            else "other"
        )
        goods: dict[str, Any] = {"category": category}
        perishable = category == "fresh_produce"
        if category == "fresh_produce" and f.random() < 0.1:
            goods["perishable"] = perishable = False  # dried or chestnuts
        elif category == "food" and f.random() < 0.3:
            goods["perishable"] = perishable = True
        p.goods, p.perishable = goods, perishable

    def keep_points_active(self) -> None:
        """With silent points injected, every other point scans in the last two days.

        So that the silent points the monitor finds are exactly the injected ones at any
        volume: a point that only happened to see no scan in the last week would be silent
        too. A point whose newest scan is older gets one outbound parcel, collected there on
        the last day (generated after the others: the rest of the traffic is unchanged).
        """
        if not self.silent:
            return
        newest: dict[str, int] = {}
        skewed = self.faults.skewed_clock_carrier
        for p in self.parcels:
            if p.kind == "out" and p.carrier == skewed:
                continue  # dated years ahead (result()): no activity the monitor counts
            for t, _, _, _, node, *_ in p.scans:
                if node is not None and t > newest.get(node, -1):
                    newest[node] = t
        cutoff = self.base + (self.days - 2) * 86400
        used = {p.pid for p in self.parcels}
        f = self.frng
        carriers = [c for c, _ in CARRIER_SHARES if c != skewed]
        for pt in self.w.all_points:
            if pt.id in self.silent or newest.get(pt.id, -1) >= cutoff or pt.village is None:
                continue
            v = self.net.villages[pt.village]
            carrier = f.choice(carriers)
            pid = ""
            while not pid or pid in used:
                pid = WAYBILL_PREFIX.get(carrier, carrier[:3]) + str(f.randrange(10**11, 10**12))
            used.add(pid)
            p = Parcel(pid, carrier, self.days - 1, "out", v, v.town, None, None, pt)
            self.goods(p)
            self.parcels.append(p)
            self.outbound(p)
            self.hn("point_kept_active")

    def assign_stalls(self) -> None:
        """Injected stalled perishable parcels: half still waiting at the end, half once."""
        n = self.faults.stalled_perishable
        if n <= 0:
            return
        skewed = self.faults.skewed_clock_carrier
        cands = [
            p
            for p in self.parcels
            if p.kind == "out" and p.perishable and p.carrier != skewed and p.day <= self.days - 2
        ]
        self.frng.shuffle(cands)
        now_n = (n + 1) // 2
        for p in cands[:now_n]:
            p.stall = "now"
        once = [p for p in cands[now_n:] if p.day <= self.days - 3]
        for p in once[: n - now_n]:
            p.stall = "once"

    def assign_scenarios(self) -> None:
        r = self.rng
        rates = self.rates
        inbound = [p for p in self.parcels if p.kind == "in"]
        n_in = len(inbound)

        def count(rate: float) -> int:
            return max(1, round(rate * n_in)) if rate > 0 and n_in else 0

        def ordinary(p: Parcel) -> bool:
            return p.scenario is None and p.fate in ("delivered", "slow") and not p.cod

        # bursts first: bulk (injected) and keeper bursts (hard negatives)
        self.bursts: list[tuple[str, list[Parcel]]] = []
        by_day: dict[int, list[Parcel]] = {}
        for p in inbound:
            by_day.setdefault(p.day, []).append(p)
        bulk_left = count(rates.bulk_signoff)
        keeper_left = max(1, round(0.004 * n_in)) if n_in else 0
        pool: dict[tuple[str, str], list[Parcel]] = {}
        kpool: dict[str, list[Parcel]] = {}
        for day in range(self.days):
            for p in by_day.get(day, []):
                if not ordinary(p):
                    continue
                dc = "EMS" if p.handover else p.carrier
                pool.setdefault((p.town or "", dc), []).append(p)
                if p.method == "station":
                    kpool.setdefault(self.w.keeper[p.point.id], []).append(p)  # type: ignore[union-attr]
            days_left = self.days - day
            target = math.ceil(bulk_left / days_left) if bulk_left else 0
            keys = sorted(pool)
            r.shuffle(keys)
            for key in keys:
                if target <= 0:
                    break
                cands = [q for q in pool[key] if q.scenario is None]
                villages = sorted({q.village.code for q in cands})  # type: ignore[union-attr]
                if len(villages) < 3 or len(cands) < BURST_SIZE[0]:
                    continue
                size = min(len(cands), r.randint(*BURST_SIZE))
                by_v: dict[str, list[Parcel]] = {}
                for q in reversed(cands):  # newest first
                    by_v.setdefault(q.village.code, []).append(q)  # type: ignore[union-attr]
                order = sorted(by_v)
                r.shuffle(order)
                chosen: list[Parcel] = []
                while len(chosen) < size:
                    for code in order:
                        if by_v[code] and len(chosen) < size:
                            chosen.append(by_v[code].pop(0))
                for q in chosen:
                    q.scenario = S_BULK
                pool[key] = [q for q in pool[key] if q.scenario is None]
                self.bursts.append((S_BULK, chosen))
                target -= len(chosen)
                bulk_left -= len(chosen)
            # a station keeper signing 10-15 parcels of one (or two) villages in a minute
            ktarget = math.ceil(keeper_left / days_left) if keeper_left else 0
            kkeys = sorted(kpool)
            r.shuffle(kkeys)
            for keeper in kkeys:
                if ktarget <= 0:
                    break
                cands = [q for q in kpool[keeper] if q.scenario is None]
                if len(cands) < 10:
                    continue
                chosen = cands[-r.randint(10, min(15, len(cands))) :]
                for q in chosen:
                    q.scenario = HN_KEEPER_BURST
                kpool[keeper] = [q for q in kpool[keeper] if q.scenario is None]
                self.bursts.append((HN_KEEPER_BURST, chosen))
                ktarget -= len(chosen)
                keeper_left -= len(chosen)

        # the per-parcel scenarios, most demanding first
        def far_from_town(p: Parcel) -> bool:
            c = self.w.center[p.town]  # type: ignore[index]
            h = p.house  # the door
            return haversine_m(c.lat, c.lon, h[0], h[1]) >= INJECT_TRAVEL_MIN_M + 200  # type: ignore[index]

        def door(p: Parcel) -> bool:
            return p.method in ("recipient", "proxy")

        plan: list[tuple[str, int, Callable[[Parcel], bool]]] = [
            (S_TRAVEL, count(rates.impossible_travel), lambda p: far_from_town(p)),
            (HN_FAST_OK, max(1, round(0.002 * n_in)), lambda p: far_from_town(p)),
            (S_FEE, count(rates.fee_charged), lambda p: p.village.remote or r.random() < 0.2),  # type: ignore[union-attr]
            (S_LEFT, count(rates.left_at_town_or_county), lambda p: True),
            (S_WRONG_POINT, count(rates.wrong_village_point), lambda p: True),
            (S_FAR, count(rates.far_from_address), door),
            (S_MOVE, count(rates.movement_after_signoff), lambda p: True),
            (HN_FAST_SHORT, max(1, round(0.002 * n_in)), door),
            (S_C_ADDR, count(rates.wrong_address_complaint), lambda p: True),
            (S_C_RECV, count(rates.false_signoff_complaint), lambda p: True),
        ]
        shuffled = list(inbound)
        for name, n, ok in plan:
            if n <= 0:
                continue
            r.shuffle(shuffled)
            for p in shuffled:
                if n <= 0:
                    break
                if ordinary(p) and ok(p):
                    p.scenario = name
                    n -= 1
        # extra_fee complaints may hit any inbound parcel, delivered or not
        n = count(rates.extra_fee_complaint)
        r.shuffle(shuffled)
        for p in shuffled:
            if n <= 0:
                break
            if p.scenario is None and not p.cod:
                p.scenario = S_C_FEE
                n -= 1
        for p in inbound:
            if p.scenario in (S_LEFT, S_TRAVEL, HN_FAST_OK, S_WRONG_POINT):
                p.handover = False
            if p.scenario in (S_FAR, S_TRAVEL, HN_FAST_OK, HN_FAST_SHORT) or (
                p.scenario == S_FEE and p.method == "locker"
            ):
                p.method = "recipient"

    # --- timelines ------------------------------------------------------------------

    def generate(self) -> None:
        total = len(self.parcels)
        step = max(1, total // 200)
        for i, p in enumerate(self.parcels):
            if p.kind == "in":
                self.inbound(p)
            elif p.kind == "out":
                self.outbound(p)
            else:
                self.foreign(p)
            if self.progress is not None and i % step == 0:
                self.progress("parcels", i, total)
        self.keep_points_active()
        for kind, group in self.bursts:
            self.burst(kind, group)
        if self.progress is not None:
            self.progress("parcels", total, total)
        self.make_complaints()

    def county_arrival(self, p: Parcel) -> int:
        r = self.rng
        day0 = self.base + p.day * 86400
        if r.random() < 0.7:
            return day0 + r.randint(int(1.5 * HOUR), 7 * HOUR)
        return day0 + r.randint(12 * HOUR, 16 * HOUR)

    def destination(self, p: Parcel) -> dict[str, Any]:
        if p.kind == "out":
            return {"village": None}
        if p.kind == "foreign":
            return {"village": self.w.foreign_code}
        d: dict[str, Any] = {"village": p.village.code}  # type: ignore[union-attr]
        if p.addr is not None:
            d["lat"], d["lon"] = p.addr
        return d

    def inbound(self, p: Parcel) -> None:
        r = self.rng
        w = self.w
        v = p.village
        assert v is not None and p.town is not None and p.point is not None
        c, town = w.county_of[p.town], w.center[p.town]
        car = p.carrier
        c_op, t_op = f"{car}-{c.id}-OP", f"{car}-{town.id}-OP"
        dest = self.destination(p)
        t = self.county_arrival(p)
        self.at(p, t, "arrived", car, c_op, c, self.loc(c.lat, c.lon), destination=dest)
        if p.scenario == S_LEFT and r.random() < 0.25:  # left at the county centre
            t += r.randint(1 * HOUR, 4 * HOUR)
            self.deliver_at_facility(p, t, car, c_op, c)
            return
        t += r.randint(1 * HOUR, 4 * HOUR)
        self.at(p, t, "departed", car, c_op, c, self.loc(c.lat, c.lon))
        travel = haversine_m(c.lat, c.lon, town.lat, town.lon) / (40 / 3.6)
        t += int(travel) + r.randint(10 * MIN, 40 * MIN)
        t_arr = t
        blocks: dict[str, Any] = {"destination": dest} if r.random() < 0.5 else {}
        self.at(p, t, "arrived", car, t_op, town, self.loc(town.lat, town.lon), **blocks)
        if p.scenario == S_LEFT:
            t += r.randint(1 * HOUR, 8 * HOUR)
            self.deliver_at_facility(p, t, car, t_op, town)
            return
        dc = car
        if p.handover:
            t += r.randint(10 * MIN, 60 * MIN)
            self.at(
                p,
                t,
                "handover",
                car,
                t_op,
                town,
                self.loc(town.lat, town.lon),
                handover={"to_carrier": "EMS"},
            )
            dc = "EMS"
        p.dcarrier = dc
        dc_op = f"{dc}-{town.id}-OP"
        if r.random() < 0.01:
            t += r.randint(10 * MIN, 40 * MIN)
            self.at(p, t, "exception", dc, dc_op, town, self.loc(town.lat, town.lon))
        dwell = r.randint(3 * HOUR, 20 * HOUR)
        if p.fate == "slow":
            dwell += r.randint(24 * HOUR, 60 * HOUR)
        elif p.fate in ("stuck", "held"):
            dwell = r.randint(49 * HOUR, 80 * HOUR)
        if p.fate == "held":
            return
        t = self.daytime(max(t + 10 * MIN, t_arr + dwell), 6.5, 16.5)
        fast = p.scenario in (S_TRAVEL, HN_FAST_OK)
        dep = self.at(p, t, "departed", dc, dc_op, town, self.loc(town.lat, town.lon, force=fast))
        courier = w.route_courier(dc, v)
        if fast:
            self.fast_delivery(p, dep, dc, courier)
            return
        travel = haversine_m(town.lat, town.lon, p.point.lat, p.point.lon) / (30 / 3.6)
        t += int(travel) + r.randint(20 * MIN, 60 * MIN)
        if p.scenario == S_WRONG_POINT:
            self.wrong_point(p, t, dc, courier)
            return
        pt = p.point
        self.at(p, t, "arrived", dc, courier, pt, self.loc(pt.lat, pt.lon))
        if p.scenario in (S_BULK, HN_KEEPER_BURST):
            p.ready = t + self.skew(courier) + 20 * MIN + MAX_SKEW_S
            return
        self.last_mile(p, t, dc, courier)

    def last_mile(self, p: Parcel, t: int, dc: str, courier: str) -> None:
        """From the village point to the recipient: sign-off and what may follow."""
        r = self.rng
        pt = p.point
        assert pt is not None and p.house is not None
        if p.fate == "refused":  # refused at the door (or never picked up): sent back
            if p.method in ("recipient", "proxy"):
                t = self.daytime(t + r.randint(10 * MIN, 90 * MIN))
                self.at(p, t, "out_for_delivery", dc, courier, pt, self.loc(pt.lat, pt.lon))
                t += r.randint(15 * MIN, 180 * MIN)
                self.at(p, t, "returned", dc, courier, None, self.loc(p.house[0], p.house[1]))
            else:
                t += r.randint(48 * HOUR, 96 * HOUR)
                self.at(p, t, "returned", dc, courier, pt, self.loc(pt.lat, pt.lon))
            self.back_to_county(p, t, dc, courier)
            return
        if p.method in ("recipient", "proxy"):
            t = self.daytime(t + r.randint(10 * MIN, 90 * MIN))
            if p.scenario == HN_FAST_SHORT:
                # the courier scans out on the road 1.5-2.4 km from the door, signs 20-40 s
                # later: > 120 km/h but < 3 km (not impossible travel)
                while True:
                    la, lo = _offset(
                        p.house[0], p.house[1], r.uniform(1500, 2400), r.uniform(0, 2 * math.pi)
                    )
                    spot = self.loc(la, lo, force=True)
                    assert spot is not None
                    if haversine_m(spot[0], spot[1], p.house[0], p.house[1]) <= 2500:
                        break
                ofd = self.at(p, t, "out_for_delivery", dc, courier, None, spot)
                when = self.alloc(courier, ofd[0] + r.randint(20, 40))
                self.hn(HN_FAST_SHORT)
            else:
                self.at(p, t, "out_for_delivery", dc, courier, pt, self.loc(pt.lat, pt.lon))
                when = self.alloc(courier, t + r.randint(15 * MIN, 180 * MIN) + self.skew(courier))
            loc: Loc | None
            if p.scenario == S_FAR:
                loc = self.far_spot(p)
                self.add_truth(p, S_FAR, dc)
            else:
                loc = self.loc(p.house[0], p.house[1])
            d = self.scan(
                p, when, "delivered", dc, courier, None, loc, signoff={"method": p.method}
            )
            signer = courier
        elif p.method == "locker":
            when = self.alloc(courier, t + r.randint(10 * MIN, 60 * MIN) + self.skew(courier))
            d = self.scan(
                p,
                when,
                "delivered",
                dc,
                courier,
                pt,
                self.loc(pt.lat, pt.lon),
                signoff={"method": "locker"},
            )
            signer = courier
        else:  # station: the point's keeper signs
            signer = self.w.keeper[pt.id]
            d = self.at(
                p,
                t + r.randint(10 * MIN, 120 * MIN),
                "delivered",
                dc,
                signer,
                pt,
                self.loc(pt.lat, pt.lon),
                signoff={"method": "station"},
            )
            if p.method == "station":
                self.hn("station_signoff")
        self.after_signoff(p, d, dc, courier, signer)

    def after_signoff(self, p: Parcel, d: list[Any], dc: str, courier: str, signer: str) -> None:
        r = self.rng
        pt = p.point
        assert pt is not None
        p.delivered_ts = d[0]
        dloc = d[5]
        here = (dloc[0], dloc[1]) if dloc is not None else (pt.lat, pt.lon)
        if p.cod:
            self.scan(
                p,
                d[0] + r.randint(5, 90),
                "fee_charged",
                dc,
                signer,
                None,
                self.loc(*here),
                fee={"amount": round(r.uniform(20, 300), 2), "reason": "cod_payment"},
            )
            self.hn("cod_payment")
        if p.scenario == S_FEE:
            reason = "delivery_surcharge" if r.random() < 0.8 else "other"
            node = pt if d[4] is not None else None
            self.scan(
                p,
                d[0] + r.randint(10, 120),
                "fee_charged",
                dc,
                signer,
                node,
                self.loc(*here),
                fee={"amount": float(r.randint(1, 10)), "reason": reason},
            )
            self.add_truth(p, S_FEE, dc)
        if p.scenario == S_MOVE:
            # signed on paper first; the parcel moves again 1-20 h later
            t = d[0] + r.randint(1 * HOUR, 20 * HOUR)
            if r.random() < 0.5:
                self.scan(
                    p,
                    t + self.skew(courier) - self.skew(signer),
                    "out_for_delivery",
                    dc,
                    courier,
                    pt,
                    self.loc(pt.lat, pt.lon),
                )
                if r.random() < 0.7:
                    when = self.alloc(
                        courier,
                        t + self.skew(courier) - self.skew(signer) + r.randint(15 * MIN, 120 * MIN),
                    )
                    self.scan(
                        p,
                        when,
                        "delivered",
                        dc,
                        courier,
                        None,
                        self.loc(p.house[0], p.house[1]),  # type: ignore[index]
                        signoff={"method": "recipient"},
                    )
            else:
                self.scan(
                    p,
                    t + self.skew(courier) - self.skew(signer),
                    "arrived",
                    dc,
                    courier,
                    pt,
                    self.loc(pt.lat, pt.lon),
                )
            self.add_truth(p, S_MOVE, d[2])
        if p.fate == "delivered_returned":
            # refused after signing: returned, then legitimately moved back
            t = d[0] - self.skew(signer) + r.randint(2 * HOUR, 30 * HOUR)
            self.at(p, t, "returned", dc, courier, pt, self.loc(pt.lat, pt.lon))
            self.back_to_county(p, t, dc, courier)
            self.hn("delivered_then_returned_moves_again")

    def back_to_county(self, p: Parcel, t: int, dc: str, courier: str) -> None:
        r = self.rng
        pt, town = p.point, self.w.center[p.town]  # type: ignore[index]
        c = self.w.county_of[p.town]  # type: ignore[index]
        assert pt is not None
        t += r.randint(1 * HOUR, 5 * HOUR)
        self.at(p, t, "departed", dc, courier, pt, self.loc(pt.lat, pt.lon))
        t += int(haversine_m(pt.lat, pt.lon, town.lat, town.lon) / (30 / 3.6)) + r.randint(
            20 * MIN, 60 * MIN
        )
        op = f"{dc}-{town.id}-OP"
        self.at(p, t, "arrived", dc, op, town, self.loc(town.lat, town.lon))
        t += r.randint(1 * HOUR, 6 * HOUR)
        self.at(p, t, "departed", dc, op, town, self.loc(town.lat, town.lon))
        t += int(haversine_m(town.lat, town.lon, c.lat, c.lon) / (40 / 3.6)) + r.randint(
            20 * MIN, 60 * MIN
        )
        self.at(p, t, "arrived", dc, f"{dc}-{c.id}-OP", c, self.loc(c.lat, c.lon))

    def deliver_at_facility(self, p: Parcel, t: int, car: str, op: str, node: Node) -> None:
        """wrong_address/left_at_town_or_county: signed at the town or county centre."""
        p.dcarrier = car
        verdict = self.near_or_far(p, node.lat, node.lon)
        loc = self.loc(node.lat, node.lon) if verdict != "ambiguous" else None
        if loc is not None and verdict == "far":
            self.add_truth(p, S_FAR, car)
        method = "station" if self.rng.random() < 0.6 else "recipient"
        when = self.alloc(op, t + self.skew(op))
        self.scan(p, when, "delivered", car, op, node, loc, signoff={"method": method})
        p.delivered_ts = when
        self.add_truth(p, S_LEFT, car)

    def wrong_point(self, p: Parcel, t: int, dc: str, courier: str) -> None:
        """wrong_address/wrong_village_point: the parcel is signed at another village's point."""
        r = self.rng
        v = p.village
        assert v is not None
        others = [n for n in self.w.all_points if n.village != v.code and n.id not in self.silent]
        if not others:  # a one-village network: cannot happen here, deliver normally
            p.scenario = None
            self.last_mile(p, t, dc, courier)
            return
        near = sorted(others, key=lambda n: self.net.distance_to_village_m(n.lat, n.lon, v))[:4]
        wp = r.choice(near)
        pt = p.point
        assert pt is not None
        t += int(haversine_m(pt.lat, pt.lon, wp.lat, wp.lon) / (30 / 3.6))  # a detour, not a jump
        verdict = self.near_or_far(p, wp.lat, wp.lon)
        self.at(
            p,
            t,
            "arrived",
            dc,
            courier,
            wp,
            self.loc(wp.lat, wp.lon) if verdict != "ambiguous" else None,
        )
        loc = self.loc(wp.lat, wp.lon) if verdict != "ambiguous" else None
        when = self.alloc(courier, t + self.skew(courier) + r.randint(10 * MIN, 60 * MIN))
        self.scan(p, when, "delivered", dc, courier, wp, loc, signoff={"method": "station"})
        p.delivered_ts = when
        self.add_truth(p, S_WRONG_POINT, dc)
        if loc is not None and verdict == "far":
            self.add_truth(p, S_FAR, dc)

    def far_spot(self, p: Parcel) -> Loc:
        """A door-step location >= 2 km from the address and from every point of the village."""
        r = self.rng
        v = p.village
        assert v is not None and p.house is not None
        dist = 2500.0
        while True:
            la, lo = _offset(
                p.house[0], p.house[1], r.uniform(dist, dist + 2500), r.uniform(0, 2 * math.pi)
            )
            spot = self.loc(la, lo, force=True)
            assert spot is not None
            d = self.net.distance_to_village_m(spot[0], spot[1], v)
            if p.addr is not None:
                d = min(d, haversine_m(spot[0], spot[1], p.addr[0], p.addr[1]))
            if d >= INJECT_FAR_M:
                return spot
            dist += 500.0

    def fast_delivery(self, p: Parcel, dep: list[Any], dc: str, courier: str) -> None:
        """Signed at the door right after leaving the town centre: impossible travel (injected,
        >= 7 km at 250-700 km/h) or its hard negative (50-100 km/h)."""
        r = self.rng
        assert p.house is not None and dep[5] is not None
        loc = self.loc(p.house[0], p.house[1], force=True)
        assert loc is not None
        dist = haversine_m(dep[5][0], dep[5][1], loc[0], loc[1])
        if p.scenario == S_TRAVEL:
            kmh = r.uniform(*INJECT_TRAVEL_KMH)
            dt = max(1, int(dist / 1000 / kmh * HOUR))  # floor: only faster
            when = self.alloc(courier, dep[0] + dt, pinned=True)
            self.add_truth(p, S_TRAVEL, dc)
        else:
            kmh = r.uniform(*SAFE_TRAVEL_KMH)
            dt = math.ceil(dist / 1000 / kmh * HOUR) + 1  # ceil: only slower
            when = self.alloc(courier, dep[0] + dt)
            self.hn(HN_FAST_OK)
        d = self.scan(p, when, "delivered", dc, courier, None, loc, signoff={"method": "recipient"})
        p.delivered_ts = when
        if p.fate == "delivered_returned":
            p.fate = "delivered"
        self.after_signoff(p, d, dc, courier, courier)

    def burst(self, kind: str, group: list[Parcel]) -> None:
        """Sign a group of parcels within seconds: an injected bulk sign-off (one courier, >= 3
        villages) or a keeper's legitimate one (one or two villages)."""
        r = self.rng
        first = group[0]
        t0 = self.daytime(max(q.ready for q in group) + r.randint(0, 2 * HOUR))
        n = len(group)
        if kind == S_BULK:
            dc = first.dcarrier
            self.burst_n += 1
            signer = f"{dc}-{first.town}-X{self.burst_n}"
            offsets = (
                sorted(r.sample(range(BURST_SPAN_S + 1), n))
                if n <= BURST_SPAN_S + 1
                else [i * BURST_SPAN_S // n for i in range(n)]
            )
        else:
            signer = self.w.keeper[first.point.id]  # type: ignore[union-attr]
            offsets = sorted(r.sample(range(51), n))
        t0 = self.alloc(signer, t0 + self.skew(signer), pinned=True)
        for q, off in zip(group, offsets, strict=True):
            pt = q.point
            assert pt is not None
            if kind == S_BULK:
                # no node, no location: only bulk_signoff applies
                d = self.scan(
                    q,
                    t0 + off,
                    "delivered",
                    q.dcarrier,
                    signer,
                    None,
                    None,
                    signoff={"method": "recipient"},
                )
                self.add_truth(q, S_BULK, q.dcarrier)
            else:
                d = self.scan(
                    q,
                    t0 + off,
                    "delivered",
                    q.dcarrier,
                    signer,
                    pt,
                    self.loc(pt.lat, pt.lon),
                    signoff={"method": "station"},
                )
            q.delivered_ts = d[0]
            if q.fate == "delivered_returned":
                q.fate = "delivered"
        if kind == HN_KEEPER_BURST:
            self.hn(HN_KEEPER_BURST + "_scans", n)
            self.hn(HN_KEEPER_BURST + "s")
            villages = {q.village.code for q in group}  # type: ignore[union-attr]
            if len(villages) == 2:
                self.hn("keeper_burst_two_villages")

    def outbound(self, p: Parcel) -> None:
        """Farm produce (apples, cherries...) sent from a village point out of the county."""
        r = self.rng
        pt = p.point
        assert pt is not None and p.town is not None
        town, c = self.w.center[p.town], self.w.county_of[p.town]
        car = p.carrier
        courier = self.w.route_courier(car, p.village)  # type: ignore[arg-type]
        keeper = self.w.keeper[pt.id]
        day0 = self.base + p.day * 86400
        t = day0 + r.randint(8 * HOUR, 17 * HOUR)
        self.at(
            p,
            t,
            "collected",
            car,
            keeper,
            pt,
            self.loc(pt.lat, pt.lon),
            destination={"village": None},
            **({"goods": p.goods} if p.goods is not None else {}),
        )
        if r.random() < 0.15:
            reason = r.choice(("delivery_surcharge", "other", "cod_payment"))
            self.at(
                p,
                t + r.randint(30, 300),
                "fee_charged",
                car,
                keeper,
                pt,
                self.loc(pt.lat, pt.lon),
                fee={"amount": float(r.randint(2, 15)), "reason": reason},
            )
            self.hn("outbound_fee")
        t += r.randint(1 * HOUR, 6 * HOUR)
        self.at(p, t, "departed", car, courier, pt, self.loc(pt.lat, pt.lon))
        t += int(haversine_m(pt.lat, pt.lon, town.lat, town.lon) / (30 / 3.6)) + r.randint(
            20 * MIN, 60 * MIN
        )
        op = f"{car}-{town.id}-OP"
        self.at(p, t, "arrived", car, op, town, self.loc(town.lat, town.lon))
        if p.stall == "now":
            return  # still waiting at the town centre at the end
        t += r.randint(1 * HOUR, 8 * HOUR)
        if p.stall == "once":
            t += self.frng.randint(13 * HOUR, 30 * HOUR)
        self.at(p, t, "departed", car, op, town, self.loc(town.lat, town.lon))
        t += int(haversine_m(town.lat, town.lon, c.lat, c.lon) / (40 / 3.6)) + r.randint(
            20 * MIN, 60 * MIN
        )
        cop = f"{car}-{c.id}-OP"
        self.at(p, t, "arrived", car, cop, c, self.loc(c.lat, c.lon))
        t += r.randint(1 * HOUR, 6 * HOUR)
        self.at(p, t, "departed", car, cop, c, self.loc(c.lat, c.lon))

    def foreign(self, p: Parcel) -> None:
        """A parcel whose village code is not in the network: held and signed at the county
        centre (not inbound here, so no rule applies)."""
        r = self.rng
        c = self.w.county_of[p.town]  # type: ignore[index]
        op = f"{p.carrier}-{c.id}-OP"
        t = self.county_arrival(p)
        self.at(
            p,
            t,
            "arrived",
            p.carrier,
            op,
            c,
            self.loc(c.lat, c.lon),
            destination=self.destination(p),
        )
        t += r.randint(1 * HOUR, 6 * HOUR)
        self.at(p, t, "exception", p.carrier, op, c, self.loc(c.lat, c.lon))
        t += r.randint(6 * HOUR, 30 * HOUR)
        when = self.alloc(op, t + self.skew(op))
        self.scan(
            p,
            when,
            "delivered",
            p.carrier,
            op,
            c,
            self.loc(c.lat, c.lon),
            signoff={"method": "station"},
        )
        if r.random() < 0.5:
            self.scan(
                p,
                when + 60,
                "fee_charged",
                p.carrier,
                op,
                c,
                None,
                fee={"amount": 5.0, "reason": "other"},
            )
        self.hn("unknown_village_signed_at_county")

    # --- complaints -------------------------------------------------------------------

    def latest_carrier(self, p: Parcel) -> str:
        """Carrier the complaint rules blame: latest delivered scan, else latest scan."""
        ids = [(s[0], f"{p.pid}-{i + 1:02d}", s) for i, s in enumerate(p.scans)]
        delivered = [x for x in ids if x[2][1] == "delivered"]
        pick = max(delivered or ids, key=lambda x: (x[0], x[1]))
        return str(pick[2][2])

    def complaint(self, pid: str, category: str, t: int) -> None:
        self.complaints.append(
            {
                "complaint_id": f"C{self.start.strftime('%y%m%d')}{len(self.complaints) + 1:07d}",
                "parcel_id": pid,
                "category": category,
                "filed_at": t,
            }
        )
        self.complaint_ts.append(t)

    def make_complaints(self) -> None:
        r = self.rng
        undelivered: list[Parcel] = []
        for p in self.parcels:
            if p.kind != "in" or not p.scans:
                continue
            has_delivered = any(s[1] == "delivered" for s in p.scans)
            last = max(s[0] for s in p.scans)
            if not has_delivered and p.scenario is None:
                undelivered.append(p)
            if p.scenario == S_C_ADDR and has_delivered:
                self.complaint(
                    p.pid, "not_delivered_to_address", last + r.randint(6 * HOUR, 5 * 86400)
                )
                self.add_truth(p, S_C_ADDR, self.latest_carrier(p))
            elif p.scenario == S_C_RECV and has_delivered:
                self.complaint(p.pid, "not_received", last + r.randint(6 * HOUR, 5 * 86400))
                self.add_truth(p, S_C_RECV, self.latest_carrier(p))
            elif p.scenario == S_C_FEE:
                self.complaint(p.pid, "extra_fee", last + r.randint(2 * HOUR, 5 * 86400))
                self.add_truth(p, S_C_FEE, self.latest_carrier(p))
            elif r.random() < 0.002:
                self.complaint(p.pid, "other", last + r.randint(2 * HOUR, 5 * 86400))
                self.hn("complaint_other")
        # legitimate-looking complaints that are no violation
        n = max(1, len(self.parcels) // 1500)
        if undelivered:
            for _ in range(n):
                p = r.choice(undelivered)
                cat = "not_received" if r.random() < 0.6 else "not_delivered_to_address"
                self.complaint(p.pid, cat, max(s[0] for s in p.scans) + r.randint(HOUR, 3 * 86400))
                self.hn(f"complaint_{cat}_undelivered")
        outbound = [p for p in self.parcels if p.kind != "in"]
        if outbound:
            for _ in range(max(1, n // 2)):
                p = r.choice(outbound)
                self.complaint(
                    p.pid, "extra_fee", max(s[0] for s in p.scans) + r.randint(HOUR, 86400)
                )
                self.hn("complaint_extra_fee_not_inbound")
        self.complaint(
            "ZZ" + str(r.randrange(10**11, 10**12)),
            "not_received",
            self.base + r.randint(0, self.days * 86400),
        )
        self.hn("complaint_unknown_parcel")

    # --- results -----------------------------------------------------------------------

    def result(self) -> Generated:
        scans: list[bytes] = []
        scan_types: list[str] = []
        scan_ts: list[int] = []
        fmt = TimeFormatter(self.base, self.start)
        dumps = orjson.dumps
        fault_truth = self.fault_truth()
        no_gps = self.faults.missing_gps_carrier
        keep_gps = {
            pid
            for pid, vtype, rule in self.truth
            if rule in ("far_from_address", "impossible_travel")
        }
        skewed_scans = 0
        for p in self.parcels:
            pid = p.pid
            skew = 0
            if p.kind == "out" and p.carrier == self.faults.skewed_clock_carrier:
                skew = SKEW_DAYS * 86400  # the device's date, not when the line arrives
            for i, s in enumerate(p.scans):
                t, stype, carrier, courier, node, loc, blocks = s
                if stype == "delivered" and carrier == no_gps and pid not in keep_gps:
                    loc = None
                skewed_scans += skew > 0
                d: dict[str, Any] = {
                    "event_id": f"{pid}-{i + 1:02d}",
                    "parcel_id": pid,
                    "carrier": carrier,
                    "type": stype,
                    "occurred_at": fmt(t + skew),
                }
                if node is not None:
                    d["node_id"] = node
                if courier is not None:
                    d["courier_id"] = courier
                if loc is not None:
                    d["location"] = {"lat": loc[0], "lon": loc[1], "accuracy_m": loc[2]}
                if blocks:
                    d.update(blocks)
                scans.append(bytes(memoryview(dumps(d))))  # orjson over-allocates: compact it
                scan_types.append(stype)
                scan_ts.append(t)
            p.scans = []  # free as we go
        complaints = []
        for c in self.complaints:
            c["filed_at"] = fmt(c["filed_at"])
            complaints.append(bytes(memoryview(dumps(c))))
        truth = []
        truth_towns: dict[str, str] = {}
        town_of = {p.pid: p.town or "" for p in self.parcels}
        for (pid, vtype, rule), carrier in sorted(self.truth.items()):
            vid = violation_id(pid, vtype, rule)
            truth.append(
                {
                    "violation_id": vid,
                    "parcel_id": pid,
                    "type": vtype,
                    "rule": rule,
                    "carrier": carrier,
                }
            )
            truth_towns[vid] = town_of.get(pid, "")
        kinds = {"in": 0, "out": 0, "foreign": 0}
        for p in self.parcels:
            kinds[p.kind] += 1
        parcels = {
            "total": len(self.parcels),
            "inbound": kinds["in"],
            "outbound": kinds["out"],
            "unknown_village": kinds["foreign"],
            "handed_over_to_ems": sum(1 for p in self.parcels if p.handover),
            "refused_before_signoff": sum(
                1 for p in self.parcels if p.kind == "in" and p.fate == "refused"
            ),
            "held_at_town_centre": sum(
                1 for p in self.parcels if p.kind == "in" and p.fate == "held"
            ),
            "stuck_over_48h_then_delivered": sum(
                1 for p in self.parcels if p.kind == "in" and p.fate == "stuck"
            ),
            "devices_with_clock_skew": sum(1 for s in self.skews.values() if s),
        }
        return Generated(
            scans,
            scan_types,
            complaints,
            truth,
            parcels,
            dict(sorted(self.hard.items())),
            truth_towns,
            scan_ts,
            self.complaint_ts,
            self.start,
            fault_truth | {"clock_skewed_scans": skewed_scans},
        )

    def fault_truth(self) -> dict[str, Any]:
        """What the injected data faults must make the indicators report."""
        stalled = [p for p in self.parcels if p.stall is not None]
        return {
            "perishable_stalled_now": sorted(p.pid for p in stalled if p.stall == "now"),
            "perishable_stalled_ever": sorted(p.pid for p in stalled),
            "silent_points": sorted(self.silent),
            "missing_gps_carrier": self.faults.missing_gps_carrier,
            "skewed_clock_carrier": self.faults.skewed_clock_carrier,
        }


class TimeFormatter:
    """Epoch seconds -> RFC 3339 in +08:00, fast (one date string per day)."""

    def __init__(self, base: int, start: date) -> None:
        self.base = base
        self.start = start
        self.days: dict[int, str] = {}

    def __call__(self, t: int) -> str:
        day, sec = divmod(t - self.base, 86400)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = (self.start + timedelta(days=day)).isoformat()
            self.days[day] = prefix
        h, rem = divmod(sec, 3600)
        m, s = divmod(rem, 60)
        return f"{prefix}T{h:02d}:{m:02d}:{s:02d}+08:00"


def generate(
    network: Network,
    days: int,
    parcels_per_day: int,
    seed: int,
    start: date,
    rates: InjectionRates,
    progress: Callable[[str, int, int], None] | None = None,
    faults: DataFaults | None = None,
) -> Generated:
    g = _Gen(network, days, parcels_per_day, seed, start, rates, progress, faults)
    g.plan()
    g.generate()
    return g.result()
