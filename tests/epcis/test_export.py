"""The mapping of mirror rows to EPCIS 2.0 events, with no node and no database: hand-made rows in, JSON-LD out,
checked against the EPCIS 2.0 / CBV 2.0 rules the exporter follows and named by the reference's hash."""

from __future__ import annotations

import re

import pytest

from ledger_api import epcis
from ledger_api.activity import lot_id
from ledger_api.vocabulary import ShipmentKind
from tests.epcis.conftest import (BOTTLES, DISTRIBUTOR, GTIN, LOT, LOT_NUMBER, STORE, T0, WAREHOUSE, directory,
                                  line_rows, lot_row, reference_hashes, sample_events, shipment_row)

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
REQUIRED = {"ObjectEvent": {"eventTime", "eventTimeZoneOffset", "action"},
            "AggregationEvent": {"eventTime", "eventTimeZoneOffset", "action", "parentID"}}
LOT_CLASS = f"https://id.gs1.org/01/{GTIN}/10/{LOT}"


def test_every_event_has_its_type_required_fields_a_utc_time_and_its_hash_as_id(events):
    for event in events:
        assert REQUIRED[event["type"]] <= event.keys()
        assert TIME.match(event["eventTime"]) and event["eventTimeZoneOffset"] == "+08:00"
        assert event["eventID"] == epcis.event_hash(event)
        assert event["bizStep"] in epcis.BIZ_STEPS
        assert event.get("disposition", "active") in epcis.DISPOSITIONS
        assert event["action"] in ("ADD", "OBSERVE", "DELETE")
    assert [e["eventID"] for e in events] == reference_hashes(epcis.document(events, T0))[1]
    assert len({e["eventID"] for e in events}) == len(events)


def test_a_document_is_an_epcis_2_document_in_json_ld(events):
    document = epcis.document(events, T0)
    assert document["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert {"baijiu": "https://ns.baijiu-ledger.org/epcis/"} in document["@context"]
    assert (document["type"], document["schemaVersion"], document["creationDate"]) == \
        ("EPCISDocument", "2.0", "2026-06-01T00:00:00.000Z")
    assert document["epcisBody"]["eventList"] == events
    query = epcis.query_document(events, T0)
    assert query["type"] == "EPCISQueryDocument"
    assert query["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == events


def test_a_lot_number_reads_as_its_printed_text_and_names_the_lot_class():
    assert epcis.lot_text(LOT_NUMBER) == LOT
    assert lot_id(1, LOT) == (1 << 160) | int(LOT_NUMBER, 16)
    assert directory().lot_class(1, LOT_NUMBER) == LOT_CLASS
    assert epcis.lot_class(GTIN, "A/B:1") == f"https://id.gs1.org/01/{GTIN}/10/A%2FB%3A1"
    assert epcis.parse_item(epcis.bottle_uri(GTIN, "A/B:1", "S 1")) == (GTIN, "A/B:1", "S 1")
    assert epcis.parse_item(f"https://brand.example.cn/01/{GTIN}/10/{LOT}") == (GTIN, LOT, None)
    assert epcis.parse_item("https://id.gs1.org/414/6901234000115") is None


def test_commissioning_adds_the_lots_bottles_at_its_warehouse():
    event = epcis.commissioning_events(lot_row(), directory())[0]
    place = {"id": f"https://id.gs1.org/414/{directory().gln(WAREHOUSE)}"}
    assert (event["type"], event["action"], event["bizStep"], event["disposition"]) == \
        ("ObjectEvent", "ADD", "commissioning", "active")
    assert event["quantityList"] == [{"epcClass": LOT_CLASS, "quantity": 24}]  # counted bottles: no uom
    assert event["readPoint"] == event["bizLocation"] == place
    assert event["eventTime"] == "2026-06-01T00:00:00.000Z"
    assert event["ilmd"]["baijiu:cases"] == 4


def test_without_bottle_codes_a_lot_has_no_packing_and_with_them_one_aggregation_per_case():
    assert len(epcis.commissioning_events(lot_row(), directory())) == 1
    packing = epcis.commissioning_events(lot_row(), directory(), BOTTLES)[1:]
    assert [(e["type"], e["action"], e["bizStep"]) for e in packing] == [("AggregationEvent", "ADD", "packing")] * 2
    assert [e["parentID"] for e in packing] == [f"https://ns.baijiu-ledger.org/epcis/case/{GTIN}/{LOT}/{n}"
                                                for n in (1, 2)]
    assert packing[0]["childEPCs"] == [f"{LOT_CLASS}/21/S{n:04d}" for n in range(6)]
    assert sum(len(e["childEPCs"]) for e in packing) == len(BOTTLES)


def test_an_order_dispatch_ships_bottles_in_transit_under_its_purchase_order_from_owner_to_receiver():
    d = directory()
    event = epcis.dispatch_event(shipment_row(), line_rows(), d)
    assert (event["action"], event["bizStep"], event["disposition"]) == ("OBSERVE", "shipping", "in_transit")
    assert event["quantityList"] == [{"epcClass": LOT_CLASS, "quantity": 18}]  # 3 cases of 6
    assert event["readPoint"] == {"id": f"https://id.gs1.org/414/{d.gln(WAREHOUSE)}"}
    brand = d.brand_gln()
    assert event["bizTransactionList"] == [
        {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{brand}:42"},
        {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{d.gln(WAREHOUSE)}:9"}]
    assert event["sourceList"] == [
        {"type": "owning_party", "source": f"https://id.gs1.org/417/{d.gln(WAREHOUSE)}"},
        {"type": "possessing_party", "source": f"https://id.gs1.org/417/{d.gln(WAREHOUSE)}"},
        {"type": "location", "source": f"https://id.gs1.org/414/{d.gln(WAREHOUSE)}"}]
    assert event["destinationList"][0] == {"type": "owning_party",
                                           "destination": f"https://id.gs1.org/417/{d.gln(DISTRIBUTOR)}"}
    assert {e["type"] for e in event["sourceList"] + event["destinationList"]} == epcis.PARTY_TYPES


@pytest.mark.parametrize("kind", [ShipmentKind.transfer, ShipmentKind.delivery])
def test_a_transfer_or_delivery_has_its_despatch_advice_and_no_purchase_order(kind):
    event = epcis.dispatch_event(shipment_row(kind=kind, ref=5), line_rows(), directory())
    assert [t["type"] for t in event["bizTransactionList"]] == ["desadv"]


def test_a_checkpoint_is_transporting_with_its_place_as_an_extension_and_no_read_point():
    d = directory()
    event = epcis.checkpoint_event({"time": T0, "place": "Wuhan hub", "status": 4, "carrier": 7},
                                   shipment_row(), line_rows(), d)
    assert (event["bizStep"], event["disposition"]) == ("transporting", "in_transit")
    assert "readPoint" not in event and event["baijiu:place"] == "Wuhan hub"
    assert event["baijiu:checkpoint"] == "delayed"
    assert event["baijiu:carrier"] == "https://ns.baijiu-ledger.org/epcis/org/7"  # a carrier runs no location
    assert "{https://ns.baijiu-ledger.org/epcis/}place=Wuhan hub" in epcis.prehash(event)


def test_a_receipt_counts_what_arrived_at_the_receiver():
    d = directory()
    event = epcis.receipt_event(shipment_row(), line_rows(), d)
    assert (event["bizStep"], event["disposition"]) == ("receiving", "in_progress")
    assert event["quantityList"] == [{"epcClass": LOT_CLASS, "quantity": 12}]  # 2 of 3 cases arrived
    assert event["readPoint"] == event["bizLocation"] == {"id": f"https://id.gs1.org/414/{d.gln(DISTRIBUTOR)}"}
    assert event["eventTime"] == "2026-06-03T00:00:00.000Z"


@pytest.mark.parametrize("reason, step, disposition", [
    (0, "retail_selling", "retail_sold"), (1, "destroying", "destroyed"), (2, "destroying", "destroyed"),
    (3, "decommissioning", "unknown")])
def test_a_sale_or_write_off_takes_the_cbv_step_and_disposition_of_its_reason(reason, step, disposition):
    row = {"location": 0 if reason == 3 else STORE, "sku": 1, "lot_number": LOT_NUMBER, "cases": 2, "reason": reason,
           "time": T0}
    event = epcis.decommission_event(row, directory())
    assert (event["bizStep"], event["disposition"]) == (step, disposition)
    assert event["quantityList"] == [{"epcClass": LOT_CLASS, "quantity": 12}]
    assert ("readPoint" in event) == (reason != 3)  # lost in transit: nowhere


def test_a_recall_holds_the_whole_lot_as_recalled():
    event = epcis.recall_event(lot_row(recalled=True, recall_reason=3, recalled_at=T0 + 60), directory())
    assert (event["action"], event["bizStep"], event["disposition"]) == ("OBSERVE", "holding", "recalled")
    assert event["quantityList"] == [{"epcClass": LOT_CLASS}]
    assert event["eventTime"] == "2026-06-01T00:01:00.000Z"


def test_an_organisation_is_the_party_of_its_first_location_and_the_brand_that_of_its_first_site():
    d = directory()
    assert d.party(4) == f"https://id.gs1.org/417/{d.gln(DISTRIBUTOR)}"
    assert d.party(1) == f"https://id.gs1.org/417/{d.gln(WAREHOUSE)}"
    assert d.party(99) == "https://ns.baijiu-ledger.org/epcis/org/99"


def test_biz_steps_and_locations_are_read_short_or_as_uris():
    assert epcis.short_biz_step("https://ref.gs1.org/cbv/BizStep-shipping") == "shipping"
    assert epcis.short_biz_step("urn:epcglobal:cbv:bizstep:receiving") == "receiving"
    assert epcis.short_biz_step("teleporting") is None
    assert epcis.parse_gln("https://id.gs1.org/414/6901234000115") == epcis.parse_gln("6901234000115")
    assert epcis.parse_gln("690123400011") is None


def test_events_of_every_kind_are_written():
    assert {e["bizStep"] for e in sample_events()} == {
        "commissioning", "packing", "shipping", "transporting", "receiving", "retail_selling", "decommissioning",
        "holding"}
