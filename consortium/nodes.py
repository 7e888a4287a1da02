"""One Besu node of the consortium network: its identity (key, address, enode URL) and the files it reads.

A node is known to the others by its enode URL, `enode://<public key, 128 hex digits>@<host>:<p2p port>`;
a validator is named in the genesis `extraData` by its address (the last 20 bytes of the Keccak hash of the
same public key). Each node gets a Besu configuration file (TOML, the `--config-file` option names without
their dashes), a local permissions file with the two allowlists Besu reads (`nodes-allowlist` and
`accounts-allowlist`), and a `static-nodes.json` of its peers. Paths inside these files are relative to the
network folder, which is Besu's working directory (`cd DIR && besu --config-file=nodes/<node>/config.toml`).
Everything here is pure: the files are returned as data and written elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import coincurve
from eth_keys import keys
from eth_utils import to_checksum_address

VALIDATOR = "validator"
MEMBER = "member"
NODES_FOLDER = "nodes"
CONFIG_FILE = "config.toml"
PERMISSIONS_FILE = "permissions_config.toml"
STATIC_NODES_FILE = "static-nodes.json"
KEYSTORE_FILE = "key.json"
PASSWORD_FILE = "key.password"
UNLOCKED_KEY_FILE = "key"
# The JSON-RPC APIs a node serves its own member's API and operator: QBFT to vote validators in and out,
# ADMIN for peers, PERM to reload the permissions file after scripts/permissions rewrites it.
RPC_APIS = ["ETH", "NET", "WEB3", "QBFT", "ADMIN", "PERM"]
# A node's JSON-RPC answers only on its own machine: each member runs its Ledger API beside its node.
RPC_HOST = "127.0.0.1"
RPC_HOST_ALLOWLIST = ["localhost", "127.0.0.1"]

_ENODE = re.compile(r"^enode://(?P<key>[0-9a-f]{128})@(?P<host>[^:@/?]+):(?P<port>\d{1,5})$")


class EnodeError(ValueError):
    """Not an enode URL of the form `enode://<128 hex digits>@<IPv4 address>:<port>`."""


class Peer(Protocol):
    """What a node's files need to know of the other nodes: their name, role and enode URL."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def enode(self) -> str: ...


@dataclass(frozen=True)
class ListedNode:
    """A node known from the manifest only, without its key: a peer of a node joining the network later."""

    name: str
    role: str
    enode: str


@dataclass(frozen=True)
class Node:
    """A node of the network with its private key; `dir` is its folder relative to the network folder."""

    name: str
    role: str
    private_key: bytes
    host: str
    p2p_port: int
    rpc_port: int

    @property
    def _public(self) -> keys.PublicKey:
        return keys.PrivateKey(self.private_key).public_key

    @property
    def address(self) -> str:
        return self._public.to_checksum_address()

    @property
    def public_key(self) -> str:
        """The uncompressed secp256k1 public key without its 0x04 prefix: 64 bytes, as 0x and 128 hex digits."""
        return "0x" + self._public.to_bytes().hex()

    @property
    def enode(self) -> str:
        return enode_url(self.public_key, self.host, self.p2p_port)

    @property
    def dir(self) -> str:
        return f"{NODES_FOLDER}/{self.name}"

    def file(self, name: str) -> str:
        """One of the node's files, relative to the network folder."""
        return f"{self.dir}/{name}"


def enode_url(public_key: str, host: str, port: int) -> str:
    """`enode://<public key>@<host>:<port>`, the public key as 128 lower-case hex digits."""
    return f"enode://{public_key.removeprefix('0x').lower()}@{host}:{port}"


@dataclass(frozen=True)
class Enode:
    public_key: str  # 0x and 128 hex digits
    host: str
    port: int

    @property
    def address(self) -> str:
        """The account address of the node's key: a validator's address in `extraData`."""
        return keys.PublicKey(bytes.fromhex(self.public_key[2:])).to_checksum_address()


def parse_enode(url: str) -> Enode:
    """Reads an enode URL.

    Raises:
        EnodeError: not `enode://<128 hex>@<IPv4>:<port>`, or the key is not a point of secp256k1.
    """
    match = _ENODE.match(url)
    if not match:
        raise EnodeError(f"{url!r} is not an enode URL (enode://<128 hex digits>@<IPv4 address>:<port>)")
    host_problem = check_host(match["host"])
    port = int(match["port"])
    if host_problem or not 0 < port < 65536:
        raise EnodeError(f"{url!r}: {host_problem or f'{port} is not a TCP port'}")
    try:
        # eth-keys checks only the length; coincurve (libsecp256k1) checks the point is on the curve.
        coincurve.PublicKey(b"\x04" + bytes.fromhex(match["key"]))
    except ValueError:
        raise EnodeError(f"{url!r}: the key is not a secp256k1 public key") from None
    return Enode("0x" + match["key"], match["host"], port)


def check_host(host: str) -> str | None:
    """Why `host` cannot stand in an enode URL, or None. Besu's enode URLs take IP addresses (host names
    only with its early-access DNS option), and the project's nodes use IPv4."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return f"{host!r} is not an IPv4 address (Besu's enode URLs name a node by its IP address)"
    return None


def address_of(private_key: bytes) -> str:
    return to_checksum_address(keys.PrivateKey(private_key).public_key.to_canonical_address())


def besu_config(node: Node, network: Sequence[Peer], key_dir: str) -> dict[str, Any]:
    """The node's Besu configuration file.

    `key_dir` is where the node's plain private key is put at start (`./dev network unlock`), normally a
    tmpfs such as systemd's RuntimeDirectory; Besu reads it from `<key_dir>/<node>/key`. The node's
    bootnodes are the other validators, and every node of the network is in its nodes allowlist (Besu
    refuses to start when a bootnode is not).
    """
    return {
        "data-path": node.file("data"),
        "genesis-file": "genesis.json",
        "node-private-key-file": f"{key_dir.rstrip('/')}/{node.name}/{UNLOCKED_KEY_FILE}",
        "sync-mode": "FULL",
        "p2p-host": node.host,
        "p2p-port": node.p2p_port,
        "bootnodes": [other.enode for other in network if other.role == VALIDATOR and other.name != node.name],
        "static-nodes-file": node.file(STATIC_NODES_FILE),
        "rpc-http-enabled": True,
        "rpc-http-host": RPC_HOST,
        "rpc-http-port": node.rpc_port,
        "rpc-http-api": RPC_APIS,
        "host-allowlist": RPC_HOST_ALLOWLIST,
        # Free gas: a node with a higher minimum silently drops the zero-price transactions of the network.
        "min-gas-price": 0,
        "permissions-nodes-config-file-enabled": True,
        "permissions-nodes-config-file": node.file(PERMISSIONS_FILE),
        "permissions-accounts-config-file-enabled": True,
        "permissions-accounts-config-file": node.file(PERMISSIONS_FILE),
    }


def sorted_accounts(accounts: Iterable[str]) -> list[str]:
    """Accounts once each, as checksum addresses sorted by their hex digits (so the order does not depend
    on the checksum's capitals and a regenerated allowlist differs only by the accounts that changed)."""
    unique = {a.lower(): to_checksum_address(a) for a in accounts}
    return [unique[key] for key in sorted(unique)]


def permissions_config(network: Sequence[Peer], accounts: Iterable[str]) -> dict[str, list[str]]:
    """A node's local permissions file: every node of the network, and the accounts that may send
    transactions. The same for every node, as Besu's documentation recommends."""
    return {"nodes-allowlist": [node.enode for node in network], "accounts-allowlist": sorted_accounts(accounts)}


def static_nodes(node: Peer, network: Sequence[Peer]) -> list[str]:
    """The peers `node` keeps connections to: every other node of the network."""
    return [other.enode for other in network if other.name != node.name]
