"""The accounts allowlists worked out from the registry, with no node: the list is the standing accounts and
the registry's active ones, sorted, once each; a node's file keeps its nodes allowlist and changes by exactly
the accounts that came and went, with a diff naming them; a file already up to date (whatever its layout) is
left alone; bad manifests and permissions files are refused naming the file; Membership's account events fold
into each account's standing in chain order."""

from __future__ import annotations

import json
import tomllib

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from consortium.membership import fold_accounts
from consortium.permissions import (
    NetworkFolderError, accounts_allowlist, parse_manifest, parse_permissions, regenerate,
)
from indexer.projections import LedgerEvent

ENODES = [f"enode://{str(i) * 128}@127.0.0.1:{30303 + i}" for i in range(1, 4)]
ADMIN = to_checksum_address("0x" + "a1" * 20)
DISTRIBUTOR = to_checksum_address("0x" + "0b" * 20)
CARRIER = to_checksum_address("0x" + "c3" * 20)
STORE = to_checksum_address("0x" + "5d" * 20)


def manifest_text(standing=(ADMIN,), names=("validator-1", "validator-2", "member-1")) -> str:
    return json.dumps({
        "chain_id": 1515,
        "nodes": [{"name": name, "role": name.split("-")[0], "host": "127.0.0.1", "rpc_port": 8545 + i,
                   "dir": f"nodes/{name}"} for i, name in enumerate(names)],
        "accounts_allowlist": list(standing),
    })


def permissions_text(accounts: list[str], quoted_inline: bool = False) -> str:
    if quoted_inline:
        return (f"nodes-allowlist=[{', '.join(json.dumps(e) for e in ENODES)}]\n"
                f"accounts-allowlist=[{', '.join(json.dumps(a) for a in accounts)}]\n")
    lines = ["nodes-allowlist = ["] + [f'    "{e}",' for e in ENODES] + ["]", "accounts-allowlist = ["]
    return "\n".join(lines + [f'    "{a}",' for a in accounts] + ["]", ""])


def every_node(text: str) -> dict[str, str]:
    return {name: text for name in ("validator-1", "validator-2", "member-1")}


def test_the_allowlist_is_the_standing_accounts_and_the_active_ones_once_each_sorted_by_their_hex_digits():
    listed = accounts_allowlist([ADMIN], [CARRIER.lower(), DISTRIBUTOR, ADMIN.lower(), STORE])
    assert listed == [DISTRIBUTOR, STORE, ADMIN, CARRIER]
    assert all(a == to_checksum_address(a) for a in listed)


@given(st.lists(st.binary(min_size=20, max_size=20), max_size=12), st.randoms())
def test_the_allowlist_does_not_depend_on_the_order_or_the_capitals_of_its_accounts(raw, rng):
    addresses = ["0x" + r.hex() for r in raw]
    shuffled = [to_checksum_address(a) if rng.random() < 0.5 else a for a in addresses]
    rng.shuffle(shuffled)
    assert accounts_allowlist([], shuffled) == accounts_allowlist(addresses, [])
    assert len(accounts_allowlist([], shuffled)) == len(set(addresses))


def test_a_node_file_keeps_its_nodes_allowlist_and_gets_the_registry_accounts():
    manifest = parse_manifest(manifest_text())
    result = regenerate(manifest, every_node(permissions_text([ADMIN])), [DISTRIBUTOR, CARRIER])
    for update in result.updates:
        written = tomllib.loads(update.after)
        assert written["nodes-allowlist"] == ENODES
        assert written["accounts-allowlist"] == [DISTRIBUTOR, ADMIN, CARRIER]
        assert list(written) == ["nodes-allowlist", "accounts-allowlist"]


def test_the_diff_names_exactly_the_accounts_that_came_and_went_and_every_changed_node_must_reload():
    manifest = parse_manifest(manifest_text())
    before = permissions_text([DISTRIBUTOR, ADMIN, CARRIER])
    result = regenerate(manifest, every_node(before), [CARRIER, STORE])
    assert [u.node.name for u in result.changed] == ["validator-1", "validator-2", "member-1"]
    update = result.changed[0]
    assert (update.added, update.removed) == ((STORE,), (DISTRIBUTOR,))
    diff = update.diff().splitlines()
    assert diff[:2] == ["--- a/nodes/validator-1/permissions_config.toml",
                        "+++ b/nodes/validator-1/permissions_config.toml"]
    changed_lines = [line for line in diff[2:] if line[:1] in "+-"]
    assert changed_lines == [f'-    "{DISTRIBUTOR}",', f'+    "{STORE}",']
    assert result.reload_line() == ("must reload: validator-1, validator-2, member-1 "
                                    "(perm_reloadPermissionsFromFile on each, no restart needed)")


def test_a_regenerated_file_regenerated_again_changes_nothing():
    manifest = parse_manifest(manifest_text())
    first = regenerate(manifest, every_node(permissions_text([])), [STORE, DISTRIBUTOR])
    again = regenerate(manifest, {u.node.name: u.after for u in first.updates}, [DISTRIBUTOR, STORE])
    assert len(first.changed) == 3 and again.changed == []
    assert all(u.after == u.before for u in again.updates)


def test_a_file_that_lists_the_same_accounts_in_another_layout_or_case_is_left_as_it_is():
    manifest = parse_manifest(manifest_text())
    same = permissions_text([CARRIER.lower(), ADMIN, DISTRIBUTOR.lower()], quoted_inline=True)
    result = regenerate(manifest, every_node(same), [DISTRIBUTOR, CARRIER])
    assert result.changed == []
    assert result.updates[0].after == same


def test_only_the_nodes_whose_accounts_differ_are_changed():
    manifest = parse_manifest(manifest_text())
    current = permissions_text([DISTRIBUTOR, ADMIN])
    files = every_node(current) | {"member-1": permissions_text([ADMIN])}
    result = regenerate(manifest, files, [DISTRIBUTOR])
    assert [u.node.name for u in result.changed] == ["member-1"]
    assert result.changed[0].added == (DISTRIBUTOR,)


@pytest.mark.parametrize("text, expected", [
    ("{not json", "network.json: not JSON"),
    (json.dumps({"accounts_allowlist": []}), "network.json: nodes: missing or empty"),
    (json.dumps({"nodes": [{"name": "validator-1", "host": "127.0.0.1", "dir": "nodes/validator-1"}]}),
     "network.json: nodes[0]: rpc_port: missing or not a number"),
    (manifest_text(standing=["0x1234"]), "network.json: accounts_allowlist[0]: '0x1234' is not an address"),
    (manifest_text(names=("validator-1", "validator-1")), "network.json: nodes: validator-1 listed more than once"),
])
def test_a_bad_manifest_is_refused_naming_the_file_and_field(text, expected):
    with pytest.raises(NetworkFolderError, match="^" + expected.replace("[", r"\[").replace("]", r"\]")):
        parse_manifest(text)


@pytest.mark.parametrize("text, expected", [
    ("nodes-allowlist = [\n", "not valid TOML"),
    ('nodes-allowlist = ["enode://x"]\n', "accounts-allowlist: missing or not a list of strings"),
    ('nodes-allowlist = "enode://x"\naccounts-allowlist = []\n', "nodes-allowlist: missing or not a list"),
])
def test_a_bad_permissions_file_is_refused_naming_the_file(text, expected):
    with pytest.raises(NetworkFolderError, match=f"^nodes/member-1/permissions_config.toml: {expected}"):
        parse_permissions(text, "nodes/member-1/permissions_config.toml")


def test_a_node_of_the_manifest_without_its_file_is_refused():
    manifest = parse_manifest(manifest_text())
    files = every_node(permissions_text([]))
    del files["validator-2"]
    with pytest.raises(NetworkFolderError, match="nodes/validator-2/permissions_config.toml: missing"):
        regenerate(manifest, files, [])


def account_event(name: str, account: str, block: int, index: int) -> LedgerEvent:
    return LedgerEvent("Membership", name, {"account": account.lower(), "org": 4}, block, index, "0x00", 0)


def test_account_events_fold_into_each_account_standing_in_chain_order_whatever_order_they_come_in():
    events = [
        account_event("AccountDeactivated", DISTRIBUTOR, 12, 0),
        account_event("AccountSet", DISTRIBUTOR, 10, 3),
        account_event("AccountSet", CARRIER, 10, 4),
        account_event("AccountSet", STORE, 11, 0),
        account_event("AccountDeactivated", STORE, 11, 1),
        account_event("AccountSet", STORE, 13, 0),  # granted again after its deactivation
        LedgerEvent("Membership", "OrganisationRegistered", {"org": 9}, 10, 0, "0x00", 0),
    ]
    standing = fold_accounts(events)
    assert standing == {DISTRIBUTOR.lower(): False, CARRIER.lower(): True, STORE.lower(): True}
    assert fold_accounts(reversed(events)) == standing
