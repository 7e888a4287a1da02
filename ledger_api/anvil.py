"""Starting and stopping a local anvil set up for bulk writing, for benchmarks, demos and tests.

The npm package `@foundry-rs/anvil` installs the real binary under `node_modules/@foundry-rs/anvil-<platform>`;
it is run directly, since the package's node wrapper adds a process. The node is started the way
`ledger_api.rawchain.LedgerWriter` needs it: transactions ordered by gas price (the writer sets each block's
order with it), a block gas limit for hundreds of calls a block, no base fee, 20 accounts, and a genesis
time of the caller's choosing so blocks can carry a simulation's timestamps. Only the process started here
is ever stopped here (`stop_anvil`; `stop_process` stops the other children of benchmarks and tests).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from indexer.contracts import PROJECT_ROOT
from ledger_api.rawchain import Rpc

CHAIN_ID = 31337
BLOCK_GAS_LIMIT = 100_000_000_000


class AnvilError(RuntimeError):
    """anvil could not be found or started."""


def anvil_binary(root: Path = PROJECT_ROOT) -> Path:
    found = sorted((root / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not found:
        raise AnvilError(f"no anvil binary under {root}/node_modules/@foundry-rs; run ./dev setup")
    return found[0]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port(candidates: range) -> int:
    for port in candidates:
        if not port_in_use(port):
            return port
    raise AnvilError(f"every port in {candidates.start}-{candidates.stop - 1} is taken")


def start_anvil(port: int, genesis_time: int, log: Path | None = None, state: Path | None = None,
                timeout: float = 120.0, keep_state: bool = True, block_time: float | None = None,
                chain_id: int = CHAIN_ID) -> subprocess.Popen:
    """Starts anvil on 127.0.0.1:`port` and waits until it answers. With `state`, the chain is loaded from
    that file if it exists and, with `keep_state`, dumped to it when anvil is stopped. With `block_time`, it
    mines a block every that many seconds (as a QBFT network does every block period) instead of one block
    per transaction. `chain_id` other than anvil's own stands in for another chain (a consortium's)."""
    if port_in_use(port):
        raise AnvilError(f"something already listens on port {port}; pick another port")
    command = [
        str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id),
        "--accounts", "20", "--order", "fees", "--gas-limit", str(BLOCK_GAS_LIMIT),
        "--block-base-fee-per-gas", "0", "--timestamp", str(genesis_time), "--silent",
    ]
    if block_time:
        command += ["--block-time", str(block_time)]
    if state is not None:
        if keep_state:
            command += ["--dump-state", str(state)]
        if state.exists():
            command += ["--load-state", str(state)]
    output = subprocess.DEVNULL
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        output = log.open("w")
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    rpc = Rpc(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout  # loading a large state takes a while
    while not rpc.is_up():
        if process.poll() is not None:
            raise AnvilError(f"anvil exited with {process.returncode}" + (f"; see {log}" if log else ""))
        if time.monotonic() > deadline:
            stop_anvil(process)
            raise AnvilError(f"anvil did not answer on port {port} within {timeout:.0f} s")
        time.sleep(0.05)
    return process


def stop_process(process: subprocess.Popen, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
    """Asks a child process to stop (`sig`), and kills it if it has not within `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_anvil(process: subprocess.Popen, timeout: float = 300.0) -> None:
    """Stops an anvil this module started; on SIGINT it writes its state dump first, which takes a while
    for a large chain."""
    stop_process(process, timeout, signal.SIGINT)
