"""Consumer scan benchmark: how many `POST /v1/scans` a second a 2-core deployment of the Ledger API answers, at
what latency, with ten million bottles in the brand registry and their journeys in a PostgreSQL mirror, beside
the same stack's ceiling on a static route.

`./dev bench scan` keeps two named PostgreSQL databases, `ledger_bench_scan_mirror` (the mirror's schema from
its migrations: 32 regions, 8 warehouses, 1,024 distributors, 12,288 stores, 40 SKUs, 10,000 lots of 167 cases
of 6 bottles, each lot dispatched to four distributors, on to stores and partly sold, with checkpoints and
write-offs) and `ledger_bench_scan_brand` (the registry: every bottle's code and its lot's Merkle tree, built
with `codes.LotCodes.build` in two processes and loaded with COPY, and a scan log of a million earlier scans).
A second run finds them with the expected row counts and measures at once (`--reload` loads them again). For
each run it starts anvil with a newly deployed ledger (the API checks the node and the deployment; the mirror
is marked as being at the head, and no transaction is sent), then `uvicorn --workers 2` with the API
(`app_factory`), and drives it with wrk (`bench/scan_load.lua`): random URLs of real bottles (3% never issued,
10% scanned outside the region they were shipped to), at rising connection counts, each measured `--runs` times
after a warm-up, rotating the order so the machine's noise spreads; and `GET /health` at the same counts, the
ceiling. The scans logged by the run are deleted at its end, so every run starts from the same log. Figures are
medians of the runs; results go to `bench/results/scan.json`. Targets: ≥ 1,500 scans/s at p99 ≤ 50 ms, and
≥ 30% of the ceiling at that connection count.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from indexer.contracts import load_artifacts, write_deployment  # noqa: E402
from indexer.db import migrate, open_database  # noqa: E402
from ledger_api import codes, registry  # noqa: E402
from ledger_api.activity import DAY, REGION_NAMES, WAREHOUSE_CITIES, Activity, Scale, gln, lot_id  # noqa: E402
from ledger_api.anvil import CHAIN_ID, free_port, start_anvil, stop_anvil, stop_process  # noqa: E402
from ledger_api.rawchain import LedgerCodec, LedgerWriter, Rpc, Signer  # noqa: E402
from ledger_api.vocabulary import OrgKind  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "scan_load.lua"
ANVIL_PORTS = range(8790, 8800)
API_PORTS = range(8800, 8810)
NETWORK = "bench-scan"
APP = "bench.scan:app_factory"
ADMIN_URL = "postgresql+psycopg://ledger:ledger@127.0.0.1:5432/postgres"  # the role ./dev sets up
TARGETS = {"scans_per_second": 1_500, "p99_seconds": 0.050, "ratio_to_ceiling": 0.30}
T0 = 1_767_225_600  # 2026-01-01: the first lot's commissioning; the log's scans come after
CARRIERS = 4
console = Console(stderr=True)


@dataclass(frozen=True)
class Dataset:
    """The size of the synthetic network; every row follows from it (and from random serials)."""

    lots: int = 10_000
    cases_per_lot: int = 167
    bottles_per_case: int = 6
    skus: int = 40
    regions: int = 32
    warehouses: int = 8
    distributors_per_region: int = 32
    stores_per_distributor: int = 12
    logged_scans: int = 1_000_000  # the scan log before the run
    opened: int = 10_000  # bottles marked opened
    layout: int = 2  # the rows' shape; a stored dataset of another layout is loaded again

    @property
    def bottles(self) -> int:
        return self.lots * self.cases_per_lot * self.bottles_per_case

    @property
    def distributors(self) -> int:
        return self.regions * self.distributors_per_region


FULL = Dataset()
QUICK = Dataset(lots=200, distributors_per_region=4, stores_per_distributor=3, logged_scans=20_000, opened=200)
SHIPMENTS_PER_LOT = 4  # warehouse to distributors, 40 cases each; 7 cases stay at the warehouse
CASES_PER_SHIPMENT = 40


# ---------------------------------------------------------------------------------------------- the network


class Network:
    """Ids of the synthetic network's organisations and locations, in the order the mirror numbers them."""

    def __init__(self, d: Dataset):
        self.d = d
        self.region_org = [2 + r for r in range(d.regions)]
        base = 2 + d.regions
        self.warehouse_org = [base + w for w in range(d.warehouses)]
        base += d.warehouses
        self.distributor_org = [base + i for i in range(d.distributors)]
        base += d.distributors
        self.store_org = [base + i for i in range(d.distributors * d.stores_per_distributor)]
        base += len(self.store_org)
        self.carrier_org = [base + c for c in range(CARRIERS)]
        # One location per warehouse, distributor and store, numbered in that order.
        self.location_of = {org: n + 1 for n, org in enumerate(self.warehouse_org + self.distributor_org +
                                                              self.store_org)}

    def region_code(self, r: int) -> str:
        return REGION_NAMES[r].upper().replace(" ", "_")

    def region_of_distributor(self, i: int) -> int:
        return i // self.d.distributors_per_region

    def stores_of(self, i: int) -> list[int]:
        k = self.d.stores_per_distributor
        return self.store_org[i * k:(i + 1) * k]

    def lot_distributors(self, lot: int) -> list[int]:
        """The distributors (indexes) a lot's four shipments go to: spread over regions and over the network."""
        return [(lot * 37 + k * (self.d.distributors // SHIPMENTS_PER_LOT + 1)) % self.d.distributors
                for k in range(SHIPMENTS_PER_LOT)]

    def meant_for_region(self, lot: int, case: int) -> int | None:
        """The region a case was shipped to (cases are taken first in, first out), or None if it never left."""
        k = (case - 1) // CASES_PER_SHIPMENT
        return self.region_of_distributor(self.lot_distributors(lot)[k]) if k < SHIPMENTS_PER_LOT else None


def gtin_of(sku: int) -> str:
    body = f"069012{sku:07d}"
    return body + str(codes.gtin_check_digit(body))


def lot_text(lot: int) -> str:
    return f"B{lot:07d}"


def fake_hash(*parts, size: int = 32) -> str:
    return "0x" + hashlib.blake2b(repr(parts).encode(), digest_size=size).hexdigest()


def _copy_text(row) -> str:
    return "\t".join("\\N" if v is None else ("t" if v is True else "f" if v is False else str(v)) for v in row)


def block_at(time: int) -> int:
    """The block of a moment of the synthetic history: one block every two seconds from T0."""
    return (time - T0) // 2 + 1


def mirror_rows(d: Dataset, roots: dict[int, str]) -> dict[str, tuple[list[str], list]]:
    """Every mirror row of the network, table by table: (columns, rows)."""
    net = Network(d)
    rng = random.Random(7)
    orgs, locs = [(1, int(OrgKind.brand), 0, 0, 0, "Guizhou Baijiu Distillery", "BRAND", T0)], []
    for r, org in enumerate(net.region_org):
        orgs.append((org, int(OrgKind.region), 1, org, 0, f"{REGION_NAMES[r]} Region", net.region_code(r), T0))
    for w, org in enumerate(net.warehouse_org):
        orgs.append((org, int(OrgKind.warehouse), 1, net.region_org[w % d.regions], 0,
                     f"{WAREHOUSE_CITIES[w % len(WAREHOUSE_CITIES)]} Warehouse {w + 1}", f"WH{w + 1}", T0))
    for i, org in enumerate(net.distributor_org):
        region = net.region_org[net.region_of_distributor(i)]
        orgs.append((org, int(OrgKind.distributor), region, region, i % 3, f"Distributor {i + 1}", f"D{i + 1}", T0))
        for j, store in enumerate(net.stores_of(i)):
            orgs.append((store, int(OrgKind.store), region, region, 0, f"Store {i + 1}.{j + 1}", f"S{i + 1}.{j + 1}",
                         T0))
    for c, org in enumerate(net.carrier_org):
        orgs.append((org, int(OrgKind.carrier), 1, 0, 0, f"Carrier {c + 1}", f"C{c + 1}", T0))
    org_row = {o[0]: o for o in orgs}
    for org, loc in net.location_of.items():
        kind, region, name = org_row[org][1], org_row[org][3], org_row[org][5]
        locs.append((loc, org, region, kind, f"{name}, main site", gln(f"69{loc:010d}"), True))
    sku_rows = [(s, gtin_of(s), d.bottles_per_case, f"Baijiu line {s} 53% 500 ml", "", True)
                for s in range(1, d.skus + 1)]

    lot_rows, shipment_rows, line_rows, checkpoint_rows, decommission_rows = [], [], [], [], []
    shipment = 0
    address = fake_hash("staff", size=20)
    span = 300 * DAY
    for n in range(d.lots):
        sku = n % d.skus + 1
        warehouse = net.warehouse_org[n % d.warehouses]
        at = T0 + n * span // d.lots
        recalled = n % 200 == 7
        lot_rows.append((lot_id(sku, lot_text(n)), sku, "0x" + lot_text(n).encode().ljust(20, b"\0").hex(),
                         net.location_of[warehouse], d.cases_per_lot, d.cases_per_lot * d.bottles_per_case,
                         roots[n], f"bafkreilot{n}", recalled, 2 if recalled else None,
                         at + 40 * DAY if recalled else None, at, fake_hash("lot", n)))
        lot = lot_id(sku, lot_text(n))

        def ship(source_org, dest_org, cases, sent, arrives):
            nonlocal shipment
            shipment += 1
            carrier = net.carrier_org[shipment % CARRIERS]
            received = arrives is not None
            # Each row's log sits in the block of its time, at a log index no other row of that block has.
            shipment_rows.append((shipment, 0, shipment, net.location_of[source_org], net.location_of[dest_org],
                                  carrier, sent + 2 * DAY, f"bafkreiship{shipment}", source_org, 2 if received else 1,
                                  cases, address, sent, address if received else None, arrives,
                                  dest_org if received else None, 0 if received else None,
                                  fake_hash("dispatch", shipment), block_at(sent), 4 * shipment,
                                  block_at(arrives) if received else None, 4 * shipment + 3 if received else None,
                                  fake_hash("receipt", shipment) if received else None))
            line_rows.append((shipment, 0, lot, sku, cases, cases if received else None))
            for k, status in enumerate((1, 2)):
                time = sent + (k + 1) * 6 * 3600
                checkpoint_rows.append((shipment, 4 * shipment + 1 + k, block_at(time), carrier, status,
                                        f"hub {shipment % 50}", address, time))

        for k, i in enumerate(net.lot_distributors(n)):
            sent = at + (k + 1) * DAY
            in_transit = k == SHIPMENTS_PER_LOT - 1 and n % 10 == 3
            ship(warehouse, net.distributor_org[i], CASES_PER_SHIPMENT, sent, None if in_transit else sent + DAY)
            if in_transit:
                continue
            # The distributor sends part on to two of its stores, which sell some of it.
            for j, store in enumerate(rng.sample(net.stores_of(i), min(2, d.stores_per_distributor))):
                store_sent = sent + (3 + j) * DAY
                ship(net.distributor_org[i], store, 10, store_sent, store_sent + DAY)
                decommission_rows.append((block_at(store_sent + 5 * DAY), 2_000_000 + 16 * n + 2 * k + j,
                                          net.location_of[store], lot, sku, 3, 0, address, store_sent + 5 * DAY))
        if n % 10 == 0:  # a damaged case written off at the warehouse
            decommission_rows.append((block_at(at + 10 * DAY), 2_000_000 + 16 * n + 15, net.location_of[warehouse],
                                      lot, sku, 1, 1, address, at + 10 * DAY))
    return {
        "organisations": (["id", "kind", "parent", "region", "price_tier", "name", "code", "registered_at"], orgs),
        "locations": (["id", "org", "region", "kind", "name", "gln", "active"], locs),
        "skus": (["id", "gtin", "bottles_per_case", "name", "content_cid", "active"], sku_rows),
        "lots": (["id", "sku", "lot_number", "location", "cases", "bottles", "merkle_root", "document_cid", "recalled",
                  "recall_reason", "recalled_at", "commissioned_at", "tx_hash"], lot_rows),
        "shipments": (["id", "kind", "ref", "from_location", "to_location", "carrier", "eta", "document_cid", "owner",
                       "state", "cases", "dispatched_by", "dispatched_at", "received_by", "received_at",
                       "received_owner", "shortfall", "tx_hash", "dispatched_block", "dispatched_log",
                       "received_block", "received_log", "received_tx_hash"], shipment_rows),
        "shipment_lines": (["shipment_id", "line_no", "lot", "sku", "cases", "received"], line_rows),
        "shipment_checkpoints": (["shipment_id", "log_index", "block_number", "carrier", "status", "place",
                                  "reported_by", "time"], checkpoint_rows),
        "decommissions": (["block_number", "log_index", "location", "lot", "sku", "cases", "reason", "recorded_by",
                           "time"], decommission_rows),
    }


# ---------------------------------------------------------------------------------------------- loading


def _plain(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _recreate(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _without_indexes(conn, table: str) -> list[str]:
    """Drops the table's keys and indexes (COPY into a bare table, index once after); returns the DDL that
    puts them back."""
    restore = []
    keys = conn.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')", (table,)).fetchall()
    for name, definition in keys:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s",
                                         (table,)).fetchall():
        conn.execute(f'DROP INDEX "{name}"')
        restore.append(definition)
    return restore


_worker: dict = {}


def _worker_start(brand_url: str, d: Dataset) -> None:
    _worker["conn"] = psycopg.connect(_plain(brand_url))
    _worker["conn"].execute("SET synchronous_commit = off")
    _worker["d"] = d
    _worker["net"] = Network(d)


def _register_lots(span: tuple[int, int]) -> tuple[int, int, dict[int, str]]:
    """Builds lots [first, last)'s codes and trees and COPYs them, a sample of their scans and opened marks
    into the registry; returns (lots, rows, {lot: Merkle root})."""
    first, last = span
    d, net, conn = _worker["d"], _worker["net"], _worker["conn"]
    rng = random.Random(first)
    lots_out, bottles_out, nodes_out, scans_out, opened_out = (io.StringIO() for _ in range(5))
    roots, rows = {}, 0
    now = int(time.time())
    per_lot_scans = d.logged_scans // d.lots
    per_lot_opened = max(1, d.opened // d.lots)
    for n in range(first, last):
        sku, ref = n % d.skus + 1, n + 1
        lot = codes.LotCodes.build(gtin_of(sku), lot_text(n), d.bottles_per_case, d.cases_per_lot)
        roots[n] = "0x" + lot.root.hex()
        commissioned = T0 + n * 300 * DAY // d.lots
        lots_out.write(_copy_text((ref, lot_id(sku, lot_text(n)), lot.gtin, lot.lot, d.bottles_per_case,
                                   len(lot.serials), roots[n], commissioned)) + "\n")
        per_case, leaf = d.bottles_per_case, lot.leaf_node
        bottles_out.write("".join(f"{s}\t{ref}\t{i // per_case + 1}\t{leaf[i]}\n" for i, s in enumerate(lot.serials)))
        nodes_out.write("".join(f"{ref}\t{i}\t\\\\x{h.hex()}\n" for i, h in enumerate(lot.nodes)))
        rows += 1 + len(lot.serials) + len(lot.nodes)
        # Earlier consumer scans: a few bottles scanned more than once, from their region's city.
        scanned = rng.sample(range(len(lot.serials)), per_lot_scans * 2 // 3 or 1)
        for k in range(per_lot_scans):
            i = scanned[k % len(scanned)]
            region = net.meant_for_region(n, i // per_case + 1)
            code = net.region_code(region if region is not None else n % d.regions)
            at = rng.randint(commissioned + 20 * DAY, max(commissioned + 20 * DAY, now - 3600))
            scans_out.write(f"{n * per_lot_scans + k + 1}\t{lot.serials[i]}\t{lot.gtin}\t{rng.getrandbits(128):032x}"
                            f"\t{REGION_NAMES[region if region is not None else 0]}\t{code}\t{at}\tgenuine\n")
        rows += per_lot_scans
        for i in rng.sample(range(len(lot.serials)), per_lot_opened):
            opened_out.write(f"{lot.serials[i]}\tstore\t{fake_hash('store staff', n, size=20)}\t{now - DAY}\n")
        rows += per_lot_opened
    with conn.cursor() as cur:
        for table, columns, buffer in (
                ("code_lots", "ref, lot_id, gtin, lot_number, bottles_per_case, bottles, merkle_root, issued_at",
                 lots_out),
                ("bottle_codes", "serial, lot_ref, case_number, node_index", bottles_out),
                ("tree_nodes", "lot_ref, node_index, hash", nodes_out),
                ("scans", "id, serial, gtin, device, place, region, at, verdict", scans_out),
                ("opened_bottles", "serial, opened_by, marked_by, marked_at", opened_out)):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
    conn.commit()
    return last - first, rows, roots


def expected_counts(d: Dataset) -> dict[str, int]:
    return {"code_lots": d.lots, "bottle_codes": d.bottles, "tree_nodes": d.lots * (2 * d.cases_per_lot *
                                                                                    d.bottles_per_case - 1),
            "scans": d.logged_scans // d.lots * d.lots}


def cached(mirror_url: str, brand_url: str, d: Dataset) -> dict | None:
    """The stored dataset's description if both databases hold this dataset completely, else None."""
    try:
        with psycopg.connect(_plain(brand_url)) as conn:
            marker = conn.execute("SELECT description FROM bench_scan_dataset").fetchone()
            if marker is None or json.loads(marker[0])["dataset"] != asdict(d):
                return None
            for table, count in expected_counts(d).items():
                if conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] != count:
                    return None
        with psycopg.connect(_plain(mirror_url)) as conn:
            if conn.execute("SELECT count(*) FROM lots").fetchone()[0] != d.lots:
                return None
    except (psycopg.Error, KeyError):
        return None
    return json.loads(marker[0])


def load(admin_url: str, mirror_name: str, brand_name: str, d: Dataset, processes: int) -> dict:
    """Creates both databases afresh and fills them; returns the dataset's description (sizes, seconds)."""
    began = time.perf_counter()
    brand_url, mirror_url = _recreate(admin_url, brand_name), _recreate(admin_url, mirror_name)
    registry.open_registry(brand_url).dispose()
    with psycopg.connect(_plain(brand_url), autocommit=True) as conn:
        restore = [ddl for table in ("code_lots", "bottle_codes", "tree_nodes", "scans", "opened_bottles")
                   for ddl in _without_indexes(conn, table)]
    chunk = max(1, min(20, d.lots // (processes * 8)))
    spans = [(first, min(first + chunk, d.lots)) for first in range(0, d.lots, chunk)]
    roots: dict[int, str] = {}
    total_rows = sum(expected_counts(d).values()) + max(1, d.opened // d.lots) * d.lots
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} rows"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("registry: codes, trees, scan log", total=total_rows, rate="")
        rows_done = 0
        with multiprocessing.get_context("fork").Pool(processes, _worker_start, (brand_url, d)) as pool:
            for _lots, rows, lot_roots in pool.imap_unordered(_register_lots, spans):
                roots.update(lot_roots)
                rows_done += rows
                progress.update(task, advance=rows,
                                rate=f"{rows_done / (time.perf_counter() - began):,.0f} rows/s")
        copied = time.perf_counter() - began
        index_task = progress.add_task("registry: keys and indexes", total=len(restore), rate="")
        with psycopg.connect(_plain(brand_url), autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            for ddl in restore:
                conn.execute(ddl)
                progress.advance(index_task)
            conn.execute("SELECT setval('scans_id_seq', (SELECT max(id) FROM scans))")
            conn.execute("ANALYZE")
        indexed = time.perf_counter() - began - copied

        mirror_began = time.perf_counter()
        engine = open_database(mirror_url)
        migrate(engine)
        engine.dispose()
        tables = mirror_rows(d, roots)
        mirror_task = progress.add_task("mirror: network, lots, journeys",
                                        total=sum(len(r) for _, r in tables.values()), rate="")
        with psycopg.connect(_plain(mirror_url)) as conn, conn.cursor() as cur:
            for table, (columns, rows) in tables.items():
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write("".join(_copy_text(r) + "\n" for r in rows))
                progress.advance(mirror_task, len(rows))
            conn.commit()
            conn.execute("ANALYZE")
        mirror_seconds = time.perf_counter() - mirror_began

    description = {
        "dataset": asdict(d),
        "bottles": d.bottles, "lots": d.lots, "skus": d.skus,
        "organisations": len(tables["organisations"][1]), "locations": len(tables["locations"][1]),
        "distributors": d.distributors, "stores": d.distributors * d.stores_per_distributor,
        **{f"{t}_rows": len(r) for t, (_c, r) in tables.items() if t not in ("organisations", "locations", "skus")},
        "tree_nodes_rows": expected_counts(d)["tree_nodes"], "logged_scans": expected_counts(d)["scans"],
        "load_seconds": {"registry_copy": round(copied, 1), "registry_indexes": round(indexed, 1),
                         "mirror": round(mirror_seconds, 1), "total": round(time.perf_counter() - began, 1)},
        "registry_rows_per_second": round(rows_done / copied),
    }
    with psycopg.connect(_plain(brand_url)) as conn:
        conn.execute("CREATE TABLE bench_scan_dataset (description text NOT NULL)")
        conn.execute("INSERT INTO bench_scan_dataset VALUES (%s)", (json.dumps(description),))
    return description


def database_sizes(admin_url: str, names: list[str]) -> dict[str, str]:
    with psycopg.connect(_plain(admin_url)) as conn:
        return {n: conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", (n,)).fetchone()[0] for n in names}


# ---------------------------------------------------------------------------------------------- the stack


def app_factory():
    """The API as `uvicorn --factory --workers 2` starts it in each worker, configured by `LEDGER_*`."""
    from ledger_api.app import configure_logging, create_app
    from ledger_api.settings import Settings

    configure_logging()
    return create_app(Settings())


def deploy_ledger(rpc: Rpc, folder: Path) -> None:
    """A ledger deployed on the fresh chain, so the API finds its contracts; no member activity."""
    codec = LedgerCodec(load_artifacts())
    net = Activity(1, Scale(regions=1, warehouses=1, distributors_per_region=1, stores_per_distributor=1, skus=1,
                            carriers=1, target_events=10, days=1)).network
    writer = LedgerWriter(rpc, codec, Signer(net.keys, CHAIN_ID), block_size=200)
    writer.prepare()
    deployed = writer.deploy_ledger(net.admin, net.brand_name)
    writer.close()
    write_deployment(deployed.deployment(NETWORK, codec), folder)


def mark_mirrored(mirror_url: str, rpc: Rpc) -> None:
    """Tells the API the mirror is at the chain's head (no transaction follows, so it stays there)."""
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    with psycopg.connect(_plain(mirror_url)) as conn:
        conn.execute("DELETE FROM sync_state")
        conn.execute("INSERT INTO sync_state (id, network, chain_id, block_number, block_hash, undecoded, "
                     "registry_version, updated_at) VALUES (1, %s, %s, %s, %s, 0, 1, %s)",
                     (NETWORK, CHAIN_ID, int(head["number"], 16), head["hash"], int(time.time())))


def start_api(folder: Path, rpc: Rpc, mirror_url: str, brand_url: str, workers: int, app: str
              ) -> tuple[subprocess.Popen, str]:
    port = free_port(API_PORTS)
    url = f"http://127.0.0.1:{port}"
    (folder / "keystore").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "LEDGER_RPC_URL": rpc.url, "LEDGER_NETWORK": NETWORK,
           "LEDGER_DEPLOYMENTS_DIR": str(folder / "deployments"), "LEDGER_DATABASE_URL": mirror_url,
           "LEDGER_BRAND_DATABASE_URL": brand_url, "LEDGER_SCAN_RATE_LIMIT": "1000000/minute",
           "LEDGER_KEYSTORE_DIR": str(folder / "keystore"), "LEDGER_CONTENT_STORE": f"local:{folder / 'content'}",
           "LEDGER_API_PORT": str(port), "LEDGER_PUBLIC_URL": url, "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}"}
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", app,
                            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
                            "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"],
                           cwd=ROOT, env=env, stdout=(folder / "api.log").open("w"), stderr=subprocess.STDOUT)
    deadline, ready = time.monotonic() + 120, 0
    while ready < 20:  # answers from both workers, most likely
        if api.poll() is not None:
            raise RuntimeError(f"the API exited with {api.returncode}:\n{(folder / 'api.log').read_text()[-3000:]}")
        if time.monotonic() > deadline:
            stop_process(api)
            raise RuntimeError(f"the API was not ready within 120 s; see {folder / 'api.log'}")
        try:
            ready = ready + 1 if httpx.get(f"{url}/ready", timeout=2).status_code == 200 else 0
        except httpx.HTTPError:
            ready = 0
        time.sleep(0.05)
    return api, url


def write_scan_list(brand_url: str, d: Dataset, count: int, path: Path) -> None:
    """`count` bottles to scan, one "url<TAB>region<TAB>city" line each: a random sample of the registry,
    scanned in the region they were shipped to, but 10% elsewhere and 3% codes the brand never issued."""
    net, rng = Network(d), random.Random()
    share = min(100.0, 100.0 * count * 1.3 / d.bottles)
    with psycopg.connect(_plain(brand_url)) as conn:
        sample = conn.execute(f"SELECT b.serial, l.gtin, l.lot_number, l.ref, b.case_number FROM bottle_codes b "
                              f"TABLESAMPLE BERNOULLI ({share}) JOIN code_lots l ON l.ref = b.lot_ref "
                              f"ORDER BY random() LIMIT {count}").fetchall()
    unknown = codes.new_serials(count // 33)
    lines = []
    for n, (serial, gtin, lot, ref, case) in enumerate(sample):
        region = net.meant_for_region(ref - 1, case)
        if region is None or rng.random() < 0.10:
            region = rng.randrange(d.regions)
        if n < len(unknown):
            serial = unknown[n]
        lines.append(f"{codes.digital_link('https://id.baijiu.example', gtin, lot, serial)}\t"
                     f"{net.region_code(region)}\t{REGION_NAMES[region]}\n")
    rng.shuffle(lines)
    path.write_text("".join(lines))


# ---------------------------------------------------------------------------------------------- the load


def wrk(url: str, route: str, connections: int, seconds: float, urls: Path) -> dict:
    """One wrk run; its done() line, with requests/s, and latencies in seconds."""
    env = {**os.environ, "SCAN_BENCH_ROUTE": route, "SCAN_BENCH_URLS": str(urls)}
    # One wrk thread: it needs far less than a core at these rates, and the API has the other cycles.
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(LUA), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("SCAN_BENCH "))
    r = json.loads(line.removeprefix("SCAN_BENCH "))
    errors = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {"per_second": round(r["requests"] / (r["duration_us"] / 1e6), 1), "p50_seconds": r["p50_us"] / 1e6,
            "p90_seconds": r["p90_us"] / 1e6, "p99_seconds": r["p99_us"] / 1e6, "max_seconds": r["max_us"] / 1e6,
            "requests": r["requests"], "errors": errors, "non2xx": r["non2xx"]}


def median_of(runs: list[dict]) -> dict:
    return {"per_second": round(statistics.median(r["per_second"] for r in runs), 1),
            "p50_seconds": round(statistics.median(r["p50_seconds"] for r in runs), 4),
            "p99_seconds": round(statistics.median(r["p99_seconds"] for r in runs), 4),
            "errors": sum(r["errors"] for r in runs), "runs": runs}


def best_level(scan: dict, health: dict) -> dict:
    """Our figure: the connection count with the most scans/s among those meeting the p99 target (the lowest
    p99 if none does), with the ceiling at the same count."""
    meeting = [c for c, m in scan.items() if m["p99_seconds"] <= TARGETS["p99_seconds"] and m["errors"] == 0]
    pick = max(meeting, key=lambda c: scan[c]["per_second"]) if meeting else min(scan, key=lambda c:
                                                                                 scan[c]["p99_seconds"])
    ratio = scan[pick]["per_second"] / health[pick]["per_second"]
    return {"connections": int(pick), "meets_p99": bool(meeting), "scans_per_second": scan[pick]["per_second"],
            "p50_seconds": scan[pick]["p50_seconds"], "p99_seconds": scan[pick]["p99_seconds"],
            "ceiling_per_second": health[pick]["per_second"], "ratio_to_ceiling": round(ratio, 3),
            "best_ceiling_per_second": max(m["per_second"] for m in health.values())}


def render(r: dict) -> str:
    rows = ["| route | connections | req/s | p50 ms | p99 ms | errors |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for route, label in (("scan", "POST /v1/scans"), ("health", "GET /health")):
        for c, m in r[route].items():
            rows.append(f"| {label} | {c} | {m['per_second']:,.0f} | {m['p50_seconds'] * 1000:.1f} | "
                        f"{m['p99_seconds'] * 1000:.1f} | {m['errors']} |")
    b, t = r["best"], TARGETS
    status = ("pass" if b["scans_per_second"] >= t["scans_per_second"] and b["meets_p99"] else "miss",
              "pass" if b["ratio_to_ceiling"] >= t["ratio_to_ceiling"] else "miss")
    return "\n".join([
        *rows, "",
        f"ours: {b['scans_per_second']:,.0f} scans/s at {b['connections']} connections, p50 "
        f"{b['p50_seconds'] * 1000:.1f} ms, p99 {b['p99_seconds'] * 1000:.1f} ms"
        f"{'' if b['meets_p99'] else ' (no level met p99 ≤ 50 ms: the lowest p99 shown)'} — target ≥ 1,500/s at "
        f"p99 ≤ 50 ms: {status[0]}",
        f"baseline: GET /health on the same stack, {b['ceiling_per_second']:,.0f}/s at {b['connections']} "
        f"connections; ours ÷ ceiling = {b['ratio_to_ceiling']:.0%} — target ≥ 30%: {status[1]}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bottles", type=int, help="bottles in the registry (default 10,020,000; --quick 200,400)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 lots, short loads, one run")
    parser.add_argument("--reload", action="store_true", help="load the databases again even if they are complete")
    parser.add_argument("--connections", default=None, help="comma-separated wrk connection counts (8,16,32,64)")
    parser.add_argument("--duration", type=float, help="seconds measured per load (default 15; --quick 4)")
    parser.add_argument("--warmup", type=float, help="seconds of load before each measurement (default 3)")
    parser.add_argument("--prewarm", type=float, help="seconds of scans before the first measurement, while the "
                                                      "new workers meet the lots (default 60; --quick 5)")
    parser.add_argument("--runs", type=int, help="measurements per route and level (median reported; default 3)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (a 2-core deployment's)")
    parser.add_argument("--processes", type=int, default=2, help="processes building the lots' trees")
    parser.add_argument("--postgres-url", default=os.environ.get("LEDGER_TEST_POSTGRES_URL", ADMIN_URL),
                        help="a PostgreSQL role that may create databases [env LEDGER_TEST_POSTGRES_URL]")
    parser.add_argument("--app", default=APP, help="the uvicorn factory to measure, e.g. a variant of the scan path "
                                                   "(its figures are printed, not written)")
    parser.add_argument("--keep", action="store_true", help="leave the API running after the load (for profiling)")
    args = parser.parse_args(argv)
    d = QUICK if args.quick else FULL
    if args.bottles:
        d = replace(d, lots=math.ceil(args.bottles / (d.cases_per_lot * d.bottles_per_case)))
        d = replace(d, logged_scans=min(d.logged_scans, d.lots * 100), opened=min(d.opened, d.lots))
    levels = [int(c) for c in (args.connections or ("8,32" if args.quick else "8,16,32,64")).split(",")]
    duration = args.duration or (4 if args.quick else 15)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    runs = args.runs or (1 if args.quick else 3)
    prewarm = args.prewarm if args.prewarm is not None else (5 if args.quick else 60)
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing (Debian: apt-get install -y wrk)")

    prefix = "ledger_bench_scan" if d == FULL else ("ledger_bench_scan_quick" if d == QUICK else
                                                    f"ledger_bench_scan_{d.lots}")
    mirror_name, brand_name = f"{prefix}_mirror", f"{prefix}_brand"
    base = make_url(args.postgres_url)
    mirror_url = base.set(database=mirror_name).render_as_string(hide_password=False)
    brand_url = base.set(database=brand_name).render_as_string(hide_password=False)
    try:
        psycopg.connect(_plain(args.postgres_url)).close()
    except psycopg.Error as exc:
        sys.exit(f"bench: cannot reach PostgreSQL at {base.render_as_string()} ({exc}); start it "
                 f"(pg_ctlcluster 15 main start) or give --postgres-url")

    description = None if args.reload else cached(mirror_url, brand_url, d)
    if description is None:
        console.print(f"bench: loading {d.bottles:,} bottles in {d.lots:,} lots into {mirror_name} and {brand_name}")
        description = load(args.postgres_url, mirror_name, brand_name, d, args.processes)
        loaded = True
    else:
        console.print(f"bench: {mirror_name} and {brand_name} already hold {d.bottles:,} bottles; loaded in "
                      f"{description['load_seconds']['total']} s earlier")
        loaded = False
    with psycopg.connect(_plain(brand_url)) as conn:
        mark = conn.execute("SELECT max(id) FROM scans").fetchone()[0] or 0

    result: dict = {"commit": _commit(), "machine": {"cores": os.cpu_count(), "load_average_before":
                                                     round(os.getloadavg()[0], 2)},
                    "data": {**{k: v for k, v in description.items() if k != "dataset"}, "loaded_this_run": loaded,
                             "database_sizes": database_sizes(args.postgres_url, [mirror_name, brand_name])},
                    "settings": {"workers": args.workers, "duration_seconds": duration, "warmup_seconds": warmup,
                                 "prewarm_seconds": prewarm,
                                 "runs": runs, "connections": levels, "load_generator": "wrk -t1 (bench/scan_load.lua)",
                                 "rate_limit": "1000000/minute"}}
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as scratch:
        folder = Path(scratch)
        urls = folder / "scan-urls.tsv"
        write_scan_list(brand_url, d, 20_000 if args.quick else 200_000, urls)
        anvil_port = free_port(ANVIL_PORTS)
        anvil = start_anvil(anvil_port, Scale().start_time - DAY, folder / "anvil.log")
        api = None
        try:
            rpc = Rpc(f"http://127.0.0.1:{anvil_port}")
            deploy_ledger(rpc, folder / "deployments")
            # A dataset loaded by an older version gets the newest schema first, as an operator migrates
            # before starting the API's workers.
            migrate(create_engine(mirror_url))
            mark_mirrored(mirror_url, rpc)
            api, url = start_api(folder, rpc, mirror_url, brand_url, args.workers, args.app)
            console.print(f"bench: API at {url} ({args.workers} workers); connections {levels}, {runs} run(s) of "
                          f"{duration:g} s after {warmup:g} s warm-up")
            measured: dict[str, dict[int, list]] = {"scan": {c: [] for c in levels}, "health": {c: [] for c in levels}}
            if prewarm:
                # A new process reads each lot's history from the mirror once and keeps it; the levels below
                # measure the process once it has met most lots, and this first load shows the cold start.
                cold = wrk(url, "scan", max(levels), prewarm, urls)
                result["cold_start"] = {"connections": max(levels), "seconds": prewarm, **cold}
                console.print(f"bench: cold start, scan c={max(levels)} for {prewarm:g} s: {cold['per_second']:,.0f}/s "
                              f"p99 {cold['p99_seconds'] * 1000:.1f} ms")
            for run in range(runs):
                order = levels[run % len(levels):] + levels[:run % len(levels)]
                for c in order:
                    for route in ("scan", "health"):
                        if warmup:
                            wrk(url, route, c, warmup, urls)
                        m = wrk(url, route, c, duration, urls)
                        measured[route][c].append(m)
                        console.print(f"bench: run {run + 1}, {route:6} c={c:3}: {m['per_second']:8,.0f}/s  p50 "
                                      f"{m['p50_seconds'] * 1000:6.1f} ms  p99 {m['p99_seconds'] * 1000:6.1f} ms  "
                                      f"errors {m['errors']}")
            if args.keep:
                console.print(f"bench: --keep: the API stays at {url}; press Enter to stop it")
                sys.stdin.readline()  # Enter, or the end of the input
        finally:
            if api is not None:
                stop_process(api)
            stop_anvil(anvil)
    with psycopg.connect(_plain(brand_url)) as conn:
        verdicts = dict(conn.execute("SELECT verdict, count(*) FROM scans WHERE id > %s GROUP BY verdict",
                                     (mark,)).fetchall())
        # The run's scans go, so the next run starts from the same log.
        conn.execute("DELETE FROM scans WHERE id > %s", (mark,))
    result["scan"] = {str(c): median_of(v) for c, v in measured["scan"].items()}
    result["health"] = {str(c): median_of(v) for c, v in measured["health"].items()}
    result["verdicts_of_the_run"] = dict(Counter(verdicts).most_common())
    result["best"] = best_level(result["scan"], result["health"])
    result["targets"] = TARGETS
    result["machine"]["load_average_after"] = round(os.getloadavg()[0], 2)
    print(render(result))
    if args.quick or args.app != APP:  # a smoke run's or a variant's figures are not the measurement
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scan.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"bench: wrote {RESULTS / 'scan.json'}")
    return 0


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
                              ).stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
