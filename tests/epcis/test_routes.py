"""The EPCIS endpoints over the real stack: a small network's business played on anvil, mirrored by the real
indexer, queried as members of different organisations. What each answers is checked against the mirror's own
rows and the simulation's model of who runs which location."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from indexer.db import open_database
from indexer.schema import locations, lots, shipments, skus
from ledger_api import epcis, routes_epcis
from ledger_api.vocabulary import OrgKind
from tests.epcis.conftest import reference_hashes

MEDIA = "application/ld+json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from fastapi.testclient import TestClient

    from ledger_api.app import create_app
    from tests.api.stack import Stack, mirrored_ledger
    from tests.indexer.ledger_chain import running_anvil

    folder = tmp_path_factory.mktemp("epcis-stack")
    with running_anvil(range(8860, 8880)) as rpc:
        with mirrored_ledger(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder, siwe_domain="testserver",
                             public_url="http://testserver") as (ledger, config, indexer):
            app = create_app(config)
            if not any(getattr(r, "path", "").startswith("/v1/epcis") for r in app.routes):
                app.include_router(routes_epcis.router)  # until the lead wires it into create_app
            with TestClient(app, raise_server_exceptions=False) as client:
                stack = Stack(rpc, ledger, config, client, indexer)
                stack.wait_for_mirror(120)
                yield stack


@pytest.fixture(scope="module")
def mirror(stack):
    engine = open_database(stack.settings.database_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def label_of(stack, kind: OrgKind, n: int = 0) -> str:
    kinds = {o.id: o.kind for o in stack.network.organisations}
    return [m.label for m in stack.network.members.values() if kinds.get(m.org, OrgKind.brand) == kind][n]


def query(stack, who: str, **params):
    answer = stack.client.get("/v1/epcis/events", params=params, headers=stack.sign_in(who))
    return answer


def event_list(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(MEDIA)
    body = answer.json()
    assert body["type"] == "EPCISQueryDocument"
    return body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def test_an_auditor_pages_through_events_in_time_order_with_a_next_link(stack):
    first = query(stack, "auditor.1", limit=50)
    events = event_list(first)
    assert len(events) == 50 and 'rel="next"' in first.headers["link"]
    second = event_list(query(stack, "auditor.1", limit=50, offset=50))
    times = [e["eventTime"] for e in events + second]
    assert times == sorted(times)
    assert not {e["eventID"] for e in events} & {e["eventID"] for e in second}


def test_queried_events_carry_the_reference_hash_as_their_id(stack):
    answer = stack.client.get("/v1/epcis/events", params={"limit": 200}, headers=stack.sign_in("auditor.1"))
    body = answer.json()
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert {e["bizStep"] for e in events} >= {"commissioning", "shipping"}
    document = epcis.document(events, 0)
    assert [e["eventID"] for e in events] == reference_hashes(document)[1]


def test_filtering_by_biz_step_short_or_as_uri_gives_only_that_step(stack):
    short = event_list(query(stack, "auditor.1", biz_step="receiving", limit=500))
    full = event_list(query(stack, "auditor.1", biz_step="https://ref.gs1.org/cbv/BizStep-receiving", limit=500))
    assert short == full and short and {e["bizStep"] for e in short} == {"receiving"}


def test_filtering_by_a_lot_or_one_of_its_bottles_gives_the_events_of_that_lot(stack, mirror):
    lot = mirror.execute(select(lots.c.sku, lots.c.lot_number, skus.c.gtin).join(skus, skus.c.id == lots.c.sku)
                         .order_by(lots.c.commissioned_at)).first()
    lot_class = epcis.lot_class(lot.gtin, epcis.lot_text(lot.lot_number))
    by_lot = event_list(query(stack, "auditor.1", epc=lot_class, limit=500))
    assert by_lot and by_lot[0]["bizStep"] == "commissioning"
    for event in by_lot:
        assert lot_class in json.dumps(event)
    bottle = f"https://brand.example.cn/01/{lot.gtin}/10/{epcis.lot_text(lot.lot_number)}/21/ABC123"
    assert event_list(query(stack, "auditor.1", epc=bottle, limit=500)) == by_lot


def test_filtering_by_time_window_and_by_location(stack, mirror):
    everything = event_list(query(stack, "auditor.1", limit=500))
    middle = everything[len(everything) // 2]["eventTime"]
    later = event_list(query(stack, "auditor.1", ge_event_time=middle, limit=500))
    assert later and all(e["eventTime"] >= middle for e in later)
    earlier = event_list(query(stack, "auditor.1", lt_event_time=middle, limit=500))
    assert all(e["eventTime"] < middle for e in earlier)
    gln = mirror.execute(select(locations.c.gln).where(locations.c.kind == int(OrgKind.warehouse))
                         .order_by(locations.c.id)).scalar()
    here = event_list(query(stack, "auditor.1", location=gln, limit=500))
    same = event_list(query(stack, "auditor.1", location=f"https://id.gs1.org/414/{gln}", limit=500))
    assert here == same and here
    for event in here:
        assert f"https://id.gs1.org/414/{gln}" in (event.get("readPoint", {}).get("id"),
                                                   event.get("bizLocation", {}).get("id"))


@pytest.mark.parametrize("params, problem", [
    ({"epc": "urn:epc:id:sgtin:123"}, "epc"), ({"biz_step": "teleporting"}, "bizStep"),
    ({"location": "12345"}, "GLN"), ({"ge_event_time": "2026-06-02", "lt_event_time": "2026-06-01"}, "before"),
    ({"limit": 100_000}, "limit")])
def test_a_filter_that_cannot_be_read_is_refused_with_what_to_send(stack, params, problem):
    answer = query(stack, "auditor.1", **params)
    assert answer.status_code == 422 and answer.json()["error"] == "InvalidQuery"
    assert problem in answer.json()["detail"]["problem"]


def test_a_bad_time_is_refused_by_validation(stack):
    answer = query(stack, "auditor.1", ge_event_time="yesterday")
    assert answer.status_code == 422 and answer.json()["error"] == "InvalidRequest"


def test_signing_in_is_required(stack):
    assert stack.client.get("/v1/epcis/events").status_code == 401


def test_a_distributor_sees_only_shipments_to_or_from_its_own_locations(stack, mirror):
    who = label_of(stack, OrgKind.distributor, 0)
    mine = {p.gln for p in stack.network.places if p.org == stack.network.members[who].org}
    events = event_list(query(stack, who, biz_step=["shipping", "receiving", "transporting"], limit=500))
    assert events
    for event in events:
        places = {x.get("source", x.get("destination")) for x in event.get("sourceList", []) +
                  event.get("destinationList", []) if x["type"] == "location"}
        assert {f"https://id.gs1.org/414/{g}" for g in mine} & places or event["bizStep"] == "transporting"
    other = label_of(stack, OrgKind.distributor, 1)
    theirs = next(p.gln for p in stack.network.places if p.org == stack.network.members[other].org)
    assert event_list(query(stack, who, location=theirs, biz_step="receiving", limit=500)) == []
    assert event_list(query(stack, other, location=theirs, biz_step="receiving", limit=500))


def test_a_carrier_sees_only_what_it_carried_and_no_sales(stack, mirror):
    who = label_of(stack, OrgKind.carrier, 0)
    carrier = stack.network.members[who].org
    carried = mirror.execute(select(shipments.c.id).where(shipments.c.carrier == carrier)).scalars().all()
    events = event_list(query(stack, who, biz_step="shipping", limit=500))
    assert len(events) == len(carried)
    assert event_list(query(stack, who, biz_step="retail_selling", limit=500)) == []


def test_the_export_is_one_epcis_document_of_everything_the_auditor_may_see(stack):
    answer = stack.client.get("/v1/epcis/export", headers=stack.sign_in("auditor.1"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(MEDIA)
    document = answer.json()
    assert (document["type"], document["schemaVersion"]) == ("EPCISDocument", "2.0")
    events = document["epcisBody"]["eventList"]
    queried = event_list(query(stack, "auditor.1", limit=500))
    assert [e["eventID"] for e in events[:500]] == [e["eventID"] for e in queried]


def test_an_export_window_holds_only_its_events_and_bottle_codes_are_for_the_ledger_reach_only(stack):
    start = datetime(2026, 6, 3, tzinfo=timezone.utc)
    answer = stack.client.get("/v1/epcis/export", params={"ge_event_time": start.isoformat()},
                              headers=stack.sign_in("auditor.1"))
    events = answer.json()["epcisBody"]["eventList"]
    assert events and all(e["eventTime"] >= "2026-06-03T00:00:00.000Z" for e in events)
    refused = stack.client.get("/v1/epcis/export", params={"bottles": "true"},
                               headers=stack.sign_in(label_of(stack, OrgKind.distributor)))
    assert refused.status_code == 403 and refused.json()["error"] == "BottleCodesRefused"
