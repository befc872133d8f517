"""The network registry: load, look up, and refuse a broken file naming the entry."""

from __future__ import annotations

import copy
import json

import pytest

from builders import APPLE, CEDAR, TINY_NETWORK
from lastmile.domain.network import NetworkError, load_network, parse_network


def broken(mutate) -> dict:
    doc = copy.deepcopy(TINY_NETWORK)
    mutate(doc)
    return doc


def test_lookups(network):
    assert network.tier_of("T-E") == "town"
    assert network.town_of_center("T-E") == "990001101"
    assert network.town_of_node("P-CEDAR-2") == "990001101"
    assert network.villages_of("990001101") == (APPLE, "990001101002", CEDAR)
    assert network.village(CEDAR).remote is True
    assert network.distance_to_village_m(36.120, 118.0, network.village(APPLE)) == pytest.approx(
        0, abs=0.01
    )
    # one degree of latitude on the contract's sphere
    assert network.distance_to_village_m(35.120, 118.0, network.village(APPLE)) == pytest.approx(
        111_195, rel=1e-4
    )


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda d: d["nodes"].append(dict(d["nodes"][0])), "node 'C-1': duplicate node id"),
        (lambda d: d["towns"].append(dict(d["towns"][0])), "town '990001101': duplicate town code"),
        (
            lambda d: d["villages"][1].update(code=APPLE),
            f"village {APPLE!r}: duplicate village code",
        ),
        (
            lambda d: d["towns"][0].update(center_node="P-APPLE"),
            "town '990001101': center_node 'P-APPLE' is tier 'village'",
        ),
        (lambda d: d["towns"][0].update(center_node="NOPE"), "center_node 'NOPE' is not a node"),
        (
            lambda d: d["villages"][0].update(points=["P-BIRCH"]),
            "point 'P-BIRCH' is not a village-tier node of it",
        ),
        (
            lambda d: d["villages"][0].update(points=["T-E"]),
            "point 'T-E' is not a village-tier node of it",
        ),
        (lambda d: d["villages"][0].update(town="990009999"), "town '990009999' is not in towns"),
        (lambda d: d["nodes"][0].update(tier="region"), "node 'C-1': tier 'region'"),
        (lambda d: d["nodes"][3].update(lat=95), "node 'P-APPLE': coordinates out of range"),
        (lambda d: d["villages"][0].pop("lat"), f"village {APPLE!r}: missing field 'lat'"),
        (lambda d: d.update(version=2), "unsupported version"),
        (lambda d: d["villages"][0].update(remote="yes"), "'remote' must be true or false"),
    ],
)
def test_a_broken_network_is_refused_naming_the_entry(mutate, named):
    with pytest.raises(NetworkError) as err:
        parse_network(broken(mutate))
    assert named in str(err.value)


def test_load_from_file_names_the_file(tmp_path):
    p = tmp_path / "net.json"
    p.write_text(json.dumps(broken(lambda d: d["nodes"].append(dict(d["nodes"][1])))))
    with pytest.raises(NetworkError, match=r"net\.json: node 'T-E': duplicate node id"):
        load_network(p)
    p.write_text("{not json")
    with pytest.raises(NetworkError, match="not valid JSON"):
        load_network(p)


def test_yaml_network_is_accepted(tmp_path):
    import yaml

    p = tmp_path / "net.yaml"
    p.write_text(yaml.safe_dump(TINY_NETWORK, allow_unicode=True))
    assert len(load_network(p).villages) == 4
