"""End to end: an alert reaches people. A real worker streams a simulated Yiyuan day, a real
Prometheus evaluates the repo's rules on the worker's metrics, a real Alertmanager routes the
firing alert with the repo's own deploy/alertmanager/alertmanager.yml, and a real SMTP
server (aiosmtpd) and an HTTP receiver (chat webhooks and the WeCom API that
`wechat_configs` calls) receive it.

The alert is `LastmileExtraFeeRemoteVillage` (违规二次收费, audience carrier, no `for:`): it
fires for every carrier and town whose remote-village extra-fee counter grows while
Prometheus watches. The day is published in two parts, split by parcel from `lastmile
detect`'s answer: every (carrier, town) with two or more remote-village fee parcels has one
of them in the first part and the others in the second, so exactly those pairs must fire
(a pair with one fee has a counter born at 1, which this branch of the rule ignores).

Only the test-only copy of the Alertmanager configuration differs from the repo's: where
messages go (SMTP relay, WeCom API URL, each webhook's host) and 1 s grouping. Recipients
are read from the repo's file, never written here. Checked:
  (a) each firing carrier's quality team gets an e-mail addressed to it alone and a webhook
      post, each carrying exactly its own alerts, never another firm's;
  (b) the regulator gets its copy of every firing alert by e-mail and by WeCom (to its duty
      group, with the configured corp id, secret and agent);
  (c) carriers without a firing alert, and the "unrouted" liaison, receive nothing;
  (d) the firing pairs are exactly those the split makes grow.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from alert_sinks import HttpSink, SmtpSink
from alertmanager_server import AlertmanagerServer, for_test, repo_config
from prometheus_server import PrometheusServer
from workers import Scenario, free_port, simulated_traffic

ALERT = "LastmileExtraFeeRemoteVillage"
SEED = 23
PARCELS = 400
RATES = {"fee_charged": 0.2}  # enough remote-village fees for several carriers


@dataclass
class Contacts:
    """Who should get what, read from the repo's alertmanager.yml."""

    emails: dict[str, str]  # receiver -> e-mail address
    webhooks: dict[str, list[str]]  # receiver -> webhook URLs
    wechat: dict[str, dict[str, Any]]  # receiver -> its wechat_config
    carrier_receiver: dict[str, str]  # carrier code -> receiver


def contacts(config: dict[str, Any]) -> Contacts:
    emails, webhooks, wechat = {}, {}, {}
    for r in config["receivers"]:
        (mail,) = r.get("email_configs", [{}]) or [{}]
        if mail:
            emails[r["name"]] = mail["to"]
        webhooks[r["name"]] = [w["url"] for w in r.get("webhook_configs", [])]
        for w in r.get("wechat_configs", []):
            wechat[r["name"]] = w
    carrier_route = next(
        r for r in config["route"]["routes"] if r["matchers"] == ['audience="carrier"']
    )
    by_carrier = {}
    for sub in carrier_route["routes"]:
        (matcher,) = sub["matchers"]
        m = re.fullmatch(r'carrier="(\w+)"', matcher)
        assert m, matcher
        by_carrier[m.group(1)] = sub["receiver"]
    return Contacts(emails, webhooks, wechat, by_carrier)


def split_by_fee_parcels(traffic: Path, first: Path, second: Path) -> set[tuple[str, str]]:
    """Scans of all but one remote-fee parcel per (carrier, town) -> `first`, the held-back
    fee parcels' scans -> `second`. Returns the pairs whose counter grows in `second`."""
    fee_parcels: dict[tuple[str, str], list[str]] = defaultdict(list)
    for line in (traffic / "detected.jsonl").read_bytes().splitlines():
        v = orjson.loads(line)
        if v["type"] == "extra_fee" and v["rule"] == "fee_charged" and v.get("remote") is True:
            fee_parcels[(v["carrier"], v["town"])].append(v["parcel_id"])
    held_back = {pid for pids in fee_parcels.values() for pid in sorted(pids)[1:]}
    a, b = [], []
    for line in (traffic / "scans.jsonl").read_bytes().splitlines(keepends=True):
        try:
            pid = orjson.loads(line).get("parcel_id")
        except (orjson.JSONDecodeError, AttributeError):
            pid = None  # invalid lines: dead letters, in the first part
        (b if pid in held_back else a).append(line)
    first.write_bytes(b"".join(a))
    second.write_bytes(b"".join(b))
    return {pair for pair, pids in fee_parcels.items() if len(pids) >= 2}


def pairs(expected: set[tuple[str, str]]) -> str:
    """PromQL: one series per (carrier, town), to match others against."""
    return " or ".join(
        f'label_replace(label_replace(vector(1), "carrier", "{c}", "", ""), "town", "{t}", "", "")'
        for c, t in sorted(expected)
    )


@dataclass
class Run:
    firing: set[tuple[str, str]]  # (carrier, town) of the firing alerts in Prometheus
    expected: set[tuple[str, str]]  # the pairs the split makes grow
    smtp: SmtpSink
    http: HttpSink
    config: dict[str, Any]
    contacts: Contacts
    traffic: Path


def firing(prom: PrometheusServer) -> set[tuple[str, str]]:
    q = f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}'
    return {(s["metric"]["carrier"], s["metric"]["town"]) for s in prom.query(q)}


def delivered(run_: Run) -> bool:
    """Every firing alert has reached every one of its recipients."""
    c = run_.contacts
    for carrier, _town in run_.firing:
        receiver = c.carrier_receiver[carrier]
        if not run_.smtp.to(c.emails[receiver]):
            return False
        if not all(alerts_posted(run_.http, url) for url in c.webhooks[receiver]):
            return False
    if len(alerts_mailed(run_.smtp.to(c.emails["regulator"]))) < len(run_.firing):
        return False
    return len(wecom_alerts(run_.http)) >= len(run_.firing)


def alerts_posted(http: HttpSink, url: str) -> set[tuple[str, str]]:
    return {
        (a["labels"]["carrier"], a["labels"]["town"])
        for body in http.posted_to(url)
        for a in body["alerts"]
        if a["status"] == "firing"
    }


def labelled_pairs(text: str) -> set[tuple[str, str]]:
    """(carrier, town) of each alert in a notification's text: Alertmanager's default
    templates list every alert's labels sorted by name, as `name = value`."""
    carriers = re.findall(r"carrier = (\w+)", text)
    towns = re.findall(r"town = (\d+)", text)
    return set(zip(carriers, towns, strict=True))


def alerts_mailed(mails: list) -> set[tuple[str, str]]:
    """(carrier, town) of the alerts in the firing e-mails."""
    out = set()
    for m in mails:
        if m.subject.startswith("[FIRING:") and ALERT in m.subject:
            out |= labelled_pairs(m.text)
    return out


def wecom_alerts(http: HttpSink) -> set[tuple[str, str]]:
    out = set()
    for msg in http.wecom_messages:
        content = msg["text"]["content"]
        if ALERT in content and "FIRING" in content:
            out |= labelled_pairs(content)
    return out


@pytest.fixture(scope="module")
def run(kafka_bootstrap, redis_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alert-e2e")
    traffic = simulated_traffic(tmp / "traffic", seed=SEED, parcels=PARCELS, rates=RATES)
    config = repo_config()
    smtp, http = SmtpSink().start(), HttpSink().start()
    am = AlertmanagerServer(tmp / "alertmanager", for_test(config, smtp.port, http))
    scenario = Scenario(kafka_bootstrap, redis_url, tmp)
    port = free_port()
    prom = PrometheusServer(
        tmp / "prometheus", [f"127.0.0.1:{port}"], alertmanager=f"127.0.0.1:{am.port}"
    )
    (tmp / "prometheus").mkdir()
    try:
        am.start()
        prom.start()
        scenario.start_worker(port)
        first, second = tmp / "scans-1.jsonl", tmp / "scans-2.jsonl"
        expected = split_by_fee_parcels(traffic, first, second)
        processed = "sum(lastmile_events_processed_total)"

        scenario.publish(first)
        n_first = sum(1 for x in first.read_bytes().splitlines() if x.strip())
        got = prom.wait_until(processed, lambda v: v >= n_first, timeout=120)
        assert got == n_first, f"first half: Prometheus saw {got} of {n_first} messages"
        # every expected pair's counter is scraped at its first-part value before the rest
        # comes (the counter is read back from violations.v1, a moment after processing)
        fees = 'lastmile_violations_total{type="extra_fee", remote="true", rule="fee_charged"}'
        seen = prom.wait_until(
            f"count(sum by (carrier, town) ({fees}) and on (carrier, town) ({pairs(expected)}))",
            lambda v: v >= len(expected),
            timeout=60,
        )
        assert seen == len(expected), f"first part: {seen} of {len(expected)} pairs scraped"
        time.sleep(2)  # a few more scrapes at that plateau

        scenario.publish(second)
        n_all = sum(1 for x in (traffic / "scans.jsonl").read_bytes().splitlines() if x.strip())
        prom.wait_until(processed, lambda v: v >= n_all, timeout=120)
        prom.wait_until(
            f'count(ALERTS{{alertname="{ALERT}", alertstate="firing"}})',
            lambda v: v >= len(expected),
            timeout=60,
        )
        now_firing = firing(prom)
        assert now_firing, f"{ALERT} never fired; Prometheus log:\n{prom.log_tail()}"
        run_ = Run(now_firing, expected, smtp, http, config, contacts(config), traffic)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not delivered(run_):
            time.sleep(0.5)
        time.sleep(2)  # anything misrouted would have arrived by now too
        run_.firing = firing(prom)
        yield run_
    finally:
        prom.stop()
        scenario.stop_all()
        am.stop()
        smtp.stop()
        http.stop()


def by_carrier(pairs: set[tuple[str, str]]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for carrier, town in pairs:
        out[carrier].add((carrier, town))
    return out


def test_the_alert_fires_exactly_where_the_fees_grew(run: Run) -> None:
    assert len(by_carrier(run.expected)) >= 2, run.expected
    assert run.firing == run.expected


def test_each_carrier_gets_its_own_alerts_by_email_and_webhook(run: Run) -> None:
    c = run.contacts
    for carrier, pairs in by_carrier(run.firing).items():
        receiver = c.carrier_receiver[carrier]
        address = c.emails[receiver]
        mails = run.smtp.to(address)
        assert mails, f"{carrier}: no e-mail to {address}"
        for m in mails:
            assert m.rcpt_tos == [address], (carrier, m.rcpt_tos)
            assert str(m.message["To"]) == address
        assert alerts_mailed(mails) == pairs, carrier
        assert "偏远农村违规二次收费" in "".join(m.text for m in mails)
        (url,) = c.webhooks[receiver]
        assert alerts_posted(run.http, url) == pairs, carrier
        for body in run.http.posted_to(url):
            assert body["receiver"] == receiver
            assert {a["labels"]["carrier"] for a in body["alerts"]} == {carrier}


def test_the_regulator_gets_every_alert_by_email_and_wecom(run: Run) -> None:
    c = run.contacts
    mails = run.smtp.to(c.emails["regulator"])
    for m in mails:
        assert m.rcpt_tos == [c.emails["regulator"]]
    assert alerts_mailed(mails) == run.firing
    assert wecom_alerts(run.http) == run.firing
    wechat = c.wechat["regulator"]
    for msg in run.http.wecom_messages:
        assert msg["toparty"] == wechat["to_party"]
        assert msg["agentid"] == wechat["agent_id"]
        assert msg["msgtype"] == "text"
    g = run.config["global"]
    assert run.http.wecom_tokens, "Alertmanager never asked WeCom for a token"
    for token_request in run.http.wecom_tokens:
        assert token_request == {
            "corpid": g["wechat_api_corp_id"],
            "corpsecret": g["wechat_api_secret"],
        }


def test_nobody_else_is_sent_anything(run: Run) -> None:
    c = run.contacts
    firing_receivers = {c.carrier_receiver[carrier] for carrier, _ in run.firing}
    quiet = set(c.emails) - firing_receivers - {"regulator"}
    assert "carrier-unrouted" in quiet
    for receiver in quiet:
        assert not run.smtp.to(c.emails[receiver]), receiver
        for url in c.webhooks[receiver]:
            assert not run.http.posted_to(url), receiver
    known = set(c.emails.values())
    strays = [m.rcpt_tos for m in run.smtp.mails if not set(m.rcpt_tos) <= known]
    assert not strays
