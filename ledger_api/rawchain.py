"""A fast writer of ledger transactions over raw JSON-RPC, for filling a chain with activity.

web3's middleware stack and one HTTP round trip per call cap a Python client at a few hundred transactions a
second, so this module talks JSON-RPC itself: calls are encoded with eth-abi from selectors and argument
types computed once per function, signed locally (EIP-155 legacy transactions, nonces counted here), sent
as JSON-RPC batch arrays, and confirmed a block at a time with `eth_getBlockReceipts`. On anvil it turns
automine off and mines one block per round of calls with the round's timestamp, so many transactions share
a block and months of activity pass in block time. Calls of one round may depend on earlier calls of the
same round, from other senders (an approval of the order submitted just before it), and the ids the
activity generator predicted are the contracts' counters in call order; so each block's order must be the
order of its calls, which a gas price falling by one wei per call makes anvil keep. Every receipt is
checked: a failed transaction raises `TransactionFailed` naming the call and the decoded custom error, and
no later block is sent.
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import requests
import rlp
from eth_abi import decode, encode
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from indexer.contracts import DEPLOYMENTS, Artifact, Deployment, abi_hash, write_deployment

LEDGER_CONTRACTS = ("Membership", "Catalog", "Orders", "Inventory", "Anchors")
DEPLOY_GAS = 8_000_000
CALL_GAS = 2_000_000
# setPrices writes a slot and one or two events per change; 100k per change covers a first price (zero to
# non-zero SSTORE) with an alert, so a revision never runs out of gas however it is chunked.
GAS_PER_PRICE_CHANGE = 100_000
SEND_CHUNK = 2_000  # transactions per HTTP batch request: bounded so one request body stays a few MB
# Anvil's receipt queries grow faster than linearly with the transactions in a block (measured: 500 txs
# 0.07 s, 2,000 txs 1.0 s), so rounds are cut into blocks of about this many.
BLOCK_SIZE = 500
GAS_PRICE = 1_000_000_000  # 1 gwei; with anvil's base fee at 0 this only orders transactions
FUNDING_WEI = 10**24
ERROR_STRING = bytes.fromhex("08c379a0")  # the selector of Error(string), a require's message
PANIC = bytes.fromhex("4e487b71")  # the selector of Panic(uint256), a failed assert or an overflow
ZERO_ADDRESS = "0x" + "00" * 20  # Anchors' predecessor on a new ledger


class RpcError(RuntimeError):
    """The node answered a JSON-RPC request with an error."""


class TransactionFailed(RuntimeError):
    """A ledger transaction was mined with status 0 (or never mined)."""


class Call(Protocol):
    """One contract call as the activity generator plans it."""

    sender: str
    contract: str
    function: str
    args: tuple


# ---------------------------------------------------------------------------------------------- JSON-RPC


class Rpc:
    """JSON-RPC over one keep-alive HTTP session; `batch` sends many calls in one request."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        return self.batch([(method, list(params))])[0]

    def batch(self, calls: Sequence[tuple[str, list]]) -> list[Any]:
        """Results in the order of `calls`; raises `RpcError` on the first error, naming the call."""
        if not calls:
            return []
        first = next(self._ids)
        self._ids = itertools.count(first + len(calls))
        payload = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        response = self.session.post(self.url, json=payload, timeout=self.timeout)
        response.raise_for_status()
        answers = response.json()
        if isinstance(answers, dict):  # a batch-level error, e.g. a malformed request
            raise RpcError(f"{self.url}: {answers.get('error', answers)}")
        by_id = {a["id"]: a for a in answers}
        results = []
        for i, (method, params) in enumerate(calls):
            answer = by_id[first + i]
            if "error" in answer:
                raise RpcError(f"{method}{tuple(params)!s:.300}: {answer['error']}")
            results.append(answer.get("result"))
        return results

    def is_up(self) -> bool:
        try:
            self.call("eth_chainId")
            return True
        except (requests.RequestException, RpcError):
            return False


# ---------------------------------------------------------------------------------------------- ABI codec


def abi_type(param: dict) -> str:
    """The canonical type string of an ABI parameter, tuples spelled out (`(uint8,uint64,...)[]`)."""
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


@dataclass(frozen=True)
class FunctionSpec:
    contract: str
    name: str
    selector: bytes
    types: tuple[str, ...]


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...] = ()  # the arguments' names, as the Solidity source gives them


class LedgerCodec:
    """Selectors, argument types, custom errors and event topics of the ledger's contracts, computed once."""

    def __init__(self, artifacts: dict[str, Artifact], contracts: Iterable[str] = LEDGER_CONTRACTS) -> None:
        self.functions: dict[tuple[str, str], FunctionSpec] = {}
        self.constructors: dict[str, tuple[str, ...]] = {}
        self.errors: dict[bytes, ErrorSpec] = {}
        self.events: dict[str, str] = {}  # topic0 hex -> event name
        self.event_contract: dict[str, str] = {}  # topic0 hex -> the contract that declares the event
        for name in contracts:
            for item in artifacts[name].abi:
                inputs = item.get("inputs", ())
                types = tuple(abi_type(p) for p in inputs)
                signature = f"{item.get('name', '')}({','.join(types)})"
                if item["type"] == "function":
                    self.functions[(name, item["name"])] = FunctionSpec(
                        name, item["name"], keccak(text=signature)[:4], types)
                elif item["type"] == "constructor":
                    self.constructors[name] = types
                elif item["type"] == "error":
                    names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(inputs))
                    self.errors[keccak(text=signature)[:4]] = ErrorSpec(item["name"], types, names)
                elif item["type"] == "event":
                    topic = "0x" + keccak(text=signature).hex()
                    self.events[topic] = item["name"]
                    self.event_contract[topic] = name
        self.abis = {name: artifacts[name].abi for name in contracts}
        self.bytecode = {name: bytes.fromhex(artifacts[name].bytecode.removeprefix("0x")) for name in contracts}

    def encode_call(self, contract: str, function: str, args: Sequence[Any]) -> bytes:
        spec = self.functions[(contract, function)]
        return spec.selector + encode(spec.types, list(args))

    def encode_deploy(self, contract: str, args: Sequence[Any]) -> bytes:
        return self.bytecode[contract] + encode(self.constructors.get(contract, ()), list(args))

    def revert_reason(self, data: str | None) -> tuple[str, dict[str, Any]]:
        """A revert's error by name with its arguments: a custom error of the ledger's, `Error(string)`,
        `Panic(uint256)`, or (`Reverted` / `UnknownContractError`) the raw data when it is none of these."""
        text = data if isinstance(data, str) else ""
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raw = b""
        if len(raw) < 4:
            return "Reverted", {"data": data}
        if raw[:4] == ERROR_STRING:
            return "Reverted", {"reason": decode(["string"], raw[4:])[0]}
        if raw[:4] == PANIC:
            return "Panic", {"code": decode(["uint256"], raw[4:])[0]}
        spec = self.errors.get(raw[:4])
        if spec is None:
            return "UnknownContractError", {"data": "0x" + raw.hex()}
        return spec.name, dict(zip(spec.names, decode(list(spec.types), raw[4:])))

    def decode_error(self, data: str | None) -> str:
        """`Name(arg, ...)` for a revert's data, as a line for a log or an exception message."""
        name, detail = self.revert_reason(data)
        shown = ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in detail.values())
        return f"{name}({shown})"


# ---------------------------------------------------------------------------------------------- signing


def contract_address(sender: str, nonce: int) -> str:
    """The address a contract created by `sender` at `nonce` gets (CREATE)."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


class Signer:
    """Local keys and their nonces. Builds EIP-155 legacy transactions with rlp and eth-keys directly:
    this is what eth-account's `sign_transaction` does underneath, without its dict validation, which
    costs as much again as the signature (tests check the bytes are identical)."""

    def __init__(self, keys_by_label: dict[str, bytes], chain_id: int) -> None:
        self.chain_id = chain_id
        self._keys = {label: keys.PrivateKey(key) for label, key in keys_by_label.items()}
        self.addresses = {label: k.public_key.to_checksum_address() for label, k in self._keys.items()}
        self.nonces: dict[str, int] = {}

    def add_key(self, label: str, key: bytes) -> None:
        self._keys[label] = keys.PrivateKey(key)
        self.addresses[label] = self._keys[label].public_key.to_checksum_address()

    def sign(self, label: str, to: bytes, data: bytes, gas: int, gas_price: int) -> tuple[str, str]:
        """(raw transaction hex, transaction hash hex) for the sender's next nonce."""
        nonce = self.nonces[label]
        self.nonces[label] = nonce + 1
        fields = [nonce, gas_price, gas, to, 0, data]
        signature = self._keys[label].sign_msg_hash(keccak(rlp.encode(fields + [self.chain_id, 0, 0])))
        raw = rlp.encode(fields + [signature.v + 35 + 2 * self.chain_id, signature.r, signature.s])
        return "0x" + raw.hex(), "0x" + keccak(raw).hex()


# ---------------------------------------------------------------------------------------------- writing


@dataclass
class RoundResult:
    block: int
    transactions: int
    events: Counter


@dataclass
class Totals:
    """What a writer has put on chain so far."""

    transactions: int = 0
    blocks: int = 0
    events: Counter = field(default_factory=Counter)
    seconds: float = 0.0  # spent sending, mining and checking receipts (overlaps with signing)

    @property
    def event_count(self) -> int:
        return sum(self.events.values())


@dataclass(frozen=True)
class DeployedLedger:
    addresses: dict[str, str]
    start_block: int
    chain_id: int

    def deployment(self, network: str, codec: LedgerCodec) -> Deployment:
        return Deployment(
            network=network,
            chain_id=self.chain_id,
            start_block=self.start_block,
            contracts={
                name: {"address": address, "abi_hash": abi_hash(codec.abis[name])}
                for name, address in self.addresses.items()
            },
        )


class LedgerWriter:
    """Sends rounds of calls to the deployed ledger, one mined block per round (more for a round larger than
    `block_size`), and checks every receipt."""

    def __init__(self, rpc: Rpc, codec: LedgerCodec, signer: Signer, addresses: dict[str, str] | None = None,
                 block_size: int = BLOCK_SIZE, impersonate: bool = False) -> None:
        self.rpc = rpc
        self.block_size = block_size
        # Impersonating (anvil_autoImpersonateAccount) sends unsigned transactions from the members'
        # addresses: the same chain, without the cost of signing in Python. Only anvil allows it.
        self.impersonate = impersonate
        self.codec = codec
        self.signer = signer
        self.addresses = {name: bytes.fromhex(a[2:]) for name, a in (addresses or {}).items()}
        self.totals = Totals()
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-writer")
        self._pending: Future | None = None

    # -- setup

    def prepare(self, labels: Iterable[str] | None = None) -> None:
        """Funds the senders, reads their nonces and switches automine off: from now on a block is mined
        only when a round's calls are in."""
        labels = list(labels if labels is not None else self.signer.addresses)
        addresses = [self.signer.addresses[label] for label in labels]
        for chunk in _chunks(addresses, SEND_CHUNK):
            self.rpc.batch([("anvil_setBalance", [a, hex(FUNDING_WEI)]) for a in chunk])
        nonces = []
        for chunk in _chunks(addresses, SEND_CHUNK):
            nonces += self.rpc.batch([("eth_getTransactionCount", [a, "latest"]) for a in chunk])
        self.signer.nonces.update({label: int(n, 16) for label, n in zip(labels, nonces)})
        self.rpc.call("evm_setAutomine", False)
        if self.impersonate:
            self.rpc.call("anvil_autoImpersonateAccount", True)

    # -- rounds

    def execute_round(self, timestamp: int | None, calls: Sequence[Call]) -> None:
        """Sends `calls` in order and mines them at `timestamp` (anvil's own clock if None): one block, or
        several a second apart when there are more than `block_size` calls.

        Signing the next block overlaps with the node mining this one: blocks go to a single sending thread,
        so they still reach the node one after the other, and a failure stops it before the next block is
        sent. The failure is raised here on the next call, or by `flush()`, which also waits for the last block.
        """
        for k, start in enumerate(range(0, len(calls), self.block_size)):
            block_calls = list(calls[start:start + self.block_size])
            # Anvil orders a block by gas price, and across senders it does not keep arrival order at equal
            # prices; a price falling by one wei per call makes the block's order the order of `calls`.
            top = GAS_PRICE + len(block_calls)
            if self.impersonate:
                prepared = [self._transaction(call, top - i) for i, call in enumerate(block_calls)]
            else:
                prepared = [self._sign(call, top - i) for i, call in enumerate(block_calls)]
            self.flush()
            when = None if timestamp is None else timestamp + k
            self._pending = self._sender.submit(self._write_block, when, prepared, block_calls)

    def send_each(self, timestamp: int | None, calls: Sequence[Call]) -> None:
        """Sends `calls` one at a time, each mined on its own by automine (from `timestamp` on) and confirmed
        before the next: how a conventional client writes, kept as the benchmark's baseline."""
        self.flush()
        if timestamp is not None:
            self.rpc.call("evm_setNextBlockTimestamp", timestamp)
        self.rpc.call("evm_setAutomine", True)
        try:
            for call in calls:
                if self.impersonate:
                    (_, tx_hash), = self._send_unsigned([self._transaction(call, GAS_PRICE)])
                else:
                    raw, tx_hash = self._sign(call, GAS_PRICE)
                    self.rpc.call("eth_sendRawTransaction", raw)
                # Automine mines right after the send returns, so the receipt may take a moment to appear.
                deadline = time.monotonic() + 30
                while (receipt := self.rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
                    if time.monotonic() > deadline:
                        raise TransactionFailed(f"{_describe(call)} ({tx_hash}) was not mined within 30 s")
                if int(receipt["status"], 16) != 1:
                    raise TransactionFailed(self._explain_failure(receipt, call))
                self.totals.transactions += 1
                self.totals.blocks += 1
                self.totals.events.update(self.codec.events.get(log["topics"][0], "?") for log in receipt["logs"])
        finally:
            self.rpc.call("evm_setAutomine", False)

    def flush(self) -> Totals:
        """Waits for the block in flight; raises its failure if it had one. Returns the totals."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
        return self.totals

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._sender.shutdown(wait=True)

    def _write_block(self, timestamp: int | None, prepared: list, calls: list) -> RoundResult:
        began = time.perf_counter()
        signed = self._send_unsigned(prepared) if self.impersonate else prepared
        result = self._send_and_mine(timestamp, signed, calls)
        self.totals.transactions += result.transactions
        self.totals.blocks += 1
        self.totals.events.update(result.events)
        self.totals.seconds += time.perf_counter() - began
        return result

    def _sign(self, call: Call, gas_price: int) -> tuple[str, str]:
        data = self.codec.encode_call(call.contract, call.function, call.args)
        return self.signer.sign(call.sender, self.addresses[call.contract], data, _gas(call), gas_price)

    def _transaction(self, call: Call, gas_price: int) -> dict:
        nonce = self.signer.nonces[call.sender]
        self.signer.nonces[call.sender] = nonce + 1
        return {
            "from": self.signer.addresses[call.sender], "to": "0x" + self.addresses[call.contract].hex(),
            "data": "0x" + self.codec.encode_call(call.contract, call.function, call.args).hex(),
            "gas": hex(_gas(call)), "gasPrice": hex(gas_price), "nonce": hex(nonce),
        }

    def _send_unsigned(self, transactions: list[dict]) -> list[tuple[None, str]]:
        """Sends through eth_sendTransaction (impersonated senders); returns (None, hash) like signed ones."""
        hashes = []
        for chunk in _chunks(transactions, SEND_CHUNK):
            hashes += self.rpc.batch([("eth_sendTransaction", [tx]) for tx in chunk])
        return [(None, h) for h in hashes]

    def _send_and_mine(self, timestamp: int | None, signed: list[tuple[str | None, str]], calls) -> RoundResult:
        raws = [raw for raw, _ in signed if raw is not None]
        for chunk in _chunks(raws, SEND_CHUNK):
            self.rpc.batch([("eth_sendRawTransaction", [raw]) for raw in chunk])
        self._mine(timestamp)
        # Only this writer mines (automine is off), so the latest block is the one just mined: asking for it
        # by tag saves a round trip for its number.
        receipts = self.rpc.call("eth_getBlockReceipts", "latest")
        block = int(receipts[0]["blockNumber"], 16) if receipts else int(self.rpc.call("eth_blockNumber"), 16)
        by_hash = {r["transactionHash"]: r for r in receipts}
        events: Counter = Counter()
        for i, (_, tx_hash) in enumerate(signed):
            receipt = by_hash.get(tx_hash)
            if receipt is None:
                raise TransactionFailed(
                    f"{_describe(calls[i]) if calls else 'transaction'} ({tx_hash}) was not mined in block {block}; "
                    "is the block gas limit large enough (start anvil with --gas-limit)?"
                )
            if int(receipt["status"], 16) != 1:
                raise TransactionFailed(self._explain_failure(receipt, calls[i] if calls else None))
            for log in receipt["logs"]:
                events[self.codec.events.get(log["topics"][0], log["topics"][0])] += 1
        return RoundResult(block, len(signed), events)

    def _mine(self, timestamp: int | None) -> None:
        if timestamp is None:
            self.rpc.call("evm_mine")
        else:
            self.rpc.call("evm_mine", {"timestamp": timestamp, "blocks": 1})

    def _explain_failure(self, receipt: dict, call: Call | None) -> str:
        """Names the failed call and its custom error, which the trace (or a replay) of the tx gives."""
        tx_hash, block = receipt["transactionHash"], int(receipt["blockNumber"], 16)
        what = _describe(call) if call else "transaction"
        try:
            trace = self.rpc.call("debug_traceTransaction", tx_hash, {"tracer": "callTracer"})
            reason = self.codec.decode_error(trace.get("output"))
        except RpcError:
            reason = self._replay(tx_hash, block)
        return f"{what} failed in block {block} (tx {tx_hash}): {reason}"

    def _replay(self, tx_hash: str, block: int) -> str:
        tx = self.rpc.call("eth_getTransactionByHash", tx_hash)
        try:
            self.rpc.call("eth_call", {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]},
                          hex(block - 1))
            return "reverted, but succeeds when replayed at the previous block (it depends on its own block)"
        except RpcError as exc:
            data = exc.args[0]
            start = data.find("'data': '")
            return self.codec.decode_error(data[start + 9:].split("'")[0]) if start >= 0 else data

    # -- deployment

    def deploy_ledger(self, admin: str, brand_name: str) -> DeployedLedger:
        """Deploys and wires the five contracts the way scripts/deploy.py does, in one block: the addresses
        follow from the admin's nonces, so each constructor can name the contracts deployed before it."""
        self.flush()
        sender = self.signer.addresses[admin]
        nonce = self.signer.nonces[admin]
        membership, catalog, orders, inventory = (contract_address(sender, nonce + i) for i in range(4))
        anchors = contract_address(sender, nonce + 5)  # nonce + 4 is orders.setInventory
        plan = [
            ("Membership", [sender, brand_name]),
            ("Catalog", [membership]),
            ("Orders", [membership, catalog]),
            ("Inventory", [membership, catalog, orders]),
        ]
        signed = [self.signer.sign(admin, b"", self.codec.encode_deploy(name, args), DEPLOY_GAS, GAS_PRICE)
                  for name, args in plan]
        wiring = self.codec.encode_call("Orders", "setInventory", [inventory])
        signed.append(self.signer.sign(admin, bytes.fromhex(orders[2:]), wiring, CALL_GAS, GAS_PRICE))
        signed.append(self.signer.sign(admin, b"", self.codec.encode_deploy("Anchors", [membership, ZERO_ADDRESS]),
                                       DEPLOY_GAS, GAS_PRICE))
        result = self._send_and_mine(None, signed, None)
        addresses = {"Membership": membership, "Catalog": catalog, "Orders": orders, "Inventory": inventory,
                     "Anchors": anchors}
        self.addresses = {name: bytes.fromhex(a[2:]) for name, a in addresses.items()}
        chain_id = int(self.rpc.call("eth_chainId"), 16)
        return DeployedLedger(addresses, result.block, chain_id)


def write_ledger_deployment(deployed: DeployedLedger, network: str, codec: LedgerCodec,
                            directory: Path = DEPLOYMENTS) -> Path:
    return write_deployment(deployed.deployment(network, codec), directory)


def has_code(rpc: Rpc, addresses: Iterable[str]) -> bool:
    codes = rpc.batch([("eth_getCode", [a, "latest"]) for a in addresses])
    return all(code not in (None, "0x") for code in codes)


def _gas(call: Call) -> int:
    if call.function == "setPrices":
        return 200_000 + GAS_PER_PRICE_CHANGE * len(call.args[0])
    return CALL_GAS


def _describe(call: Call) -> str:
    return f"{call.contract}.{call.function}{tuple(call.args)!s:.400} sent by {call.sender}"


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
