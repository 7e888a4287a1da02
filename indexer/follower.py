"""Following the chain: which blocks to read next, how many at a time, and what to do when the chain
changed underneath the mirror.

Each step reads the logs of all ledger contracts over a block range with one `eth_getLogs`, the headers it
needs in batches, decodes the logs and hands the range to `Mirror.apply`. The range grows while answers
stay small and halves when the node refuses it as too large. Before a range is applied, its first block's
parent must be the checkpoint's block and every log must belong to the header fetched for its block;
otherwise the chain reorganised: the follower walks back to the newest block whose stored hash the chain
still has and rolls the mirror back to it. Blocks far behind the head (deeper than the reorg window) are
read with only the headers that carry logs, and the next such range is read in a background thread while
the current one is decoded and written, which is what makes a backfill fast; blocks near the head are
read header by header, after the previous range is applied, and journaled, so any of them can be undone.

The addresses come from the deployment file, which a running follower rereads when its content changes:
when a contract was replaced (docs/upgrades.md), the successor's address joins the retired one's, and if
the mirror is already past the successor's first block, it is rolled back to just before the first of the
successor's logs it lacks and the blocks are read again, so no log of the new contract is ever skipped.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from indexer.contracts import Deployment, DeploymentError, read_deployment
from indexer.decode import EventDecoder
from indexer.projections import LedgerEvent
from indexer.rpc import NodeClient, RangeTooLarge
from indexer.schema import raw_events
from indexer.store import REBUILD, BlockHeader, Checkpoint, DeepReorg, Mirror

log = logging.getLogger("indexer.follower")

TARGET_LOGS_PER_RANGE = 20_000


@dataclass
class Progress:
    """What one step did, for progress bars and metrics."""

    first: int
    last: int
    events: int
    undecoded: int
    head: int
    seconds: float


class ContractBeyondJournal(DeepReorg):
    """A newly listed contract has logs in blocks older than the mirror can undo: only a rebuild reads them."""


@dataclass
class DeploymentFile:
    """The deployment file a follower follows, and the compiled ABIs of the current contracts. `changed()`
    rereads it only when its content hash moved, so checking it at every poll costs one small file read."""

    path: Path
    abis: dict[str, list[dict[str, Any]]]
    deployment: Deployment
    digest: str = ""

    @classmethod
    def read(cls, path: Path, abis: dict[str, list[dict[str, Any]]]) -> DeploymentFile:
        content = path.read_bytes()
        return cls(path, abis, read_deployment(path, content), hashlib.sha256(content).hexdigest())

    def decoder(self) -> EventDecoder:
        return EventDecoder.of_deployment(self.deployment, self.abis)

    def changed(self) -> Deployment | None:
        """The deployment as the file now says, if that changed since the last read; else None."""
        content = self.path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if digest == self.digest:
            return None
        deployment = read_deployment(self.path, content)
        if deployment.chain_id != self.deployment.chain_id:
            raise DeploymentError(f"{self.path} now names chain id {deployment.chain_id}, not "
                                  f"{self.deployment.chain_id}: a follower stays on the chain it started on")
        self.deployment, self.digest = deployment, digest
        return deployment


@dataclass
class Follower:
    node: NodeClient
    mirror: Mirror
    decoder: EventDecoder
    start_block: int
    confirmations: int = 0
    reorg_window: int = 64
    max_span: int = 50_000
    span: int = 100
    on_progress: Callable[[Progress], None] = field(default=lambda p: None)
    read_ahead: bool = True
    head: int = 0
    deployment_file: DeploymentFile | None = None

    def __post_init__(self) -> None:
        # max_span bounds every range, the first one too.
        self.span = min(self.span, self.max_span)
        self._target = 0
        self._ahead: ReadAhead | None = None
        self._reader: NodeClient | None = None

    def checkpoint(self) -> Checkpoint:
        """The mirror's checkpoint; an empty mirror starts just before the deployment block."""
        current = self.mirror.checkpoint()
        if current is None:
            before = max(self.start_block - 1, 0)
            self.mirror.start(_header(self.node.headers([before])[before]))
            current = self.mirror.checkpoint()
        return current

    def step(self, until: int | None = None) -> Progress | None:
        """Applies the next range, or handles a reorg. Returns None when there is nothing new to read."""
        self.head = self.node.block_number()
        target = self.head - self.confirmations
        if until is not None:
            target = min(target, until)
        self._target = target
        done = self.checkpoint()
        if done.block_number > self.head:
            log.warning("the node's head %d is behind the mirror's checkpoint %d; waiting for it to catch up",
                        self.head, done.block_number)
            return None
        if done.block_number >= target:
            if self._reorged_at_checkpoint(done):
                return Progress(done.block_number, done.block_number, 0, 0, self.head, 0.0)
            return None
        return self._read_range(done, done.block_number + 1, min(target, done.block_number + self.span))

    def _read_range(self, done: Checkpoint, first: int, last: int) -> Progress | None:
        started = time.monotonic()
        ahead, self._ahead = self._ahead, None
        try:
            read = ahead.take(first, last) if ahead is not None else None
            if read is None:
                read = read_range(self.node, self.decoder.addresses, first, last, self.head, self.reorg_window)
        except RangeTooLarge as exc:
            self.span = max(1, (last - first + 1) // 2)
            log.info("node refused %d blocks (%s); reading %d at a time", last - first + 1, exc.message, self.span)
            return Progress(first, first - 1, 0, 0, self.head, time.monotonic() - started)
        first, last, headers = read.first, read.last, read.headers
        if len(read.logs) < TARGET_LOGS_PER_RANGE // 2:
            self.span = min(self.max_span, self.span * 2)
        elif len(read.logs) > TARGET_LOGS_PER_RANGE:
            self.span = max(1, self.span // 2)

        if headers[first].parent_hash != done.block_hash:
            self._recover_from_reorg(done.block_number)
            return Progress(first, first - 1, 0, 0, self.head, time.monotonic() - started)
        if not read.consistent():
            # The chain moved between the calls; read the range again.
            log.info("blocks %d-%d changed while being read; reading them again", first, last)
            return Progress(first, first - 1, 0, 0, self.head, time.monotonic() - started)

        # While this range is decoded and written, the next one is read, when it lies wholly below the reorg
        # window (nearer the head, every range is read after the previous one is applied).
        after = min(self._target, last + self.span)
        if self.read_ahead and last < after <= self.head - self.reorg_window:
            self._ahead = ReadAhead(self._ahead_node(), self.decoder.addresses, last + 1, after, self.head,
                                    self.reorg_window)
        events, raw_rows, undecodable = decode_range(self.decoder, read)
        for entry in undecodable:
            log.warning("undecodable log %s#%s from %s stored raw", entry["transactionHash"],
                        int(entry["logIndex"], 16), entry["address"])
        self.mirror.apply(events, raw_rows, sorted(headers.values(), key=lambda h: h.number), headers[last],
                          read.journal_from, len(undecodable))
        progress = Progress(first, last, len(events), len(undecodable), self.head, time.monotonic() - started)
        self.on_progress(progress)
        return progress

    def _ahead_node(self) -> NodeClient:
        # A client of its own: a requests session is not shared between threads.
        if self._reader is None:
            self._reader = self.node.clone()
        return self._reader

    @property
    def rpc_failures(self) -> int:
        """RPC calls retried since start, by the follower and its read-ahead."""
        return self.node.failures + (self._reader.failures if self._reader is not None else 0)

    def _reorged_at_checkpoint(self, done: Checkpoint) -> bool:
        """At the head nothing new is read, so check that the checkpoint block itself is still canonical."""
        current = self.node.headers([done.block_number])[done.block_number]
        if current["hash"] == done.block_hash:
            return False
        self._recover_from_reorg(done.block_number)
        return True

    def _recover_from_reorg(self, from_block: int) -> None:
        ancestor = from_block
        while ancestor >= self.start_block - 1:
            stored = self.mirror.stored_hash(ancestor)
            if stored is not None and stored == self.node.headers([ancestor])[ancestor]["hash"]:
                break
            ancestor -= 1
        if ancestor < self.start_block - 1:
            # Not even the block before the deployment is shared: rolling back cannot help, and trying again
            # would loop for ever.
            raise DeepReorg(
                f"the node's chain shares no block with the mirror, down to block {self.start_block - 1} before "
                f"the deployment: it is another chain with the same deployment (a chain loaded from a state dump "
                f"gets new block hashes); {REBUILD}")
        if ancestor < self.head:
            pair = self.node.headers([ancestor, ancestor + 1])
            successor = pair[ancestor + 1]
            if pair[ancestor]["hash"] == self.mirror.stored_hash(ancestor) != successor["parentHash"]:
                # The node's own blocks do not link up (anvil does this when it loads a state dump under a new
                # genesis): no rollback can reach a consistent chain, so say so rather than roll back for ever.
                raise DeepReorg(
                    f"the node's block {ancestor + 1} does not link to its block {ancestor} (parent hash "
                    f"{successor['parentHash']}, block hash {self.mirror.stored_hash(ancestor)}): the node's chain "
                    f"is inconsistent; {REBUILD}")
        restored = self.mirror.rollback_to(ancestor)
        log.warning("reorg: blocks after %d were replaced; rolled the mirror back (%d rows restored)",
                    ancestor, restored)

    # ------------------------------------------------------------------ contracts replaced

    def catch_up_on_successors(self) -> None:
        """Before reading on: reads again from where the mirror lacks logs of a contract that replaced an
        earlier one (a mirror built while the deployment file did not list it yet)."""
        if self.deployment_file is not None:
            deployment = self.deployment_file.deployment
            self.catch_up({address: first for address, first in deployment.listed().items()
                           if first > deployment.start_block})

    def reload_deployment(self) -> None:
        """Takes the deployment file's addresses if the file changed: new addresses are followed from now on,
        and their logs in blocks already mirrored are read again (`catch_up`)."""
        if self.deployment_file is None:
            return
        try:
            deployment = self.deployment_file.changed()
        except (OSError, DeploymentError) as exc:
            # A file being edited by hand may not parse for a moment: keep following what was listed.
            log.warning("the deployment file cannot be read (%s); following the addresses listed before", exc)
            return
        if deployment is None:
            return
        known = set(self.decoder.addresses)
        added = {address: first for address, first in deployment.listed().items() if address not in known}
        self._drop_read_ahead()
        self.decoder = self.deployment_file.decoder()
        log.info("deployment file changed: following %d addresses%s", len(self.decoder.addresses),
                 f", new: {', '.join(added)}" if added else "")
        self.catch_up(added)

    def catch_up(self, first_blocks: dict[str, int]) -> None:
        """Makes the mirror hold every log of the given addresses (address -> first block it can have logs
        in) up to its checkpoint: if it lacks some, it is rolled back to the block before the first of them
        (with the undo journal, as for a reorg), and the next steps read those blocks again."""
        done = self.checkpoint().block_number
        lacking = {}
        for address, first in first_blocks.items():
            if first <= done and (block := self._first_unmirrored_log(address, first, done)) is not None:
                lacking[address] = block
        if not lacking:
            return
        address, block = min(lacking.items(), key=lambda item: item[1])
        try:
            restored = self.mirror.rollback_to(block - 1)
        except DeepReorg as exc:
            raise ContractBeyondJournal(
                f"the deployment lists {address}, whose logs from block {block} on the mirror lacks, but the mirror "
                f"(at block {done}) can only undo the last blocks within LEDGER_REORG_WINDOW: rebuild it with "
                f"`indexer backfill` into an empty database (a new LEDGER_DATABASE_URL)") from exc
        log.warning("the mirror lacked logs of %s from block %d: rolled back to block %d (%d rows restored) to "
                    "read them", address, block, block - 1, restored)

    def _first_unmirrored_log(self, address: str, first: int, last: int) -> int | None:
        """The first block in [first, last] with a log of `address` that the mirror does not hold."""
        for start in range(first, last + 1, self.max_span):
            end = min(last, start + self.max_span - 1)
            logs = self.node.logs(start, end, [address])
            if not logs:
                continue
            with self.mirror.engine.connect() as conn:
                held = set(conn.execute(select(raw_events.c.block_number, raw_events.c.log_index).where(
                    raw_events.c.address == address.lower(), raw_events.c.block_number.between(start, end))).all())
            missing = [int(entry["blockNumber"], 16) for entry in logs
                       if (int(entry["blockNumber"], 16), int(entry["logIndex"], 16)) not in held]
            if missing:
                return min(missing)
        return None

    def _drop_read_ahead(self) -> None:
        # A range read ahead asked for the old list of addresses; wait for its thread to end, so its node
        # client is free, and read again.
        if self._ahead is not None:
            self._ahead.take(-1, -1)
            self._ahead = None

    # ------------------------------------------------------------------ following

    def follow(self, poll_interval: float, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Follows the head until `should_stop()`, forgetting undo entries the chain can no longer need, and
        taking the deployment file's addresses whenever it changes."""
        pruned_below = -1
        while not should_stop():
            self.reload_deployment()
            progress = self.step()
            if progress is None:
                # Caught up: report it, so lag and checkpoint gauges are current even when nothing happens.
                at = self.checkpoint().block_number
                self.on_progress(Progress(at, at, 0, 0, self.head, 0.0))
                # The journal only grows when blocks are applied: prune once per move of the head, not per poll.
                if self.head - self.reorg_window > pruned_below:
                    pruned_below = self.head - self.reorg_window
                    self.mirror.forget_journal_below(pruned_below)
                time.sleep(poll_interval)

    def backfill(self, until: int) -> None:
        """Reads up to block `until` (or the head, if lower), then returns."""
        while True:
            progress = self.step(until=until)
            if progress is None and self.checkpoint().block_number >= min(until, self.head - self.confirmations):
                return


@dataclass
class RangeRead:
    """One block range as read from the node, not yet checked against the mirror."""

    first: int
    last: int
    last_hash: str  # the last block's hash as seen before the logs were read
    logs: list[dict[str, Any]]
    headers: dict[int, BlockHeader]
    journal_from: int | None

    def consistent(self) -> bool:
        """True when logs and headers belong to one chain: every log's block hash is its header's, the last
        header is the one seen before the logs, and journaled headers link up."""
        headers = self.headers
        if headers[self.last].hash != self.last_hash:
            return False
        if any(entry["blockHash"] != headers[int(entry["blockNumber"], 16)].hash for entry in self.logs):
            return False
        if self.journal_from is None:
            return True
        return all(headers[n].parent_hash == headers[n - 1].hash
                   for n in range(self.journal_from + 1, self.last + 1) if n - 1 in headers)


def read_range(node: NodeClient, addresses: list[str], first: int, last: int, head: int,
               reorg_window: int) -> RangeRead:
    """Reads blocks `first`..`last`: their logs, the headers of blocks with logs (of every block within
    `reorg_window` of `head`, which are journaled) and the range's ends."""
    # The last block's hash from before the logs: if the headers read after them name another, the chain
    # changed in between, and blocks that had no logs before would keep their new logs hidden.
    last_hash = node.headers([last])[last]["hash"]
    logs = node.logs(first, last, addresses)
    near_head = last > head - reorg_window
    journal_from = max(first, head - reorg_window + 1) if near_head else None
    wanted = {first, last} | {int(entry["blockNumber"], 16) for entry in logs}
    if journal_from is not None:
        wanted |= set(range(journal_from, last + 1))
    headers = {n: _header(b) for n, b in node.headers(sorted(wanted)).items()}
    return RangeRead(first, last, last_hash, logs, headers, journal_from)


def decode_range(decoder: EventDecoder, read: RangeRead) -> tuple[list[LedgerEvent], list[dict[str, Any]],
                                                                 list[dict[str, Any]]]:
    """The range's events, its raw log rows, and the logs no ABI decodes (stored raw all the same)."""
    events, raw_rows, undecodable = [], [], []
    for entry in read.logs:
        number = int(entry["blockNumber"], 16)
        data = bytes.fromhex(entry["data"][2:])
        event = decoder.decode(entry, read.headers[number].time, data)
        if event is None:
            undecodable.append(entry)
        else:
            events.append(event)
        raw_rows.append({
            "block_number": number, "log_index": int(entry["logIndex"], 16), "tx_hash": entry["transactionHash"],
            "address": entry["address"].lower(), "contract": event.contract if event else None,
            "name": event.name if event else None,
            "topics": bytes.fromhex("".join(topic[2:] for topic in entry["topics"])), "data": data,
        })
    return events, raw_rows, undecodable


class ReadAhead:
    """`read_range` in a background thread, so the next range is read while the current one is written.

    Only the reading: it waits on the node, so it costs the follower's thread little. Decoding stays in the
    follower's thread, because two threads of Python work would fight over the GIL, and the database driver
    gives it up for every row it writes. A daemon thread, not an executor: one stuck waiting for a node
    that is down must not hold up exit."""

    def __init__(self, node: NodeClient, addresses: list[str], first: int, last: int, head: int,
                 reorg_window: int):
        self.first, self.last = first, last
        self._result: RangeRead | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(node, addresses, first, last, head, reorg_window),
                                        name="indexer-read-ahead", daemon=True)
        self._thread.start()

    def _run(self, *args) -> None:
        try:
            self._result = read_range(*args)
        except BaseException as exc:  # handed to the follower's thread by `take`
            self._error = exc

    def take(self, first: int, last: int) -> RangeRead | None:
        """The range read ahead, if it starts at `first` and ends by `last`; else None (it is dropped).
        Either way the reading is over when this returns, so its node client is free for the next one."""
        self._thread.join()
        if self.first != first or self.last > last:
            return None
        if self._error is not None:
            raise self._error
        return self._result


def _header(block: dict[str, Any]) -> BlockHeader:
    return BlockHeader(int(block["number"], 16), block["hash"], block["parentHash"], int(block["timestamp"], 16))
