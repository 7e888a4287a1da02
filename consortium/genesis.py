"""The consortium chain's genesis file for Besu: QBFT with block header validator selection, free gas.

Every node of the network starts from this one file (`--genesis-file`), so it holds the network-wide
settings. It follows Besu's documented QBFT genesis (difficulty 0x1 and the Istanbul mixHash, the validators
in `extraData`) and its free gas network page (`zeroBaseFee` once London is on; each node also runs with
`min-gas-price=0`, in its own TOML). Shanghai and Cancun are on from genesis because the ledger's contracts
are compiled for Cancun (`evm_version` in brownie-config.yaml), and Besu's QBFT supports both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consortium import qbft

# Besu's QBFT documentation: these two header fields have fixed values in a QBFT genesis block.
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
QBFT_DIFFICULTY = "0x1"
# Gas is free (price 0), so the block gas limit only bounds how much work one block may hold; this is the
# value Besu's free gas page suggests.
FREE_GAS_LIMIT = "0x1fffffffffffff"
PREFUND_WEI = 10**6 * 10**18  # a million ether each: gas is free, so a balance only pays for value transfers


@dataclass(frozen=True)
class ChainSettings:
    """The network-wide QBFT settings a genesis file fixes."""

    chain_id: int
    block_period_seconds: int = 2
    epoch_length: int = 30_000
    request_timeout_seconds: int = 4

    def problems(self) -> list[str]:
        """What makes these settings unusable, one sentence each (empty when they are fine)."""
        found = []
        if self.chain_id <= 0:
            found.append(f"the chain id must be a positive number (got {self.chain_id})")
        if self.block_period_seconds < 1:
            found.append(f"the block period must be at least 1 second (got {self.block_period_seconds})")
        if self.epoch_length < 1:
            found.append(f"the epoch length must be at least 1 block (got {self.epoch_length})")
        if self.request_timeout_seconds < 1:
            found.append(f"the request timeout must be at least 1 second (got {self.request_timeout_seconds})")
        return found


def qbft_genesis(settings: ChainSettings, validators: Iterable[str], prefunded: Iterable[str] = (),
                 timestamp: int = 0) -> dict[str, Any]:
    """The genesis file's content: `validators` (checksum addresses, in the order the validator list should
    hold them) in `extraData`, and `prefunded` accounts holding PREFUND_WEI each."""
    return {
        "config": {
            "chainId": settings.chain_id,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "cancunTime": 0,
            "zeroBaseFee": True,
            "qbft": {
                "blockperiodseconds": settings.block_period_seconds,
                "epochlength": settings.epoch_length,
                "requesttimeoutseconds": settings.request_timeout_seconds,
            },
        },
        "nonce": "0x0",
        "timestamp": hex(timestamp),
        "extraData": qbft.genesis_extra_data(validators),
        "gasLimit": FREE_GAS_LIMIT,
        "difficulty": QBFT_DIFFICULTY,
        "mixHash": QBFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        # Besu's examples key `alloc` by the address's lower-case hex without 0x.
        "alloc": {address.lower().removeprefix("0x"): {"balance": hex(PREFUND_WEI)} for address in prefunded},
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
    }


def validators_of(genesis: Mapping[str, Any]) -> tuple[str, ...]:
    """The validators a genesis file's `extraData` names, in its order.

    Raises:
        qbft.ExtraDataError: the genesis has no `extraData` or it is not QBFT's.
    """
    extra_data = genesis.get("extraData")
    if not isinstance(extra_data, str):
        raise qbft.ExtraDataError("the genesis file has no extraData")
    return qbft.decode(extra_data).validators
