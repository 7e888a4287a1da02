"""Every verdict through the real endpoint of a running API, over a real chain whose lots carry real codes:
what a consumer's scan answers, how counts grow, what bad URLs get, and who may mark a bottle opened."""

from __future__ import annotations

import httpx

from ledger_api import codes
from tests.scan_site import sign_in


def scan(site, kind: str, url: str | None = None, device: str = "phone-1", headers: dict | None = None):
    answer = site.scan(url or site.fresh(kind), device, site.region_headers[kind] if headers is None else headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_genuine_bottle_is_genuine_with_its_journey_and_proof(scan_site):
    body = scan(scan_site, "genuine")
    assert (body["verdict"], body["reason_code"], body["scan_count"]) == ("genuine", "genuine", 1)
    steps = [s["step"] for s in body["journey"]]
    assert steps[0] == "commissioned" and "dispatched" in steps and "received" in steps
    assert all(s["tx_hash"] for s in body["journey"] if s["step"] in ("commissioned", "dispatched"))
    assert body["product"]["name"] and body["lot"]["merkle_root"] == body["proof"]["root"]
    assert body["first_scan"]["region"] == scan_site.region


def test_each_scan_is_counted_and_the_first_scan_is_remembered(scan_site):
    url = scan_site.fresh("genuine")
    first = scan(scan_site, "genuine", url, headers={**scan_site.region_headers["genuine"], "x-scan-city": "Wuxi"})
    second = scan(scan_site, "genuine", url)
    assert (first["scan_count"], second["scan_count"]) == (1, 2)
    assert second["first_scan"] == first["first_scan"] and first["first_scan"]["place"] == "Wuxi"


def test_a_bottle_scanned_outside_its_sellers_region_is_diverted(scan_site):
    body = scan(scan_site, "diverted")
    assert (body["verdict"], body["reason_code"]) == ("diverted", "outside_region")
    assert scan_site.region in body["reason"]


def test_the_region_may_be_named_by_its_name_as_well_as_its_code(scan_site):
    url = scan_site.fresh("genuine")
    name = next(s["location"]["region"] for s in scan(scan_site, "genuine", url)["journey"] if s["step"] == "received")
    again = scan(scan_site, "genuine", url, headers={"x-scan-region": name.upper()})
    assert again["verdict"] == "genuine" and again["this_scan"]["region"] == scan_site.region


def test_a_bottle_its_store_marked_opened_is_opened(scan_site):
    body = scan(scan_site, "opened")
    assert (body["verdict"], body["reason_code"]) == ("opened", "opened_by_store")


def test_a_consumer_marks_a_bottle_opened_and_it_stays_opened(scan_site):
    url = scan_site.fresh("genuine")
    assert scan(scan_site, "genuine", url)["verdict"] == "genuine"
    marked = httpx.post(f"{scan_site.base_url}/v1/scans/opened", json={"url": url, "device": "phone-1"},
                        headers=scan_site.region_headers["genuine"])
    assert marked.status_code == 200, marked.text
    assert (marked.json()["verdict"], marked.json()["reason_code"]) == ("opened", "opened_by_consumer")
    assert scan(scan_site, "genuine", url, device="phone-2")["verdict"] == "opened"


def test_a_bottle_of_a_recalled_lot_is_recalled(scan_site):
    body = scan(scan_site, "recalled")
    assert (body["verdict"], body["reason_code"]) == ("recalled", "lot_recalled") and body["lot"]["recalled"]


def test_a_code_scanned_from_too_many_devices_is_suspicious(scan_site):
    body = scan(scan_site, "suspicious", device="phone-9")
    assert (body["verdict"], body["reason_code"]) == ("suspicious", "copied_code_devices")
    assert body["scan_count"] == 5


def test_a_serial_the_brand_never_issued_is_unknown_with_no_journey_or_proof(scan_site):
    body = scan(scan_site, "unknown")
    assert (body["verdict"], body["reason_code"]) == ("unknown", "no_such_code")
    assert body["journey"] == [] and body["proof"] is None and body["product"] is None


def test_guessed_serials_of_a_real_lot_are_all_unknown(scan_site):
    code = codes.parse_digital_link(scan_site.fresh("genuine"))
    for _ in range(30):
        guess = codes.digital_link(scan_site.base_url, code.gtin, code.lot, codes.new_serial())
        assert scan(scan_site, "genuine", guess)["verdict"] == "unknown"


def test_a_real_serial_under_another_lot_is_not_that_bottle(scan_site):
    code = codes.parse_digital_link(scan_site.fresh("genuine"))
    moved = codes.digital_link(scan_site.base_url, code.gtin, "OTHERLOT1", code.serial)
    assert scan(scan_site, "genuine", moved)["verdict"] == "unknown"


def bad(site, url: str, device: str = "phone-1") -> httpx.Response:
    return httpx.post(f"{site.base_url}/v1/scans", json={"url": url, "device": device})


def test_a_wrong_check_digit_is_a_clear_400(scan_site):
    code = codes.parse_digital_link(scan_site.fresh("genuine"))
    wrong = code.gtin[:-1] + str((int(code.gtin[-1]) + 1) % 10)
    answer = bad(scan_site, f"{scan_site.base_url}/01/{wrong}/10/{code.lot}/21/{code.serial}")
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidCode"
    assert "check digit" in answer.json()["detail"]["message"].lower()


def test_a_url_without_a_serial_is_a_clear_400(scan_site):
    code = codes.parse_digital_link(scan_site.fresh("genuine"))
    answer = bad(scan_site, f"{scan_site.base_url}/01/{code.gtin}/10/{code.lot}")
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidCode"
    assert "serial" in answer.json()["detail"]["message"].lower()


def test_a_gtin_the_brand_does_not_make_is_a_clear_404(scan_site):
    answer = bad(scan_site, f"{scan_site.base_url}/01/09506000134352/10/LOT1/21/ABCDEF")
    assert answer.status_code == 404 and answer.json()["error"] == "UnknownGtin"


def test_malformed_requests_are_refused_with_nothing_logged(scan_site):
    for body in ({}, {"url": ""}, {"url": "x" * 3000}, {"url": "https://a/01/1/21/2", "device": "bad device!"},
                 {"url": "not a url at all"}, {"url": "https://a/b", "extra": 1}):
        answer = httpx.post(f"{scan_site.base_url}/v1/scans", json=body)
        assert answer.status_code in (400, 422), (body, answer.text)
        assert "error" in answer.json()


def test_only_the_store_that_received_a_bottle_may_mark_it_opened(scan_site):
    bottle = scan_site.fresh_bottle("genuine")
    network = scan_site.ledger.activity.network
    others = [label for loc, label in network.sender_at.items() if label.startswith("store.") and loc != bottle.seller]
    answer = httpx.post(f"{scan_site.base_url}/v1/bottles/opened", json={"url": bottle.url},
                        headers=sign_in(scan_site.base_url, network.members[others[0]].key))
    assert answer.status_code == 403, answer.text
    distributor = next(label for label in network.sender_at.values() if label.startswith("distributor."))
    answer = httpx.post(f"{scan_site.base_url}/v1/bottles/opened", json={"url": bottle.url},
                        headers=sign_in(scan_site.base_url, network.members[distributor].key))
    assert answer.status_code == 403 and answer.json()["error"] == "NotAStore"
    assert httpx.post(f"{scan_site.base_url}/v1/bottles/opened", json={"url": bottle.url}).status_code == 401
    assert scan(scan_site, "genuine", bottle.url)["verdict"] == "genuine"
