"""The one place that knows how the ledger's contracts are compiled, loaded and found on a chain.

Compiler settings come from the `compiler:` section of `brownie-config.yaml` and nowhere else. The runtime
compiles `contracts/` with py-solc-x `compile_standard` through the project's solc wrapper
(`toolchain/solc`, solcjs underneath), building the same standard-JSON input that brownie builds, so the
bytecode is identical to `brownie compile` (a test checks this). Compiler output is cached by the hash of
that input, so unchanged sources never reach the compiler twice. Deployments are the JSON files
`deployments/<network>.json` that `scripts/deploy.py` writes and the indexer and the API read. This module
is imported from both the runtime venv and the brownie venv, so its top level needs only the standard
library and PyYAML; py-solc-x is imported when something is compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from dataclasses import replace as copy_with
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOLC_WRAPPER = PROJECT_ROOT / "toolchain" / "solc"
DEFAULT_CACHE = PROJECT_ROOT / ".data" / "compile-cache"
# Relative on purpose: brownie scripts run from the project root, and tests point it at a scratch folder
# by changing directory.
DEPLOYMENTS = Path("deployments")


def script_deployments() -> Path:
    """Where the brownie scripts (deploy, onboard, upgrade) read and write deployment files:
    `LEDGER_DEPLOYMENTS_DIR`, the variable the settings object reads for the indexer and the API (the brownie
    venv has no pydantic-settings to read it with), else `deployments/` under the project root they run in."""
    return Path(os.environ.get("LEDGER_DEPLOYMENTS_DIR") or DEPLOYMENTS)

# What brownie asks solc for (brownie.project.compiler.STANDARD_JSON). Output selection is not part of the
# contract metadata, but keeping it equal keeps the two compile steps interchangeable.
OUTPUT_SELECTION = {
    "*": {
        "*": ["abi", "devdoc", "evm.bytecode", "evm.deployedBytecode", "userdoc"],
        "": ["ast"],
    }
}


class DeploymentError(ValueError):
    """A deployment file that is not one: unreadable JSON or missing fields."""


class CompileError(RuntimeError):
    """solc reported errors, or the installed compiler is not the configured one."""


@dataclass(frozen=True)
class CompilerSettings:
    version: str
    evm_version: str
    optimizer: dict[str, Any]
    remappings: tuple[str, ...]
    via_ir: bool | None = None


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: what a client needs to deploy it or talk to it."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


@dataclass
class Deployment:
    """`deployments/<network>.json`: where the ledger lives on one chain and from which block to read it.

    It is also the registry of the ledger's current contracts and their history. Each entry of `contracts`
    holds the current `address` and `abi_hash`; an entry that replaced an earlier contract also holds
    `since_block`, the block it was deployed in. A replaced contract moves to `retired` (see `replace`) with
    what decodes its logs ever after, since its source may be gone from the checkout:
    `{"name", "address", "version", "from_block", "to_block", "abi_hash", "events"}`.
    """

    network: str
    chain_id: int
    start_block: int
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    retired: list[dict[str, Any]] = field(default_factory=list)

    def address(self, contract: str) -> str:
        try:
            return self.contracts[contract]["address"]
        except KeyError:
            raise KeyError(
                f"deployment '{self.network}' has no contract '{contract}' (it has {', '.join(self.contracts)})"
            ) from None

    def since_block(self, contract: str) -> int:
        """The first block of the current `contract`: where it replaced its predecessor, or the deployment's."""
        return self.contracts[contract].get("since_block", self.start_block)

    def listed(self) -> dict[str, int]:
        """Every address whose logs are the ledger's, current and retired (lower case), with the first block
        it was current in."""
        addresses = {entry["address"].lower(): entry["from_block"] for entry in self.retired}
        addresses.update({entry["address"].lower(): self.since_block(name) for name, entry in self.contracts.items()})
        return addresses

    def replace(self, name: str, new_address: str, abi_hash: str, since_block: int,
                retired_abi_events: list[dict[str, Any]], version: str) -> Deployment:
        """This deployment with contract `name` replaced by the one at `new_address`, deployed in block
        `since_block` with ABI hash `abi_hash`; the replaced contract (of VERSION `version`, whose events
        `retired_abi_events` describe) is listed as retired, current from its first block to the block
        before `since_block`. Pure: the deployment itself is left as it was."""
        if name not in self.contracts:
            raise DeploymentError(f"deployment '{self.network}' has no contract '{name}' to replace")
        current = self.contracts[name]
        first = self.since_block(name)
        if new_address.lower() in self.listed():
            raise DeploymentError(f"{new_address} is already listed in deployment '{self.network}'")
        if since_block <= first:
            raise DeploymentError(
                f"{name}'s successor must be deployed after block {first}, where {current['address']} became "
                f"current (got block {since_block})")
        events = [item for item in retired_abi_events if item.get("type") == "event"]
        retired = {"name": name, "address": current["address"], "version": version, "from_block": first,
                   "to_block": since_block - 1, "abi_hash": current["abi_hash"], "events": events}
        successor = {"address": new_address, "abi_hash": abi_hash, "since_block": since_block}
        return copy_with(self, contracts={**self.contracts, name: successor}, retired=[*self.retired, retired])


def compiler_settings(config_path: Path = PROJECT_ROOT / "brownie-config.yaml") -> CompilerSettings:
    """Reads the compiler section of brownie-config.yaml, with brownie's defaults for what it leaves out."""
    config = yaml.safe_load(config_path.read_text()) or {}
    compiler = config.get("compiler") or {}
    solc = compiler.get("solc") or {}
    if not solc.get("version"):
        raise CompileError(f"{config_path}: compiler.solc.version must pin the compiler version")
    if not compiler.get("evm_version"):
        raise CompileError(f"{config_path}: compiler.evm_version must be set (brownie's default depends on solc)")
    optimizer = dict(solc.get("optimizer") or {"enabled": True, "runs": 200})
    return CompilerSettings(
        version=str(solc["version"]),
        evm_version=str(compiler["evm_version"]),
        optimizer=optimizer,
        remappings=tuple(solc.get("remappings") or ()),
        via_ir=solc.get("viaIR"),
    )


def contract_sources(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Every Solidity source under contracts/ and interfaces/, keyed by its path relative to the project root,
    which is the source unit name brownie gives it."""
    sources = {}
    for folder in ("contracts", "interfaces"):
        for path in sorted((root / folder).rglob("*.sol")):
            sources[path.relative_to(root).as_posix()] = path.read_text()
    return sources


def standard_input(sources: dict[str, str], settings: CompilerSettings) -> dict[str, Any]:
    """The solc standard-JSON input, built the way brownie's `generate_input_json` builds it."""
    solc_settings: dict[str, Any] = {
        "outputSelection": OUTPUT_SELECTION,
        "evmVersion": settings.evm_version,
        "remappings": list(settings.remappings),
        "optimizer": settings.optimizer,
    }
    if settings.via_ir is not None:
        solc_settings["viaIR"] = settings.via_ir
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": solc_settings,
    }


def compile_contracts(
    root: Path = PROJECT_ROOT, cache_dir: Path | None = DEFAULT_CACHE, solc_binary: Path = SOLC_WRAPPER
) -> dict[str, Artifact]:
    """Compiles the project's contracts, or returns the cached output for identical input."""
    settings = compiler_settings(root / "brownie-config.yaml")
    input_json = standard_input(contract_sources(root), settings)
    key = hashlib.sha256(_canonical(input_json).encode()).hexdigest()
    cached = cache_dir / f"{key}.json" if cache_dir else None
    if cached and cached.exists():
        output = json.loads(cached.read_text())
    else:
        output = _run_solc(input_json, settings, root, solc_binary)
        if cached:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(output))
            tmp.replace(cached)  # a reader never sees a half-written cache entry
    return _artifacts(output)


def load_artifacts(root: Path = PROJECT_ROOT) -> dict[str, Artifact]:
    """The compiled contracts by name (compiling on first use)."""
    return compile_contracts(root)


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """A stable fingerprint of an ABI, so a reader can tell that its ABI matches the deployed contract's."""
    return hashlib.sha256(_canonical(abi).encode()).hexdigest()


def deployment_path(network: str, directory: Path = DEPLOYMENTS) -> Path:
    return directory / f"{network}.json"


def write_deployment(deployment: Deployment, directory: Path = DEPLOYMENTS) -> Path:
    path = deployment_path(deployment.network, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    tmp.replace(path)  # a reader never sees a half-written deployment file
    return path


def load_deployment(network: str, directory: Path = DEPLOYMENTS) -> Deployment:
    path = deployment_path(network, directory)
    if not path.exists():
        raise FileNotFoundError(
            f"no deployment for network '{network}': {path} is missing "
            f"(deploy with `./dev brownie run scripts/deploy.py --network {network}`)"
        )
    return read_deployment(path)


def read_deployment(path: Path, content: bytes | None = None) -> Deployment:
    """The deployment in the file at `path` (or in `content`, the file's bytes when the caller has read them
    already). Files written before contracts could be replaced have no `retired` list and read as having
    retired nothing."""
    try:
        data = json.loads(path.read_bytes() if content is None else content)
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{path}: not a deployment file, its JSON does not parse ({exc})") from None
    missing = {"network", "chain_id", "start_block", "contracts"} - (data.keys() if isinstance(data, dict) else set())
    if missing:
        raise DeploymentError(f"{path}: not a deployment file, missing {', '.join(sorted(missing))}")
    return Deployment(**{k: data[k] for k in ("network", "chain_id", "start_block", "contracts")},
                      retired=data.get("retired", []))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _run_solc(input_json: dict, settings: CompilerSettings, root: Path, solc_binary: Path) -> dict:
    import solcx
    from solcx.wrapper import get_solc_version

    installed = get_solc_version(solc_binary)
    if str(installed) != settings.version:
        raise CompileError(
            f"brownie-config.yaml pins solc {settings.version} but {solc_binary} runs {installed} "
            "(package.json pins the npm solc; run ./dev setup)"
        )
    try:
        output = solcx.compile_standard(input_json, base_path=str(root), solc_binary=solc_binary)
    except solcx.exceptions.SolcError as exc:
        raise CompileError(str(exc)) from None
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    return output


def _artifacts(output: dict) -> dict[str, Artifact]:
    artifacts = {}
    for source, contracts in output.get("contracts", {}).items():
        for name, data in contracts.items():
            evm = data["evm"]
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode=evm["bytecode"]["object"],
                deployed_bytecode=evm["deployedBytecode"]["object"],
            )
    return artifacts
