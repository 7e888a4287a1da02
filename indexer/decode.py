"""Turns raw logs into `LedgerEvent`s, with one decoder prepared per (contract address, event topic).

The decoders are built once from the compiled ABIs and the deployment's addresses: the event's topic0,
the names and types of its indexed arguments (read from the topics) and a decoder for the rest (read from
the data). The data decoder is compiled from the ABI types into slicing closures (word reads, offsets,
lengths), because eth-abi's general decoder costs more than everything else the indexer does per event;
eth-abi stays the reference (a test decodes every log both ways) and decodes any type the compiler does
not cover. Values come out as plain Python: integers, strings, booleans, lower-case hex for addresses and
fixed bytes, tuples for structs and arrays. A log from an unknown address or with an unknown topic, or
one whose data does not decode, gives `None`: the caller stores it raw and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from eth_abi.exceptions import DecodingError
from eth_abi.grammar import parse
from eth_abi.registry import registry
from eth_abi.decoding import ContextFramesBytesIO
from eth_utils import keccak

from indexer.contracts import Deployment
from indexer.projections import LedgerEvent


def canonical_type(param: dict[str, Any]) -> str:
    """The ABI type as it appears in signatures: structs become parenthesised component lists."""
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


# ------------------------------------------------------------------------------ compiled data decoders

# (data, position of the value's head word, position its offsets count from) -> value
Reader = Callable[[bytes, int, int], Any]


class Unsupported(Exception):
    """A type the compiled decoder does not handle; eth-abi decodes it instead."""


def _word(data: bytes, at: int) -> int:
    if at + 32 > len(data):
        raise ValueError("data too short")
    return int.from_bytes(data[at:at + 32], "big")


def _compile(abi_type: str) -> tuple[bool, int, Reader]:
    """(dynamic?, head size in bytes, reader) for one ABI type."""
    if abi_type.endswith("[]"):
        element_dynamic, element_size, element = _compile(abi_type[:-2])

        def read_array(data: bytes, head: int, base: int) -> tuple:
            start = base + _word(data, head)
            count = _word(data, start)
            items = start + 32
            if count > len(data):
                raise ValueError("array length beyond the data")
            if element_dynamic:
                return tuple(element(data, items + 32 * i, items) for i in range(count))
            return tuple(element(data, items + element_size * i, items) for i in range(count))

        return True, 32, read_array
    if abi_type.endswith("]"):
        raise Unsupported(abi_type)  # fixed-size arrays: none in the ledger's events
    if abi_type.startswith("("):
        dynamic, size, read_fields = _fields([c.to_type_str() for c in parse(abi_type).components])

        def read_tuple(data: bytes, head: int, base: int) -> tuple:
            # A dynamic tuple sits elsewhere and its head holds the offset; a static one sits in place.
            return read_fields(data, base + _word(data, head) if dynamic else head)

        return dynamic, 32 if dynamic else size, read_tuple
    if abi_type == "string":
        def read_string(data: bytes, head: int, base: int) -> str:
            start = base + _word(data, head)
            length = _word(data, start)
            if start + 32 + length > len(data):
                raise ValueError("string beyond the data")
            return text(data[start + 32:start + 32 + length].decode("utf-8"))

        return True, 32, read_string
    if abi_type.startswith("uint"):
        bits = int(abi_type[4:] or 256)

        def read_uint(data: bytes, head: int, base: int) -> int:
            value = _word(data, head)
            if value >> bits:
                raise ValueError(f"{abi_type} out of range")
            return value

        return False, 32, read_uint
    if abi_type.startswith("int"):
        bits = int(abi_type[3:] or 256)

        def read_int(data: bytes, head: int, base: int) -> int:
            value = int.from_bytes(data[head:head + 32], "big", signed=True)
            if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)) or head + 32 > len(data):
                raise ValueError(f"{abi_type} out of range")
            return value

        return False, 32, read_int
    if abi_type == "bool":
        def read_bool(data: bytes, head: int, base: int) -> bool:
            value = _word(data, head)
            if value > 1:
                raise ValueError("bool out of range")
            return value == 1

        return False, 32, read_bool
    if abi_type == "address":
        def read_address(data: bytes, head: int, base: int) -> str:
            if _word(data, head) >> 160:
                raise ValueError("address out of range")
            return "0x" + data[head + 12:head + 32].hex()

        return False, 32, read_address
    if abi_type.startswith("bytes") and abi_type != "bytes":
        size = int(abi_type[5:])

        def read_fixed_bytes(data: bytes, head: int, base: int) -> str:
            if head + 32 > len(data):
                raise ValueError("data too short")
            return "0x" + data[head:head + size].hex()

        return False, 32, read_fixed_bytes
    raise Unsupported(abi_type)


def _fields(types: list[str]) -> tuple[bool, int, Callable[[bytes, int], tuple]]:
    """(dynamic?, static size, reader) for a sequence of values encoded together starting at some position;
    offsets inside are relative to that position."""
    components = [_compile(t) for t in types]
    offsets, at = [], 0
    for _, size, _ in components:
        offsets.append(at)
        at += size
    parts = list(zip(offsets, (c[2] for c in components)))

    def read_fields(data: bytes, start: int) -> tuple:
        return tuple(reader(data, start + offset, start) for offset, reader in parts)

    return any(c[0] for c in components), at, read_fields


def compiled_decoder(types: list[str]) -> Callable[[bytes], tuple] | None:
    """A decoder for event data of `types`, or None when a type is not covered (then eth-abi decodes)."""
    try:
        _, _, read_fields = _fields(types)
    except Unsupported:
        return None
    return lambda data: read_fields(data, 0)


def text(value: str) -> str:
    """A string argument in mirror form. PostgreSQL's text cannot hold NUL, and one NUL in a name would stop a
    PostgreSQL mirror at that block for good, so each NUL is stored as U+FFFD, on every engine alike."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _texts(value: Any) -> Any:
    """`text` applied to every string inside a struct or an array."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_texts(v) for v in value)
    return value


def _converter(abi_type: str) -> Callable[[Any], Any]:
    """How a decoded value becomes its mirror form (hex strings for addresses and fixed bytes, strings without
    NUL)."""
    if abi_type == "address":
        return str.lower
    if abi_type.startswith("bytes") and abi_type != "bytes" and "[" not in abi_type:
        return lambda value: "0x" + value.hex()
    if abi_type == "string" or abi_type.startswith("(") or abi_type.startswith("string["):
        # Structs in the ledger's events hold only integers, booleans and strings: only strings change.
        return _texts
    return lambda value: value


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    indexed: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # (name, type, converter)
    data_names: tuple[str, ...]
    data_converters: tuple[Callable[[Any], Any], ...]
    data_decoder: Callable[[Any], tuple]  # eth-abi's
    fast_decoder: Callable[[bytes], tuple] | None = None  # compiled; values already in mirror form

    def decode(self, topics: list[str], data: bytes) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, abi_type, convert), topic in zip(self.indexed, topics[1:]):
            raw = bytes.fromhex(topic[2:])
            args[name] = convert(_decode_topic(abi_type, raw))
        if self.fast_decoder is not None:
            args.update(zip(self.data_names, self.fast_decoder(data)))
            return args
        return args | self.decode_with_eth_abi(data)

    def decode_with_eth_abi(self, data: bytes) -> dict[str, Any]:
        values = self.data_decoder(ContextFramesBytesIO(data))
        return {name: convert(value) for name, convert, value in zip(self.data_names, self.data_converters, values)}


def _decode_topic(abi_type: str, raw: bytes) -> Any:
    if abi_type.startswith(("uint", "int")) or abi_type == "bool":
        value = int.from_bytes(raw, "big")
        return bool(value) if abi_type == "bool" else value
    if abi_type == "address":
        return "0x" + raw[12:].hex()
    return raw  # fixed bytes


def event_specs(contract: str, abi: list[dict[str, Any]]) -> dict[str, EventSpec]:
    """The decoders for one contract's events, by topic0 (lower-case hex)."""
    specs = {}
    for item in abi:
        if item["type"] != "event" or item.get("anonymous"):
            continue
        types = [canonical_type(p) for p in item["inputs"]]
        signature = f"{item['name']}({','.join(types)})"
        topic0 = "0x" + keccak(text=signature).hex()
        indexed = tuple(
            (p["name"], t, _converter(t)) for p, t in zip(item["inputs"], types) if p["indexed"]
        )
        data = [(p["name"], t) for p, t in zip(item["inputs"], types) if not p["indexed"]]
        specs[topic0] = EventSpec(
            contract=contract,
            name=item["name"],
            indexed=indexed,
            data_names=tuple(name for name, _ in data),
            data_converters=tuple(_converter(t) for _, t in data),
            data_decoder=registry.get_tuple_decoder(*(t for _, t in data), strict=False),
            fast_decoder=compiled_decoder([t for _, t in data]),
        )
    return specs


class EventDecoder:
    """Decodes the logs of the deployed ledger contracts, and of retired ones: `retired` lists
    (contract, address, event ABI) of contracts that were replaced, whose logs stay the ledger's history."""

    def __init__(self, abis: dict[str, list[dict[str, Any]]], addresses: dict[str, str],
                 retired: Iterable[tuple[str, str, list[dict[str, Any]]]] = ()):
        self.by_address: dict[str, dict[str, EventSpec]] = {
            address.lower(): event_specs(contract, events) for contract, address, events in retired
        }
        self.by_address.update({
            address.lower(): event_specs(contract, abis[contract]) for contract, address in addresses.items()
        })

    @classmethod
    def of_deployment(cls, deployment: Deployment, abis: dict[str, list[dict[str, Any]]]) -> EventDecoder:
        """The decoder of every address `deployment` lists: current contracts with the compiled `abis`,
        retired ones with the event ABI recorded for them."""
        return cls({name: abis[name] for name in deployment.contracts},
                   {name: entry["address"] for name, entry in deployment.contracts.items()},
                   [(entry["name"], entry["address"], entry["events"]) for entry in deployment.retired])

    @property
    def addresses(self) -> list[str]:
        return list(self.by_address)

    def decode(self, log: dict[str, Any], time: int, data: bytes | None = None) -> LedgerEvent | None:
        """The log as a ledger event, or None. `data` is the log's data as bytes, when the caller has it."""
        specs = self.by_address.get(log["address"].lower())
        topics = log["topics"]
        spec = specs.get(topics[0]) if specs and topics else None
        if spec is None or len(topics) != len(spec.indexed) + 1:
            return None
        try:
            args = spec.decode(topics, bytes.fromhex(log["data"][2:]) if data is None else data)
        except (DecodingError, ValueError, IndexError, UnicodeDecodeError):
            return None
        return LedgerEvent(
            contract=spec.contract,
            name=spec.name,
            args=args,
            block_number=int(log["blockNumber"], 16),
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"],
            time=time,
        )
