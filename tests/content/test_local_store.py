"""The pure CID core against the known-answer vectors, and the local store: round trips, ranges, content types,
and refusal of a file changed on disk."""

from __future__ import annotations

import pytest

from ledger_api.content import (CHUNK_SIZE, MAX_LINKS, ContentMismatch, ContentNotFound, InvalidCid, KuboStore,
                                LocalStore, chunks_of, chunks_of_stream, cid_of, dag_root, open_store, parse_cid)

from . import load_vectors, pattern7x3, vector_content, vector_id

VECTORS = load_vectors()
EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_cid_of_equals_the_cid_js_ipfs_gave_each_vector(vector):
    data = vector_content(vector)
    root = dag_root(chunks_of(data))
    assert cid_of(data) == root.cid == vector["cid"]
    assert root.dag_size == vector["cumulative_dag_size"]
    assert root.leaves == vector["leaf_chunks"]
    assert root.size == vector["size"]


def test_empty_content_is_the_raw_leaf_of_no_bytes():
    assert cid_of(b"") == EMPTY_CID
    assert dag_root(iter(())).cid == EMPTY_CID


def test_content_of_one_chunk_is_a_raw_block_and_one_byte_more_is_a_dag():
    assert cid_of(pattern7x3(CHUNK_SIZE - 1)).startswith("bafkrei")
    assert cid_of(pattern7x3(CHUNK_SIZE)).startswith("bafkrei")
    assert cid_of(pattern7x3(CHUNK_SIZE + 1)).startswith("bafybei")


def test_a_dag_gains_a_level_past_174_leaves():
    full = dag_root(chunks_of(pattern7x3(MAX_LINKS * CHUNK_SIZE)))
    over = dag_root(chunks_of(pattern7x3(MAX_LINKS * CHUNK_SIZE + 1)))
    assert (full.leaves, over.leaves) == (174, 175)
    # One level: 174 links of 44 bytes plus the UnixFS data; two levels add a root over two parents.
    assert full.dag_size - full.size < over.dag_size - over.size


def test_hashing_a_stream_equals_hashing_its_bytes(tmp_path):
    data = pattern7x3(3 * CHUNK_SIZE + 17)
    path = tmp_path / "video.mp4"
    path.write_bytes(data)
    with path.open("rb") as stream:
        assert dag_root(chunks_of_stream(stream)).cid == cid_of(data)


def test_any_form_of_a_cid_is_named_in_cidv1_base32():
    assert parse_cid("zb2rhi36Gc9GJWijLEL6zW45MBux5FcFv5gJmjXA7VAMozEXY") == cid_of(b"hello world\n")
    assert parse_cid("QmTkzDwWqPbnAh5YiV5VwcTLnGdwSNsNTn2aDxdXBFca7D").startswith("bafybei")


@pytest.mark.parametrize("text", ["", "hello", "bafy", "Qm123", EMPTY_CID[:-1],
                                  # a valid CIDv1 with an identity hash: nothing this store could verify
                                  "bafkqaddimvwgy3zao5xxe3debi"])
def test_malformed_or_unverifiable_cids_are_refused(text):
    with pytest.raises(InvalidCid):
        parse_cid(text)


@pytest.mark.parametrize("size", [0, 12, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 4 * CHUNK_SIZE + 5])
def test_local_store_gives_back_what_was_put_under_its_cid(local_store, size):
    data = pattern7x3(size)
    cid = local_store.put(data, "video/mp4")
    assert cid == cid_of(data)
    assert local_store.get(cid) == data
    assert local_store.size(cid) == size
    assert local_store.content_type(cid) == "video/mp4"
    assert local_store.has(cid)


def test_local_store_reads_a_range_across_chunk_boundaries(local_store):
    data = pattern7x3(3 * CHUNK_SIZE)
    cid = local_store.put(data, "video/mp4")
    start, stop = CHUNK_SIZE - 10, 2 * CHUNK_SIZE + 10
    assert b"".join(local_store.open_range(cid, start, stop)) == data[start:stop]
    assert b"".join(local_store.open_range(cid, 5)) == data[5:]


def test_putting_the_same_bytes_again_updates_only_the_content_type(local_store):
    first = local_store.put(b"%PDF-1.7 waybill", "application/octet-stream")
    second = local_store.put(b"%PDF-1.7 waybill", "application/pdf")
    assert first == second
    assert local_store.content_type(first) == "application/pdf"


def test_local_store_knows_nothing_it_was_not_given(local_store):
    missing = cid_of(b"never stored")
    assert not local_store.has(missing)
    with pytest.raises(ContentNotFound):
        local_store.get(missing)
    with pytest.raises(ContentNotFound):
        local_store.stat(missing)


def test_local_store_refuses_a_file_changed_on_disk(local_store):
    data = pattern7x3(2 * CHUNK_SIZE)
    cid = local_store.put(data, "model/gltf-binary")
    tampered = bytearray(data)
    tampered[CHUNK_SIZE + 1] ^= 0xFF
    (local_store.folder / cid).write_bytes(bytes(tampered))
    with pytest.raises(ContentMismatch) as refused:
        local_store.open_range(cid, 0, 10)
    assert refused.value.expected == cid
    assert refused.value.actual == cid_of(bytes(tampered))
    with pytest.raises(ContentMismatch):
        local_store.get(cid)


def test_local_store_leaves_no_temporary_files_behind(local_store):
    cid = local_store.put(b"hello world\n", "text/plain")
    assert sorted(p.name for p in local_store.folder.iterdir()) == [cid, cid + ".type"]


def test_a_store_is_opened_from_the_settings_spec(tmp_path):
    assert isinstance(open_store(f"local:{tmp_path / 'content'}"), LocalStore)
    kubo = open_store("kubo:/ip4/127.0.0.1/tcp/5001/http", types_db=tmp_path / "types.sqlite3")
    assert isinstance(kubo, KuboStore)


@pytest.mark.parametrize("spec", ["", "local:", "kubo:", "s3://bucket", "/var/content", "ipfs:/ip4/1.2.3.4"])
def test_a_spec_naming_no_known_store_is_refused_clearly(spec):
    with pytest.raises(ValueError, match="neither local:<folder> nor kubo:<multiaddr>"):
        open_store(spec)


def test_a_kubo_spec_with_a_bad_multiaddr_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="not an IPFS API multiaddr"):
        open_store("kubo:not-an-address", types_db=tmp_path / "types.sqlite3")
