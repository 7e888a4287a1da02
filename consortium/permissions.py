"""Besu's accounts allowlists worked out from the ledger's membership registry, as pure functions.

Each node of the consortium's Besu network admits transactions only from the accounts in its local
`permissions_config.toml` (`accounts-allowlist`). That list is the network's standing accounts (the
manifest's `accounts_allowlist`: the brand admin who deployed the ledger and the other operator accounts)
together with every account the Membership contract holds active, as checksum addresses sorted by their
hex digits, so a regenerated file differs from the old one by exactly the accounts that came and went.
A node's `nodes-allowlist` is kept exactly as it is. Here the manifest (`network.json`) and the permissions
files are parsed and checked, each node's new file is rendered, and the nodes whose accounts change are
named with a unified diff of their file; reading the registry and writing files happen at the edges
(`consortium.membership`, `scripts/permissions.py`).
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import tomli_w
from eth_utils import is_hex_address, to_checksum_address

from consortium.network import MANIFEST_FILE as MANIFEST
from consortium.nodes import PERMISSIONS_FILE, sorted_accounts

NODES_KEY = "nodes-allowlist"
ACCOUNTS_KEY = "accounts-allowlist"


class NetworkFolderError(ValueError):
    """The network folder, its manifest or a node's permissions file is not what the command needs; the
    message names the file and what is wrong with it."""


@dataclass(frozen=True)
class Node:
    """One Besu node of the manifest: where its files are and where its JSON-RPC answers."""

    name: str
    role: str
    host: str
    rpc_port: int
    dir: str

    @property
    def permissions_path(self) -> str:
        """The node's permissions file, relative to the network folder."""
        return f"{self.dir.rstrip('/')}/{PERMISSIONS_FILE}"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"


@dataclass(frozen=True)
class Manifest:
    chain_id: int
    nodes: tuple[Node, ...]
    standing_accounts: tuple[str, ...]  # checksum addresses


@dataclass(frozen=True)
class NodeUpdate:
    """What regenerating one node's permissions file does to it."""

    node: Node
    before: str
    after: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def diff(self) -> str:
        """The unified diff of the node's file, named by its path in the network folder."""
        return "".join(difflib.unified_diff(
            self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
            fromfile=f"a/{self.node.permissions_path}", tofile=f"b/{self.node.permissions_path}",
        ))


@dataclass
class Regeneration:
    """Every node's update, in manifest order."""

    updates: list[NodeUpdate] = field(default_factory=list)

    @property
    def changed(self) -> list[NodeUpdate]:
        return [u for u in self.updates if u.changed]

    def reload_line(self) -> str:
        names = ", ".join(u.node.name for u in self.changed)
        return f"must reload: {names} (perm_reloadPermissionsFromFile on each, no restart needed)"


# ---------------------------------------------------------------------------------------------- inputs


def checksum(address: Any, where: str) -> str:
    """`address` as an EIP-55 checksum address; `where` names it in the error."""
    if not isinstance(address, str) or not address.startswith("0x") or not is_hex_address(address):
        raise NetworkFolderError(f"{where}: {address!r} is not an address (0x and 40 hex digits)")
    return to_checksum_address(address)


def parse_manifest(text: str, where: str = MANIFEST) -> Manifest:
    """Reads `network.json`: its nodes (name, role, host, rpc_port, dir) and standing accounts.

    Raises:
        NetworkFolderError: the JSON does not parse or a field is missing or of the wrong type.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetworkFolderError(f"{where}: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise NetworkFolderError(f"{where}: must be a JSON object with nodes and accounts_allowlist")
    nodes_field = document.get("nodes")
    if not isinstance(nodes_field, list) or not nodes_field:
        raise NetworkFolderError(f"{where}: nodes: missing or empty; the manifest lists every node of the network")
    nodes = []
    for i, entry in enumerate(nodes_field):
        label = f"{where}: nodes[{i}]"
        if not isinstance(entry, dict):
            raise NetworkFolderError(f"{label}: must be an object")
        for key, kind in (("name", str), ("host", str), ("dir", str), ("rpc_port", int)):
            value = entry.get(key)
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                raise NetworkFolderError(f"{label}: {key}: missing or not {'a number' if kind is int else 'text'}")
        if not 0 < entry["rpc_port"] < 65536:
            raise NetworkFolderError(f"{label}: rpc_port: {entry['rpc_port']} is not a TCP port")
        nodes.append(Node(entry["name"], str(entry.get("role", "")), entry["host"], entry["rpc_port"], entry["dir"]))
    names = [n.name for n in nodes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise NetworkFolderError(f"{where}: nodes: {', '.join(duplicates)} listed more than once")
    standing = document.get("accounts_allowlist", [])
    if not isinstance(standing, list):
        raise NetworkFolderError(f"{where}: accounts_allowlist: must be a list of addresses")
    accounts = tuple(checksum(a, f"{where}: accounts_allowlist[{i}]") for i, a in enumerate(standing))
    chain_id = document.get("chain_id", 0)
    return Manifest(chain_id if isinstance(chain_id, int) else 0, tuple(nodes), accounts)


def parse_permissions(text: str, where: str) -> dict[str, Any]:
    """Reads a node's permissions file and checks the two allowlists are lists of text.

    Raises:
        NetworkFolderError: the TOML does not parse, or an allowlist is missing or not a list of strings.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NetworkFolderError(f"{where}: not valid TOML ({exc})") from None
    for key in (NODES_KEY, ACCOUNTS_KEY):
        value = document.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise NetworkFolderError(f"{where}: {key}: missing or not a list of strings")
    return document


# ---------------------------------------------------------------------------------------------- the lists


def _readable(address: str) -> str:
    """A listed account as a checksum address when it is one; anything else a file holds, as it is."""
    return to_checksum_address(address) if is_hex_address(address) else address


def accounts_allowlist(standing: Iterable[str], active: Iterable[str]) -> list[str]:
    """The standing accounts and the registry's active accounts, once each, in the order the network folder
    keeps them (checksum addresses sorted by their hex digits)."""
    return sorted_accounts([*standing, *active])


def render_permissions(current: dict[str, Any], accounts: list[str]) -> str:
    """The node's permissions file with `accounts-allowlist` replaced and everything else as it was."""
    return _render({**current, ACCOUNTS_KEY: list(accounts)})


def with_node(current: dict[str, Any], enode: str) -> str:
    """The node's permissions file with `enode` added at the end of `nodes-allowlist` (once) and everything
    else, the accounts allowlist above all, as it was."""
    nodes = list(current[NODES_KEY])
    return _render({**current, NODES_KEY: nodes if enode in nodes else [*nodes, enode]})


def _render(document: dict[str, Any]) -> str:
    # The two allowlists first, in the order `./dev network new` writes them, then anything else the file held.
    rest = {k: v for k, v in document.items() if k not in (NODES_KEY, ACCOUNTS_KEY)}
    return tomli_w.dumps({NODES_KEY: document[NODES_KEY], ACCOUNTS_KEY: document[ACCOUNTS_KEY], **rest})


def regenerate(manifest: Manifest, files: dict[str, str], active: Iterable[str]) -> Regeneration:
    """Each node's new permissions file, given the current files (text by node name) and the registry's
    active accounts.

    A node counts as changed when its set of allowed accounts changes; a file that differs only in layout
    is left as it is, so reformatting never asks for a reload.

    Raises:
        NetworkFolderError: a node's file is missing from `files` or does not parse.
    """
    wanted = accounts_allowlist(manifest.standing_accounts, active)
    result = Regeneration()
    for node in manifest.nodes:
        if node.name not in files:
            raise NetworkFolderError(f"{node.permissions_path}: missing (node {node.name} of the manifest)")
        before = files[node.name]
        current = parse_permissions(before, node.permissions_path)
        held = {a.lower(): a for a in current[ACCOUNTS_KEY]}
        added = tuple(a for a in wanted if a.lower() not in held)
        keep = {a.lower() for a in wanted}
        removed = tuple(sorted((_readable(held[k]) for k in held if k not in keep), key=str.lower))
        after = render_permissions(current, wanted) if added or removed else before
        result.updates.append(NodeUpdate(node, before, after, added, removed))
    return result
