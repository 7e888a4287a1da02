"""Deploys the ledger's contracts, wires them together and writes `deployments/<network>.json`.

Run by node operators as `brownie run scripts/deploy.py --network <network>`; `brownie run
scripts/deploy.py ensure --network <network>` deploys only when the recorded deployment is not live on
that chain with this checkout's ABIs (the demo uses it to reuse a persisted chain). The deployer becomes the
brand's first admin. On brownie's development network and on the local anvil (`anvil-local`) the
deployer is the node's first unlocked account; on any other network it is the key in the
`LEDGER_DEPLOYER_KEY` environment variable. The deployment file records the chain id, each contract's
address and ABI hash, and the block the deployment started in, which is where the indexer begins. It is
written to `LEDGER_DEPLOYMENTS_DIR` when that is set, as the indexer and the API read it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from brownie import ZERO_ADDRESS, Anchors, Catalog, Inventory, Membership, Orders, accounts, network, web3
from brownie.network import contract as brownie_contract

# On a live network brownie keeps its own record of every contract it deploys or loads: files under
# build/deployments/<chain id>/ and a database under ~/.brownie. Brownie 1.22 fails writing the database (a
# TypeError in a background thread, fixed after 1.22), and at the next connection to that chain id it refuses
# to start when a recorded contract is gone, as after a chain reset. The ledger records its deployments in its
# own file (indexer.contracts), so brownie's records are not written. onboard.py and upgrade.py import this
# module, so the same holds for them.
brownie_contract._add_deployment = lambda *args, **kwargs: None
brownie_contract._DeployedContractBase._deployment_path = lambda self: None

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from indexer.contracts import Deployment, abi_hash, load_deployment, script_deployments, write_deployment  # noqa: E402

LOCAL_NETWORKS = {"development", "anvil-local"}
BRAND_NAME = os.environ.get("LEDGER_BRAND_NAME", "Guizhou Baijiu Co.")


def deploy_ledger(admin, brand_name: str = BRAND_NAME) -> dict:
    """Deploys Membership, Catalog, Orders, Inventory and Anchors with `admin` as the brand admin.

    Returns the brownie contract objects by name, plus `start_block`.
    """
    tx = {"from": admin}
    start_block = web3.eth.block_number + 1
    membership = Membership.deploy(admin, brand_name, tx)
    catalog = Catalog.deploy(membership, tx)
    orders = Orders.deploy(membership, catalog, tx)
    inventory = Inventory.deploy(membership, catalog, orders, tx)
    orders.setInventory(inventory, tx)
    # A new ledger's Anchors succeeds no earlier one (scripts/upgrade.py deploys successors).
    anchors = Anchors.deploy(membership, ZERO_ADDRESS, tx)
    return {
        "membership": membership,
        "catalog": catalog,
        "orders": orders,
        "inventory": inventory,
        "anchors": anchors,
        "start_block": start_block,
    }


def deployer():
    name = network.show_active()
    if name in LOCAL_NETWORKS:
        return accounts[0]
    key = os.environ.get("LEDGER_DEPLOYER_KEY")
    if not key:
        sys.exit(f"deploy: set LEDGER_DEPLOYER_KEY to the deployer's private key to deploy on '{name}'")
    return accounts.add(key)


def main() -> None:
    name = network.show_active()
    admin = deployer()
    print(f"deploy: network {name} (chain id {web3.eth.chain_id}), brand admin {admin.address}")
    deployed = deploy_ledger(admin)
    contracts = {
        label.capitalize(): deployed[label]
        for label in ("membership", "catalog", "orders", "inventory", "anchors")
    }
    deployment = Deployment(
        network=name,
        chain_id=web3.eth.chain_id,
        start_block=deployed["start_block"],
        contracts={cname: {"address": c.address, "abi_hash": abi_hash(c.abi)} for cname, c in contracts.items()},
    )
    path = write_deployment(deployment, script_deployments())
    for cname, c in contracts.items():
        print(f"deploy: {cname:<10} {c.address}")
    print(f"deploy: wrote {path}")


def ensure() -> None:
    """Deploys unless `deployments/<network>.json` names contracts that are live on this chain and were built
    from the same ABIs as this checkout."""
    name = network.show_active()
    try:
        recorded = load_deployment(name, script_deployments())
    except FileNotFoundError:
        return main()
    current = {"Membership": Membership, "Catalog": Catalog, "Orders": Orders, "Inventory": Inventory,
               "Anchors": Anchors}
    stale = [
        cname
        for cname, container in current.items()
        if cname not in recorded.contracts
        or recorded.contracts[cname]["abi_hash"] != abi_hash(container.abi)
        or len(web3.eth.get_code(recorded.contracts[cname]["address"])) == 0
    ]
    if recorded.chain_id == web3.eth.chain_id and not stale:
        print(f"deploy: the ledger in {script_deployments() / name}.json is live on this chain; nothing to deploy")
        return
    reason = f"chain id {web3.eth.chain_id} is not the recorded {recorded.chain_id}" if (
        recorded.chain_id != web3.eth.chain_id) else f"changed or missing on chain: {', '.join(stale)}"
    print(f"deploy: {script_deployments() / name}.json is out of date ({reason}); deploying afresh")
    main()
