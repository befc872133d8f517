"""The rulebook (contract §5), rule by rule: what must be flagged and what must not."""

from __future__ import annotations

from datetime import UTC, datetime

from builders import APPLE, BIRCH, CEDAR, complaint, inbound_path, scan
from lastmile.domain.engine import detect_events
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig

NOW = datetime(2026, 11, 10, tzinfo=UTC)


def violations(events, network: Network, config: RuleConfig | None = None) -> list[dict]:
    return detect_events(events, network, config or RuleConfig(), NOW)


def rules(events, network: Network, config: RuleConfig | None = None) -> set[tuple[str, str]]:
    return {(v["type"], v["rule"]) for v in violations(events, network, config)}


def delivered(parcel: str, minutes: float = 720, node: str | None = "P-APPLE", **kw):
    return scan(parcel, "delivered", minutes, node, **kw)


# --- wrong_address / 不按址投递 -----------------------------------------------------------


class TestLeftAtTownOrCounty:
    def test_signed_off_at_the_town_centre_is_flagged(self, network):
        events = [*inbound_path("P1"), delivered("P1", node="T-E", signoff="station")]
        assert ("wrong_address", "left_at_town_or_county") in rules(events, network)

    def test_signed_off_at_the_county_centre_is_flagged(self, network):
        events = [scan("P1", "arrived", 0, "C-1", dest=APPLE), delivered("P1", 30, node="C-1")]
        assert ("wrong_address", "left_at_town_or_county") in rules(events, network)

    def test_proxy_locker_or_station_at_the_right_point_is_not_flagged(self, network):
        for i, method in enumerate(("proxy", "locker", "station", "recipient")):
            events = [*inbound_path(f"Q{i}"), delivered(f"Q{i}", signoff=method)]
            assert rules(events, network) == set(), method


class TestWrongVillagePoint:
    def test_signed_off_at_another_villages_point_is_flagged(self, network):
        events = [*inbound_path("P1"), delivered("P1", node="P-BIRCH", gps=False)]
        assert rules(events, network) == {("wrong_address", "wrong_village_point")}

    def test_any_of_the_villages_points_is_right(self, network):
        events = [*inbound_path("P1", CEDAR, "P-CEDAR-1"), delivered("P1", node="P-CEDAR-2")]
        assert rules(events, network) == set()


class TestFarFromAddress:
    def test_door_delivery_far_from_address_and_points_is_flagged(self, network):
        events = [
            *inbound_path("P1"),
            delivered("P1", node=None, at=(36.100, 118.040)),
        ]
        found = violations(events, network)
        assert [(v["type"], v["rule"]) for v in found] == [("wrong_address", "far_from_address")]
        assert found[0]["detail"]["distance_to_nearest_point_m"] > 1000

    def test_door_delivery_near_the_address_point_is_not_flagged(self, network):
        address = (36.125, 118.030)  # a farm 2.7 km from the village point
        events = [
            scan("P1", "arrived", 0, "C-1", dest=APPLE, dest_at=address),
            delivered("P1", node=None, at=(36.1255, 118.0305)),
        ]
        assert rules(events, network) == set()

    def test_near_a_village_point_is_enough_even_far_from_the_address(self, network):
        events = [
            scan("P1", "arrived", 0, "C-1", dest=APPLE, dest_at=(36.125, 118.030)),
            delivered("P1", node=None, at=(36.1205, 118.0005)),
        ]
        assert rules(events, network) == set()

    def test_within_1000_m_of_the_point_is_not_flagged(self, network):
        events = [*inbound_path("P1"), delivered("P1", node=None, at=(36.1280, 118.000))]
        assert rules(events, network) == set()


class TestWrongAddressComplaint:
    def test_complaint_on_a_delivered_parcel_is_flagged(self, network):
        events = [
            *inbound_path("P1"),
            delivered("P1"),
            complaint("P1", "not_delivered_to_address", 900),
        ]
        assert rules(events, network) == {("wrong_address", "complaint")}

    def test_complaint_on_an_undelivered_parcel_is_not_flagged(self, network):
        events = [*inbound_path("P1"), complaint("P1", "not_delivered_to_address", 900)]
        assert rules(events, network) == set()


# --- false_signoff / 虚假签收 --------------------------------------------------------------


class TestMovementAfterSignoff:
    def test_movement_more_than_10_minutes_after_signoff_is_flagged(self, network):
        events = [
            scan("P1", "arrived", 0, "T-E", dest=APPLE, gps=False),
            delivered("P1", 10, gps=False),
            scan("P1", "departed", 25, "T-E", gps=False),
        ]
        found = violations(events, network)
        assert [(v["type"], v["rule"]) for v in found] == [
            ("false_signoff", "movement_after_signoff")
        ]
        assert found[0]["detail"]["minutes_after"] == 15.0

    def test_movement_within_10_minutes_is_not_flagged(self, network):
        events = [
            *inbound_path("P1"),
            delivered("P1", 720),
            scan("P1", "out_for_delivery", 729, "P-APPLE"),
        ]
        assert rules(events, network) == set()

    def test_signed_parcel_later_returned_may_move_again(self, network):
        events = [
            *inbound_path("P1"),
            delivered("P1", 720),
            scan("P1", "returned", 800, "P-APPLE"),
            scan("P1", "departed", 900, "P-APPLE"),
            scan("P1", "arrived", 960, "T-E"),
        ]
        assert rules(events, network) == set()

    def test_a_new_signoff_after_the_return_is_judged_again(self, network):
        events = [
            *inbound_path("P1"),
            delivered("P1", 720),
            scan("P1", "returned", 800, "P-APPLE"),
            delivered("P1", 1000),
            scan("P1", "arrived", 1100, "P-APPLE"),
        ]
        assert rules(events, network) == {("false_signoff", "movement_after_signoff")}

    def test_an_arrival_scan_that_reaches_us_late_is_judged_by_event_time(self, network):
        path = inbound_path("P1")
        late_arrival = path.pop(4)  # the village arrival, sent after the sign-off
        assert rules([*path, delivered("P1", 720), late_arrival], network) == set()


class TestImpossibleTravel:
    def test_signoff_too_far_too_soon_is_flagged(self, network):
        events = [
            scan("P1", "arrived", 0, "T-E", dest=APPLE),
            delivered("P1", 2, node=None, at=(36.125, 118.000)),  # 2.8 km in 2 min
        ]
        assert ("false_signoff", "impossible_travel") not in rules(events, network)
        events = [
            scan("P2", "arrived", 0, "T-W", dest=APPLE),  # 4.5 km away
            delivered("P2", 2, node="P-APPLE"),
        ]
        found = [v for v in violations(events, network) if v["rule"] == "impossible_travel"]
        assert len(found) == 1 and found[0]["detail"]["speed_kmh"] > 120

    def test_fast_but_possible_travel_is_not_flagged(self, network):
        events = [
            scan("P1", "arrived", 0, "T-W", dest=APPLE),  # 4.5 km in 3 min = 90 km/h
            delivered("P1", 3, node="P-APPLE"),
        ]
        assert rules(events, network) == set()

    def test_only_earlier_scans_count(self, network):
        events = [
            scan("P1", "arrived", 0, "T-E", dest=APPLE, gps=False),
            delivered("P1", 10, node="P-APPLE"),
            scan("P1", "exception", 11, None, at=(36.5, 118.5)),
        ]
        assert ("false_signoff", "impossible_travel") not in rules(events, network)


class TestBulkSignoff:
    @staticmethod
    def burst(network, villages, n=10, span_s=50, courier="K-1", prefix="B"):
        events = []
        points = {APPLE: "P-APPLE", BIRCH: "P-BIRCH", CEDAR: "P-CEDAR-1"}
        for i in range(n):
            village = villages[i % len(villages)]
            pid = f"{prefix}{i}"
            events.append(scan(pid, "arrived", 0, "T-E", dest=village, gps=False))
            events.append(
                delivered(
                    pid,
                    600 + i * span_s / (n - 1) / 60,
                    node=points[village],
                    courier=courier,
                    signoff="station",
                    gps=False,
                )
            )
        return events

    def test_ten_signoffs_in_a_minute_over_three_villages_flag_every_parcel(self, network):
        found = violations(self.burst(network, [APPLE, BIRCH, CEDAR]), network)
        assert {v["parcel_id"] for v in found if v["rule"] == "bulk_signoff"} == {
            f"B{i}" for i in range(10)
        }
        assert all(v["detail"]["burst_size"] == 10 for v in found)

    def test_station_keepers_batch_at_one_village_is_not_flagged(self, network):
        assert rules(self.burst(network, [APPLE], n=15), network) == set()

    def test_two_villages_are_not_enough(self, network):
        assert rules(self.burst(network, [APPLE, BIRCH], n=12), network) == set()

    def test_nine_signoffs_are_not_enough(self, network):
        assert rules(self.burst(network, [APPLE, BIRCH, CEDAR], n=9), network) == set()

    def test_ten_signoffs_spread_over_two_minutes_are_not_flagged(self, network):
        assert rules(self.burst(network, [APPLE, BIRCH, CEDAR], span_s=120), network) == set()

    def test_two_couriers_do_not_add_up(self, network):
        events = self.burst(network, [APPLE, BIRCH, CEDAR], n=6, courier="K-1", prefix="X")
        events += self.burst(network, [APPLE, BIRCH, CEDAR], n=6, courier="K-2", prefix="Y")
        assert rules(events, network) == set()


class TestFalseSignoffComplaint:
    def test_not_received_on_a_delivered_parcel_is_flagged(self, network):
        events = [*inbound_path("P1"), delivered("P1"), complaint("P1", "not_received", 2000)]
        assert rules(events, network) == {("false_signoff", "complaint")}

    def test_not_received_on_an_undelivered_parcel_is_not_flagged(self, network):
        events = [*inbound_path("P1"), complaint("P1", "not_received", 2000)]
        assert rules(events, network) == set()

    def test_other_complaints_are_not_violations(self, network):
        events = [*inbound_path("P1"), delivered("P1"), complaint("P1", "other", 2000)]
        assert rules(events, network) == set()


# --- extra_fee / 违规二次收费 ------------------------------------------------------------


class TestFeeCharged:
    def test_delivery_surcharge_is_flagged(self, network):
        events = [
            *inbound_path("P1"),
            scan("P1", "fee_charged", 715, "P-APPLE", fee=(5, "delivery_surcharge")),
        ]
        found = violations(events, network)
        assert [(v["type"], v["rule"]) for v in found] == [("extra_fee", "fee_charged")]
        assert found[0]["detail"] == {"amount": 5.0, "reason": "delivery_surcharge"}

    def test_other_fee_is_flagged(self, network):
        events = [*inbound_path("P1"), scan("P1", "fee_charged", 715, "P-APPLE", fee=(3, "other"))]
        assert rules(events, network) == {("extra_fee", "fee_charged")}

    def test_cash_on_delivery_is_not_flagged(self, network):
        events = [
            *inbound_path("P1"),
            scan("P1", "fee_charged", 715, "P-APPLE", fee=(88, "cod_payment")),
            delivered("P1"),
        ]
        assert rules(events, network) == set()

    def test_outbound_farm_produce_and_its_fees_are_not_judged(self, network):
        events = [
            scan("A1", "collected", 0, "P-CEDAR-1", dest=None),
            scan("A1", "fee_charged", 1, "P-CEDAR-1", fee=(12, "other")),
            scan("A1", "arrived", 120, "T-E"),
            scan("A1", "delivered", 130, "T-E"),
        ]
        assert rules(events, network) == set()

    def test_two_fees_make_one_violation(self, network):
        events = [
            *inbound_path("P1"),
            scan("P1", "fee_charged", 715, "P-APPLE", fee=(3, "other")),
            scan("P1", "fee_charged", 716, "P-APPLE", fee=(2, "delivery_surcharge")),
        ]
        assert len(violations(events, network)) == 1


class TestExtraFeeComplaint:
    def test_extra_fee_complaint_on_an_inbound_parcel_is_flagged(self, network):
        events = [*inbound_path("P1"), complaint("P1", "extra_fee", 800)]
        assert rules(events, network) == {("extra_fee", "complaint")}

    def test_extra_fee_complaint_on_an_outbound_parcel_is_not_flagged(self, network):
        events = [
            scan("A1", "collected", 0, "P-APPLE", dest=None),
            complaint("A1", "extra_fee", 800),
        ]
        assert rules(events, network) == set()


# --- attribution, severity, ids ------------------------------------------------------------


class TestAttribution:
    def test_after_a_handover_the_firm_that_took_over_is_responsible(self, network):
        events = [
            scan("P1", "arrived", 0, "C-1", dest=APPLE, carrier="ZTO"),
            scan("P1", "arrived", 100, "T-E", carrier="ZTO"),
            scan("P1", "handover", 120, "T-E", carrier="ZTO", to_carrier="EMS"),
            scan("P1", "arrived", 200, "P-APPLE", carrier="EMS"),
            scan("P1", "fee_charged", 230, "P-APPLE", carrier="EMS", fee=(5, "delivery_surcharge")),
        ]
        (v,) = violations(events, network)
        assert (v["carrier"], v["contract_carrier"]) == ("EMS", "ZTO")

    def test_complaints_blame_the_latest_signoffs_carrier(self, network):
        events = [
            scan("P1", "arrived", 0, "C-1", dest=APPLE, carrier="YTO"),
            scan("P1", "handover", 100, "T-E", carrier="YTO", to_carrier="EMS"),
            delivered("P1", 300, carrier="EMS", courier="EMS-7"),
            complaint("P1", "not_received", 3000),
        ]
        (v,) = violations(events, network)
        assert (v["carrier"], v["courier_id"], v["contract_carrier"]) == ("EMS", "EMS-7", "YTO")

    def test_complaint_without_signoff_blames_the_latest_scan(self, network):
        events = [
            scan("P1", "arrived", 0, "C-1", dest=APPLE, carrier="YTO"),
            scan("P1", "handover", 100, "T-E", carrier="YTO", to_carrier="JT"),
            scan("P1", "arrived", 200, "P-APPLE", carrier="JT"),
            complaint("P1", "extra_fee", 3000),
        ]
        (v,) = violations(events, network)
        assert v["carrier"] == "JT"

    def test_remote_villages_raise_the_severity(self, network):
        near = violations([*inbound_path("P1"), scan("P1", "fee_charged", 715, "P-APPLE")], network)
        far = violations(
            [*inbound_path("P2", CEDAR, "P-CEDAR-1"), scan("P2", "fee_charged", 715, "P-CEDAR-1")],
            network,
        )
        assert (near[0]["severity"], near[0]["remote"]) == ("medium", False)
        assert (far[0]["severity"], far[0]["remote"]) == ("high", True)
        assert far[0]["town"] == "990001101" and far[0]["village"] == CEDAR

    def test_violation_ids_are_a_function_of_parcel_type_and_rule(self, network):
        a = violations([*inbound_path("P1"), scan("P1", "fee_charged", 715, "P-APPLE")], network)
        b = violations([*inbound_path("P1"), scan("P1", "fee_charged", 999, "P-APPLE")], network)
        assert a[0]["violation_id"] == b[0]["violation_id"]

    def test_thresholds_come_from_the_config(self, network):
        events = [*inbound_path("P1"), delivered("P1", node=None, at=(36.1280, 118.000))]
        assert rules(events, network, RuleConfig(far_from_address_m=500)) == {
            ("wrong_address", "far_from_address")
        }
