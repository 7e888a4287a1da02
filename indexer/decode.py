"""Turns raw logs into `LedgerEvent`s, with one decoder prepared per (contract address, event topic).

The decoders are built once from the compiled ABIs and the deployment's addresses: the event's topic0,
the names and types of its indexed arguments (read from the topics) and an eth-abi tuple decoder for the
rest (read from the data). Values come out as plain Python: integers, strings, booleans, lower-case hex
for addresses and fixed bytes, tuples for structs. A log from an unknown address or with an unknown
topic, or one whose data does not decode, gives `None`: the caller stores it raw and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth_abi.exceptions import DecodingError
from eth_abi.registry import registry
from eth_abi.decoding import ContextFramesBytesIO
from eth_utils import keccak

from indexer.projections import LedgerEvent


def canonical_type(param: dict[str, Any]) -> str:
    """The ABI type as it appears in signatures: structs become parenthesised component lists."""
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


def _converter(abi_type: str) -> Callable[[Any], Any]:
    """How a decoded value becomes its mirror form (hex strings for addresses and fixed bytes)."""
    if abi_type == "address":
        return str.lower
    if abi_type.startswith("bytes") and abi_type != "bytes" and "[" not in abi_type:
        return lambda value: "0x" + value.hex()
    # Structs in the ledger's events hold only integers, booleans and strings: nothing to convert.
    return lambda value: value


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    indexed: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # (name, type, converter)
    data_names: tuple[str, ...]
    data_converters: tuple[Callable[[Any], Any], ...]
    data_decoder: Callable[[Any], tuple]

    def decode(self, topics: list[str], data: bytes) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, abi_type, convert), topic in zip(self.indexed, topics[1:]):
            raw = bytes.fromhex(topic[2:])
            args[name] = convert(_decode_topic(abi_type, raw))
        values = self.data_decoder(ContextFramesBytesIO(data))
        for name, convert, value in zip(self.data_names, self.data_converters, values):
            args[name] = convert(value)
        return args


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
        )
    return specs


class EventDecoder:
    """Decodes the logs of the deployed ledger contracts."""

    def __init__(self, abis: dict[str, list[dict[str, Any]]], addresses: dict[str, str]):
        self.by_address: dict[str, dict[str, EventSpec]] = {
            address.lower(): event_specs(contract, abis[contract]) for contract, address in addresses.items()
        }

    @property
    def addresses(self) -> list[str]:
        return list(self.by_address)

    def decode(self, log: dict[str, Any], time: int) -> LedgerEvent | None:
        specs = self.by_address.get(log["address"].lower())
        topics = log["topics"]
        spec = specs.get(topics[0]) if specs and topics else None
        if spec is None or len(topics) != len(spec.indexed) + 1:
            return None
        try:
            args = spec.decode(topics, bytes.fromhex(log["data"][2:]))
        except (DecodingError, ValueError):
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
