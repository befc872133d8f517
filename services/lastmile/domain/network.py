"""The county's three-tier network: load, validate, look up.

A network file (``network.v1``, JSON or YAML) lists county co-distribution centres
(县级快递共同配送中心), one public service centre per town (镇级快递公共服务中心) and
service points per administrative village (村级快递服务网点). A broken file is refused
with a message naming the offending entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lastmile.domain.geo import haversine_m

TIERS = ("county", "town", "village")


class NetworkError(ValueError):
    """A network file that breaks the contract's rules."""


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    tier: str
    name: str
    lat: float
    lon: float
    town: str | None = None
    village: str | None = None


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str
    town: str
    lat: float
    lon: float
    remote: bool
    points: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Town:
    code: str
    name: str
    center_node: str


@dataclass(frozen=True)
class Network:
    county_code: str
    county_name: str
    towns: Mapping[str, Town]
    villages: Mapping[str, Village]
    nodes: Mapping[str, Node]
    _villages_by_town: Mapping[str, tuple[str, ...]] = field(repr=False, default_factory=dict)
    _town_by_center: Mapping[str, str] = field(repr=False, default_factory=dict)
    # node id → tier, as a plain dict: the hot paths look a tier up for every scan
    tiers: Mapping[str | None, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", {nid: n.tier for nid, n in self.nodes.items()})

    def node(self, node_id: str | None) -> Node | None:
        return self.nodes.get(node_id) if node_id is not None else None

    def tier_of(self, node_id: str | None) -> str | None:
        return self.tiers.get(node_id)

    def village(self, code: str | None) -> Village | None:
        return self.villages.get(code) if code is not None else None

    def town(self, code: str | None) -> Town | None:
        return self.towns.get(code) if code is not None else None

    def villages_of(self, town_code: str) -> tuple[str, ...]:
        return self._villages_by_town.get(town_code, ())

    def town_of_center(self, node_id: str | None) -> str | None:
        """The town whose public service centre is this node, if it is one."""
        return self._town_by_center.get(node_id) if node_id is not None else None

    @property
    def centre_towns(self) -> Mapping[str | None, str]:
        """Public service centre node → its town (a plain mapping for hot loops)."""
        return self._town_by_center  # type: ignore[return-value]

    def town_of_node(self, node_id: str | None) -> str | None:
        """The town a town- or village-tier node belongs to."""
        node = self.node(node_id)
        if node is None:
            return None
        if node.tier == "town":
            return node.town
        if node.tier == "village" and node.village is not None:
            v = self.villages.get(node.village)
            return v.town if v else None
        return None

    def distance_to_village_m(self, lat: float, lon: float, village: Village) -> float:
        """Distance from a point to the nearest service point of a village."""
        best = float("inf")
        for pid in village.points:
            p = self.nodes[pid]
            best = min(best, haversine_m(lat, lon, p.lat, p.lon))
        return best


def _req(entry: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in entry:
        raise NetworkError(f"{where}: missing field {key!r}")
    value = entry[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise NetworkError(f"{where}: field {key!r} has the wrong type ({value!r})")
    if isinstance(value, str) and not value:
        raise NetworkError(f"{where}: field {key!r} is empty")
    return value


def _coord(entry: Mapping[str, Any], where: str) -> tuple[float, float]:
    lat = float(_req(entry, "lat", (int, float), where))
    lon = float(_req(entry, "lon", (int, float), where))
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise NetworkError(f"{where}: coordinates out of range ({lat}, {lon})")
    return lat, lon


def parse_network(doc: Any) -> Network:
    """Build a Network from a parsed document; raise NetworkError naming the bad entry."""
    if not isinstance(doc, Mapping):
        raise NetworkError("network file: the top level must be an object")
    if doc.get("version") != 1:
        raise NetworkError(f"network file: unsupported version {doc.get('version')!r} (want 1)")
    county = _req(doc, "county", Mapping, "network file")
    county_code = _req(county, "code", str, "county")
    county_name = _req(county, "name", str, "county")
    for key in ("towns", "villages", "nodes"):
        if not isinstance(doc.get(key), list):
            raise NetworkError(f"network file: {key!r} must be a list")

    nodes: dict[str, Node] = {}
    for i, raw in enumerate(doc["nodes"]):
        where = f"nodes[{i}]"
        if not isinstance(raw, Mapping):
            raise NetworkError(f"{where}: must be an object")
        nid = _req(raw, "id", str, where)
        where = f"node {nid!r}"
        if nid in nodes:
            raise NetworkError(f"{where}: duplicate node id")
        tier = _req(raw, "tier", str, where)
        if tier not in TIERS:
            raise NetworkError(f"{where}: tier {tier!r} is not one of {', '.join(TIERS)}")
        lat, lon = _coord(raw, where)
        town = raw.get("town")
        village = raw.get("village")
        if tier == "town" and not isinstance(town, str):
            raise NetworkError(f"{where}: a town-tier node needs its 'town' code")
        if tier == "village" and not isinstance(village, str):
            raise NetworkError(f"{where}: a village-tier node needs its 'village' code")
        for key in ("name", "town", "village"):  # optional, but never of another type
            if key in raw and not (isinstance(raw[key], str) and (raw[key] or key == "name")):
                raise NetworkError(f"{where}: field {key!r} must be a non-empty string")
        raw_name = raw.get("name")
        name = raw_name if isinstance(raw_name, str) and raw_name else nid
        nodes[nid] = Node(nid, tier, name, lat, lon, town, village)

    towns: dict[str, Town] = {}
    town_by_center: dict[str, str] = {}
    for i, raw in enumerate(doc["towns"]):
        where = f"towns[{i}]"
        if not isinstance(raw, Mapping):
            raise NetworkError(f"{where}: must be an object")
        code = _req(raw, "code", str, where)
        where = f"town {code!r}"
        if code in towns:
            raise NetworkError(f"{where}: duplicate town code")
        center = _req(raw, "center_node", str, where)
        node = nodes.get(center)
        if node is None:
            raise NetworkError(f"{where}: center_node {center!r} is not a node")
        if node.tier != "town":
            raise NetworkError(f"{where}: center_node {center!r} is tier {node.tier!r}, not town")
        if node.town != code:
            raise NetworkError(f"{where}: center_node {center!r} belongs to town {node.town!r}")
        if center in town_by_center:
            raise NetworkError(f"{where}: center_node {center!r} already serves another town")
        towns[code] = Town(code, _req(raw, "name", str, where), center)
        town_by_center[center] = code

    for node in nodes.values():
        if node.tier == "town" and node.town not in towns:
            raise NetworkError(f"node {node.id!r}: town {node.town!r} is not in towns")

    villages: dict[str, Village] = {}
    by_town: dict[str, list[str]] = {code: [] for code in towns}
    for i, raw in enumerate(doc["villages"]):
        where = f"villages[{i}]"
        if not isinstance(raw, Mapping):
            raise NetworkError(f"{where}: must be an object")
        code = _req(raw, "code", str, where)
        where = f"village {code!r}"
        if code in villages:
            raise NetworkError(f"{where}: duplicate village code")
        town = _req(raw, "town", str, where)
        if town not in towns:
            raise NetworkError(f"{where}: town {town!r} is not in towns")
        lat, lon = _coord(raw, where)
        remote = raw.get("remote", False)
        if not isinstance(remote, bool):
            raise NetworkError(f"{where}: 'remote' must be true or false")
        points = _req(raw, "points", list, where)
        if not points:
            raise NetworkError(f"{where}: needs at least one service point")
        for pid in points:
            pnode = nodes.get(pid) if isinstance(pid, str) else None
            if pnode is None:
                raise NetworkError(f"{where}: point {pid!r} is not a node")
            if pnode.tier != "village" or pnode.village != code:
                raise NetworkError(f"{where}: point {pid!r} is not a village-tier node of it")
        name = _req(raw, "name", str, where)
        villages[code] = Village(code, name, town, lat, lon, remote, tuple(points))
        by_town[town].append(code)

    for node in nodes.values():
        if node.tier == "village" and node.village not in villages:
            raise NetworkError(f"node {node.id!r}: village {node.village!r} is not in villages")
    if not any(n.tier == "county" for n in nodes.values()):
        raise NetworkError("network file: needs at least one county-tier node")

    return Network(
        county_code=county_code,
        county_name=county_name,
        towns=towns,
        villages=villages,
        nodes=nodes,
        _villages_by_town={t: tuple(v) for t, v in by_town.items()},
        _town_by_center=town_by_center,
    )


def load_network_text(text: str | bytes, suffix: str = ".json") -> Network:
    """Parse network text (JSON, or YAML when the suffix says so)."""
    import json

    kind = "YAML" if suffix in (".yaml", ".yml") else "JSON"
    try:
        if kind == "YAML":
            import yaml

            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as exc:  # not a ValueError: tags, bad indentation, ...
                raise ValueError(str(exc).replace("\n", " ")) from exc
        else:
            doc = json.loads(text)
    except RecursionError:
        raise NetworkError(f"network file is not usable {kind}: nested too deeply") from None
    except ValueError as exc:
        raise NetworkError(f"network file is not valid {kind}: {exc}") from exc
    return parse_network(doc)


def load_network(path: str | Path) -> Network:
    """Load and validate a network file; refuse a broken one naming the offending entry."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise NetworkError(f"cannot read network file {p}: {exc.strerror}") from exc
    try:
        return load_network_text(text, p.suffix.lower())
    except NetworkError as exc:
        raise NetworkError(f"{p}: {exc}") from exc
