"""Voting a validator in or out of the running QBFT network through the validators' JSON-RPC.

In QBFT with block header validator selection, the validators themselves change the validator set: each
validator asked with `qbft_proposeValidatorVote [address, true|false]` puts that vote into the blocks it
proposes, and once more than half of the current validators have voted for the same change, the address
joins (or leaves) the set, as `qbft_getValidatorsByBlockNumber` then shows. Besu's documentation: "Propose
adding the new validator from more than half the number of current validators". Votes not carried by the
end of an epoch (`epochlength` blocks) are discarded. Here the few JSON-RPC calls (with `requests`) and the
rule for how many proposals are enough; the command prints and waits (`scripts/network.py vote`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_utils import is_hex_address, to_checksum_address

from consortium.nodes import VALIDATOR

PROPOSE = "qbft_proposeValidatorVote"
VALIDATORS = "qbft_getValidatorsByBlockNumber"
TIMEOUT_SECONDS = 5.0


class Unanswered(Exception):
    """The node gave no JSON-RPC answer: not reachable, too slow, or not speaking JSON-RPC."""


class Refused(Exception):
    """The node answered with a JSON-RPC error; the message is its own, with the code."""


@dataclass(frozen=True)
class Voter:
    """A validator asked to propose the vote: its name (or its URL when given with --rpc) and JSON-RPC URL."""

    label: str
    url: str


@dataclass(frozen=True)
class Answer:
    voter: Voter
    accepted: bool
    text: str  # "true", "error: ...", "unreachable: ..."


def majority(validators: int) -> int:
    """How many of `validators` current validators must propose a change: more than half."""
    return validators // 2 + 1


@dataclass(frozen=True)
class Ballot:
    """Who is asked to propose a change of validators, and how many current validators there are."""

    voters: tuple[Voter, ...]
    validators: int
    counted_on_chain: bool  # False: no validator answered, so the manifest's count stands in

    @property
    def needed(self) -> int:
        return majority(self.validators)


def manifest_voters(manifest: Mapping[str, Any]) -> list[Voter]:
    """Every validator of the manifest, at the JSON-RPC URL the manifest gives it."""
    return [Voter(n["name"], f"http://{n['host']}:{n['rpc_port']}") for n in manifest["nodes"]
            if n["role"] == VALIDATOR]


def ballot(manifest: Mapping[str, Any], candidate: Mapping[str, Any], add: bool, rpc: Sequence[str],
           current: Sequence[str] | None) -> Ballot:
    """Whom to ask about `candidate` (a manifest entry), given the latest block's validators (`current`, None
    when no validator answered): the URLs given with --rpc, or else the manifest's validators that are
    validators now. A validator added to the folder is not one until voted in, and one may have been voted
    out, so the chain decides who counts; without an answer, the manifest counts its validators but the
    candidate of an addition."""
    listed = manifest_voters(manifest)
    if current is None:
        voters = [v for v in listed if not (add and v.label == candidate["name"])]
        count = len(voters)
    else:
        validating = {a.lower() for a in current}
        addresses = {n["name"]: n["address"].lower() for n in manifest["nodes"]}
        voters = [v for v in listed if addresses[v.label] in validating]
        count = len(validating)
    if rpc:
        voters = [Voter(url, url) for url in rpc]
    return Ballot(tuple(voters), count, current is not None)


def call(url: str, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call; its `result`.

    Raises:
        Unanswered: no connection, no answer in time, or an answer that is not JSON-RPC.
        Refused: a JSON-RPC error (a method not enabled, bad parameters).
    """
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    try:
        response = requests.post(url, json=body, timeout=TIMEOUT_SECONDS)
        answer = response.json()
    except requests.Timeout:
        raise Unanswered(f"no answer within {TIMEOUT_SECONDS:g} s") from None
    except requests.ConnectionError:
        raise Unanswered("cannot connect (is the node running?)") from None
    except requests.RequestException as exc:
        raise Unanswered(str(exc)) from None
    except ValueError:
        raise Unanswered(f"HTTP {response.status_code} without JSON-RPC") from None
    if not isinstance(answer, dict):
        raise Unanswered("an answer that is not JSON-RPC")
    error = answer.get("error")
    if error is not None:
        message = error.get("message", error) if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        hint = "; enable the QBFT API (rpc-http-api) on the node" if code == -32601 else ""
        raise Refused(f"{message} (code {code}){hint}")
    return answer.get("result")


def propose(voter: Voter, address: str, add: bool) -> Answer:
    """Asks one validator to propose adding (or removing) `address`."""
    try:
        result = call(voter.url, PROPOSE, [address, add])
    except Unanswered as exc:
        return Answer(voter, False, f"unreachable: {exc}")
    except Refused as exc:
        return Answer(voter, False, f"error: {exc}")
    return Answer(voter, result is True, "true" if result is True else f"answered {result!r}")


def validators_at_latest(url: str) -> tuple[str, ...]:
    """The validators of the latest block, as checksum addresses.

    Raises:
        Unanswered, Refused: as `call`; Unanswered also for a result that is not a list of addresses.
    """
    result = call(url, VALIDATORS, ["latest"])
    if not isinstance(result, list) or not all(isinstance(a, str) and is_hex_address(a) for a in result):
        raise Unanswered(f"{VALIDATORS} answered {result!r}, not a list of addresses")
    return tuple(to_checksum_address(a) for a in result)


def first_answer(urls: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """The first of `urls` that tells the latest validators, and them; None when none does."""
    for url in urls:
        try:
            return url, validators_at_latest(url)
        except (Unanswered, Refused):
            continue
    return None
