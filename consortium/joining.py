"""A node joining a consortium network whose chain already runs, worked out from the folder's current files.

An operator who joins the consortium later gets one more node: the next name of its role (`validator-5`
after `validator-1..4`), the next free P2P and JSON-RPC ports, a Besu configuration rendered exactly as
`./dev network new` renders one (bootnodes are the validators, keys unlocked under the network's key
folder), the full nodes allowlist with the accounts allowlist the other nodes hold, and every other node as
a static node. Every existing node's `nodes-allowlist` and `static-nodes.json` get the new enode, its
accounts allowlist kept exactly. The genesis is not touched: the chain started from it, so a validator added
now is not in its `extraData` and validates only once more than half of the validators have voted it in;
its manifest entry records that it joins by vote. Nothing here touches the disk or draws a key: the current
files and the new key come in, the files to write go out (`consortium.folder` writes them).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from consortium import nodes as node_files
from consortium.folder import FolderError, NodeTexts
from consortium.network import JOINED, JOINED_BY_VOTE, MANIFEST_FILE, MAX_PORT, json_text, manifest_entry
from consortium.nodes import MEMBER, UNLOCKED_KEY_FILE, VALIDATOR, ListedNode, Node, check_host
from consortium.permissions import ACCOUNTS_KEY, NODES_KEY, NetworkFolderError, parse_permissions, with_node

ROLES = (VALIDATOR, MEMBER)


@dataclass(frozen=True)
class Joining:
    """Everything adding one node does to the network folder."""

    node: Node
    new_files: dict[str, str]  # the new node's files but its keystore, by path relative to the network folder
    changed: dict[str, str]  # existing files rewritten, by path; the manifest last, so it is written last
    summary: list[str]  # one line per changed or new file
    must_reload: list[str]  # the nodes whose nodes allowlist changed
    warnings: list[str] = field(default_factory=list)

    @property
    def joins_by_vote(self) -> bool:
        return self.node.role == VALIDATOR


def check_role(role: str) -> None:
    if role not in ROLES:
        raise FolderError(f"--role {role!r}: a node is a {' or a '.join(ROLES)}")


def next_name(manifest: Mapping[str, Any], role: str) -> str:
    """The role's next name: one past the highest number of that role in the manifest."""
    pattern = re.compile(rf"^{re.escape(role)}-(\d+)$")
    numbers = [int(m[1]) for n in manifest["nodes"] if (m := pattern.match(n["name"]))]
    return f"{role}-{max(numbers, default=0) + 1}"


def next_ports(manifest: Mapping[str, Any], host: str) -> tuple[int, int]:
    """The next P2P and JSON-RPC ports, each one past the highest of its kind in the manifest, skipping any
    port a node on the same host already uses for either."""
    used = {n[key] for n in manifest["nodes"] if n["host"] == host for key in ("p2p_port", "rpc_port")}
    ports = []
    for key in ("p2p_port", "rpc_port"):
        port = max(n[key] for n in manifest["nodes"]) + 1
        while port in used or port in ports:
            port += 1
        if port > MAX_PORT:
            raise FolderError(f"no {key.split('_')[0].upper()} port is left above the network's highest")
        ports.append(port)
    return ports[0], ports[1]


def key_dir_of(name: str, config: Mapping[str, Any], where: str) -> str:
    """The folder `unlock` puts keys in, read back from a node's `node-private-key-file`
    (`<key dir>/<node>/key`, as `new` writes it)."""
    configured = config.get("node-private-key-file")
    suffix = f"/{name}/{UNLOCKED_KEY_FILE}"
    if not isinstance(configured, str) or not configured.endswith(suffix) or configured == suffix:
        raise FolderError(f"{where}: node-private-key-file {configured!r} is not <key folder>/{name}/"
                          f"{UNLOCKED_KEY_FILE}, so the key folder of a new node cannot be told from it")
    return configured.removesuffix(suffix)


def _check_manifest(manifest: Mapping[str, Any]) -> None:
    for i, node in enumerate(manifest["nodes"]):
        for key, kind in (("host", str), ("p2p_port", int), ("rpc_port", int)):
            if not isinstance(node.get(key), kind) or isinstance(node.get(key), bool):
                raise FolderError(f"{MANIFEST_FILE}: node {i + 1} ({node['name']}) has no {key}")


def _parse(texts: NodeTexts, node_dir: str) -> tuple[dict[str, Any], list[str]]:
    """An existing node's permissions (both allowlists checked) and static nodes."""
    try:
        permissions = parse_permissions(texts.permissions, f"{node_dir}/{node_files.PERMISSIONS_FILE}")
    except NetworkFolderError as exc:
        raise FolderError(str(exc)) from None
    static_path = f"{node_dir}/{node_files.STATIC_NODES_FILE}"
    try:
        static = json.loads(texts.static_nodes)
    except json.JSONDecodeError as exc:
        raise FolderError(f"{static_path} is not JSON ({exc})") from None
    if not isinstance(static, list) or not all(isinstance(e, str) for e in static):
        raise FolderError(f"{static_path} is not a list of enode URLs")
    return permissions, static


def plan(manifest: Mapping[str, Any], texts: Mapping[str, NodeTexts], role: str, host: str | None,
         private_key: bytes) -> Joining:
    """What adding a node of `role` with `private_key` writes, given the manifest and each node's files.

    `host` defaults to the host of the manifest's last node.

    Raises:
        FolderError: the role or host is wrong, or a node's file is missing from `texts` or does not parse.
    """
    check_role(role)
    _check_manifest(manifest)
    listed = manifest["nodes"]
    host = host if host is not None else listed[-1]["host"]
    problem = check_host(host)
    if problem:
        raise FolderError(f"--host: {problem}")
    name = next_name(manifest, role)
    p2p_port, rpc_port = next_ports(manifest, host)
    node = Node(name=name, role=role, private_key=private_key, host=host, p2p_port=p2p_port, rpc_port=rpc_port)

    permissions, static = {}, {}
    for entry in listed:
        if entry["name"] not in texts:
            raise FolderError(f"{entry['dir']}: missing (node {entry['name']} of {MANIFEST_FILE})")
        permissions[entry["name"]], static[entry["name"]] = _parse(texts[entry["name"]], entry["dir"])
    # The first validator is the reference: `new` wrote every node alike, and a network has a validator.
    reference = next((n for n in listed if n["role"] == VALIDATOR), listed[0])
    config_path = f"{reference['dir']}/{node_files.CONFIG_FILE}"
    try:
        config = tomllib.loads(texts[reference["name"]].config)
    except tomllib.TOMLDecodeError as exc:
        raise FolderError(f"{config_path} is not valid TOML ({exc})") from None
    key_dir = key_dir_of(reference["name"], config, config_path)
    warnings = []
    accounts = permissions[reference["name"]][ACCOUNTS_KEY]
    differing = [n["name"] for n in listed if permissions[n["name"]][ACCOUNTS_KEY] != accounts]
    if differing:
        warnings.append(f"the accounts allowlists differ ({', '.join(differing)} from {reference['name']}); "
                        f"{name} gets {reference['name']}'s; run ./dev permissions to bring them in line")

    # Validators first, as `new` lists them: a new validator goes after the last one, a member at the end.
    entry = manifest_entry(node) | ({JOINED: JOINED_BY_VOTE} if role == VALIDATOR else {})
    after = max((i for i, n in enumerate(listed) if n["role"] == role), default=len(listed) - 1)
    entries = [*listed[:after + 1], entry, *listed[after + 1:]]
    peers = [node if e is entry else ListedNode(e["name"], e["role"], e["enode"]) for e in entries]

    new_files = {
        node.file(node_files.CONFIG_FILE): tomli_w.dumps(node_files.besu_config(node, peers, key_dir)),
        # The reference's file with the new enode, byte for byte what every other node's becomes: Besu
        # recommends the same permissions file on every node.
        node.file(node_files.PERMISSIONS_FILE): with_node(permissions[reference["name"]], node.enode),
        node.file(node_files.STATIC_NODES_FILE): json_text(node_files.static_nodes(node, peers)),
    }
    changed, summary, must_reload = {}, [], []
    for existing in listed:
        held, peers_held = permissions[existing["name"]], static[existing["name"]]
        permissions_path = f"{existing['dir']}/{node_files.PERMISSIONS_FILE}"
        static_path = f"{existing['dir']}/{node_files.STATIC_NODES_FILE}"
        if node.enode not in held[NODES_KEY]:
            changed[permissions_path] = with_node(held, node.enode)
            summary.append(f"nodes-allowlist +1 in {permissions_path}")
            must_reload.append(existing["name"])
        if node.enode not in peers_held:
            changed[static_path] = json_text([*peers_held, node.enode])
            summary.append(f"static nodes +1 in {static_path}")
    changed[MANIFEST_FILE] = json_text({**manifest, "nodes": entries})
    summary.append(f"{name} added to {MANIFEST_FILE}" + (" (joins by QBFT vote)" if role == VALIDATOR else ""))
    summary += [f"new {path}" for path in new_files]
    summary += [f"new {node.file(f)} (mode 0600)" for f in (node_files.KEYSTORE_FILE, node_files.PASSWORD_FILE)]
    return Joining(node, new_files, changed, summary, must_reload, warnings)
