"""A small JSON-RPC client for following a node: plain HTTP with batched requests, and patient retries.

Every call that fails for a reason a node can recover from (connection refused, timeout, a 5xx, a JSON-RPC
error that is not about the request itself) is retried with exponential backoff, each retry logged once
with its cause, so an indexer waits out a restarting node instead of crashing. Errors that say the request
was too big (`RangeTooLarge`) are raised at once, for the caller to shrink its request.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import orjson
import requests

log = logging.getLogger("indexer.rpc")

# Wording nodes use when an eth_getLogs range or result set is too large (geth, Besu, anvil, others).
TOO_LARGE = ("query returned more than", "block range", "too many", "limit exceeded", "range too large",
             "exceed", "response size")


class RpcError(Exception):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, error: dict[str, Any]):
        self.method, self.code, self.message = method, error.get("code"), error.get("message", "")
        super().__init__(f"{method}: {self.message} (code {self.code})")


class RangeTooLarge(RpcError):
    """The node refused a request for being too large; ask for less."""


class NodeUnavailable(ConnectionError):
    """The node did not answer within the client's allowed attempts."""


class NodeClient:
    def __init__(self, url: str, timeout: float = 30.0, max_backoff: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, max_attempts: int | None = None):
        """`max_attempts` bounds the tries of one call (then `NodeUnavailable`); None retries for ever, which
        is what a follower wants, while a one-off command should give up and say so."""
        self.url, self.timeout, self.max_backoff, self.sleep = url, timeout, max_backoff, sleep
        self.max_attempts = max_attempts
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"
        self._next_id = 0
        self.failures = 0  # calls that needed a retry, for the metrics

    def clone(self) -> "NodeClient":
        """A client of the same node with the same patience, for another thread."""
        return NodeClient(self.url, self.timeout, self.max_backoff, self.sleep, self.max_attempts)

    # ------------------------------------------------------------------ calls

    def call(self, method: str, *params: Any) -> Any:
        return self.batch([(method, list(params))])[0]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Sends the calls in one HTTP request and returns their results in order."""
        if not calls:
            return []
        first_id = self._next_id
        self._next_id += len(calls)
        body = orjson.dumps([
            {"jsonrpc": "2.0", "id": first_id + i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ])
        attempt = 0
        while True:
            try:
                answers = self._post(body)
                by_id = {a.get("id"): a for a in (answers if isinstance(answers, list) else [answers])}
                results = []
                for i, (method, _) in enumerate(calls):
                    answer = by_id.get(first_id + i)
                    if answer is None:
                        raise ConnectionError(f"{method}: the node's answer is missing from its batch reply")
                    if "error" in answer:
                        raise self._error(method, answer["error"])
                    results.append(answer["result"])
                return results
            except RangeTooLarge:
                raise
            except RpcError as exc:
                if exc.code in (-32602, -32600, 3):  # invalid params/request, execution reverted: not transient
                    raise
                attempt = self._wait(attempt, exc)
            except (requests.RequestException, ConnectionError, ValueError) as exc:
                attempt = self._wait(attempt, exc)

    def _post(self, body: bytes) -> Any:
        response = self.session.post(self.url, data=body, timeout=self.timeout)
        if response.status_code >= 500 or response.status_code == 429:
            raise ConnectionError(f"HTTP {response.status_code} from {self.url}")
        if response.status_code >= 400:
            raise RpcError("http", {"code": response.status_code, "message": response.text[:200]})
        return orjson.loads(response.content)

    def _error(self, method: str, error: dict[str, Any]) -> RpcError:
        message = str(error.get("message", "")).lower()
        if method == "eth_getLogs" and any(phrase in message for phrase in TOO_LARGE):
            return RangeTooLarge(method, error)
        return RpcError(method, error)

    def _wait(self, attempt: int, cause: Exception) -> int:
        self.failures += 1
        cause = _describe(cause, self.timeout)
        if self.max_attempts is not None and attempt + 1 >= self.max_attempts:
            raise NodeUnavailable(f"the node at {self.url} did not answer after {attempt + 1} attempts ({cause})")
        delay = min(self.max_backoff, 0.25 * 2**attempt)
        log.warning("node at %s unavailable (%s); retrying in %.2f s", self.url, cause, delay)
        self.sleep(delay)
        return attempt + 1

    # ------------------------------------------------------------------ the calls the follower makes

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def headers(self, numbers: list[int], chunk: int = 500) -> dict[int, dict[str, Any]]:
        """Block headers by number (without transactions), fetched in batches."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(numbers), chunk):
            part = numbers[start:start + chunk]
            attempt = 0
            while True:
                answers = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in part])
                missing = [number for number, block in zip(part, answers) if block is None]
                if not missing:
                    break
                # A node behind a load balancer may name a head that another node has not imported yet.
                attempt = self._wait(attempt, ConnectionError(f"the node has no block {missing[0]} yet"))
            found.update(zip(part, answers))
        return found

    def logs(self, first: int, last: int, addresses: list[str]) -> list[dict[str, Any]]:
        return self.call("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last), "address": addresses})


def _describe(cause: Exception, timeout: float) -> str:
    """A short cause for the log: requests' own messages nest three exceptions deep."""
    if isinstance(cause, requests.Timeout):
        return f"timed out: no answer within {timeout:g} s"
    if isinstance(cause, requests.ConnectionError):
        return "connection refused or dropped"
    return str(cause)
