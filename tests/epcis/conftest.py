"""Fixtures for the EPCIS suites: the GS1 reference implementation of the event hash (a test dependency only),
and a small hand-made ledger (registry, catalog, lot, shipments, sales) as the mirror's rows."""

from __future__ import annotations

import copy

import pytest

from ledger_api import epcis
from ledger_api.activity import lot_id
from ledger_api.vocabulary import OrgKind, ShipmentKind

T0 = 1_780_272_000  # 2026-06-01T00:00:00Z


def reference_hashes(document: dict) -> tuple[list[str], list[str]]:
    """(pre-hashes, hashes) of every event of an EPCIS JSON-LD document, by RalphTro/epcis-event-hash-generator."""
    from epcis_event_hash_generator import hash_generator, json_to_py

    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    prehashes = hash_generator.derive_prehashes_from_events(events)
    assert len(prehashes) == len(events[2]), "the reference could not read every event"
    return prehashes, hash_generator.calculate_hashes_from_pre_hashes(prehashes)


def reference_hash(event: dict, context=None) -> str:
    """The reference's hash of `event` alone in a document."""
    document = epcis.document([event], T0)
    if context is not None:
        document["@context"] = context
    return reference_hashes(document)[1][0]


def gln(body12: str) -> str:
    return body12 + str(epcis.check_digit(body12))


GTIN = "0" + "690123400001" + str(epcis.check_digit("0690123400001"))
LOT = "B2026-06A"
LOT_NUMBER = "0x" + LOT.encode().ljust(20, b"\0").hex()
WAREHOUSE, DISTRIBUTOR, STORE = 1, 2, 3


def directory() -> epcis.Directory:
    return epcis.Directory(
        locations={
            WAREHOUSE: {"gln": gln("690123400011"), "org": 3, "kind": OrgKind.warehouse},
            DISTRIBUTOR: {"gln": gln("695555500021"), "org": 4, "kind": OrgKind.distributor},
            STORE: {"gln": gln("697777700031"), "org": 5, "kind": OrgKind.store},
        },
        skus={1: {"gtin": GTIN, "bottles_per_case": 6}},
        organisations={1: {"kind": OrgKind.brand}, 3: {"kind": OrgKind.warehouse}, 4: {"kind": OrgKind.distributor},
                       5: {"kind": OrgKind.store}, 7: {"kind": OrgKind.carrier}},
    )


def lot_row(**changes) -> dict:
    row = {"id": lot_id(1, LOT), "sku": 1, "lot_number": LOT_NUMBER, "location": WAREHOUSE, "cases": 4,
           "bottles": 24, "merkle_root": "0x" + "ab" * 32, "document_cid": "bafy", "recalled": False,
           "recall_reason": None, "recalled_at": None, "commissioned_at": T0, "tx_hash": "0x" + "01" * 32}
    return {**row, **changes}


def shipment_row(**changes) -> dict:
    row = {"id": 9, "kind": ShipmentKind.order, "ref": 42, "from_location": WAREHOUSE, "to_location": DISTRIBUTOR,
           "carrier": 7, "eta": T0 + 86_400 * 3, "owner": 3, "state": 2, "cases": 3, "dispatched_at": T0 + 3_600,
           "received_at": T0 + 86_400 * 2, "received_owner": 4, "shortfall": 1}
    return {**row, **changes}


def line_rows() -> list[dict]:
    return [{"shipment_id": 9, "line_no": 0, "lot": lot_id(1, LOT), "sku": 1, "lot_number": LOT_NUMBER,
             "cases": 3, "received": 2}]


BOTTLES = [(f"S{n:04d}", n // 6 + 1) for n in range(12)]  # two cases of six


def sample_events() -> list[dict]:
    """One event of every kind the exporter writes, from the hand-made rows."""
    d = directory()
    shipment, lines = shipment_row(), line_rows()
    return [
        *epcis.commissioning_events(lot_row(), d, BOTTLES),
        epcis.dispatch_event(shipment, lines, d),
        epcis.checkpoint_event({"time": T0 + 7_200, "place": "郑州 hub", "status": 2, "carrier": 7}, shipment,
                               lines, d),
        epcis.receipt_event(shipment, lines, d),
        epcis.dispatch_event(shipment_row(id=10, kind=ShipmentKind.transfer, ref=5), lines, d),
        epcis.decommission_event({"location": STORE, "lot": lot_id(1, LOT), "sku": 1, "lot_number": LOT_NUMBER,
                                  "cases": 1, "reason": 0, "time": T0 + 86_400 * 5}, d),
        epcis.decommission_event({"location": 0, "lot": lot_id(1, LOT), "sku": 1, "lot_number": LOT_NUMBER,
                                  "cases": 1, "reason": 3, "time": T0 + 86_400 * 6}, d),
        epcis.recall_event(lot_row(recalled=True, recall_reason=7, recalled_at=T0 + 86_400 * 7), d),
    ]


@pytest.fixture
def events() -> list[dict]:
    return sample_events()
