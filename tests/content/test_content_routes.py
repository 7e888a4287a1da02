"""The content endpoints as a browser or AR viewer meets them, on an app assembled as the Ledger API assembles
it (`errors.install`, the store in `app.state.content_store`, the router): bytes with their type and immutable
cache headers, ranges, conditional requests, and refusals by name, against both stores."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings, strategies as st

from ledger_api import auth, errors, routes_content
from ledger_api.caller import Caller
from ledger_api.content import CHUNK_SIZE, ContentStore, LocalStore, cid_of
from ledger_api.routes_content import byte_range
from ledger_api.vocabulary import BRAND_ORG, OrgKind, Role

from . import pattern7x3

BRAND_ADMIN = Caller(address="0x" + "b" * 40, name="brand admin", org=BRAND_ORG, org_kind=OrgKind.brand,
                     org_name="Moutai Brand", region=0, roles=Role.admin, price_tier=0, locations=frozenset())
DISTRIBUTOR = Caller(address="0x" + "d" * 40, name="distributor", org=7, org_kind=OrgKind.distributor,
                     org_name="Chengdu Wines", region=2, roles=Role.purchaser, price_tier=1, locations=frozenset({3}))
AUDITOR = Caller(address="0x" + "a" * 40, name="auditor", org=9, org_kind=OrgKind.auditor, org_name="Audit Co",
                 region=0, roles=Role.auditor, price_tier=0, locations=frozenset())
VIDEO = pattern7x3(2 * CHUNK_SIZE + 100)
IMMUTABLE = "public, max-age=31536000, immutable"


def content_app(store: ContentStore, caller: Caller | None = BRAND_ADMIN) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.state.content_store = store
    app.include_router(routes_content.router)
    if caller is not None:
        # Sign-in is the auth module's to test; here the signed-in account is given.
        app.dependency_overrides[auth.current_caller] = lambda: caller
    return app


@pytest.fixture
def client(store):
    with TestClient(content_app(store)) as client:
        yield client


@pytest.fixture
def video(store):
    return store.put(VIDEO, "video/mp4")


def test_content_is_served_with_its_type_and_immutable_cache_headers(client, video):
    answer = client.get(f"/content/{video}")
    assert answer.status_code == 200
    assert answer.content == VIDEO
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["etag"] == f'"{video}"'
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["content-length"] == str(len(VIDEO))


def test_a_text_type_is_served_exactly_as_uploaded(client, store):
    cid = store.put(b"lot 2026-118, 40 cases", "text/plain")
    assert client.get(f"/content/{cid}").headers["content-type"] == "text/plain"


def test_content_is_found_by_any_form_of_its_cid(client, store):
    cid = store.put(b"hello world\n", "text/plain")
    answer = client.get("/content/zb2rhi36Gc9GJWijLEL6zW45MBux5FcFv5gJmjXA7VAMozEXY")
    assert answer.status_code == 200
    assert answer.headers["etag"] == f'"{cid}"'


def test_head_answers_the_headers_of_get_without_the_bytes(client, video):
    answer = client.head(f"/content/{video}")
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["content-length"] == str(len(VIDEO))
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["etag"] == f'"{video}"'


@pytest.mark.parametrize(("header", "start", "stop"), [
    ("bytes=0-99", 0, 100),
    (f"bytes={CHUNK_SIZE - 5}-{CHUNK_SIZE + 4}", CHUNK_SIZE - 5, CHUNK_SIZE + 5),
    ("bytes=1000-", 1000, len(VIDEO)),
    ("bytes=-500", len(VIDEO) - 500, len(VIDEO)),
    (f"bytes=10-{10 * len(VIDEO)}", 10, len(VIDEO)),
    (f"bytes=-{10 * len(VIDEO)}", 0, len(VIDEO)),
])
def test_a_byte_range_is_answered_with_206_and_its_content_range(client, video, header, start, stop):
    answer = client.get(f"/content/{video}", headers={"Range": header})
    assert answer.status_code == 206
    assert answer.content == VIDEO[start:stop]
    assert answer.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(VIDEO)}"
    assert answer.headers["content-length"] == str(stop - start)


def test_head_of_a_range_answers_its_headers(client, video):
    answer = client.head(f"/content/{video}", headers={"Range": "bytes=0-9"})
    assert answer.status_code == 206
    assert answer.headers["content-range"] == f"bytes 0-9/{len(VIDEO)}"
    assert answer.headers["content-length"] == "10"


@pytest.mark.parametrize("header", [f"bytes={len(VIDEO)}-", f"bytes={len(VIDEO) + 5}-{len(VIDEO) + 9}", "bytes=-0"])
def test_a_range_outside_the_content_is_416_with_its_size(client, video, header):
    answer = client.get(f"/content/{video}", headers={"Range": header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{len(VIDEO)}"


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "items=0-9", "bytes=abc", "bytes=9-3", "bytes=-"])
def test_several_ranges_or_a_malformed_range_get_the_whole_content(client, video, header):
    answer = client.get(f"/content/{video}", headers={"Range": header})
    assert answer.status_code == 200
    assert answer.content == VIDEO


def test_a_range_under_if_range_of_another_etag_gets_the_whole_content(client, video):
    answer = client.get(f"/content/{video}", headers={"Range": "bytes=0-9", "If-Range": '"bafkreiother"'})
    assert answer.status_code == 200
    same = client.get(f"/content/{video}", headers={"Range": "bytes=0-9", "If-Range": f'"{video}"'})
    assert same.status_code == 206


@pytest.mark.parametrize("tags", ['"{cid}"', 'W/"{cid}"', '"bafkreiother", "{cid}"', "*"])
def test_if_none_match_with_the_cid_is_304_without_a_body(client, video, tags):
    answer = client.get(f"/content/{video}", headers={"If-None-Match": tags.format(cid=video)})
    assert answer.status_code == 304
    assert answer.content == b""
    assert answer.headers["etag"] == f'"{video}"'
    assert answer.headers["cache-control"] == IMMUTABLE


def test_if_none_match_with_another_etag_gets_the_content(client, video):
    assert client.get(f"/content/{video}", headers={"If-None-Match": '"bafkreiother"'}).status_code == 200


@pytest.mark.parametrize("text", ["not-a-cid", "bafy", "Qm123"])
def test_a_malformed_cid_is_400_invalid_cid(client, text):
    answer = client.get(f"/content/{text}")
    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidCid"
    assert answer.json()["detail"]["cid"] == text


def test_unknown_content_is_404_content_not_found(client):
    missing = cid_of(b"never uploaded")
    for answer in (client.get(f"/content/{missing}"), client.head(f"/content/{missing}")):
        assert answer.status_code == 404
    assert client.get(f"/content/{missing}").json() == {"error": "ContentNotFound", "detail": {"cid": missing}}


def test_tampered_content_is_refused_with_502_and_never_served(tmp_path):
    store = LocalStore(tmp_path / "content")
    cid = store.put(VIDEO, "video/mp4")
    (store.folder / cid).write_bytes(b"X" + VIDEO[1:])
    with TestClient(content_app(store)) as client:
        for answer in (client.get(f"/content/{cid}"), client.get(f"/content/{cid}", headers={"Range": "bytes=1-"}),
                       client.head(f"/content/{cid}")):
            assert answer.status_code == 502
            assert VIDEO[1:100] not in answer.content
        assert client.get(f"/content/{cid}").json()["error"] == "ContentMismatch"


def test_an_unreachable_store_is_503_content_store_unavailable(tmp_path):
    from ledger_api.content import KuboStore

    store = KuboStore("/ip4/127.0.0.1/tcp/9/http", tmp_path / "types.sqlite3", timeout=2)
    with TestClient(content_app(store)) as client:
        answer = client.get(f"/content/{cid_of(b'x')}")
    assert answer.status_code == 503
    assert answer.json()["error"] == "ContentStoreUnavailable"
    assert "tcp/9" not in answer.text  # the store's address is for the operator's log, not the caller


def test_a_brand_account_uploads_content_and_gets_its_cid(client, store):
    answer = client.post("/v1/content", content=VIDEO, headers={"Content-Type": "video/mp4"})
    assert answer.status_code == 201
    assert answer.json() == {"cid": cid_of(VIDEO), "size": len(VIDEO), "content_type": "video/mp4"}
    assert answer.headers["location"] == f"/content/{cid_of(VIDEO)}"
    assert store.get(cid_of(VIDEO)) == VIDEO
    assert client.get(f"/content/{cid_of(VIDEO)}").headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(("caller", "error"), [(DISTRIBUTOR, "BrandAccountRequired"), (AUDITOR, "ReadOnly")])
def test_accounts_outside_the_brand_may_not_upload(local_store, caller, error):
    with TestClient(content_app(local_store, caller)) as client:
        answer = client.post("/v1/content", content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 403
    assert answer.json()["error"] == error
    assert not local_store.has(cid_of(b"%PDF-1.7"))


def test_an_upload_without_sign_in_is_401(local_store):
    app = content_app(local_store, caller=None)
    app.dependency_overrides[auth.services] = lambda: None  # never reached: no token comes first
    with TestClient(app) as client:
        answer = client.post("/v1/content", content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "SignInRequired"


@pytest.mark.parametrize("content_type", ["", "pdf", "text/plain\r\nX-Evil: 1", "a/" + "b" * 300])
def test_an_upload_without_a_media_type_is_415(local_store, content_type):
    with TestClient(content_app(local_store)) as client:
        answer = client.post("/v1/content", content=b"%PDF-1.7", headers={"Content-Type": content_type}
                             if "\n" not in content_type else {})
    assert answer.status_code == 415
    assert answer.json()["error"] == "InvalidContentType"


def test_an_upload_over_the_limit_is_413(local_store, monkeypatch):
    monkeypatch.setattr(routes_content, "MAX_UPLOAD_BYTES", 1000)
    with TestClient(content_app(local_store)) as client:
        declared = client.post("/v1/content", content=b"x" * 1001, headers={"Content-Type": "text/plain"})

        def chunks():  # no Content-Length: the limit must hold while the body streams in
            yield b"x" * 600
            yield b"x" * 600

        streamed = client.post("/v1/content", content=chunks(), headers={"Content-Type": "text/plain"})
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json() == {"error": "ContentTooLarge", "detail": {"limit": 1000}}
    assert list(local_store.folder.iterdir()) == []


@settings(max_examples=300, deadline=None)
@given(size=st.integers(0, 50), first=st.one_of(st.none(), st.integers(0, 60)),
       last=st.one_of(st.none(), st.integers(0, 60)))
def test_a_satisfiable_range_always_lies_inside_the_content(size, first, last):
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    try:
        span = byte_range(header, size)
    except ValueError:
        return  # 416: nothing to check
    if span is not None:
        start, stop = span
        assert 0 <= start < stop <= size
