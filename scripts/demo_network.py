"""The demo network generator's command: `./dev python scripts/demo_network.py --seed 7 [--scale demo|bench|small]
[--end 2026-12-03T10:00] [--counts] [--show]`; see `ledger_api/demo_network.py`. Settings come from `LEDGER_*`
environment variables (the node, the deployment's name, the mirror, the registry, the keystore folder)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger_api.demo_network import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
