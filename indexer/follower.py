"""Following the chain: which blocks to read next, how many at a time, and what to do when the chain
changed underneath the mirror.

Each step reads the logs of all ledger contracts over a block range with one `eth_getLogs`, the headers it
needs in batches, decodes the logs and hands the range to `Mirror.apply`. The range grows while answers
stay small and halves when the node refuses it as too large. Before a range is applied, its first block's
parent must be the checkpoint's block and every log must belong to the header fetched for its block;
otherwise the chain reorganised: the follower walks back to the newest block whose stored hash the chain
still has and rolls the mirror back to it. Blocks far behind the head (deeper than the reorg window) are
read with only the headers that carry logs, which is what makes a backfill fast; blocks near the head are
read header by header and journaled, so any of them can be undone.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from indexer.decode import EventDecoder
from indexer.rpc import NodeClient, RangeTooLarge
from indexer.store import BlockHeader, Checkpoint, Mirror

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


@dataclass
class Follower:
    node: NodeClient
    mirror: Mirror
    decoder: EventDecoder
    start_block: int
    confirmations: int = 0
    reorg_window: int = 64
    max_span: int = 50_000
    span: int = 2_000
    on_progress: Callable[[Progress], None] = field(default=lambda p: None)
    head: int = 0

    def __post_init__(self) -> None:
        # max_span bounds every range, the first one too.
        self.span = min(self.span, self.max_span)

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
        try:
            # The last block's hash from before the logs: if the headers read after them name another, the
            # chain changed in between, and blocks that had no logs before would keep their new logs hidden.
            last_hash = self.node.headers([last])[last]["hash"]
            logs = self.node.logs(first, last, self.decoder.addresses)
        except RangeTooLarge as exc:
            self.span = max(1, (last - first + 1) // 2)
            log.info("node refused %d blocks (%s); reading %d at a time", last - first + 1, exc.message, self.span)
            return Progress(first, first - 1, 0, 0, self.head, time.monotonic() - started)
        near_head = last > self.head - self.reorg_window
        journal_from = max(first, self.head - self.reorg_window + 1) if near_head else None
        wanted = {first, last} | {int(entry["blockNumber"], 16) for entry in logs}
        if near_head:
            wanted |= set(range(journal_from, last + 1))
        headers = {n: _header(b) for n, b in self.node.headers(sorted(wanted)).items()}

        if headers[first].parent_hash != done.block_hash:
            self._recover_from_reorg(done.block_number)
            return Progress(first, first - 1, 0, 0, self.head, time.monotonic() - started)
        if headers[last].hash != last_hash or any(
            entry["blockHash"] != headers[int(entry["blockNumber"], 16)].hash for entry in logs
        ) or (
            near_head and any(headers[n].parent_hash != headers[n - 1].hash for n in range(journal_from + 1, last + 1)
                              if n - 1 in headers)
        ):
            # The chain moved between the calls; read the range again.
            log.info("blocks %d-%d changed while being read; reading them again", first, last)
            return Progress(first, first - 1, 0, 0, self.head, time.monotonic() - started)

        events, raw_rows, undecoded = [], [], 0
        for entry in logs:
            number = int(entry["blockNumber"], 16)
            event = self.decoder.decode(entry, headers[number].time)
            if event is None:
                undecoded += 1
                log.warning("undecodable log %s#%s from %s stored raw", entry["transactionHash"],
                            int(entry["logIndex"], 16), entry["address"])
            else:
                events.append(event)
            raw_rows.append({
                "block_number": number, "log_index": int(entry["logIndex"], 16), "tx_hash": entry["transactionHash"],
                "address": entry["address"].lower(), "contract": event.contract if event else None,
                "name": event.name if event else None, "topics": json.dumps(entry["topics"]), "data": entry["data"],
            })
        self.mirror.apply(events, raw_rows, sorted(headers.values(), key=lambda h: h.number), headers[last],
                          journal_from, undecoded)
        if len(logs) < TARGET_LOGS_PER_RANGE // 2:
            self.span = min(self.max_span, self.span * 2)
        elif len(logs) > TARGET_LOGS_PER_RANGE:
            self.span = max(1, self.span // 2)
        progress = Progress(first, last, len(events), undecoded, self.head, time.monotonic() - started)
        self.on_progress(progress)
        return progress

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
        restored = self.mirror.rollback_to(ancestor)
        log.warning("reorg: blocks after %d were replaced; rolled the mirror back (%d rows restored)",
                    ancestor, restored)

    def follow(self, poll_interval: float, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Follows the head until `should_stop()`, forgetting undo entries the chain can no longer need."""
        while not should_stop():
            progress = self.step()
            if progress is None:
                # Caught up: report it, so lag and checkpoint gauges are current even when nothing happens.
                at = self.checkpoint().block_number
                self.on_progress(Progress(at, at, 0, 0, self.head, 0.0))
                self.mirror.forget_journal_below(self.head - self.reorg_window)
                time.sleep(poll_interval)

    def backfill(self, until: int) -> None:
        while True:
            progress = self.step(until=until)
            if progress is None and self.checkpoint().block_number >= min(until, self.head - self.confirmations):
                return


def _header(block: dict[str, Any]) -> BlockHeader:
    return BlockHeader(int(block["number"], 16), block["hash"], block["parentHash"], int(block["timestamp"], 16))
