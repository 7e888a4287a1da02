"""The API's reads over a real mirror: a small network's weeks of business played on a fresh chain, backfilled by
the real indexer into SQLite and into PostgreSQL, and read back as each member. What a member sees is checked
against the simulation's own model of the network (who runs which location, which order is whose, where each
shipment went), so the scope rules are tested against the business, not against the queries that implement them.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from indexer.cli import build_follower
from indexer.db import scratch_postgres_database
from indexer.schema import discrepancies, lots, orders, price_changes, stock_balances, stock_in_transit
from indexer.settings import Settings
from ledger_api import reads
from ledger_api.activity import HOUR, Call, Scale
from ledger_api.vocabulary import OrgKind, Role, Stage, stage_names
from tests.conftest import ENGINES, postgres_admin_url
from tests.indexer.ledger_chain import deploy_new_ledger, running_anvil

SCALE = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=5, carriers=2,
              target_events=2_000, days=8)
SEED = 23
NETWORK = "reads-test"
DEACTIVATED = "store.4.staff"  # deactivated on chain after the business is played
ALL = 1_000  # a page large enough for every row of this network


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The played ledger, the simulation's model of it, and its deployment file."""
    with running_anvil(range(8720, 8730)) as rpc:
        ledger = deploy_new_ledger(rpc, SEED, SCALE)
        rounds = list(ledger.activity.rounds())
        ledger.play(rounds)
        net = ledger.activity.network
        gone = net.members[DEACTIVATED].address
        ledger.writer.execute_round(rounds[-1].timestamp + HOUR, [
            Call(net.admin, "Membership", "deactivateAccount", (gone,), ("AccountDeactivated",))])
        ledger.writer.flush()
        yield SimpleNamespace(
            rpc=rpc, model=ledger.activity, net=net, now=rounds[-1].timestamp, head=int(rpc.call("eth_blockNumber"), 16),
            deployments=ledger.write_deployment(NETWORK, tmp_path_factory.mktemp("deployments")),
        )


@pytest.fixture(scope="module", params=ENGINES)
def conn(request, chain, tmp_path_factory):
    """A connection to the chain's mirror, built once per database engine."""
    if request.param == "sqlite":
        yield from _mirrored(chain, f"sqlite:///{tmp_path_factory.mktemp('mirror') / 'mirror.sqlite3'}")
        return
    with scratch_postgres_database(postgres_admin_url(), prefix="ledger_test") as url:
        yield from _mirrored(chain, url)


def _mirrored(chain, url: str):
    follower = build_follower(Settings(rpc_url=chain.rpc.url, network=NETWORK, deployments_dir=chain.deployments,
                                       database_url=url))
    follower.backfill(chain.head)
    engine = follower.mirror.engine
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------- the model's view


def kind_of(chain, org: int) -> OrgKind:
    return OrgKind.brand if org == 1 else OrgKind(next(o.kind for o in chain.net.organisations if o.id == org))


def members(chain, *kinds: OrgKind):
    """The active members, of the given organisation kinds (all kinds if none given)."""
    return [m for label, m in chain.net.members.items()
            if label != DEACTIVATED and (not kinds or kind_of(chain, m.org) in kinds)]


def caller_of(conn, member):
    caller = reads.load_caller(conn, member.address)
    assert caller is not None, member.label
    return caller


def sites_of(chain, org: int) -> set[int]:
    return {p.id for p in chain.net.places if p.org == org}


def region_sites(chain, region: int) -> set[int]:
    return {p.id for p in chain.net.places if p.region == region}


def order_region(chain, order) -> int:
    return chain.model.place[order.deliver_to].region


def may_see_order(chain, member, order) -> bool:
    kind = kind_of(chain, member.org)
    if kind in (OrgKind.brand, OrgKind.auditor, OrgKind.warehouse):
        return True
    if kind is OrgKind.region:
        return order_region(chain, order) == member.org
    return kind is OrgKind.distributor and order.distributor == member.org


def may_see_movement(chain, member, source: int, dest: int, carrier: int | None) -> bool:
    kind = kind_of(chain, member.org)
    if kind in (OrgKind.brand, OrgKind.auditor):
        return True
    if kind is OrgKind.region:
        return bool({source, dest} & region_sites(chain, member.org))
    if kind is OrgKind.carrier:
        return carrier == member.org
    if carrier is None and kind is not OrgKind.warehouse:  # a transfer: the brand's own stock
        return False
    return bool({source, dest} & sites_of(chain, member.org))


def brand(conn, chain):
    return caller_of(conn, chain.net.members["brand.admin"])


def ids(page: dict) -> list[int]:
    assert page["total"] == len(page["items"]), "the test expects every row on one page"
    return [item["id"] for item in page["items"]]


# ---------------------------------------------------------------------------------------------- callers


def test_load_caller_describes_each_member_as_the_registry_has_it_whatever_the_case_of_its_address(conn, chain):
    tiers = {o.id: o.tier for o in chain.net.organisations}
    for member in members(chain):
        kind = kind_of(chain, member.org)
        hex_part = member.address[2:]
        for spelling in (member.address, "0x" + hex_part.lower(), "0x" + hex_part.upper()):
            caller = reads.load_caller(conn, spelling)
            assert caller is not None, (member.label, spelling)
            assert caller.address == member.address  # EIP-55, whatever was asked
            assert (caller.org, caller.org_kind, caller.roles) == (member.org, kind, Role(member.roles))
            assert caller.locations == sites_of(chain, member.org)
            assert caller.price_tier == tiers.get(member.org, 0)
        parent = next((o.parent for o in chain.net.organisations if o.id == member.org), 0)
        expected_region = {OrgKind.region: member.org, OrgKind.distributor: parent, OrgKind.store: parent}.get(kind, 0)
        assert caller.region == expected_region, member.label


def test_load_caller_gives_none_for_an_unknown_or_a_deactivated_address(conn, chain):
    assert reads.load_caller(conn, "0x" + "ab" * 20) is None
    assert reads.load_caller(conn, "not an address") is None
    assert reads.load_caller(conn, chain.net.members[DEACTIVATED].address) is None


# ---------------------------------------------------------------------------------------------- orders


def test_each_member_lists_exactly_the_orders_it_may_see_newest_first(conn, chain):
    for member in members(chain):
        expected = sorted((o.id for o in chain.model.orders.values() if may_see_order(chain, member, o)), reverse=True)
        assert ids(reads.list_orders(conn, caller_of(conn, member), limit=ALL)) == expected, member.label


def test_a_distributor_lists_as_many_orders_as_it_submitted_on_chain(conn, chain):
    for member in members(chain, OrgKind.distributor):
        page = reads.list_orders(conn, caller_of(conn, member), limit=5)
        submitted = sum(1 for o in chain.model.orders.values() if o.distributor == member.org)
        assert page["total"] == submitted > 0
        assert len(page["items"]) == min(5, submitted)
        assert {item["distributor"] for item in page["items"]} == {member.org}


def test_a_store_and_a_carrier_see_no_orders(conn, chain):
    for member in members(chain, OrgKind.store, OrgKind.carrier):
        caller = caller_of(conn, member)
        assert reads.list_orders(conn, caller, limit=ALL)["total"] == 0
        assert all(reads.get_order(conn, caller, order_id) is None for order_id in chain.model.orders)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_get_order_answers_exactly_when_the_visibility_rule_allows_the_order(conn, chain, data):
    member = data.draw(st.sampled_from(members(chain)), label="member")
    order_id = data.draw(st.integers(0, len(chain.model.orders) + 3), label="order id")
    order = chain.model.orders.get(order_id)
    answer = reads.get_order(conn, caller_of(conn, member), order_id)
    assert (answer is not None) == (order is not None and may_see_order(chain, member, order))
    if answer is not None:
        assert (answer["id"], answer["distributor"]) == (order_id, order.distributor)


def test_a_regional_managers_pending_orders_are_the_submitted_orders_of_its_region_awaiting_its_stage(conn, chain):
    found = 0
    for member in members(chain, OrgKind.region):
        expected = sorted((o.id for o in chain.model.orders.values()
                           if o.state == "submitted" and order_region(chain, o) == member.org
                           and o.required & Stage.region_manager and not o.approved & Stage.region_manager),
                          reverse=True)
        page = reads.list_orders(conn, caller_of(conn, member), pending_for_me=True, limit=ALL)
        assert ids(page) == expected, member.label
        assert all(item["state"] == "submitted" and "region_manager" in item["pending_stages"]
                   for item in page["items"])
        found += len(expected)
    assert found > 0, "the played business should leave some orders waiting for a regional manager"


def test_head_office_pending_orders_follow_the_approval_sequence_except_for_urgent_orders(conn, chain):
    for label, stage in (("brand.sales_director", Stage.sales_director), ("brand.finance", Stage.finance)):
        expected = []
        for o in chain.model.orders.values():
            pending = o.required & ~o.approved
            if o.state == "submitted" and pending & stage and (o.urgent or pending & -pending == stage):
                expected.append(o.id)
        page = reads.list_orders(conn, caller_of(conn, chain.net.members[label]), pending_for_me=True, limit=ALL)
        assert ids(page) == sorted(expected, reverse=True), label
    for label in ("brand.admin", "brand.dispatcher", "auditor.1", "distributor.1.purchaser", "warehouse.1.staff"):
        caller = caller_of(conn, chain.net.members[label])
        assert reads.list_orders(conn, caller, pending_for_me=True, limit=ALL)["total"] == 0, label


def test_an_orders_detail_has_its_lines_approvals_pending_stages_and_shipments(conn, chain):
    caller = brand(conn, chain)
    for order_id, o in chain.model.orders.items():
        detail = reads.get_order(conn, caller, order_id)
        assert [(line["sku"], line["cases"]) for line in detail["lines"]] == list(o.lines.items())
        assert sorted(a["stage"] for a in detail["approvals"]) == sorted(stage_names(o.approved))
        assert detail["pending_stages"] == (stage_names(o.required & ~o.approved) if o.state == "submitted" else [])
        assert detail["shipments"] == sorted(s.id for s in chain.model.shipments.values() if s.kind == 0
                                             and s.ref == order_id)
        assert detail["urgent"] == o.urgent and detail["required_stages"] == stage_names(o.required)
    assert reads.get_order(conn, caller, len(chain.model.orders) + 1) is None


def test_order_filters_narrow_the_callers_scope_and_never_widen_it(conn, chain):
    manager = chain.net.members["region.1.manager"]
    other_region = chain.net.members["region.2.manager"].org
    manager_caller = caller_of(conn, manager)
    assert reads.list_orders(conn, manager_caller, region=other_region)["total"] == 0
    own = reads.list_orders(conn, manager_caller, region=manager.org, limit=ALL)
    assert own["total"] == sum(1 for o in chain.model.orders.values() if order_region(chain, o) == manager.org)

    distributor = caller_of(conn, chain.net.members["distributor.1.purchaser"])
    other_distributor = chain.net.members["distributor.2.purchaser"].org
    assert reads.list_orders(conn, distributor, distributor=other_distributor)["total"] == 0

    everyone = brand(conn, chain)
    for state in ("submitted", "delivered", "rejected"):
        expected = sum(1 for o in chain.model.orders.values() if o.state == state)
        assert reads.list_orders(conn, everyone, states=[state])["total"] == expected, state
    urgent = reads.list_orders(conn, everyone, urgent=True, limit=ALL)
    assert ids(urgent) == sorted((o.id for o in chain.model.orders.values() if o.urgent), reverse=True)

    times = sorted(conn.execute(select(orders.c.submitted_at)).scalars())
    start, end = times[len(times) // 4], times[3 * len(times) // 4]
    window = reads.list_orders(conn, everyone, submitted_from=start, submitted_to=end, limit=ALL)
    assert window["total"] == sum(1 for t in times if start <= t < end)
    assert all(start <= item["submitted_at"] < end for item in window["items"])


# ---------------------------------------------------------------------------------------------- cycle times


def expected_spread(values: list[int]) -> tuple:
    if not values:
        return 0, None, None
    p90 = values[0] if len(values) == 1 else statistics.quantiles(values, n=10, method="inclusive")[8]
    return len(values), statistics.median(values), p90


def spread(figures: dict) -> tuple:
    return figures["count"], figures["median_seconds"], figures["p90_seconds"]


def test_cycle_times_equal_an_independent_computation_per_region_and_overall(conn, chain):
    answer = reads.cycle_times(conn, brand(conn, chain))
    rows = conn.execute(select(orders.c.region, orders.c.urgent, orders.c.submitted_at, orders.c.approved_at,
                               orders.c.delivered_at)).all()
    by_region = defaultdict(list)
    for row in rows:
        by_region[row.region].append(row)
    assert answer["target_hours"] == {"normal": 8, "urgent": 12}
    assert [group["region"] for group in answer["regions"]] == sorted(by_region)
    for group, group_rows in [(answer["all"], rows)] + [(g, by_region[g["region"]]) for g in answer["regions"]]:
        approved = [r for r in group_rows if r.approved_at is not None]
        delivered = [r for r in approved if r.delivered_at is not None]
        assert group["orders"] == len(group_rows)
        assert spread(group["submit_to_approved"]) == expected_spread([r.approved_at - r.submitted_at for r in approved])
        assert spread(group["approved_to_delivered"]) == expected_spread(
            [r.delivered_at - r.approved_at for r in delivered])
        assert spread(group["submit_to_delivered"]) == expected_spread(
            [r.delivered_at - r.submitted_at for r in delivered])
        assert group["submit_to_approved"]["median_hours"] == round(group["submit_to_approved"]["median_seconds"] / 3600, 1)
        within = sum(1 for r in approved if r.approved_at - r.submitted_at <= (12 if r.urgent else 8) * 3600)
        assert group["within_target"] == {"count": within, "share": round(within / len(approved), 4)}
    assert answer["all"]["submit_to_delivered"]["count"] > 10


def test_cycle_times_of_a_region_or_a_distributor_cover_only_its_own_orders(conn, chain):
    manager = chain.net.members["region.1.manager"]
    caller = caller_of(conn, manager)
    mine = reads.cycle_times(conn, caller)
    assert [g["region"] for g in mine["regions"]] == [manager.org]
    assert mine["all"]["orders"] == sum(1 for o in chain.model.orders.values() if order_region(chain, o) == manager.org)
    elsewhere = reads.cycle_times(conn, caller, region=chain.net.members["region.2.manager"].org)
    assert elsewhere["regions"] == [] and elsewhere["all"]["orders"] == 0
    assert elsewhere["all"]["submit_to_approved"]["median_seconds"] is None

    distributor = chain.net.members["distributor.3.purchaser"]
    own = reads.cycle_times(conn, caller_of(conn, distributor), urgent=False)
    assert own["all"]["orders"] == sum(1 for o in chain.model.orders.values()
                                       if o.distributor == distributor.org and not o.urgent)
    store = caller_of(conn, chain.net.members["store.1.staff"])
    assert reads.cycle_times(conn, store)["all"]["orders"] == 0


# ---------------------------------------------------------------------------------------------- shipments


def test_each_member_lists_exactly_the_shipments_from_or_to_its_reach_and_a_carrier_only_its_own(conn, chain):
    kinds_seen = set()
    for member in members(chain):
        caller = caller_of(conn, member)
        expected = sorted((s.id for s in chain.model.shipments.values()
                           if may_see_movement(chain, member, s.source, s.dest, s.carrier)), reverse=True)
        assert ids(reads.list_shipments(conn, caller, now=chain.now, limit=ALL)) == expected, member.label
        hidden = [sid for sid in chain.model.shipments if sid not in set(expected)]
        assert all(reads.get_shipment(conn, caller, sid, now=chain.now) is None for sid in hidden[:25]), member.label
        if expected:
            kinds_seen.add(caller.org_kind)
    assert kinds_seen == set(OrgKind)


def test_a_carrier_sees_the_checkpoints_of_its_own_shipments_only(conn, chain):
    for member in members(chain, OrgKind.carrier):
        caller = caller_of(conn, member)
        page = reads.list_shipments(conn, caller, now=chain.now, limit=ALL)
        assert page["total"] > 0 and {item["carrier"] for item in page["items"]} == {member.org}
        checkpoints = [c for sid in ids(page) for c in reads.get_shipment(conn, caller, sid, now=chain.now)["checkpoints"]]
        assert checkpoints and {c["carrier"] for c in checkpoints} == {member.org}
        assert reads.list_shipments(conn, caller, carrier=member.org + 1, now=chain.now)["total"] == 0
        assert reads.list_transfers(conn, caller)["total"] == 0
        assert reads.stock(conn, caller)["total"] == 0


def test_overdue_means_in_transit_past_the_eta_or_received_after_it_as_of_now(conn, chain):
    caller = brand(conn, chain)
    for now in (chain.now, chain.now - 3 * 24 * HOUR, chain.now + 30 * 24 * HOUR):
        items = reads.list_shipments(conn, caller, now=now, limit=ALL)["items"]
        for item in items:
            late = item["state"] == "received" and item["received_at"] > item["eta"]
            assert item["late"] == late
            assert item["overdue"] == (late or (item["state"] == "in_transit" and item["eta"] < now)), item["id"]
        overdue = ids(reads.list_shipments(conn, caller, overdue=True, now=now, limit=ALL))
        on_time = ids(reads.list_shipments(conn, caller, overdue=False, now=now, limit=ALL))
        assert overdue == [i["id"] for i in items if i["overdue"]]
        assert on_time == [i["id"] for i in items if not i["overdue"]]
    in_transit = reads.list_shipments(conn, caller, state="in_transit", now=chain.now + 30 * 24 * HOUR, limit=ALL)
    assert in_transit["total"] > 0 and all(i["overdue"] and not i["late"] for i in in_transit["items"])
    waiting = reads.list_shipments(conn, caller, state="in_transit", overdue=False, now=chain.now, limit=ALL)
    assert waiting["total"] > 0 and all(i["eta"] >= chain.now for i in waiting["items"])


def test_a_shipments_detail_has_its_lots_as_decimal_strings_its_checkpoints_in_time_order_and_its_discrepancies(
        conn, chain):
    caller = brand(conn, chain)
    opened = defaultdict(list)
    for row in conn.execute(select(discrepancies.c.shipment_id, discrepancies.c.id, discrepancies.c.lot)):
        opened[row.shipment_id].append((row.id, str(row.lot)))
    for sid, s in chain.model.shipments.items():
        detail = reads.get_shipment(conn, caller, sid, now=chain.now)
        assert [(line["lot"], line["cases"]) for line in detail["lines"]] == [(str(lot), n)
                                                                             for lot, n in zip(s.lots, s.cases)]
        assert all(int(line["lot"]) > 2 ** 53 and line["sku"] == int(line["lot"]) >> 160 for line in detail["lines"])
        times = [c["time"] for c in detail["checkpoints"]]
        assert times == sorted(times)
        assert [(d["id"], d["lot"]) for d in detail["discrepancies"]] == opened.get(sid, [])
        assert (detail["kind"], detail["ref"], detail["from_location"], detail["to_location"]) == (
            ("order", "transfer", "delivery")[s.kind], s.ref, s.source, s.dest)
    assert opened, "the played business should include short receipts"


# ---------------------------------------------------------------------------------------------- transfers


def test_transfers_are_seen_by_the_brand_and_the_warehouses_they_involve_and_by_no_distributor_store_or_carrier(
        conn, chain):
    assert chain.model.transfers
    for member in members(chain):
        caller = caller_of(conn, member)
        expected = sorted((tid for tid, (source, dest, _, _) in chain.model.transfers.items()
                           if may_see_movement(chain, member, source, dest, None)), reverse=True)
        assert ids(reads.list_transfers(conn, caller, limit=ALL)) == expected, member.label
        for tid, (_, _, transfer_lots, cases) in chain.model.transfers.items():
            detail = reads.get_transfer(conn, caller, tid)
            assert (detail is not None) == (tid in expected)
            if detail is not None:
                assert [(line["lot"], line["cases"]) for line in detail["lines"]] == [
                    (str(lot), n) for lot, n in zip(transfer_lots, cases)]
    warehouses = members(chain, OrgKind.warehouse)
    assert any(reads.list_transfers(conn, caller_of(conn, m))["total"] for m in warehouses)


# ---------------------------------------------------------------------------------------------- stock


def held_in_mirror(conn) -> dict[tuple[int, int], list[int]]:
    """(location, lot) -> [on hand, in transit to it], from the two tables, without empty rows."""
    held = defaultdict(lambda: [0, 0])
    for location, lot, cases in conn.execute(select(stock_balances.c.location, stock_balances.c.lot,
                                                    stock_balances.c.cases)):
        held[(location, lot)][0] += cases
    for location, lot, cases in conn.execute(select(stock_in_transit.c.to_location, stock_in_transit.c.lot,
                                                    stock_in_transit.c.cases)):
        held[(location, lot)][1] += cases
    return {key: value for key, value in held.items() if sum(value) > 0}


def test_stock_rows_are_the_balances_and_transit_of_the_callers_locations_without_empty_rows(conn, chain):
    held = held_in_mirror(conn)
    for member in members(chain):
        caller = caller_of(conn, member)
        kind = caller.org_kind
        reach = (None if kind in (OrgKind.brand, OrgKind.auditor) else region_sites(chain, member.org)
                 if kind is OrgKind.region else set() if kind is OrgKind.carrier else sites_of(chain, member.org))
        page = reads.stock(conn, caller, limit=ALL)
        assert page["total"] == len(page["items"])
        rows = {(r["location"], int(r["lot"])): [r["on_hand"], r["in_transit"]] for r in page["items"]}
        assert rows == {k: v for k, v in held.items() if reach is None or k[0] in reach}, member.label
        for r in page["items"]:
            assert r["region"] == chain.net.region_of_place[r["location"]] and r["sku"] == int(r["lot"]) >> 160
        keys = [(r["location"], r["sku"], int(r["lot"])) for r in page["items"]]
        assert keys == sorted(keys)
    everything = reads.stock(conn, brand(conn, chain), include_in_transit=False, limit=ALL)["items"]
    assert everything and all(r["in_transit"] is None and r["on_hand"] > 0 for r in everything)
    assert len(everything) == sum(1 for on_hand, _ in held.values() if on_hand > 0)


def test_stock_filters_and_pages_stay_within_the_callers_locations(conn, chain):
    distributor = chain.net.members["distributor.1.purchaser"]
    caller = caller_of(conn, distributor)
    other = next(iter(sites_of(chain, chain.net.members["distributor.2.purchaser"].org)))
    assert reads.stock(conn, caller, location=other)["total"] == 0
    everyone = brand(conn, chain)
    whole = reads.stock(conn, everyone, limit=ALL)["items"]
    paged = [r for offset in range(0, len(whole), 7) for r in reads.stock(conn, everyone, limit=7, offset=offset)["items"]]
    assert paged == whole
    sku = whole[0]["sku"]
    assert reads.stock(conn, everyone, sku=sku, limit=ALL)["items"] == [r for r in whole if r["sku"] == sku]
    national = reads.stock(conn, everyone, region=0, limit=ALL)["items"]
    assert national and {r["location"] for r in national} <= set(chain.net.warehouse_places)


def test_stock_summaries_add_up_to_the_rows_by_location_region_and_sku(conn, chain):
    for member in (chain.net.members["brand.admin"], chain.net.members["region.2.manager"],
                   chain.net.members["distributor.4.purchaser"]):
        caller = caller_of(conn, member)
        rows = reads.stock(conn, caller, limit=ALL)["items"]
        assert rows
        for group in reads.STOCK_GROUPS:
            totals = defaultdict(lambda: [0, 0])
            for r in rows:
                totals[r[group]][0] += r["on_hand"]
                totals[r[group]][1] += r["in_transit"]
            summary = reads.stock_summary(conn, caller, group_by=group)
            assert [(s["key"], s["on_hand"], s["in_transit"]) for s in summary] == [
                (key, *totals[key]) for key in sorted(totals)], (member.label, group)
    assert reads.stock_summary(conn, caller_of(conn, chain.net.members["carrier.1.dispatcher"]), group_by="sku") == []


# ---------------------------------------------------------------------------------------------- prices and credit


def test_a_distributor_sees_the_price_history_and_prices_of_its_own_tier_only(conn, chain):
    counts = dict(conn.execute(select(price_changes.c.tier, func.count()).group_by(price_changes.c.tier)).all())
    for member in members(chain, OrgKind.distributor, OrgKind.store):
        caller = caller_of(conn, member)
        history = reads.price_history(conn, caller, limit=ALL)
        assert history["total"] == counts[caller.price_tier] and {c["tier"] for c in history["items"]} == {
            caller.price_tier}
        assert {p["tier"] for p in reads.current_prices(conn, caller)} == {caller.price_tier}
        assert reads.price_history(conn, caller, tier=(caller.price_tier + 1) % 3)["total"] == 0
    region = caller_of(conn, chain.net.members["region.1.manager"])
    history = reads.price_history(conn, region, limit=ALL)["items"]
    assert len(history) == sum(counts.values()) and len(counts) == 3
    keys = [(c["block_number"], c["log_index"]) for c in history]
    assert keys == sorted(keys, reverse=True)
    later = history[len(history) // 2]["time"]
    assert reads.price_history(conn, region, changed_from=later, limit=ALL)["total"] == sum(
        1 for c in history if c["time"] >= later)
    assert len(reads.current_prices(conn, region)) == 3 * SCALE.skus
    carrier = caller_of(conn, chain.net.members["carrier.2.dispatcher"])
    assert reads.price_history(conn, carrier)["total"] == 0 and reads.current_prices(conn, carrier) == []


def test_credit_is_seen_by_the_distributor_itself_its_region_and_head_office_only(conn, chain):
    everyone, auditor = brand(conn, chain), caller_of(conn, chain.net.members["auditor.1"])
    managers = {m.org: caller_of(conn, m) for m in members(chain, OrgKind.region)}
    others = [caller_of(conn, m) for m in members(chain, OrgKind.store, OrgKind.carrier, OrgKind.warehouse)]
    distributors = {m.org: caller_of(conn, m) for m in members(chain, OrgKind.distributor)}
    for org, limit in chain.net.credit_limits.items():
        region = next(o.parent for o in chain.net.organisations if o.id == org)
        assert reads.credit(conn, everyone, org)["credit_limit"] == limit
        assert reads.credit(conn, auditor, org) is not None
        for caller in distributors.values():
            assert (reads.credit(conn, caller, org) is not None) == (caller.org == org)
        for manager_org, caller in managers.items():
            assert (reads.credit(conn, caller, org) is not None) == (manager_org == region)
        assert all(reads.credit(conn, caller, org) is None for caller in others)
    answer = reads.credit(conn, everyone, next(iter(chain.net.credit_limits)))
    assert answer["available"] == answer["credit_limit"] - answer["exposure"]


def test_head_office_and_auditors_see_every_organisation_and_account_others_their_own_and_the_carriers(conn, chain):
    total = len(chain.net.organisations) + 1
    for label in ("brand.admin", "auditor.1"):
        caller = caller_of(conn, chain.net.members[label])
        assert len(reads.list_organisations(conn, caller)) == total
        assert len(reads.list_accounts(conn, caller)) == len(chain.net.members)
        assert {o["id"] for o in reads.list_organisations(conn, caller, kind="carrier")} == set(chain.net.carrier_orgs)
    for member in members(chain, OrgKind.region, OrgKind.warehouse, OrgKind.distributor, OrgKind.store,
                          OrgKind.carrier):
        caller = caller_of(conn, member)
        # Carriers are the network's public partners: every member names one when it dispatches.
        seen = [o["id"] for o in reads.list_organisations(conn, caller)]
        assert seen == sorted({member.org, *chain.net.carrier_orgs})
        colleagues = {m.address for m in chain.net.members.values() if m.org == member.org}
        assert {a["address"] for a in reads.list_accounts(conn, caller)} == colleagues
    everyone = reads.list_accounts(conn, brand(conn, chain))
    gone = next(a for a in everyone if a["address"] == chain.net.members[DEACTIVATED].address)
    assert gone["active"] is False and gone["roles"] == ["receiver", "store_staff"]


# ---------------------------------------------------------------------------------------------- catalog


def test_every_member_sees_the_same_catalog_and_lots(conn, chain):
    products = [(p.id, f"{p.gtin:014d}", p.name, p.bottles_per_case) for p in chain.net.products]
    lot_count = conn.execute(select(func.count()).select_from(lots)).scalar_one()
    for label in ("brand.admin", "store.1.staff", "carrier.1.dispatcher"):
        caller = caller_of(conn, chain.net.members[label])
        assert [(s["id"], s["gtin"], s["name"], s["bottles_per_case"]) for s in reads.list_skus(conn, caller)] == products
        page = reads.list_lots(conn, caller, limit=ALL)
        assert page["total"] == lot_count == len(page["items"])
        times = [item["commissioned_at"] for item in page["items"]]
        assert times == sorted(times, reverse=True)
        first = page["items"][0]
        assert reads.get_lot(conn, caller, int(first["lot"])) == first
        assert reads.get_sku(conn, caller, first["sku"])["id"] == first["sku"]
    assert reads.get_lot(conn, caller, (1 << 160) + 1) is None and reads.get_sku(conn, caller, 999) is None
    one_sku = reads.list_lots(conn, caller, sku=2, limit=ALL)["items"]
    assert one_sku and {item["sku"] for item in one_sku} == {2}


# ---------------------------------------------------------------------------------------------- answers


def test_unknown_names_and_bad_page_bounds_are_refused_with_what_to_send(conn, chain):
    caller = brand(conn, chain)
    refusals = [
        (lambda: reads.list_orders(conn, caller, states=["shipped"]), "unknown order state 'shipped': one of submitted"),
        (lambda: reads.list_shipments(conn, caller, state="lost", now=0), "unknown shipment state 'lost'"),
        (lambda: reads.list_shipments(conn, caller, kind="parcel", now=0), "one of order, transfer, delivery"),
        (lambda: reads.list_transfers(conn, caller, state="done"), "unknown transfer state 'done'"),
        (lambda: reads.list_organisations(conn, caller, kind="bank"), "unknown organisation kind 'bank'"),
        (lambda: reads.stock_summary(conn, caller, group_by="carrier"), "one of location, region, sku"),
        (lambda: reads.list_orders(conn, caller, limit=0), "limit must be 1-1000, not 0"),
        (lambda: reads.stock(conn, caller, limit=5_000), "limit must be 1-1000, not 5000"),
        (lambda: reads.price_history(conn, caller, offset=-1), "offset must be 0 or more, not -1"),
    ]
    for ask, message in refusals:
        with pytest.raises(reads.InvalidQuery) as refused:
            ask()
        assert message in str(refused.value)


def test_every_answer_is_plain_json_with_lot_ids_as_strings(conn, chain):
    caller = brand(conn, chain)
    order_id = next(o.id for o in chain.model.orders.values() if o.state == "delivered")
    shipment_id = next(iter(chain.model.shipments))
    answers = [
        reads.list_orders(conn, caller), reads.get_order(conn, caller, order_id),
        reads.list_shipments(conn, caller, now=chain.now), reads.get_shipment(conn, caller, shipment_id, now=chain.now),
        reads.list_transfers(conn, caller), reads.get_transfer(conn, caller, 1), reads.stock(conn, caller),
        reads.stock_summary(conn, caller, group_by="region"), reads.list_lots(conn, caller),
        reads.price_history(conn, caller), reads.current_prices(conn, caller), reads.cycle_times(conn, caller),
        reads.list_organisations(conn, caller), reads.list_accounts(conn, caller),
        reads.credit(conn, caller, next(iter(chain.net.credit_limits))),
    ]
    text = json.dumps(answers)  # refuses Decimal, bytes and enums that are not plain ints
    assert json.loads(text) == answers

    def numbers(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "lot":
                    assert isinstance(inner, str), value
                yield from numbers(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from numbers(inner)
        elif isinstance(value, int) and not isinstance(value, bool):
            yield value

    assert max(numbers(answers)) < 2 ** 53
    detail = reads.get_order(conn, caller, order_id)
    assert detail["state"] == "delivered" and all(a["stage"] in {s.name for s in Stage} for a in detail["approvals"])


# ---------------------------------------------------------------------------------------------- names


ORDER_NAMES = ("distributor_name", "region_name", "deliver_to_name")
SHIPMENT_NAMES = ("from_name", "to_name", "carrier_name")


def org_names(chain) -> dict[int, str]:
    return {1: chain.net.brand_name, **{o.id: o.name for o in chain.net.organisations}}


def place_names(chain) -> dict[int, str]:
    return {p.id: p.name for p in chain.net.places}


class Statements:
    """Counts the SQL statements a connection runs inside the block."""

    def __init__(self, conn):
        self.conn, self.count = conn, 0

    def _seen(self, *_):
        self.count += 1

    def __enter__(self):
        event.listen(self.conn, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_):
        event.remove(self.conn, "before_cursor_execute", self._seen)


def test_whoever_sees_an_order_sees_the_names_of_its_distributor_region_and_delivery_site(conn, chain):
    orgs, places = org_names(chain), place_names(chain)
    kinds_seen = set()
    for member in members(chain):
        caller = caller_of(conn, member)
        with Statements(conn) as statements:
            items = reads.list_orders(conn, caller, limit=ALL)["items"]
        assert statements.count == 2, "a page is one count and one select, names joined in"
        for item in items:
            order = chain.model.orders[item["id"]]
            region = order_region(chain, order)
            assert (item["distributor"], item["region"], item["deliver_to"]) == (
                order.distributor, region, order.deliver_to)
            assert tuple(item[name] for name in ORDER_NAMES) == (
                orgs[order.distributor], orgs[region], places[order.deliver_to]), member.label
        if caller.org_kind is OrgKind.distributor:  # no other distributor's name reaches it
            assert {item["distributor_name"] for item in items} == {orgs[member.org]}
        if items:
            kinds_seen.add(caller.org_kind)
            detail = reads.get_order(conn, caller, items[-1]["id"])
            assert {n: detail[n] for n in ORDER_NAMES} == {n: items[-1][n] for n in ORDER_NAMES}
        hidden = [o.id for o in chain.model.orders.values() if not may_see_order(chain, member, o)]
        assert all(reads.get_order(conn, caller, order_id) is None for order_id in hidden[:10]), member.label
    assert kinds_seen == {OrgKind.brand, OrgKind.auditor, OrgKind.region, OrgKind.warehouse, OrgKind.distributor}


def test_whoever_sees_a_shipment_sees_the_names_of_its_sites_and_its_carrier(conn, chain):
    orgs, places = org_names(chain), place_names(chain)
    kinds_seen = set()
    for member in members(chain):
        caller = caller_of(conn, member)
        with Statements(conn) as statements:
            items = reads.list_shipments(conn, caller, now=chain.now, limit=ALL)["items"]
        assert statements.count == 2, "a page is one count and one select, names joined in"
        for item in items:
            shipment = chain.model.shipments[item["id"]]
            assert (item["from_location"], item["to_location"], item["carrier"]) == (
                shipment.source, shipment.dest, shipment.carrier)
            assert tuple(item[name] for name in SHIPMENT_NAMES) == (
                places[shipment.source], places[shipment.dest], orgs[shipment.carrier]), member.label
        if caller.org_kind is OrgKind.carrier:  # no other carrier's name reaches it
            assert {item["carrier_name"] for item in items} == {orgs[member.org]}
        if items:
            kinds_seen.add(caller.org_kind)
            detail = reads.get_shipment(conn, caller, items[-1]["id"], now=chain.now)
            assert {n: detail[n] for n in SHIPMENT_NAMES} == {n: items[-1][n] for n in SHIPMENT_NAMES}
        hidden = [s.id for s in chain.model.shipments.values()
                  if not may_see_movement(chain, member, s.source, s.dest, s.carrier)]
        assert all(reads.get_shipment(conn, caller, sid, now=chain.now) is None for sid in hidden[:10]), member.label
    assert kinds_seen == set(OrgKind)
