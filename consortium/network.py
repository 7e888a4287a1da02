"""A whole consortium network worked out from its description: the nodes, the manifest and every file.

`arrange` names and numbers the nodes: validators first, `validator-1`..`validator-N` in ascending order of
address (the order Besu's documentation gives `extraData`'s validator list, so the manifest, the genesis
and the names agree), then `member-1`..`member-M`, with P2P and JSON-RPC ports counted up from their bases.
`network_files` renders the folder's text files by path. A validator added once the chain runs
(`consortium.joining`) is marked in the manifest as joining by vote; `genesis_validators` is the one place
that tells which validators the genesis names. Nothing here touches the disk or draws a key: keys come in,
files go out (`consortium.folder` writes them, with each node's encrypted keystore).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import tomli_w
from eth_utils import is_hex_address, to_checksum_address

from consortium import nodes as node_files
from consortium.genesis import ChainSettings, qbft_genesis
from consortium.nodes import MEMBER, VALIDATOR, Node, address_of, check_host, sorted_accounts

MANIFEST_FILE = "network.json"
GENESIS_FILE = "genesis.json"
MAX_PORT = 65535
# A validator added after the chain started is not in the genesis extraData: it validates only once more than
# half of the validators have voted it in. Its manifest entry says so, and only the others are compared with
# the genesis.
JOINED = "joined"
JOINED_BY_VOTE = "by vote"


@dataclass(frozen=True)
class NetworkSpec:
    """What `./dev network new` is asked for."""

    settings: ChainSettings
    validators: int = 4
    members: int = 0
    hosts: tuple[str, ...] = ("127.0.0.1",)  # one for every node, or one per node in naming order
    base_p2p_port: int = 30303
    base_rpc_port: int = 8545
    allowed_accounts: tuple[str, ...] = ()
    prefunded: tuple[str, ...] = ()
    key_dir: str = "/run/besu"
    timestamp: int = 0

    @property
    def node_count(self) -> int:
        return self.validators + self.members

    def host_of(self, index: int) -> str:
        """The host of the node at `index` in naming order."""
        return self.hosts[index] if len(self.hosts) > 1 else self.hosts[0]

    def problems(self) -> list[str]:
        """What makes this network impossible, one sentence each (empty when it can be made)."""
        found = list(self.settings.problems())
        if self.validators < 1:
            found.append(f"a QBFT network needs at least 1 validator (got {self.validators}; 4 tolerate one fault)")
        if self.members < 0:
            found.append(f"the number of member nodes cannot be negative (got {self.members})")
        found += [problem for problem in map(check_host, self.hosts) if problem]
        if len(self.hosts) not in (1, self.node_count):
            found.append(f"give one --host for every node or one per node ({self.node_count}: the validators "
                         f"by name, then the members); got {len(self.hosts)}")
        for label, base in (("P2P", self.base_p2p_port), ("JSON-RPC", self.base_rpc_port)):
            if not 0 < base or base + max(self.node_count, 1) - 1 > MAX_PORT:
                found.append(f"the {label} ports {base}..{base + self.node_count - 1} are not all TCP ports")
        p2p = set(range(self.base_p2p_port, self.base_p2p_port + self.node_count))
        rpc = set(range(self.base_rpc_port, self.base_rpc_port + self.node_count))
        if p2p & rpc:
            found.append(f"the P2P ports from {self.base_p2p_port} and the JSON-RPC ports from {self.base_rpc_port} "
                         f"overlap for {self.node_count} node{'s' if self.node_count != 1 else ''} on one host")
        for label, accounts in (("--allow-account", self.allowed_accounts), ("--prefund", self.prefunded)):
            found += [f"{label} {a!r} is not an address (0x and 40 hex digits)"
                      for a in accounts if not (a.startswith("0x") and is_hex_address(a))]
        if not self.key_dir.strip():
            found.append("the folder for unlocked node keys cannot be empty")
        return found


@dataclass(frozen=True)
class Network:
    spec: NetworkSpec
    nodes: tuple[Node, ...] = field(default_factory=tuple)

    @property
    def validators(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == VALIDATOR)


def arrange(spec: NetworkSpec, validator_keys: Sequence[bytes], member_keys: Sequence[bytes]) -> Network:
    """The network's nodes, named, ordered and given ports (see the module's docstring)."""
    if len(validator_keys) != spec.validators or len(member_keys) != spec.members:
        raise ValueError(f"{spec.validators} validator and {spec.members} member keys are needed; got "
                         f"{len(validator_keys)} and {len(member_keys)}")
    ordered = sorted(validator_keys, key=lambda key: address_of(key).lower())
    roles = [(VALIDATOR, i + 1, key) for i, key in enumerate(ordered)]
    roles += [(MEMBER, i + 1, key) for i, key in enumerate(member_keys)]
    placed = tuple(Node(name=f"{role}-{number}", role=role, private_key=key, host=spec.host_of(i),
                        p2p_port=spec.base_p2p_port + i, rpc_port=spec.base_rpc_port + i)
                   for i, (role, number, key) in enumerate(roles))
    return Network(spec, placed)


def manifest(network: Network) -> dict[str, Any]:
    """`network.json`: the network's settings and nodes, read by `scripts/permissions` and `show`."""
    settings = network.spec.settings
    return {
        "chain_id": settings.chain_id,
        "consensus": "qbft",
        "block_period_seconds": settings.block_period_seconds,
        "epoch_length": settings.epoch_length,
        "request_timeout_seconds": settings.request_timeout_seconds,
        "nodes": [manifest_entry(n) for n in network.nodes],
        "accounts_allowlist": sorted_accounts(network.spec.allowed_accounts),
    }


def manifest_entry(node: Node) -> dict[str, Any]:
    """A node as `network.json` lists it."""
    return {"name": node.name, "role": node.role, "address": node.address, "public_key": node.public_key,
            "enode": node.enode, "host": node.host, "p2p_port": node.p2p_port, "rpc_port": node.rpc_port,
            "dir": node.dir}


def joins_by_vote(entry: dict[str, Any]) -> bool:
    """Whether a manifest entry is a validator added after the genesis, a validator only once voted in."""
    return entry.get("role") == VALIDATOR and entry.get(JOINED) == JOINED_BY_VOTE


def genesis_validators(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's validators that the genesis `extraData` names, in the manifest's order: every validator
    but those added later, which join by QBFT vote."""
    return [n for n in document["nodes"] if n.get("role") == VALIDATOR and not joins_by_vote(n)]


def json_text(document: Any) -> str:
    """A JSON file of the network folder, as the folder writes every one."""
    return json.dumps(document, indent=2) + "\n"


def network_files(network: Network) -> dict[str, str]:
    """Every text file of the network folder but the keystores, by path relative to the folder."""
    spec = network.spec
    genesis = qbft_genesis(spec.settings, [v.address for v in network.validators],
                           [to_checksum_address(a) for a in spec.prefunded], spec.timestamp)
    files = {MANIFEST_FILE: json_text(manifest(network)), GENESIS_FILE: json_text(genesis)}
    permissions = tomli_w.dumps(node_files.permissions_config(network.nodes, spec.allowed_accounts))
    for node in network.nodes:
        files[node.file(node_files.CONFIG_FILE)] = tomli_w.dumps(node_files.besu_config(node, network.nodes,
                                                                                         spec.key_dir))
        files[node.file(node_files.PERMISSIONS_FILE)] = permissions
        files[node.file(node_files.STATIC_NODES_FILE)] = json_text(node_files.static_nodes(node, network.nodes))
    return files
