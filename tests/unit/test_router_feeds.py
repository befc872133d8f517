"""The router's routing and the ACLs of a carrier feed (ADR 0004), without Kafka."""

from __future__ import annotations

import shlex

import pytest

from lastmile.router.feeds import DLQ, Route, acl_command_lines, carrier_acls, route

SRC = "violations.v1"


@pytest.mark.parametrize(
    "key, expected",
    [
        (b"ZTO", Route("violations.v1.ZTO", "ZTO")),
        (b"JD-L_2.x", Route("violations.v1.JD-L_2.x", "JD-L_2.x")),
        (None, Route(DLQ, None, "no_key")),
        (b"", Route(DLQ, None, "no_key")),
        (b"\xff", Route(DLQ, None, "key_not_utf8")),
        ("中通".encode(), Route(DLQ, None, "carrier_not_a_topic_name")),
        (b"A" * 17, Route(DLQ, None, "carrier_not_a_topic_name")),
        (b"..", Route(DLQ, None, "carrier_not_a_topic_name")),
        (b"ZTO/../x", Route(DLQ, None, "carrier_not_a_topic_name")),
    ],
)
def test_a_record_goes_to_its_carriers_topic_or_to_the_dead_letters_with_a_reason(key, expected):
    assert route(SRC, DLQ, key) == expected


def test_a_carrier_gets_a_literal_topic_acl_and_a_prefixed_group_acl_only():
    topic, group = carrier_acls("ZT")
    assert topic[topic.index("--topic") + 1] == "violations.v1.ZT"
    assert topic[topic.index("--resource-pattern-type") + 1] == "literal"  # never grants ZTO
    assert sorted(topic[i + 1] for i, a in enumerate(topic) if a == "--operation") == [
        "Describe",
        "Read",
    ]
    assert group[group.index("--group") + 1] == "carrier.ZT."
    assert group[group.index("--resource-pattern-type") + 1] == "prefixed"
    assert all(args[args.index("--allow-principal") + 1] == "User:ZT" for args in (topic, group))
    assert "Write" not in topic + group


@pytest.mark.parametrize("code", ["Z.T", "中通", "", "A" * 17, "ZTO;rm"])
def test_codes_that_could_widen_an_acl_are_refused(code):
    with pytest.raises(ValueError, match="carrier"):
        carrier_acls(code)


def test_the_printed_commands_are_kafka_acls_lines_for_each_carrier():
    lines = acl_command_lines(
        ["ZTO", "EMS"], "k1:9094", "/etc/lastmile/admin props", "p.violations.v1"
    )
    assert len(lines) == 4
    first = shlex.split(lines[0])
    assert first[:5] == ["kafka-acls.sh", "--bootstrap-server", "k1:9094", "--command-config",
                         "/etc/lastmile/admin props"]  # fmt: skip
    assert "p.violations.v1.ZTO" in first
    assert "User:EMS" in lines[2]
