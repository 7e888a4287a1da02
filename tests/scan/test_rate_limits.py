"""Scraping protection: one client address may scan only so often (a moving window), is told when to come
back, and does not use up another client's allowance."""

from __future__ import annotations

import httpx


def test_a_client_scanning_too_fast_is_refused_and_another_client_is_not(scan_site):
    url = scan_site.fresh("genuine")
    with scan_site.another_api(LEDGER_SCAN_RATE_LIMIT="5/minute") as base_url:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            answers = [client.post("/v1/scans", json={"url": url, "device": "scraper"}) for _ in range(6)]
            assert [a.status_code for a in answers] == [200] * 5 + [429]
            refused = answers[-1].json()
            assert refused["error"] == "RateLimited" and refused["detail"]["retry_after"] >= 1
            # The public provenance read shares the allowance, so it is no way around the limit.
            assert client.get("/v1/provenance/bottle", params={"url": url}).status_code == 429
        elsewhere = httpx.Client(base_url=base_url, timeout=30,
                                 transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with elsewhere:
            assert elsewhere.post("/v1/scans", json={"url": url, "device": "phone"}).status_code == 200
