"""Registers the networks declared under `ledger_networks:` in brownie-config.yaml with brownie.

Brownie keeps networks in ~/.brownie/network-config.yaml and refuses a `networks:` section in the project
config, so `./dev setup` runs this with the brownie venv's Python. Each network is (re)written with
`brownie networks add`, after deleting an older entry of the same id, so the file always matches the
project config.
"""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    brownie = Path(sys.executable).parent / "brownie"
    config = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())
    for net in config.get("ledger_networks", []):
        settings = {k: v for k, v in net.items() if k not in ("environment", "id")}
        args = [f"{key}={value}" for key, value in settings.items()]
        # `delete` fails when the id is not there yet, which is fine on a first setup.
        subprocess.run([brownie, "networks", "delete", net["id"]], capture_output=True)
        done = subprocess.run(
            [brownie, "networks", "add", net["environment"], net["id"], *args], capture_output=True, text=True
        )
        if done.returncode != 0 or "ERROR" in done.stdout:
            sys.exit(f"could not register brownie network {net['id']}:\n{done.stdout}{done.stderr}")
        print(f"brownie network {net['id']} registered")


if __name__ == "__main__":
    main()
