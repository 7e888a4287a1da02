"""Starts and stops a js-ipfs daemon (npm `ipfs@0.66.1`, a Kubo-compatible RPC API) for the content store's
tests and the local demo, since no Kubo binary installs on these machines.

`start_daemon(repo, api_port)` initialises the repo if it is new (empty, no bootstrap peers, no swarm listeners,
the RPC API on `127.0.0.1:<api_port>`), runs `jsipfs daemon --offline` with the `Promise.withResolvers`
polyfill that js-ipfs needs on Node 20, and returns once `POST /api/v0/id` answers; on failure the error holds
the daemon's log. The returned `IpfsDaemon` gives the multiaddr for `kubo:<multiaddr>` and stops the daemon
(also as a context manager). Run as a script it serves until interrupted:
`python toolchain/ipfs_daemon.py --repo .data/ipfs --port 5001`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JSIPFS = PROJECT_ROOT / "node_modules" / ".bin" / "jsipfs"
POLYFILL = PROJECT_ROOT / "toolchain" / "promise-with-resolvers.cjs"
DEFAULT_API_PORT = 5001


class IpfsDaemonError(RuntimeError):
    """The daemon could not be set up or started; the message says why and what to do."""


def daemon_env(repo: Path) -> dict[str, str]:
    """The environment `jsipfs` runs in: the repo, and the polyfill ahead of any NODE_OPTIONS already set."""
    env = dict(os.environ)
    env["IPFS_PATH"] = str(repo)
    env["NODE_OPTIONS"] = f"--require {POLYFILL} {env.get('NODE_OPTIONS', '')}".strip()
    return env


def jsipfs() -> Path:
    if not os.access(JSIPFS, os.X_OK):
        raise IpfsDaemonError(f"js-ipfs is not installed ({JSIPFS} is missing): run ./dev setup, which installs "
                              f"the npm packages of package.json")
    return JSIPFS


def init_repo(repo: Path, api_port: int) -> None:
    """Creates the repo if it has no config yet, then points its RPC API at `api_port` on the loopback."""
    config_file = repo / "config"
    if not config_file.exists():
        repo.mkdir(parents=True, exist_ok=True)
        # An offline node that dials nobody and listens only where asked (port 0: any free port).
        overrides = {"Addresses": {"API": f"/ip4/127.0.0.1/tcp/{api_port}", "Gateway": "/ip4/127.0.0.1/tcp/0",
                                   "RPC": "/ip4/127.0.0.1/tcp/0", "Swarm": []},
                     "Bootstrap": [], "Discovery": {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}}}
        fd, name = tempfile.mkstemp(suffix=".json", prefix="jsipfs-init-")
        defaults = Path(name)
        with os.fdopen(fd, "w") as out:
            json.dump(overrides, out)
        try:
            done = subprocess.run([str(jsipfs()), "init", "--emptyRepo", "--profile", "test", "--defaultConfig",
                                   str(defaults)], env=daemon_env(repo), capture_output=True, text=True, timeout=60)
        finally:
            defaults.unlink(missing_ok=True)
        if done.returncode != 0 or not config_file.exists():
            raise IpfsDaemonError(f"jsipfs init failed in {repo} (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    # A repo made earlier keeps its keys and content but listens where it is told now.
    config = json.loads(config_file.read_text())
    config.setdefault("Addresses", {})["API"] = f"/ip4/127.0.0.1/tcp/{api_port}"
    config_file.write_text(json.dumps(config, indent=2))


def api_answers(api_port: int, timeout: float = 1.0) -> bool:
    request = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/v0/id", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class IpfsDaemon:
    """A running `jsipfs daemon --offline`, which this process started and stops."""

    def __init__(self, process: subprocess.Popen, repo: Path, api_port: int, log_path: Path):
        self.process, self.repo, self.api_port, self.log_path = process, repo, api_port, log_path

    @property
    def multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.api_port}/http"

    @property
    def content_store(self) -> str:
        """The settings' `content_store` value (`LEDGER_CONTENT_STORE`) that reaches this daemon."""
        return f"kubo:{self.multiaddr}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is not None:
            return
        # The daemon runs in a session of its own: signal its group, so node's children go too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)

    def __enter__(self) -> IpfsDaemon:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def start_daemon(repo: str | os.PathLike, api_port: int = DEFAULT_API_PORT, timeout: float = 30) -> IpfsDaemon:
    """Initialises `repo` if needed and starts the daemon on `api_port`; returns once its API answers."""
    repo = Path(repo).resolve()
    if port_taken(api_port):
        raise IpfsDaemonError(f"port {api_port} is already in use on 127.0.0.1: stop what listens there or pick "
                              f"another port")
    init_repo(repo, api_port)
    log_path = repo / "daemon.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(jsipfs()), "daemon", "--offline"], env=daemon_env(repo), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    daemon = IpfsDaemon(process, repo, api_port, log_path)
    deadline = time.monotonic() + timeout
    while not api_answers(api_port):
        if process.poll() is not None:
            raise IpfsDaemonError(f"jsipfs daemon exited with {process.returncode} before its API answered; "
                                  f"its log ({log_path}):\n{daemon.log()}")
        if time.monotonic() > deadline:
            daemon.stop()
            raise IpfsDaemonError(f"jsipfs daemon's API on port {api_port} did not answer within {timeout:g} s; "
                                  f"its log ({log_path}):\n{daemon.log()}")
        time.sleep(0.2)
    return daemon


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a js-ipfs daemon (offline) for the content store.")
    parser.add_argument("--repo", default=str(PROJECT_ROOT / ".data" / "ipfs"), help="the IPFS repo folder")
    parser.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="the RPC API port on 127.0.0.1")
    args = parser.parse_args(argv)
    try:
        daemon = start_daemon(args.repo, args.port)
    except IpfsDaemonError as exc:
        print(f"ipfs_daemon: {exc}", file=sys.stderr)
        return 1
    print(f"js-ipfs daemon ready: LEDGER_CONTENT_STORE={daemon.content_store} (repo {daemon.repo})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        daemon.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        daemon.stop()
    return daemon.process.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
