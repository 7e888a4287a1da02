"""Prometheus metrics of a following indexer: how far behind the head it is, how fast it reads, what failed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from indexer.follower import Follower, Progress


class Metrics:
    def __init__(self, follower: Follower, registry: CollectorRegistry | None = None):
        self.follower = follower
        self.registry = registry or CollectorRegistry()
        self.lag = Gauge("ledger_indexer_lag_blocks", "blocks between the node's head and the checkpoint",
                         registry=self.registry)
        self.checkpoint = Gauge("ledger_indexer_checkpoint_block", "last block fully applied", registry=self.registry)
        self.events = Counter("ledger_indexer_events", "ledger events applied", registry=self.registry)
        self.undecoded = Counter("ledger_indexer_undecoded_logs", "logs stored raw, undecodable",
                                 registry=self.registry)
        self.rate = Gauge("ledger_indexer_events_per_second", "events per second over the last range",
                          registry=self.registry)
        self.rpc_retries = Gauge("ledger_indexer_rpc_retries", "RPC calls retried since start", registry=self.registry)

    def record(self, progress: Progress) -> None:
        self.lag.set(max(progress.head - progress.last, 0))
        self.checkpoint.set(progress.last)
        self.events.inc(progress.events)
        self.undecoded.inc(progress.undecoded)
        if progress.seconds > 0:
            self.rate.set(progress.events / progress.seconds)
        self.rpc_retries.set(self.follower.rpc_failures)

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)
