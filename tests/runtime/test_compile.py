"""The runtime's compile step: the solcjs wrapper behaves like a solc binary, the runtime's bytecode is
brownie's bytecode, and compiler output is cached by the hash of its input.

The identity test runs the real `brownie compile` from the project's brownie venv on a scratch copy of
the project, so it proves what node operators deploy is what the indexer and the API load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from indexer.contracts import (
    PROJECT_ROOT,
    SOLC_WRAPPER,
    CompileError,
    compile_contracts,
    compiler_settings,
    contract_sources,
    standard_input,
)

BROWNIE = PROJECT_ROOT / ".venv-brownie" / "bin" / "brownie"
LEDGER = ("Membership", "Catalog", "Orders", "Inventory", "Anchors")


def scratch_project(tmp_path: Path) -> Path:
    """A copy of what compiling needs, so tests may break sources without touching the checkout."""
    root = tmp_path / "project"
    root.mkdir()
    for folder in ("contracts", "interfaces", "toolchain"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    shutil.copy(PROJECT_ROOT / "brownie-config.yaml", root)
    (root / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    return root


def run_wrapper(*args: str, stdin: str = "", cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(SOLC_WRAPPER), *args], input=stdin, capture_output=True, text=True, cwd=cwd)


def test_the_wrapper_reports_its_version_in_native_solc_format():
    done = run_wrapper("--version")

    assert done.returncode == 0
    assert f"Version: {compiler_settings().version}+commit." in done.stdout


def test_the_wrapper_accepts_allow_paths_and_prints_nothing_but_json_even_above_64_kib():
    input_json = standard_input(contract_sources(), compiler_settings())

    done = run_wrapper("--standard-json", "--allow-paths", ".,node_modules", stdin=json.dumps(input_json))

    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 64 * 1024  # the AST alone is far above one pipe buffer
    output = json.loads(done.stdout)  # no SMT notice, no truncation
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert set(LEDGER) <= {name for contracts in output["contracts"].values() for name in contracts}


def test_the_wrapper_refuses_unknown_options_by_name():
    done = run_wrapper("--combined-json", "abi")

    assert done.returncode != 0
    assert "unrecognised option '--combined-json'" in done.stderr


def test_the_wrapper_refuses_imports_from_outside_the_project():
    source = 'pragma solidity ^0.8.0; import "/etc/passwd";'
    input_json = {"language": "Solidity", "sources": {"x.sol": {"content": source}}}

    output = json.loads(run_wrapper("--standard-json", stdin=json.dumps(input_json)).stdout)

    assert any("not found inside the allowed roots" in e["message"] for e in output["errors"])


def test_the_runtime_compiles_to_the_same_bytecode_as_brownie(tmp_path):
    assert BROWNIE.exists(), f"{BROWNIE} is missing: ./dev setup installs the brownie venv"
    root = scratch_project(tmp_path)
    env = dict(os.environ, PATH=f"{PROJECT_ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}")
    done = subprocess.run([str(BROWNIE), "compile"], cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    ours = compile_contracts(root, cache_dir=None)

    for name in LEDGER:
        built = json.loads((root / "build" / "contracts" / f"{name}.json").read_text())
        assert ours[name].bytecode == built["bytecode"], name
        assert ours[name].deployed_bytecode == built["deployedBytecode"], name
        assert ours[name].abi == built["abi"], name


def test_unchanged_sources_are_served_from_the_cache_without_the_compiler(tmp_path):
    root = scratch_project(tmp_path)
    first = compile_contracts(root, cache_dir=tmp_path / "cache")

    # A compiler that cannot run proves the second answer came from the cache.
    again = compile_contracts(root, cache_dir=tmp_path / "cache", solc_binary=tmp_path / "no-solc")

    assert again == first
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_a_changed_source_is_compiled_again(tmp_path):
    root = scratch_project(tmp_path)
    compile_contracts(root, cache_dir=tmp_path / "cache")
    anchors = root / "contracts" / "Anchors.sol"
    anchors.write_text(anchors.read_text() + "\n// changed\n")

    changed = compile_contracts(root, cache_dir=tmp_path / "cache")

    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert "Anchors" in changed


def test_a_source_with_an_error_raises_a_compile_error_naming_it(tmp_path):
    root = scratch_project(tmp_path)
    (root / "contracts" / "Broken.sol").write_text("pragma solidity ^0.8.0;\ncontract Broken { uint x = ; }\n")

    with pytest.raises(CompileError, match="Broken.sol"):
        compile_contracts(root, cache_dir=None)


def test_a_compiler_other_than_the_pinned_one_is_refused(tmp_path):
    root = scratch_project(tmp_path)
    config = root / "brownie-config.yaml"
    config.write_text(config.read_text().replace("version: 0.8.30", "version: 0.8.29"))

    with pytest.raises(CompileError, match="pins solc 0.8.29"):
        compile_contracts(root, cache_dir=None)


def test_a_config_without_a_pinned_compiler_is_refused(tmp_path):
    config = tmp_path / "brownie-config.yaml"
    config.write_text("compiler:\n  evm_version: cancun\n  solc:\n    optimizer: {enabled: true}\n")

    with pytest.raises(CompileError, match="must pin the compiler version"):
        compiler_settings(config)
