"""The board's weekly cycle time, price alert, distributor health and scan endpoints over HTTP, on the whole stack:
a small network's weeks of business played on anvil and mirrored by the real indexer, consumer scans in the
stack's own registry. Sign-in is required, bad query types are refused by name, each member gets its reach, and a
price change exactly at the chain's alert threshold raises no alert while one a basis point past it does."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import insert, select

from indexer.db import open_database
from indexer.schema import organisations, orders
from ledger_api import registry
from ledger_api.board_signals import WEEK, week_of
from ledger_api.vocabulary import OrgKind

PATHS = ("/v1/analytics/cycle-times/weekly", "/v1/analytics/price-alerts", "/v1/analytics/distributor-health",
         "/v1/analytics/scans")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.api.stack import running_stack
    from tests.indexer.ledger_chain import running_anvil

    folder = tmp_path_factory.mktemp("board-stack")
    with running_anvil(range(8940, 8950)) as rpc:
        with running_stack(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder,
                           brand_database_url=f"sqlite:///{folder / 'brand.sqlite3'}") as stack:
            yield stack


@pytest.fixture(scope="module")
def mirror(stack):
    engine = open_database(stack.settings.database_url)
    yield engine
    engine.dispose()


def label(stack, kind: OrgKind, n: int = 0) -> str:
    kinds = {o.id: o.kind for o in stack.network.organisations}
    return [m.label for m in stack.network.members.values() if kinds.get(m.org, OrgKind.brand) == kind][n]


def get(stack, who: str, path: str, **params) -> dict:
    answer = stack.client.get(path, params=params, headers=stack.sign_in(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_panel_needs_sign_in(stack):
    for path in PATHS:
        answer = stack.client.get(path)
        assert (answer.status_code, answer.json()["error"]) == (401, "SignInRequired")


@pytest.mark.parametrize("path, params", [(PATHS[0], {"region": "east"}), (PATHS[1], {"since": "last week"}),
                                          (PATHS[2], {"region": -1}), (PATHS[3], {"region": 2**40})])
def test_a_query_of_the_wrong_type_is_refused_by_name(stack, path, params):
    answer = stack.client.get(path, params=params, headers=stack.sign_in("brand.admin"))
    assert (answer.status_code, answer.json()["error"]) == (422, "InvalidRequest")


def test_the_weeks_count_every_order_of_the_window_once(stack, mirror):
    answer = get(stack, "brand.admin", PATHS[0])
    starts = [w["week_start"] for w in answer["weeks"]]
    assert answer["target_hours"] == {"normal": 8, "urgent": 12}
    assert starts and starts == list(range(starts[0], week_of(answer["as_of"]) + 1, WEEK))
    first = answer["as_of"] - (stack.settings.board_weeks - 1) * WEEK
    with mirror.connect() as conn:
        placed = conn.execute(select(orders.c.region, orders.c.submitted_at)
                              .where(orders.c.submitted_at >= week_of(first))).all()
    assert sum(w["orders"] for w in answer["weeks"]) == len(placed) > 0
    manager = "region.1.manager"
    region = stack.network.members[manager].org
    own = get(stack, manager, PATHS[0])["weeks"]
    assert sum(w["orders"] for w in own) == sum(1 for r, _ in placed if r == region) > 0
    assert get(stack, manager, PATHS[0], region=region + 1000)["weeks"] == []


def test_a_change_exactly_at_the_threshold_raises_no_alert_and_one_past_it_does(stack):
    before = get(stack, "brand.admin", PATHS[1])
    bps = before["threshold_bps"]
    assert [a["time"] for a in before["alerts"]] == sorted((a["time"] for a in before["alerts"]), reverse=True)
    sku = get(stack, "brand.admin", "/v1/skus")[0]["id"]
    director = stack.sign_in("brand.sales_director")
    base = stack.client.post("/v1/prices", headers=director, json={"changes": [
        {"sku": sku, "tier": 0, "price": 1_000_000}, {"sku": sku, "tier": 1, "price": 1_000_000}]})
    assert base.status_code == 200, base.text
    stack.rpc.call("evm_increaseTime", 60)  # the revision a minute later, so that `since` can tell them apart
    revision = stack.client.post("/v1/prices", headers=director, json={"changes": [
        {"sku": sku, "tier": 0, "price": 1_000_000 + 100 * bps},  # exactly the threshold
        {"sku": sku, "tier": 1, "price": 1_000_000 + 100 * bps + 100}]})  # one basis point past it
    assert revision.status_code == 200, revision.text
    at = int(stack.rpc.call("eth_getBlockByNumber", hex(revision.json()["block"]), False)["timestamp"], 16)
    answer = get(stack, "brand.admin", PATHS[1], since=at)
    assert [(a["sku"], a["tier"], a["change_bps"], a["old_price_yuan"], a["new_price_yuan"])
            for a in answer["alerts"]] == [(sku, 1, bps + 1, 10_000.0, 10_000 + bps + 1)]
    assert answer["revisions"] == [{"time": at, "tx_hash": revision.json()["tx_hash"], "skus": [sku],
                                    "max_change_bps": bps + 1}]
    carrier = label(stack, OrgKind.carrier)
    assert get(stack, carrier, PATHS[1], since=0)["alerts"] == []


def test_the_health_ranking_marks_its_top_fifth_and_follows_each_members_reach(stack, mirror):
    answer = get(stack, "brand.admin", PATHS[2])
    ranking = answer["distributors"]
    with mirror.connect() as conn:
        every = set(conn.execute(select(organisations.c.id).where(organisations.c.kind == int(OrgKind.distributor)))
                    .scalars())
    assert {d["distributor"] for d in ranking} == every
    assert [d["rank"] for d in ranking] == sorted(d["rank"] for d in ranking)
    assert [d["top"] for d in ranking] == [d["rank"] <= math.ceil(len(ranking) / 5) for d in ranking]
    assert all(0 <= d["score"] <= 100 and set(d["components"]) == set(answer["formula"]["weights"]) for d in ranking)
    assert "purchase frequency" in answer["formula"]["text"]
    assert get(stack, label(stack, OrgKind.auditor), PATHS[2]) == answer

    manager = "region.1.manager"
    region = stack.network.members[manager].org
    own = get(stack, manager, PATHS[2])["distributors"]
    assert {d["distributor"] for d in own} == {d["distributor"] for d in ranking if d["region"] == region}
    distributor = label(stack, OrgKind.distributor)
    [itself] = get(stack, distributor, PATHS[2])["distributors"]
    assert itself["distributor"] == stack.network.members[distributor].org
    assert get(stack, label(stack, OrgKind.store), PATHS[2])["distributors"] == []


def test_scans_are_seen_by_the_brand_and_by_regional_staff_for_their_region_only(stack, mirror):
    manager = "region.1.manager"
    region = stack.network.members[manager].org
    with mirror.connect() as conn:
        code = conn.execute(select(organisations.c.code).where(organisations.c.id == region)).scalar_one()
        now = conn.execute(select(orders.c.submitted_at).order_by(orders.c.submitted_at.desc())).scalars().first()
    brand = registry.open_registry(stack.settings.brand_database_url)
    with brand.begin() as conn:
        conn.execute(insert(registry.scans), [
            {"serial": f"S{n}", "gtin": "0", "device": f"d{n}", "place": city, "region": where, "at": now - n,
             "verdict": verdict}
            for n, (where, city, verdict) in enumerate([(code, "Pudong", "unknown"), (code, "Pudong", "genuine"),
                                                       ("RC-ELSEWHERE", "Xi'an", "diverted")])])
    brand.dispose()
    everything = get(stack, "brand.admin", PATHS[3])
    assert {r["region"]: r["total"] for r in everything["regions"]} == {code: 2, "RC-ELSEWHERE": 1}
    assert sum(sum(w["counts"].values()) for w in everything["weeks"]) == 3
    assert get(stack, label(stack, OrgKind.auditor), PATHS[3]) == everything
    own = get(stack, manager, PATHS[3])
    assert [(r["region"], r["risk_share"]) for r in own["regions"]] == [(code, 0.5)]
    assert own["hot_spots"] == [{"region": code, "city": "Pudong", "verdict": "unknown", "count": 1, "share": 0.5}]
    refused = stack.client.get(PATHS[3], headers=stack.sign_in(label(stack, OrgKind.distributor)))
    assert (refused.status_code, refused.json()["error"]) == (403, "ScansOutOfReach")
