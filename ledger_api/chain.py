"""The API's chain client: it signs a member organisation's calls with keys from encrypted keystores, sends them
with nonces that concurrent requests never share, and waits for the receipt and then for the mirror.

A write goes: encode the call (eth-abi, selectors computed once) → `eth_estimateGas` from the sender, which
also runs the call, so a revert is caught before anything is signed and its custom error is decoded by name
(`ContractError`) → sign locally under the sender's lock, which hands out the next nonce → send →
`ChainWatcher` sees the receipt in a new block → `MirrorWatcher` sees the indexer's checkpoint pass that block.
One watcher of each kind serves every waiting request, so a burst of writes costs the node one block poll and
the database one checkpoint query per tick, not one per request. Raw transactions a client signed itself take
the same path from the send on, after the sender and target are checked.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import rlp
from eth_abi import decode
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address

from indexer.contracts import Deployment
from ledger_api.rawchain import LedgerCodec, Signer

log = logging.getLogger("ledger_api.chain")

GAS_MARGIN = 1.25  # estimates are exact for the state they ran on; a margin covers state changed meanwhile
GAS_FLOOR = 30_000
MAX_BATCH = 500  # calls per JSON-RPC batch request: under the nodes' limits (Besu's default is 1,024)
SAFE_INTEGER = 2**53  # larger integers go into JSON as strings, which every client reads exactly


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, error: dict):
        self.method, self.code = method, error.get("code")
        self.message, self.data = str(error.get("message", "")), error.get("data")
        super().__init__(f"{method}: {self.message}")


class ChainUnavailable(RuntimeError):
    """The node could not be reached or did not answer in time."""


class ContractError(Exception):
    """A ledger contract refused the call: its custom error, by name, with its arguments."""

    def __init__(self, name: str, detail: dict[str, Any]):
        self.name, self.detail = name, detail
        super().__init__(f"{name}({detail})")


class KeyNotHeld(Exception):
    """This API holds no key for the account: the client must sign the transaction itself."""


class KeystoreError(RuntimeError):
    """A keystore that cannot be opened: the password is wrong or the file is damaged."""


class InvalidTransaction(ValueError):
    """A raw transaction that cannot be relayed: undecodable, for another chain, or not to the ledger."""


def json_value(value: Any) -> Any:
    """An ABI value as JSON: bytes as hex, addresses checksummed, big integers as decimal strings."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) >= SAFE_INTEGER else value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    return value


# ---------------------------------------------------------------------------------------------- ABI


def contract_error(codec: LedgerCodec, data: str | None) -> ContractError:
    """The contract's refusal in revert `data`, by name, with JSON-safe arguments."""
    name, detail = codec.revert_reason(data)
    return ContractError(name, {key: json_value(value) for key, value in detail.items()})


def _is_hex(data: Any) -> bool:
    return isinstance(data, str) and data.startswith("0x") and all(c in "0123456789abcdefABCDEF" for c in data[2:])


# ---------------------------------------------------------------------------------------------- keys


class Keyring:
    """The encrypted keystores (eth-account JSON, version 3) of the accounts this API signs for, one file per
    account. A key is decrypted the first time it signs, and kept in memory only."""

    def __init__(self, directory: Path, password: str):
        self.directory, self._password = directory, password
        self._files: dict[str, Path] = {}
        self._keys: dict[str, bytes] = {}
        if directory.is_dir():
            for path in sorted(directory.glob("*.json")):
                try:
                    address = json.loads(path.read_text())["address"]
                except (ValueError, KeyError, TypeError):
                    log.warning("skipping %s: not a keystore file", path)
                    continue
                self._files[to_checksum_address("0x" + address.removeprefix("0x"))] = path

    @property
    def addresses(self) -> list[str]:
        return list(self._files)

    def holds(self, address: str) -> bool:
        return address in self._files

    def key(self, address: str) -> bytes:
        if address not in self._keys:
            path = self._files.get(address)
            if path is None:
                raise KeyNotHeld(address)
            try:
                self._keys[address] = bytes(Account.decrypt(json.loads(path.read_text()), self._password))
            except (ValueError, KeyError, TypeError) as exc:
                raise KeystoreError(f"cannot open the keystore {path}: {exc} (is LEDGER_KEYSTORE_PASSWORD right?)"
                                    ) from None
        return self._keys[address]

    def opened(self, address: str) -> bytes | None:
        """The key if it has been decrypted already."""
        return self._keys.get(address)

    def check(self) -> None:
        """Opens one keystore, so a wrong password stops the API at start rather than at its first write."""
        if self._files:
            self.key(next(iter(self._files)))


def write_keystore(directory: Path, private_key: bytes, password: str, iterations: int | None = None) -> Path:
    """Encrypts `private_key` into `<directory>/<address>.json`; `iterations` lowers the KDF cost for
    development keys (the default is eth-account's, which takes about a second to open)."""
    directory.mkdir(parents=True, exist_ok=True)
    keystore = Account.encrypt(private_key, password, kdf="pbkdf2", iterations=iterations)
    path = directory / f"{to_checksum_address('0x' + keystore['address'])}.json"
    path.write_text(json.dumps(keystore))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------------------------------- JSON-RPC


class JsonRpc:
    """Asynchronous JSON-RPC over one pooled HTTP client (aiohttp), with calls coalesced: every call made in
    one turn of the event loop goes to the node in one batch request. Under load, the estimates, sends and
    head polls of many concurrent writes then cost one HTTP round trip instead of one each."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url, self.timeout = url, timeout
        self._session: aiohttp.ClientSession | None = None
        self._queued: list[tuple[str, list, asyncio.Future]] = []
        self._flush_pending = False
        self._sending: set[asyncio.Task] = set()  # held so the loop cannot collect a batch in flight
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self._queued.append((method, list(params), answer))
        if not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush)
        return await answer

    async def batch(self, calls: Sequence[tuple[str, list]]) -> list[Any]:
        """Results in the order of `calls`; the first failure is raised."""
        return list(await asyncio.gather(*(self.call(method, *params) for method, params in calls)))

    def _flush(self) -> None:
        self._flush_pending = False
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), MAX_BATCH):
            task = asyncio.ensure_future(self._send(queued[start:start + MAX_BATCH]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[tuple[str, list, asyncio.Future]]) -> None:
        ids = [next(self._ids) for _ in calls]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p, _) in zip(ids, calls)]
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.timeout), connector=aiohttp.TCPConnector(limit=16))
            async with self._session.post(self.url, data=orjson.dumps(payload),
                                          headers={"content-type": "application/json"}) as response:
                response.raise_for_status()
                answers = orjson.loads(await response.read())
        except BaseException as exc:  # whatever stopped the request, every caller waiting on it hears of it
            failure = ChainUnavailable(f"the node at {self.url} did not answer: {exc.__class__.__name__}: {exc}")
            for _, _, future in calls:
                if not future.done():
                    future.set_exception(failure)
            if not isinstance(exc, Exception):  # cancelled, or the process is stopping
                raise
            return
        if isinstance(answers, dict):  # the node refused the batch as a whole
            answers = [{"id": i, "error": answers.get("error") or {"message": str(answers)}} for i in ids]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        for i, (method, _, future) in zip(ids, calls):
            if future.done():
                continue
            answer = by_id.get(i, {"error": {"message": "no answer"}})
            if "error" in answer:
                future.set_exception(RpcError(method, answer["error"]))
            else:
                future.set_result(answer.get("result"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# ---------------------------------------------------------------------------------------------- watchers


class _Watcher:
    """A height that only grows, polled by one task, awaited by many. It polls every `poll` seconds while
    someone waits, and every `idle_poll` seconds otherwise (woken at once when a wait begins)."""

    def __init__(self, poll: float, idle_poll: float = 0.25):
        self.poll, self.idle_poll = poll, idle_poll
        self.height = -1
        self._advanced = asyncio.Condition()
        self._wake = asyncio.Event()
        self._waiting = 0
        self._task: asyncio.Task | None = None

    async def _read(self) -> int:
        raise NotImplementedError

    async def _seen(self, height: int) -> None:
        """Called with each new height before waiters wake."""

    def _busy(self) -> bool:
        return self._waiting > 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                height = await self._read()
                if height > self.height:
                    await self._seen(height)
                    self.height = height
                    async with self._advanced:
                        self._advanced.notify_all()
                pause = self.poll if self._busy() else self.idle_poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node or database hiccup: try again shortly
                log.warning("%s: %s", self.__class__.__name__, exc)
                pause = max(self.idle_poll, 0.5)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), pause)
            except TimeoutError:
                pass

    async def reach(self, height: int, timeout: float) -> bool:
        """True once the height is at least `height`; False if `timeout` seconds pass first."""
        if self.height >= height:
            return True
        self._waiting += 1
        self.wake()
        try:
            async with self._advanced:
                await asyncio.wait_for(self._advanced.wait_for(lambda: self.height >= height), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1


class ChainWatcher(_Watcher):
    """Follows the node's head and hands each new block's receipts to the requests waiting for them."""

    def __init__(self, rpc: JsonRpc, poll: float):
        super().__init__(poll)
        self.rpc = rpc
        self._receipts: dict[str, asyncio.Future] = {}

    def _busy(self) -> bool:
        return bool(self._receipts) or super()._busy()

    def expect(self, tx_hash: str) -> asyncio.Future:
        future = self._receipts.get(tx_hash)
        if future is None:
            future = self._receipts[tx_hash] = asyncio.get_running_loop().create_future()
            self.wake()
        return future

    def forget(self, tx_hash: str) -> None:
        self._receipts.pop(tx_hash, None)

    async def _read(self) -> int:
        return int(await self.rpc.call("eth_blockNumber"), 16)

    async def _seen(self, height: int) -> None:
        if self.height < 0 or not self._receipts:  # the first look, or nobody waits: nothing to hand out
            return
        blocks = range(self.height + 1, height + 1)
        answers = await self.rpc.batch([("eth_getBlockReceipts", [hex(n)]) for n in blocks])
        for receipts in answers:
            for receipt in receipts or ():
                future = self._receipts.pop(receipt["transactionHash"], None)
                if future is not None and not future.done():
                    future.set_result(receipt)


class MirrorWatcher(_Watcher):
    """Follows the indexer's checkpoint: the last block the mirror has fully applied."""

    def __init__(self, checkpoint: Callable[[], int], poll: float):
        super().__init__(poll)
        self._checkpoint = checkpoint

    async def _read(self) -> int:
        return self._checkpoint()  # one indexed row: cheaper on the loop than through a thread


# ---------------------------------------------------------------------------------------------- writes


@dataclass
class Outcome:
    """A sent transaction: mined (with its receipt) and mirrored, or still pending when time ran out."""

    tx_hash: str
    receipt: dict | None = None
    sender: str | None = None
    mirrored: bool = False
    events: list[dict] = field(default_factory=list)  # (contract, name, topics) of the receipt's ledger logs

    @property
    def block(self) -> int | None:
        return int(self.receipt["blockNumber"], 16) if self.receipt else None

    def topic(self, event: str, index: int = 1) -> int | None:
        """An indexed uint argument of the first `event` in the receipt (an id the contract assigned)."""
        for e in self.events:
            if e["event"] == event:
                return int(e["topics"][index], 16)
        return None


class ChainClient:
    def __init__(self, rpc: JsonRpc, codec: LedgerCodec, deployment: Deployment, keyring: Keyring, chain_id: int,
                 gas_price: int, chain: ChainWatcher, mirror: MirrorWatcher):
        self.rpc, self.codec, self.keyring = rpc, codec, keyring
        self.chain_id, self.gas_price = chain_id, gas_price
        self.chain, self.mirror = chain, mirror
        self.addresses = {name: to_checksum_address(entry["address"]) for name, entry in deployment.contracts.items()}
        self._contract_at = {a.lower(): name for name, a in self.addresses.items()}
        self._signer = Signer({}, chain_id)
        self._locks: dict[str, asyncio.Lock] = {}

    async def call_view(self, contract: str, function: str, args: Sequence[Any], returns: Sequence[str]) -> tuple:
        data = self.codec.encode_call(contract, function, args)
        answer = await self.rpc.call("eth_call", {"to": self.addresses[contract], "data": "0x" + data.hex()}, "latest")
        return decode(list(returns), bytes.fromhex(answer[2:]))

    async def send(self, sender: str, contract: str, function: str, args: Sequence[Any], timeout: float) -> Outcome:
        """Signs and sends `contract.function(args)` from `sender` (whose key this API holds), then waits up to
        `timeout` seconds for the receipt and the mirror. Raises `ContractError` for a call the contract refuses."""
        # The first use of a key decrypts it, which takes a while: not on the event loop.
        key = self.keyring.opened(sender) or await asyncio.to_thread(self.keyring.key, sender)
        to = self.addresses[contract]
        data = "0x" + self.codec.encode_call(contract, function, args).hex()
        gas = await self._estimate(sender, to, data)
        async with self._lock(sender):
            if sender not in self._signer.nonces:
                self._signer.add_key(sender, key)
                await self._sync_nonce(sender)
            for attempt in (1, 2):
                raw, tx_hash = self._signer.sign(sender, bytes.fromhex(to[2:]), bytes.fromhex(data[2:]), gas,
                                                 self.gas_price)
                waiting = self.chain.expect(tx_hash)
                try:
                    await self.rpc.call("eth_sendRawTransaction", raw)
                    break
                except RpcError as exc:
                    self.chain.forget(tx_hash)
                    # The count went stale (the account also sent past this API, or a send failed after the
                    # node took it): read it again, and sign once more if the nonce was the problem.
                    await self._sync_nonce(sender)
                    if attempt == 2 or not _nonce_problem(exc):
                        raise self._refusal(exc) from exc
                except ChainUnavailable:
                    self.chain.forget(tx_hash)
                    await self._sync_nonce(sender)
                    raise
        return await self._conclude(tx_hash, waiting, sender, to, data, timeout)

    async def unsigned(self, sender: str, contract: str, function: str, args: Sequence[Any]) -> dict[str, Any]:
        """The legacy (EIP-155) transaction `send` would sign for `sender`, for a client that signs it itself:
        estimated first, so a call the contract refuses raises `ContractError` here, before anything is signed.
        The nonce is the account's next one as the node counts it, pending transactions included."""
        to = self.addresses[contract]
        data = "0x" + self.codec.encode_call(contract, function, args).hex()
        gas = await self._estimate(sender, to, data)
        nonce = int(await self.rpc.call("eth_getTransactionCount", sender, "pending"), 16)
        return {"from": sender, "to": to, "data": data, "gas": gas, "gas_price": self.gas_price, "nonce": nonce,
                "chain_id": self.chain_id, "value": 0}

    async def relay(self, raw: str, caller: str, timeout: float) -> Outcome:
        """Sends a transaction the caller signed itself, after checking it is the caller's, for this chain, and
        addressed to a ledger contract; a call the contract would refuse is refused here, unsent."""
        try:
            tx = Account.recover_transaction(raw)
            sender = to_checksum_address(tx)
            fields = _decode_fields(raw)
        except Exception as exc:
            raise InvalidTransaction(f"not a signed transaction: {exc.__class__.__name__}") from exc
        if sender != caller:
            raise InvalidTransaction(f"signed by {sender}, not by the signed-in account {caller}")
        if fields.get("chain_id") not in (None, self.chain_id):
            raise InvalidTransaction(f"signed for chain id {fields['chain_id']}, this ledger is {self.chain_id}")
        to = fields.get("to")
        if not to or to.lower() not in self._contract_at:
            raise InvalidTransaction("addressed to no ledger contract")
        await self._estimate(sender, to_checksum_address(to), fields["data"])
        tx_hash = "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()
        waiting = self.chain.expect(tx_hash)
        try:
            await self.rpc.call("eth_sendRawTransaction", raw)
        except RpcError as exc:
            self.chain.forget(tx_hash)
            raise self._refusal(exc) from exc
        if sender in self._signer.nonces:  # keep this API's own count in step with the client's
            async with self._lock(sender):
                await self._sync_nonce(sender)
        return await self._conclude(tx_hash, waiting, sender, to_checksum_address(to), fields["data"], timeout)

    async def status(self, tx_hash: str) -> Outcome | None:
        tx, receipt = await self.rpc.batch([("eth_getTransactionByHash", [tx_hash]),
                                            ("eth_getTransactionReceipt", [tx_hash])])
        if tx is None:
            return None
        sender = to_checksum_address(tx["from"])
        if receipt is None:
            return Outcome(tx_hash, sender=sender)
        outcome = Outcome(tx_hash, receipt, sender=sender)
        outcome.mirrored = self.mirror.height >= int(receipt["blockNumber"], 16)
        outcome.events = self._events(receipt)
        return outcome

    # -- internals

    def _lock(self, sender: str) -> asyncio.Lock:
        lock = self._locks.get(sender)
        if lock is None:
            lock = self._locks[sender] = asyncio.Lock()
        return lock

    async def _sync_nonce(self, sender: str) -> None:
        self._signer.nonces[sender] = int(await self.rpc.call("eth_getTransactionCount", sender, "pending"), 16)

    async def _estimate(self, sender: str, to: str, data: str) -> int:
        try:
            estimate = await self.rpc.call("eth_estimateGas", {"from": sender, "to": to, "data": data})
        except RpcError as exc:
            raise self._refusal(exc) from exc
        return max(GAS_FLOOR, int(int(estimate, 16) * GAS_MARGIN))

    def _refusal(self, exc: RpcError) -> Exception:
        """A contract's custom error when the node's answer carries revert data; the node's own reason else."""
        data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
        if _is_hex(data) and len(data) >= 10:
            return contract_error(self.codec, data)
        if "revert" in exc.message.lower():
            return ContractError("Reverted", {"reason": exc.message})
        return ContractError("TransactionRejected", {"reason": exc.message})

    async def _conclude(self, tx_hash: str, waiting: asyncio.Future, sender: str, to: str, data: str,
                        timeout: float) -> Outcome:
        deadline = time.monotonic() + timeout
        try:
            receipt = await asyncio.wait_for(waiting, timeout)
        except TimeoutError:
            self.chain.forget(tx_hash)
            return Outcome(tx_hash)
        outcome = Outcome(tx_hash, receipt, sender=sender)
        if int(receipt["status"], 16) != 1:
            raise await self._failure(receipt, sender, to, data)
        outcome.events = self._events(receipt)
        outcome.mirrored = await self.mirror.reach(outcome.block, max(0.0, deadline - time.monotonic()))
        return outcome

    async def _failure(self, receipt: dict, sender: str, to: str, data: str) -> ContractError:
        """A mined transaction that reverted (the state moved between the estimate and the block): the reason
        comes from replaying it on the state it ran on."""
        block = int(receipt["blockNumber"], 16)
        try:
            await self.rpc.call("eth_call", {"from": sender, "to": to, "data": data}, hex(block - 1))
        except RpcError as exc:
            error = self._refusal(exc)
            if isinstance(error, ContractError):
                return error
        return ContractError("Reverted", {"tx_hash": receipt["transactionHash"]})

    def _events(self, receipt: dict) -> list[dict]:
        events = []
        for entry in receipt.get("logs", ()):
            topics = entry.get("topics") or ()
            if topics and topics[0] in self.codec.events and entry["address"].lower() in self._contract_at:
                events.append({"contract": self.codec.event_contract[topics[0]], "event": self.codec.events[topics[0]],
                               "topics": topics})
        return events


def _nonce_problem(exc: RpcError) -> bool:
    message = exc.message.lower()
    return "nonce" in message or "already known" in message or "underpriced" in message


def _decode_fields(raw: str) -> dict[str, Any]:
    """The `to`, `data` and chain id of a signed legacy (EIP-155) or typed (EIP-2930/1559) transaction."""
    payload = bytes.fromhex(raw.removeprefix("0x"))
    if payload and payload[0] <= 0x7F:
        tx = TypedTransaction.from_bytes(payload).as_dict()
        to = tx.get("to")
        return {"to": to if isinstance(to, str) else ("0x" + to.hex() if to else None),
                "data": "0x" + bytes(tx.get("data", b"")).hex(), "chain_id": tx.get("chainId")}
    nonce, gas_price, gas, to, value, data, v, r, s = rlp.decode(payload)
    v = int.from_bytes(v, "big")
    return {"to": "0x" + to.hex() if to else None, "data": "0x" + data.hex(),
            "chain_id": (v - 35) // 2 if v >= 35 else None}
