"""The demo network generator: the network and its calls are a pure function of the seed; the demo and bench
scales have the sizes asked; the story's prerequisites (East China short of the flagship, North China holding
a surplus, warehouse stock, credit headroom, late and held-up shipments) hold in the plan; and a small network
generated on a real anvil is mirrored with the planned events, shows the story through the board's own reads
(the flagship's cover, and transfers from Beijing to Shanghai of what East China runs short of), holds
consumer scans of every verdict, writes keystores that open, and is found and skipped by a second run."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import func, select

from indexer.db import open_database
from indexer.schema import orders, organisations, raw_events, shipment_lines, shipments
from ledger_api import board_reads, reads, registry, scanning
from ledger_api.activity import REGION_NAMES, Scale, required_stages
from ledger_api.board import CoverRules
from ledger_api.delays import DelayRules
from ledger_api.demo_network import DemoError, _end_time, default_end, generate, main, network_counts, scale_named
from ledger_api.demo_story import FLAGSHIP, TRANSFER_SKUS, URGENT_CASES, StoryActivity, StoryError, check
from ledger_api.settings import Settings
from ledger_api.sourcing import SourcingRules
from ledger_api.vocabulary import ShipmentState
from tests.indexer.ledger_chain import running_anvil

END = default_end()  # the story reads as of now: the board's window is the last four weeks before the mirror's head
CODED = {FLAGSHIP, 2}


def plan(seed: int) -> tuple[StoryActivity, list]:
    activity = StoryActivity(seed, scale_named("small", END), bottle_codes=CODED)
    return activity, list(activity.rounds())


@pytest.fixture(scope="module")
def planned():
    return plan(7)


def test_the_same_seed_gives_the_same_network_and_calls_and_another_seed_does_not(planned):
    activity, rounds = planned
    again, rounds_again = plan(7)
    other, rounds_other = plan(8)
    assert [m.address for m in again.network.members.values()] == [m.address for m in activity.network.members.values()]
    assert rounds_again == rounds
    assert [m.address for m in other.network.members.values()] != [m.address for m in activity.network.members.values()]
    assert rounds_other != rounds


def test_the_demo_scale_builds_the_demo_network_and_the_bench_scale_the_benchmark_network():
    from ledger_api.activity import build_network

    demo = network_counts(build_network(7, scale_named("demo", END)))
    assert (demo["regions"], demo["warehouses"], demo["skus"]) == (32, 8, 40)
    assert 180 <= demo["distributors"] <= 220 and 1_800 <= demo["stores"] <= 2_200
    bench = network_counts(build_network(7, scale_named("bench", END)))
    assert (bench["regions"], bench["warehouses"], bench["skus"]) == (32, 8, 200)
    assert 950 <= bench["distributors"] <= 1_050 and 11_500 <= bench["stores"] <= 12_500


def test_the_activity_ends_in_the_hour_before_the_end_and_spans_mid_autumn_at_the_demo_scale(planned):
    _, rounds = planned
    assert END - 3_600 <= rounds[-1].timestamp < END
    demo = scale_named("demo", _end_time("2026-12-03"))
    assert demo.start_time < 1_790_294_400 < demo.end_time  # 2026-09-25


def test_the_story_prerequisites_hold_in_the_plan(planned):
    activity, rounds = planned
    facts = check(activity, rounds[-1].timestamp)
    assert facts.east_cover["flag"] == "shortage" and facts.east_cover["sold"] > 0
    assert facts.north_cover["flag"] == "surplus" and facts.north_cover["on_hand"] >= 1_800
    # Only Shanghai, East China's nearest warehouse, can ship the whole urgent order.
    assert [city for city, cases in facts.warehouse_cases.items() if cases >= URGENT_CASES] == ["Shanghai"]
    assert min(facts.warehouse_cases.values()) > 0
    assert facts.headroom_cases >= URGENT_CASES
    cast = activity.cast
    price = activity.prices[(FLAGSHIP, activity.tier_of[activity.place[cast.distributor_place].org])]
    assert required_stages(URGENT_CASES * price) == 7  # regional manager, sales director and finance
    assert facts.late_received > 0
    assert facts.in_transit > facts.in_transit_overdue > 0
    assert len(facts.recalled_lots) == 1
    assert activity.network.products[FLAGSHIP - 1].bottles_per_case == 6


def test_a_scale_too_small_for_the_story_or_an_unknown_scale_is_refused():
    with pytest.raises(StoryError, match="regions"):
        StoryActivity(1, Scale(regions=2, warehouses=3, start_time=END - 60 * 86_400, end_time=END))
    with pytest.raises(DemoError, match="unknown scale 'huge'"):
        scale_named("huge", END)


@pytest.mark.parametrize("argv, message", [
    (["--scale", "huge"], "invalid choice: 'huge'"),
    (["--seed", "-3"], "the seed must be 0 or more, not -3"),
    (["--seed", "seven"], "the seed must be a whole number"),
    (["--end", "last tuesday"], "is not a date or time"),
])
def test_bad_arguments_end_with_a_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- on a chain


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    with running_anvil(range(8950, 8960)) as rpc:
        env = {"LEDGER_RPC_URL": rpc.url, "LEDGER_NETWORK": "demo-test",
               "LEDGER_DEPLOYMENTS_DIR": str(folder / "deployments"),
               "LEDGER_DATABASE_URL": f"sqlite:///{folder / 'mirror.sqlite3'}",
               "LEDGER_BRAND_DATABASE_URL": f"sqlite:///{folder / 'brand.sqlite3'}",
               "LEDGER_KEYSTORE_DIR": str(folder / "keystore"), "LEDGER_CONTENT_STORE": f"local:{folder / 'content'}",
               "LEDGER_SCAN_DEFAULT_REGION": "RC-BEIJING"}
        (folder / "deployments").mkdir()
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            settings = Settings()
            state = generate(7, "small", END, settings, folder / "state.json", label="test")
            yield rpc, settings, state, folder


def test_the_played_network_is_mirrored_with_the_planned_events(generated, planned):
    rpc, settings, state, _ = generated
    activity, _ = planned
    assert state["events"] == sum(activity.planned.values())
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_events)).scalar() == state["mirrored_events"]
        by_name = dict(conn.execute(select(raw_events.c.name, func.count()).group_by(raw_events.c.name)).all())
        assert conn.execute(select(func.count()).select_from(orders)).scalar() == activity.counters["orders"]
        assert conn.execute(select(func.count()).select_from(shipments)).scalar() == activity.counters["shipments"]
        newest = reads.mirror_time(conn)
    engine.dispose()
    # Every event the plan names, as many times, and besides them only the deployment's own (the brand and its
    # admin registered by Membership's constructor, Orders wired to Inventory).
    extra = Counter(by_name)
    extra.subtract(activity.planned)
    assert +extra == Counter(OrganisationRegistered=1, AccountSet=1, InventorySet=1) and -extra == Counter()
    assert END <= newest <= time.time() + 1  # one block at the wall clock's time after the business
    assert rpc.call("anvil_getAutomine") is True  # the API's writes are mined as they arrive


def test_the_board_reads_east_china_short_and_north_china_in_surplus_of_the_flagship(generated):
    _, settings, state, _ = generated
    admin = next(s["address"] for s in state["sign_ins"] if s["role"] == "brand admin")
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        caller = reads.load_caller(conn, admin)
        cover = reads.stock_cover(conn, caller, CoverRules(), sku=FLAGSHIP)
        names = {r.id: r.name for r in conn.execute(select(organisations.c.id, organisations.c.name))}
    engine.dispose()
    flags = {names[row["region"]].split(" ")[0]: row for row in cover["rows"]}
    assert flags[REGION_NAMES[2]]["flag"] == "shortage"  # Zhejiang
    assert flags[REGION_NAMES[3]]["flag"] == "surplus" and flags["Beijing"]["on_hand"] >= 1_800


def test_the_board_suggests_transfers_from_beijing_to_shanghai_of_what_east_china_runs_short_of(generated, planned):
    _, settings, state, _ = generated
    cast = planned[0].cast
    admin = next(s["address"] for s in state["sign_ins"] if s["role"] == "brand admin")
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        caller = reads.load_caller(conn, admin)
        first = board_reads.transfer_suggestions(conn, caller, CoverRules(), SourcingRules(), DelayRules())
        board_reads.LEARNED.clear()
        again = board_reads.transfer_suggestions(conn, caller, CoverRules(), SourcingRules(), DelayRules())
    engine.dispose()
    suggestions = first["suggestions"]
    assert again == first  # deterministic: worked out anew, the same
    # Best first: East China's two SKUs, its cover gone, from Beijing's batch to the Shanghai warehouse.
    beijing, shanghai = cast.warehouses["Beijing"], cast.east_warehouse
    assert [(s["sku"], s["region"], s["from_location"], s["to_location"]) for s in suggestions[:2]] == \
        [(sku, cast.east_region, beijing, shanghai) for sku in TRANSFER_SKUS]
    for s in suggestions[:2]:
        assert s["cover_days_before"] == 0 and s["cover_days_after"] >= 30
        assert sum(line["cases"] for line in s["request"]["lines"]) == s["cases"] > 0
    assert len(suggestions) >= 3


def test_the_scan_log_holds_scans_of_every_verdict_across_regions_within_the_period(generated):
    _, settings, state, _ = generated
    brand = registry.open_registry(settings.brand_database_url)
    with brand.connect() as conn:
        rows = conn.execute(select(registry.scans.c.verdict, registry.scans.c.region, registry.scans.c.at)).all()
    brand.dispose()
    assert {r.verdict for r in rows} == {"genuine", "unknown", "opened", "diverted", "recalled", "suspicious"}
    assert len({r.region for r in rows}) >= 3
    assert all(state["start"] <= r.at < END for r in rows)
    assert {"genuine", "opened", "diverted", "recalled", "counterfeit"} <= set(state["samples"])


def test_every_sign_in_keystore_opens_with_the_password_to_its_address(generated):
    _, settings, state, _ = generated
    roles = {s["role"] for s in state["sign_ins"]}
    assert {"brand admin", "sales director", "finance", "East China region manager", "North China region manager",
            "warehouse dispatcher", "distributor (the story's)", "its store", "carrier", "auditor"} == roles
    password = settings.keystore_password.get_secret_value()
    for sign_in in state["sign_ins"]:
        began = time.perf_counter()
        key = Account.decrypt(json.loads(Path(sign_in["keystore"]).read_text()), password)
        assert time.perf_counter() - began < 0.5
        assert Account.from_key(key).address == sign_in["address"]


def test_a_second_run_on_the_same_chain_finds_the_network_and_skips_generation(generated, capsys):
    rpc, settings, state, folder = generated
    head = rpc.call("eth_blockNumber")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _env(settings).items():
            patch.setenv(name, value)
        began = time.perf_counter()
        assert main(["--seed", "7", "--scale", "small", "--state", str(folder / "state.json")]) == 0
        assert time.perf_counter() - began < 10
        assert "nothing to generate" in capsys.readouterr().out
        assert rpc.call("eth_blockNumber") == head
        with pytest.raises(SystemExit) as exit_:
            main(["--seed", "8", "--scale", "small", "--state", str(folder / "state.json")])
        assert exit_.value.code == 2 and "holds the network of seed 7" in capsys.readouterr().err


def test_the_generator_prints_a_bottle_a_shipment_delivered_and_names_a_shipment_that_delivered_none(
        generated, capsys):
    _, settings, _, _ = generated
    engine = open_database(settings.database_url)
    with engine.connect() as conn:
        shipment = conn.execute(
            select(shipments.c.id).join(shipment_lines, shipment_lines.c.shipment_id == shipments.c.id)
            .where(shipments.c.state == int(ShipmentState.received), shipment_lines.c.sku == FLAGSHIP)
            .order_by(shipments.c.id.desc())).scalars().first()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _env(settings).items():
            patch.setenv(name, value)
        assert main(["--bottle-of", str(shipment)]) == 0
        url = capsys.readouterr().out.strip()
        with pytest.raises(SystemExit) as exit_:
            main(["--bottle-of", "999999"])
        assert exit_.value.code == 2 and "shipment 999999 delivered no case" in capsys.readouterr().err
    serial = url.rsplit("/21/", 1)[1]
    brand = registry.open_registry(settings.brand_database_url)
    with brand.connect() as reg:
        issued = registry.find_bottle(reg, serial)
    brand.dispose()
    with engine.connect() as conn:
        stops = scanning.bottle_record(conn, issued).stops
    engine.dispose()
    assert any(stop.step == "received" and stop.shipment == shipment for stop in stops)


def test_a_chain_already_past_the_activity_s_start_is_refused(generated, tmp_path):
    _, settings, _, _ = generated
    with pytest.raises(DemoError, match="blocks cannot go back in time"):
        generate(7, "small", END, settings, tmp_path / "state.json")


def _env(settings: Settings) -> dict[str, str]:
    return {"LEDGER_RPC_URL": settings.rpc_url, "LEDGER_NETWORK": settings.network,
            "LEDGER_DEPLOYMENTS_DIR": str(settings.deployments_dir), "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_BRAND_DATABASE_URL": settings.brand_database_url, "LEDGER_KEYSTORE_DIR": str(settings.keystore_dir),
            "LEDGER_CONTENT_STORE": settings.content_store}
