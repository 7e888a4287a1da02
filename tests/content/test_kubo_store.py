"""The IPFS-daemon store against a real js-ipfs daemon: the daemon's CID for every size, including the chunk
boundaries the vectors lack and a DAG of two levels, equals `cid_of`; and the store refuses a daemon whose CID
or bytes disagree with the content."""

from __future__ import annotations

import io

import pytest

from ledger_api.content import (CHUNK_SIZE, MAX_LINKS, ContentMismatch, ContentNotFound, ContentStoreUnavailable,
                                KuboStore, cid_of, dag_root, chunks_of)

from . import load_vectors, pattern7x3, vector_content, vector_id

VECTORS = load_vectors()
TWO_LEVELS = MAX_LINKS * CHUNK_SIZE + 1  # 175 leaves: 45.6 MB


def daemon_add(store: KuboStore, data: bytes) -> dict:
    """What the daemon itself answers for `data`, as `ipfs add --cid-version=1` (base32, to compare as text)."""
    return store._client.add(io.BytesIO(data), cid_version=1, raw_leaves=True, pin=False,
                             opts={"cid-base": "base32"})


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_the_daemon_gives_every_vector_its_cid(kubo_store, vector):
    data = vector_content(vector)
    assert daemon_add(kubo_store, data)["Hash"] == vector["cid"]
    assert kubo_store.put(data, "application/octet-stream") == vector["cid"]
    assert kubo_store.get(vector["cid"]) == data


@pytest.mark.parametrize("size", [CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7,
                                  MAX_LINKS * CHUNK_SIZE, TWO_LEVELS])
def test_the_daemon_and_cid_of_agree_around_chunk_and_link_boundaries(kubo_store, size):
    data = pattern7x3(size)
    cid = kubo_store.put(data, "video/mp4")  # refuses by itself if the daemon's CID differs from cid_of
    assert cid == cid_of(data)
    assert kubo_store.get(cid) == data
    assert kubo_store.size(cid) == size


def test_the_daemon_reports_the_dag_size_cid_of_computes(kubo_store):
    data = pattern7x3(TWO_LEVELS)
    root = dag_root(chunks_of(data))
    cid = kubo_store.put(data, "video/mp4")
    assert kubo_store._client.files.stat(f"/ipfs/{cid}")["CumulativeSize"] == root.dag_size
    assert root.leaves == 175


def test_kubo_store_keeps_the_declared_content_type(kubo_store):
    cid = kubo_store.put(b"%PDF-1.7 bill of lading", "application/pdf")
    assert kubo_store.content_type(cid) == "application/pdf"
    assert kubo_store.has(cid)


def test_kubo_store_reads_a_range(kubo_store):
    data = pattern7x3(2 * CHUNK_SIZE + 3)
    cid = kubo_store.put(data, "video/mp4")
    assert b"".join(kubo_store.open_range(cid, CHUNK_SIZE - 2, CHUNK_SIZE + 2)) == data[CHUNK_SIZE - 2:CHUNK_SIZE + 2]


def test_kubo_store_knows_nothing_it_did_not_pin(kubo_store):
    daemon_add(kubo_store, b"added to the daemon, never through the store")
    for cid in (cid_of(b"never stored"), cid_of(b"added to the daemon, never through the store")):
        assert not kubo_store.has(cid)
        with pytest.raises(ContentNotFound):
            kubo_store.get(cid)


def test_kubo_store_refuses_bytes_the_daemon_returns_for_another_cid(kubo_store, monkeypatch):
    cid = kubo_store.put(b"the real waybill", "text/plain")
    monkeypatch.setattr(kubo_store._client, "cat", lambda *_args, **_kw: b"a forged waybill")
    with pytest.raises(ContentMismatch) as refused:
        kubo_store.get(cid)
    assert refused.value.actual == cid_of(b"a forged waybill")
    with pytest.raises(ContentMismatch):
        kubo_store.open_range(cid, 0, 4)


def test_kubo_store_refuses_a_daemon_that_answers_another_cid_on_add(kubo_store, monkeypatch):
    monkeypatch.setattr(kubo_store._client, "add", lambda *_args, **_kw: {"Hash": cid_of(b"something else")})
    with pytest.raises(ContentMismatch):
        kubo_store.put(b"the real waybill", "text/plain")


def test_an_unreachable_daemon_is_reported_with_its_address(tmp_path):
    store = KuboStore("/ip4/127.0.0.1/tcp/9/http", tmp_path / "types.sqlite3", timeout=2)
    with pytest.raises(ContentStoreUnavailable) as unavailable:
        store.has(cid_of(b"anything"))
    assert "/ip4/127.0.0.1/tcp/9/http" in str(unavailable.value)
    with pytest.raises(ContentStoreUnavailable):
        store.put(b"anything", "text/plain")


def test_a_missing_js_ipfs_fails_naming_dev_setup(tmp_path, monkeypatch):
    from toolchain import ipfs_daemon

    monkeypatch.setattr(ipfs_daemon, "JSIPFS", tmp_path / "node_modules" / ".bin" / "jsipfs")
    with pytest.raises(ipfs_daemon.IpfsDaemonError, match=r"run \./dev setup"):
        ipfs_daemon.start_daemon(tmp_path / "repo", api_port=5093)


def test_a_daemon_is_not_started_on_a_port_already_taken(ipfs_daemon, tmp_path):
    from toolchain import ipfs_daemon as helper

    with pytest.raises(helper.IpfsDaemonError, match=f"port {ipfs_daemon.api_port} is already in use"):
        helper.start_daemon(tmp_path / "repo", api_port=ipfs_daemon.api_port)
