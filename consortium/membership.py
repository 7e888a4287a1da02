"""Reading the ledger's membership registry for the nodes' accounts allowlists: which accounts are active.

Two sources. The chain itself: Membership's `AccountSet` and `AccountDeactivated` logs since the deployment
block, read with the indexer's own node client and decoder, folded into each account's standing by a pure
function (`fold_accounts`), then checked account by account against the contract's `accounts(address)` view
at the same block, the contract's own answer, which wins where they differ. Or the indexer's mirror (the
`accounts` table), refused when it is empty, of another network, or further behind the node's head than the
caller allows. Settings are the indexer's (`LEDGER_RPC_URL`, `LEDGER_NETWORK`, `LEDGER_DATABASE_URL` ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from sqlalchemy import inspect, select
from sqlalchemy.exc import ArgumentError, DBAPIError

from indexer.cli import make_url_safe
from indexer.contracts import DeploymentError, load_artifacts, load_deployment
from indexer.db import open_database
from indexer.decode import EventDecoder
from indexer.projections import LedgerEvent
from indexer.rpc import NodeClient, NodeUnavailable, RangeTooLarge, RpcError
from indexer.schema import accounts, sync_state
from indexer.settings import Settings

ACCOUNT_EVENTS = ("AccountSet", "AccountDeactivated")
ACCOUNTS_VIEW = keccak(text="accounts(address)")[:4]
NODE_ATTEMPTS = 3  # a one-off command says the node is down rather than waiting for it


class RegistryUnavailable(Exception):
    """The registry cannot be read from the chosen source; the message says why and what to do."""


@dataclass
class Registry:
    """The registry's active accounts (checksum addresses) as one source gave them, at one block."""

    source: str
    block: int
    active: set[str]
    differences: list[str] = field(default_factory=list)  # events against the contract's view
    warnings: list[str] = field(default_factory=list)


def fold_accounts(events: Iterable[LedgerEvent]) -> dict[str, bool]:
    """Each account Membership has named (lower-case address) and whether it is active, after `events` in
    chain order: `AccountSet` grants roles and activates, `AccountDeactivated` deactivates."""
    standing: dict[str, bool] = {}
    for event in sorted(events, key=lambda e: (e.block_number, e.log_index)):
        if event.name in ACCOUNT_EVENTS and event.contract == "Membership":
            standing[event.args["account"].lower()] = event.name == "AccountSet"
    return standing


# ---------------------------------------------------------------------------------------------- the chain


def read_chain(settings: Settings) -> Registry:
    """The active accounts from the node's Membership logs, checked against `accounts(address)`.

    Raises:
        RegistryUnavailable: no deployment, a node that does not answer or serves another chain.
    """
    deployment = _deployment(settings)
    node = NodeClient(settings.rpc_url, timeout=settings.rpc_timeout, max_attempts=NODE_ATTEMPTS)
    try:
        chain_id = node.chain_id()
        if chain_id != deployment.chain_id:
            raise RegistryUnavailable(
                f"{settings.rpc_url} serves chain id {chain_id}, but deployments/{settings.network}.json is for "
                f"chain id {deployment.chain_id}: point LEDGER_RPC_URL at that chain's node")
        membership = deployment.address("Membership")
        decoder = EventDecoder({"Membership": load_artifacts()["Membership"].abi}, {"Membership": membership})
        head = node.block_number()
        events = [e for e in (decoder.decode(log, 0) for log in _logs(node, deployment.start_block, head,
                                                                          membership, settings.max_block_span))
                  if e is not None and e.name in ACCOUNT_EVENTS]
        folded = fold_accounts(events)
        viewed = _view_active(node, membership, list(folded), head)
    except (NodeUnavailable, RpcError) as exc:
        raise RegistryUnavailable(f"cannot read the registry from the node: {exc}") from None
    differences = [
        f"{to_checksum_address(a)}: its events leave it {'active' if folded[a] else 'inactive'}, but "
        f"Membership.accounts says {'active' if viewed[a] else 'inactive'} at block {head}; the contract's "
        "answer is used" for a in folded if folded[a] != viewed[a]
    ]
    return Registry("chain", head, {to_checksum_address(a) for a, on in viewed.items() if on}, differences)


def _deployment(settings: Settings):
    try:
        return load_deployment(settings.network, settings.deployments_dir)
    except (FileNotFoundError, DeploymentError) as exc:
        raise RegistryUnavailable(str(exc)) from None


def _logs(node: NodeClient, first: int, last: int, address: str, span: int) -> list[dict]:
    """Every log of `address` in blocks `first`-`last`, in ranges the node accepts (halved when refused)."""
    found: list[dict] = []
    low = first
    while low <= last:
        high = min(last, low + span - 1)
        try:
            found += node.logs(low, high, [address])
        except RangeTooLarge:
            if span == 1:
                raise
            span = max(1, span // 2)
            continue
        low = high + 1
    return found


def _view_active(node: NodeClient, membership: str, addresses: list[str], block: int) -> dict[str, bool]:
    """`Membership.accounts(a).active` for each address, at `block`, in batches."""
    active: dict[str, bool] = {}
    for start in range(0, len(addresses), 200):
        part = addresses[start:start + 200]
        answers = node.batch([
            ("eth_call", [{"to": membership, "data": "0x" + (ACCOUNTS_VIEW + encode(["address"], [a])).hex()},
                          hex(block)])
            for a in part
        ])
        for address, answer in zip(part, answers):
            _org, _roles, is_active = decode(["uint32", "uint16", "bool"], bytes.fromhex(answer[2:]))
            active[address] = is_active
    return active


# ---------------------------------------------------------------------------------------------- the mirror


def read_mirror(settings: Settings, max_lag: int) -> Registry:
    """The active accounts of the indexer's mirror, if it is no more than `max_lag` blocks behind the node
    (a node that cannot be reached is a warning: the mirror is then used at its checkpoint).

    Raises:
        RegistryUnavailable: the database cannot be opened, is empty, mirrors another network, or lags.
    """
    where = make_url_safe(settings.database_url)
    try:
        engine = open_database(settings.database_url, pool_size=1)
    except ArgumentError as exc:
        raise RegistryUnavailable(f"LEDGER_DATABASE_URL {where} is not a database URL ({exc})") from None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(sync_state.name):
                raise RegistryUnavailable(_empty(where))
            state = conn.execute(select(sync_state)).mappings().first()
            if state is None:
                raise RegistryUnavailable(_empty(where))
            rows = conn.execute(select(accounts.c.address, accounts.c.active)).all()
    except DBAPIError as exc:
        first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise RegistryUnavailable(f"cannot read the mirror database {where}: {first_line}") from None
    finally:
        engine.dispose()
    if state["network"] != settings.network:
        raise RegistryUnavailable(
            f"the mirror {where} follows {state['network']}, not {settings.network} (LEDGER_NETWORK); point "
            "LEDGER_DATABASE_URL at that network's mirror")
    if not rows:
        raise RegistryUnavailable(_empty(where))
    checkpoint = state["block_number"]
    registry = Registry("mirror", checkpoint, {to_checksum_address(a) for a, on in rows if on})
    node = NodeClient(settings.rpc_url, timeout=min(settings.rpc_timeout, 5.0), max_attempts=2)
    try:
        chain_id, head = node.chain_id(), node.block_number()
    except (NodeUnavailable, RpcError) as exc:
        registry.warnings.append(
            f"cannot reach the node at {settings.rpc_url} to check how far the mirror lags ({exc}); using the "
            f"mirror as of its checkpoint, block {checkpoint}")
        return registry
    if chain_id != state["chain_id"]:
        raise RegistryUnavailable(
            f"the mirror {where} is of chain id {state['chain_id']}, but {settings.rpc_url} serves chain id "
            f"{chain_id}: point LEDGER_RPC_URL and LEDGER_DATABASE_URL at the same chain")
    lag = head - checkpoint
    if lag > max_lag:
        raise RegistryUnavailable(
            f"the mirror is {lag} blocks behind the node (checkpoint {checkpoint}, head {head}; at most {max_lag} "
            "allowed): let the indexer catch up (`indexer backfill`, or a running `indexer run`) or use --from chain")
    return registry


def _empty(where: str) -> str:
    return (f"the mirror {where} is empty: fill it with `indexer backfill` (LEDGER_DATABASE_URL names it) "
            "or read the registry with --from chain")
