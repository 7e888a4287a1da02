"""The network folder on disk: writing a new network or a node joining it, reading it back, unlocking node keys.

Node keys are kept at rest only encrypted: each node's `key.json` is an Ethereum v3 keystore (scrypt) whose
random password is in `key.password` beside it (mode 0600; in production, move it into a secret store or a
systemd credential). Besu reads a plain hex key (`--node-private-key-file`), so `unlock` decrypts the
keystore into a 0600 file just before the node starts, where the node's config.toml expects it (a tmpfs
such as systemd's RuntimeDirectory, so the plain key never reaches a disk). Files a running node reads are
replaced atomically, so Besu never reads half a file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from consortium.network import GENESIS_FILE, MANIFEST_FILE, Network, network_files
from consortium.nodes import (
    CONFIG_FILE, KEYSTORE_FILE, NODES_FOLDER, PASSWORD_FILE, PERMISSIONS_FILE, STATIC_NODES_FILE, Node,
)

SECRET_MODE = 0o600


class FolderError(ValueError):
    """The folder, or a file in it, is not what the command needs; the message says which and why."""


def existing_network(folder: Path) -> list[str]:
    """The files that show `folder` already holds a network (its manifest, node keys), relative to it."""
    if not folder.is_dir():
        return []
    found = [MANIFEST_FILE] if (folder / MANIFEST_FILE).exists() else []
    nodes = folder / NODES_FOLDER
    if nodes.is_dir():
        found += sorted(str(p.relative_to(folder)) for pattern in (KEYSTORE_FILE, PASSWORD_FILE)
                        for p in nodes.glob(f"*/{pattern}"))
    return found


def check_target(folder: Path) -> None:
    """Raises FolderError when `folder` cannot be a network folder (it is a file, or under one)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise FolderError(f"{candidate} is a file; --out must name a folder")
            return


def encrypt_keys(network: Network, on_each: Callable[[str], None] = lambda name: None) -> dict[str, tuple[str, str]]:
    """Each node's keystore (JSON text) and its new random password, by node name. Deliberately slow
    (scrypt at its standard cost, about half a second a key); `on_each` is called after each node."""
    locked = {}
    for node in network.nodes:
        locked[node.name] = encrypt_key(node.private_key)
        on_each(node.name)
    return locked


def encrypt_key(private_key: bytes) -> tuple[str, str]:
    """A node key's keystore (JSON text, scrypt at its standard cost) and its new random password."""
    password = secrets.token_urlsafe(32)
    keystore = Account.encrypt(private_key, password, kdf="scrypt")
    return json.dumps(keystore, indent=2) + "\n", password + "\n"


def write_secret(path: Path, text: str) -> None:
    """Writes `text` to `path` readable by its owner only, whatever the umask, and mode 0600 even when the
    file was there before."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_MODE)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), SECRET_MODE)
        handle.write(text)


def write_network(folder: Path, network: Network, locked: dict[str, tuple[str, str]], replace: bool) -> list[Path]:
    """Writes the network into `folder`; returns the files written.

    With `replace`, the network already there goes first: its manifest, genesis and whole `nodes/` folder,
    node data included (that chain began at the old genesis and cannot continue on the new one).
    """
    files = network_files(network)
    if replace:
        shutil.rmtree(folder / NODES_FOLDER, ignore_errors=True)
        for name in (MANIFEST_FILE, GENESIS_FILE):
            (folder / name).unlink(missing_ok=True)
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    for node in network.nodes:
        keystore, password = locked[node.name]
        for name, text in ((KEYSTORE_FILE, keystore), (PASSWORD_FILE, password)):
            path = folder / node.file(name)
            write_secret(path, text)
            written.append(path)
    return written


def write_atomically(path: Path, text: str) -> None:
    """Writes `path` through a temporary file in its folder, so Besu never reads half a file; the file keeps
    its mode."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_text(path: Path, what: str = "") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FolderError(f"{path} is missing" + (f": {what}" if what else "")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FolderError(f"{path} cannot be read ({exc})") from None


@dataclass(frozen=True)
class NodeTexts:
    """An existing node's files that a joining node reads or changes, as they are on disk."""

    config: str
    permissions: str
    static_nodes: str


def read_node_texts(folder: Path, manifest: dict[str, Any]) -> dict[str, NodeTexts]:
    """Each node's config.toml, permissions_config.toml and static-nodes.json, by node name."""
    return {node["name"]: NodeTexts(*(read_text(folder / node["dir"] / name, f"a file of node {node['name']}")
                                      for name in (CONFIG_FILE, PERMISSIONS_FILE, STATIC_NODES_FILE)))
            for node in manifest["nodes"]}


def check_new_node_free(folder: Path, node_dir: str) -> None:
    """Raises FolderError when the new node's folder is already there: never overwrite a node's keys."""
    path = folder / node_dir
    if path.exists():
        held = ", ".join(sorted(p.name for p in path.iterdir())) if path.is_dir() else "a file"
        raise FolderError(f"{path} already exists ({held or 'empty'}) but is not in {MANIFEST_FILE}; move it away "
                          "if it is left from an earlier attempt (its keys are never overwritten)")


def write_new_node(folder: Path, node: Node, files: dict[str, str], keystore: str, password: str,
                   changed: dict[str, str]) -> None:
    """Writes a node joining the network: its whole folder at once (built aside, then renamed into place, so
    an existing folder is never written into), then each changed file atomically in the order given. When a
    write fails, the files already replaced get their old text back and the new folder goes, then the error
    is raised: the network folder is as it was."""
    target = folder / node.dir
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{node.name}.", suffix=".tmp"))
    mask = os.umask(0)
    os.umask(mask)
    # mkdtemp makes the folder 0700; the node's folder gets the mode the other nodes' folders got.
    os.chmod(staging, 0o777 & ~mask)
    try:
        for relative, text in files.items():
            (staging / Path(relative).name).write_text(text)
        write_secret(staging / KEYSTORE_FILE, keystore)
        write_secret(staging / PASSWORD_FILE, password)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replaced: list[tuple[Path, str]] = []
    try:
        for relative, text in changed.items():
            path = folder / relative
            before = path.read_text(encoding="utf-8")
            write_atomically(path, text)
            replaced.append((path, before))
    except BaseException:
        for path, before in reversed(replaced):
            write_atomically(path, before)
        shutil.rmtree(target, ignore_errors=True)
        raise


def read_json(path: Path, what: str) -> Any:
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FolderError(f"{path} is not JSON ({exc})") from None


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's `network.json`, checked for the fields `show` and the tests read.

    Raises:
        FolderError: the folder is not a network folder, or its manifest is incomplete.
    """
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder; give the network folder `./dev network new` wrote")
    document = read_json(folder / MANIFEST_FILE, "not a network folder (./dev network new writes one)")
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(nodes, list) or not nodes:
        raise FolderError(f"{folder / MANIFEST_FILE} lists no nodes")
    for i, node in enumerate(nodes):
        missing = [key for key in ("name", "role", "address", "enode", "dir") if not isinstance(node, dict)
                   or not isinstance(node.get(key), str)]
        if missing:
            raise FolderError(f"{folder / MANIFEST_FILE}: node {i + 1} has no {', '.join(missing)}")
    return document


def read_toml(path: Path) -> dict[str, Any]:
    text = read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FolderError(f"{path} is not valid TOML ({exc})") from None


def unlocked_key_path(node_dir: Path) -> Path:
    """Where the node's config.toml has Besu read its plain key (`node-private-key-file`); a relative path
    there is relative to the network folder, two levels above the node's."""
    config = read_toml(node_dir / CONFIG_FILE)
    configured = config.get("node-private-key-file")
    if not isinstance(configured, str) or not configured:
        raise FolderError(f"{node_dir / CONFIG_FILE} names no node-private-key-file; give --to")
    path = Path(configured)
    return path if path.is_absolute() else node_dir.resolve().parent.parent / path


def unlock(node_dir: Path, to: Path | None = None, password_file: Path | None = None) -> tuple[Path, str]:
    """Decrypts the node's keystore into a 0600 file Besu reads; returns the file and the key's address.

    `to` defaults to the path in the node's config.toml, `password_file` to the node's `key.password`.

    Raises:
        FolderError: the keystore or password is missing or unreadable, or the password does not open it.
    """
    if not node_dir.is_dir():
        raise FolderError(f"{node_dir} is not a node folder (DIR/nodes/<node>)")
    keystore_path = node_dir / KEYSTORE_FILE
    keystore = read_json(keystore_path, "the node's encrypted key")
    password_path = password_file or node_dir / PASSWORD_FILE
    try:
        password = password_path.read_text().rstrip("\n")
    except OSError as exc:
        raise FolderError(f"the password file {password_path} cannot be read ({exc.strerror or exc})") from None
    try:
        private_key = bytes(Account.decrypt(keystore, password))
    except ValueError:
        raise FolderError(f"the password in {password_path} does not open {keystore_path}") from None
    except (KeyError, TypeError, AttributeError):
        raise FolderError(f"{keystore_path} is not an Ethereum v3 keystore") from None
    target = to or unlocked_key_path(node_dir)
    if target.is_dir():
        raise FolderError(f"{target} is a folder; --to names the key file to write")
    try:
        write_secret(target, "0x" + private_key.hex())
    except OSError as exc:
        raise FolderError(f"cannot write {target} ({exc.strerror or exc}); give --to a writable path") from None
    return target, Account.from_key(private_key).address
