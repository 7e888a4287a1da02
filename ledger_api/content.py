"""The content store for AR media and shipping documents, which the chain references by CID.

The core is pure: `cid_of` computes the CID that Kubo's `ipfs add --cid-version=1` gives the same bytes (fixed
262144-byte chunks as raw leaves; one chunk is its own CID, more are joined by a balanced UnixFS DAG of dag-pb
nodes with at most 174 links, exactly as ipfs-unixfs-importer's `balanced` builder lays it out), so a CID put on
chain can be checked without any IPFS node. Around it sit two stores with one interface, `ContentStore`:
`LocalStore` keeps the bytes in a folder under their CID, `KuboStore` in an IPFS daemon through its RPC API.
Both refuse bytes that do not hash to the CID asked for (`ContentMismatch`), so a tampered file or a lying
daemon never serves a viewer media the chain does not name. `open_store` builds either from the settings'
`content_store` (`local:<folder>` or `kubo:<multiaddr>`).
"""

from __future__ import annotations

import abc
import hashlib
import io
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from multiformats import CID, multihash

CHUNK_SIZE = 262_144  # Kubo's default chunker, size-262144
MAX_LINKS = 174  # links per dag-pb node in Kubo's and js-ipfs's balanced layout
DEFAULT_CONTENT_TYPE = "application/octet-stream"
READ_BLOCK = 1 << 20  # how much a range read hands on at a time

_RAW, _DAG_PB = "raw", "dag-pb"
_UNIXFS_FILE = 2  # UnixFS Data.DataType.File


# ---------------------------------------------------------------------------------------------------------------
# Errors a caller can cause or meet, each naming what it is about.

class ContentError(Exception):
    """The base of every content-store error."""


class InvalidCid(ContentError, ValueError):
    def __init__(self, text: str, problem: str):
        self.text, self.problem = text, problem
        super().__init__(f"not a CID this store can verify: {text!r} ({problem})")


class ContentNotFound(ContentError, KeyError):
    def __init__(self, cid: str):
        self.cid = cid
        super().__init__(cid)

    def __str__(self) -> str:
        return f"no content with CID {self.cid} is in the store"


class ContentMismatch(ContentError):
    """Bytes that do not hash to the CID they were stored or fetched under: tampered, corrupted or lied about."""

    def __init__(self, expected: str, actual: str, where: str):
        self.expected, self.actual, self.where = expected, actual, where
        super().__init__(f"{where}: content for {expected} hashes to {actual}")


class ContentStoreUnavailable(ContentError):
    def __init__(self, address: str, reason: str):
        self.address, self.reason = address, reason
        super().__init__(f"the content store at {address} did not answer: {reason}")


# ---------------------------------------------------------------------------------------------------------------
# The pure core: CIDs as Kubo computes them.

@dataclass(frozen=True)
class DagRoot:
    """The root of the UnixFS DAG of some content: its CID, the root's Tsize (every block of the DAG, as `ipfs
    files stat` reports CumulativeSize), the content's length and how many leaves it was cut into."""

    cid: str
    dag_size: int
    size: int
    leaves: int


@dataclass(frozen=True)
class _Node:
    cid: bytes  # binary CIDv1
    tsize: int  # this block plus everything below it
    file_size: int  # content bytes below it


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _cid(codec: str, block: bytes) -> CID:
    return CID("base32", 1, codec, multihash.wrap(hashlib.sha256(block).digest(), "sha2-256"))


def _text(cid: bytes) -> str:
    return str(CID.decode(cid).set(base="base32"))


def _leaf(chunk: bytes) -> _Node:
    return _Node(bytes(_cid(_RAW, chunk)), len(chunk), len(chunk))


def _parent(children: list[_Node]) -> _Node:
    # PBLink{Hash=1, Name=2, Tsize=3}: js-ipfs writes the empty Name as a present, empty field.
    links = b"".join(_bytes_field(2, _bytes_field(1, child.cid) + _bytes_field(2, b"") + _varint_field(3, child.tsize))
                     for child in children)
    # UnixFS Data{Type=1, filesize=3, blocksizes=4}, proto2 and so not packed.
    file_size = sum(child.file_size for child in children)
    unixfs = _varint_field(1, _UNIXFS_FILE) + _varint_field(3, file_size) + b"".join(
        _varint_field(4, child.file_size) for child in children)
    # PBNode{Data=1, Links=2} is written Links first: the dag-pb spec's canonical order.
    block = links + _bytes_field(1, unixfs)
    return _Node(bytes(_cid(_DAG_PB, block)), len(block) + sum(child.tsize for child in children), file_size)


def dag_root(chunks: Iterable[bytes]) -> DagRoot:
    """The DAG root of content given as consecutive `CHUNK_SIZE` chunks (the last may be shorter). Memory stays
    at one chunk plus 50 bytes a leaf, so a whole video can be checked from a file."""
    level = [_leaf(chunk) for chunk in chunks] or [_leaf(b"")]
    leaves = len(level)
    if leaves == 1:  # a single chunk is its own raw block, with no dag-pb node above it
        return DagRoot(_text(level[0].cid), level[0].tsize, level[0].file_size, 1)
    # The balanced builder groups each level into parents of MAX_LINKS, a short group last, until one is left.
    while len(level) > 1:
        level = [_parent(level[i:i + MAX_LINKS]) for i in range(0, len(level), MAX_LINKS)]
    root = level[0]
    return DagRoot(_text(root.cid), root.tsize, root.file_size, leaves)


def chunks_of(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_SIZE):
        yield bytes(view[start:start + CHUNK_SIZE])


def chunks_of_stream(stream: BinaryIO) -> Iterator[bytes]:
    """`CHUNK_SIZE` chunks of a stream, filled up even when a read returns less."""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        while chunk and len(chunk) < CHUNK_SIZE:
            more = stream.read(CHUNK_SIZE - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            return
        yield chunk


def cid_of(data: bytes) -> str:
    """The CID (v1, base32) that `ipfs add --cid-version=1` gives `data`."""
    return dag_root(chunks_of(data)).cid


def parse_cid(text: str) -> str:
    """`text` as this store names content: CIDv1 in base32. A CIDv0 (`Qm...`) is the same DAG and is accepted;
    a CID whose hash or codec `cid_of` never produces could not be verified and is refused."""
    try:
        cid = CID.decode(text)
    except Exception as exc:  # multiformats raises several unrelated types for malformed text
        raise InvalidCid(text, str(exc) or exc.__class__.__name__) from None
    if cid.hashfun.name != "sha2-256" or cid.codec.name not in (_RAW, _DAG_PB):
        raise InvalidCid(text, f"codec {cid.codec.name} with {cid.hashfun.name}: expected raw or dag-pb with sha2-256")
    return str(cid.set(version=1, base="base32"))


# ---------------------------------------------------------------------------------------------------------------
# The stores.

@dataclass(frozen=True)
class StoredContent:
    cid: str
    size: int
    content_type: str


class ContentStore(abc.ABC):
    """Content addressed by CID. Every method takes a CID in any form `parse_cid` accepts and raises
    `InvalidCid`, `ContentNotFound`, `ContentMismatch` or `ContentStoreUnavailable`, never a backend's own error."""

    address: str  # where the store is, for messages and logs

    @abc.abstractmethod
    def put(self, data: bytes, content_type: str) -> str:
        """Stores `data` and answers its CID; storing the same bytes again only updates the content type."""

    @abc.abstractmethod
    def stat(self, cid: str) -> StoredContent:
        """The content's size and type, without reading or verifying its bytes."""

    @abc.abstractmethod
    def open_range(self, cid: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes `start` to `stop` (exclusive) in blocks. The whole content is verified against its CID
        before this returns, so a `ContentMismatch` comes before any byte does."""

    def get(self, cid: str) -> bytes:
        return b"".join(self.open_range(cid))

    def has(self, cid: str) -> bool:
        try:
            self.stat(cid)
        except ContentNotFound:
            return False
        return True

    def size(self, cid: str) -> int:
        return self.stat(cid).size

    def content_type(self, cid: str) -> str:
        return self.stat(cid).content_type


def _clamp(size: int, start: int, stop: int | None) -> tuple[int, int]:
    stop = size if stop is None else min(stop, size)
    if start < 0 or stop < start:
        raise ValueError(f"not a byte range of content of {size} bytes: {start}-{stop}")
    return start, stop


def _verified(expected: str, root: DagRoot, where: str) -> None:
    if root.cid != expected:
        raise ContentMismatch(expected, root.cid, where)


class LocalStore(ContentStore):
    """A folder holding each content as a file named by its CID, with its content type in `<cid>.type` beside it.

    Writes go to a temporary file that is renamed into place, so a reader or a crash never sees half a file.
    Every read hashes the file again: a file edited on disk is refused, not served.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.address = f"local:{self.folder}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, cid: str) -> Path:
        return self.folder / cid

    def _write(self, path: Path, data: bytes) -> None:
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def put(self, data: bytes, content_type: str) -> str:
        cid = cid_of(data)
        # The type first: once the content file exists, its type does too.
        self._write(self._path(cid + ".type"), content_type.encode())
        # Written even when present: a second upload of the same bytes repairs a copy corrupted on disk.
        self._write(self._path(cid), data)
        return cid

    def stat(self, cid: str) -> StoredContent:
        cid = parse_cid(cid)
        try:
            size = self._path(cid).stat().st_size
        except FileNotFoundError:
            raise ContentNotFound(cid) from None
        try:
            content_type = self._path(cid + ".type").read_text().strip() or DEFAULT_CONTENT_TYPE
        except FileNotFoundError:
            content_type = DEFAULT_CONTENT_TYPE
        return StoredContent(cid, size, content_type)

    def open_range(self, cid: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        cid = parse_cid(cid)
        try:
            stream = self._path(cid).open("rb")
        except FileNotFoundError:
            raise ContentNotFound(cid) from None
        try:
            # Hashed and then read through the same open file: a rename over it in between cannot slip other
            # bytes past the check. Hashing costs one pass over the file (about 0.1 s for 200 MB), not memory.
            _verified(cid, dag_root(chunks_of_stream(stream)), str(self._path(cid)))
            start, stop = _clamp(os.fstat(stream.fileno()).st_size, start, stop)
            stream.seek(start)
        except BaseException:
            stream.close()
            raise
        return self._blocks(stream, stop - start)

    @staticmethod
    def _blocks(stream: BinaryIO, remaining: int) -> Iterator[bytes]:
        with stream:
            while remaining > 0:
                block = stream.read(min(READ_BLOCK, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block


class KuboStore(ContentStore):
    """Content in an IPFS daemon (Kubo, or js-ipfs in tests), reached through its RPC API with ipfshttpclient.

    What the daemon holds is what this store pinned. Reads fetch the whole content and verify it before slicing:
    the daemon's `cat` of a range could not be checked against the CID.

    IPFS keeps bytes, not media types, so the type each upload declared is kept in a small SQLite file beside the
    settings. Sniffing magic bytes instead was rejected: it cannot tell JSON from plain text or a glTF scene from
    other binary, and the uploader's declared type is what AR viewers and browsers need.
    """

    def __init__(self, address: str, types_db: str | os.PathLike, timeout: float = 120):
        import ipfshttpclient  # here, so a local store needs no IPFS client

        self.address = f"kubo:{address}"
        self._errors = ipfshttpclient.exceptions
        try:
            # Constructed directly: `ipfshttpclient.connect()` refuses every daemon newer than 0.7.
            self._client = ipfshttpclient.Client(address, timeout=timeout)
        except ipfshttpclient.exceptions.AddressError as exc:
            raise ValueError(f"not an IPFS API multiaddr: {address!r} (e.g. /ip4/127.0.0.1/tcp/5001/http): "
                             f"{exc}") from None
        self._types_db = Path(types_db)
        self._types_db.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self._types_db)) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS content_types (cid TEXT PRIMARY KEY, content_type TEXT NOT NULL)")

    def _call(self, method, *args, **kwargs):
        """A daemon call whose transport failures become `ContentStoreUnavailable`."""
        try:
            return method(*args, **kwargs)
        except (self._errors.ConnectionError, self._errors.TimeoutError, self._errors.ProtocolError) as exc:
            raise ContentStoreUnavailable(self.address, exc.__class__.__name__) from None

    def put(self, data: bytes, content_type: str) -> str:
        expected = cid_of(data)
        # js-ipfs answers base58btc CIDv1 unless asked for base32; parse_cid normalises either way.
        added = self._call(self._client.add, io.BytesIO(data), cid_version=1, raw_leaves=True, pin=True,
                           opts={"cid-base": "base32"})
        actual = parse_cid(added["Hash"])
        if actual != expected:
            raise ContentMismatch(expected, actual, f"{self.address} add")
        with closing(sqlite3.connect(self._types_db)) as conn, conn:
            conn.execute("INSERT OR REPLACE INTO content_types (cid, content_type) VALUES (?, ?)",
                         (expected, content_type))
        return expected

    def stat(self, cid: str) -> StoredContent:
        cid = parse_cid(cid)
        # `pin ls` answers at once; `cat` or `block stat` of an absent CID waits for the network, even offline.
        try:
            self._call(self._client.pin.ls, cid, type="recursive")
        except self._errors.ErrorResponse as exc:
            if "not pinned" in str(exc):
                raise ContentNotFound(cid) from None
            raise ContentStoreUnavailable(self.address, f"pin ls refused: {exc}") from None
        size = int(self._call(self._client.files.stat, f"/ipfs/{cid}")["Size"])
        with closing(sqlite3.connect(self._types_db)) as conn:
            row = conn.execute("SELECT content_type FROM content_types WHERE cid = ?", (cid,)).fetchone()
        return StoredContent(cid, size, row[0] if row else DEFAULT_CONTENT_TYPE)

    def get(self, cid: str) -> bytes:
        cid = self.stat(cid).cid
        data = self._call(self._client.cat, cid)
        _verified(cid, dag_root(chunks_of(data)), f"{self.address} cat")
        return data

    def open_range(self, cid: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        data = self.get(cid)
        start, stop = _clamp(len(data), start, stop)
        view = memoryview(data)
        return (bytes(view[i:min(i + READ_BLOCK, stop)]) for i in range(start, stop, READ_BLOCK))


def open_store(spec: str, types_db: str | os.PathLike | None = None) -> ContentStore:
    """The store the settings' `content_store` names: `local:<folder>` or `kubo:<multiaddr>`. A Kubo store keeps
    its content types in `types_db` (by default `.data/content-types.sqlite3` in the project)."""
    kind, _, where = spec.partition(":")
    if kind == "local" and where:
        return LocalStore(where)
    if kind == "kubo" and where:
        if types_db is None:
            from indexer.contracts import PROJECT_ROOT

            types_db = PROJECT_ROOT / ".data" / "content-types.sqlite3"
        return KuboStore(where, types_db)
    raise ValueError(f"content store {spec!r} is neither local:<folder> nor kubo:<multiaddr>, e.g. "
                     f"local:.data/content or kubo:/ip4/127.0.0.1/tcp/5001/http")


MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
                        r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"\r\n]*\"|[A-Za-z0-9!#$&^_.+-]+))*$")


def valid_content_type(value: str) -> bool:
    """A media type (`type/subtype`, parameters allowed) fit to be stored and sent back as a header."""
    return len(value) <= 255 and MEDIA_TYPE.match(value) is not None
