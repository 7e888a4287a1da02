"""The node operator's scripts: `scripts/deploy.py` writes a deployment file, and `scripts/onboard.py`
registers the organisations, locations and accounts of a YAML or CSV members file. The pure half of
onboarding (parsing, validation, planning against what is on chain) is tested with no transaction; the
chain half onboards `deployments/demo-members.yaml` and a CSV file on the test chain, checks that exactly
their records exist afterwards (Membership's views and events), that a second run sends nothing, and that
an invalid file is refused before any transaction.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from brownie import Membership, accounts, network, web3
from brownie.exceptions import VirtualMachineError

from conftest import KIND, ROLE
from indexer.contracts import Deployment, abi_hash, write_deployment
from scripts import deploy, onboard

DEMO = Path(__file__).resolve().parents[2] / "deployments" / "demo-members.yaml"
DEV = [f"0x{i:040x}" for i in range(1, 21)]  # stands in for a node's 20 unlocked accounts
SIGNER = DEV[0]


def small_network() -> dict:
    """A valid members file: one of each kind, a location for each that holds stock, and their staff."""
    return {
        "organisations": [
            {"code": "EAST", "kind": "region", "parent": "brand", "name": "East China"},
            {"code": "WH-SH", "kind": "warehouse", "parent": "brand", "name": "Shanghai National Warehouse"},
            {"code": "D-HZ", "kind": "distributor", "parent": "EAST", "name": "Hangzhou Xihu Wine Trading"},
            {"code": "S-HZ", "kind": "store", "parent": "EAST", "name": "Wulin Square Liquor Store"},
            {"code": "CARRIER", "kind": "carrier", "name": "Changjiang Express"},
        ],
        "locations": [
            {"org": "WH-SH", "name": "Jiading warehouse", "gln": "6921234000014"},
            {"org": "D-HZ", "name": "Xiaoshan depot", "gln": "6935501000010"},
            {"org": "S-HZ", "name": "Wulin shop"},
        ],
        "accounts": [
            {"dev_account": 1, "org": "brand", "roles": ["sales_director"], "name": "Sales director"},
            {"dev_account": 2, "org": "D-HZ", "roles": ["purchaser", "receiver"], "name": "Hangzhou staff"},
            {"dev_account": 3, "org": "CARRIER", "roles": ["dispatcher"], "name": "Courier"},
        ],
    }


def plan_of(doc: dict, chain: onboard.OnChain | None = None, local: bool = True) -> onboard.Plan:
    members = onboard.parse_yaml(yaml.safe_dump(doc, sort_keys=False))
    return onboard.plan_onboarding(members, chain or onboard.OnChain(), signer=SIGNER,
                                   dev_accounts=DEV if local else None)


def problems_of(doc: dict, **kwargs) -> list[str]:
    with pytest.raises(onboard.InvalidMembers) as refused:
        plan_of(doc, **kwargs)
    return refused.value.problems


def as_csv(members: onboard.Members) -> str:
    """The members file as CSV: one row per record, roles joined by `;`."""
    out = io.StringIO()
    columns = ["record", "code", "kind", "name", "parent", "price_tier", "org", "gln", "address", "dev_account", "roles",
               "active"]
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for kind, records in (("organisation", members.organisations), ("location", members.locations),
                          ("account", members.accounts)):
        for rec in records:
            row = {k: v for k, v in vars(rec).items() if k != "where" and v is not None}
            if "roles" in row:
                row["roles"] = ";".join(row["roles"])
            writer.writerow({"record": kind, **row})
    return out.getvalue()


def without_where(members: onboard.Members) -> list:
    return [{k: v for k, v in vars(r).items() if k != "where"}
            for r in members.organisations + members.locations + members.accounts]


# ------------------------------------------------------------------------------------- pure: the file


def test_the_demo_file_is_valid_and_plans_every_record_on_a_fresh_ledger():
    members = onboard.load_members(DEMO)
    plan = onboard.plan_onboarding(members, onboard.OnChain(), signer=SIGNER, dev_accounts=DEV)

    kinds = [r.kind for r in members.organisations]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "region": 4, "warehouse": 2, "distributor": 6, "store": 6, "carrier": 1, "auditor": 1}
    assert [r.name for r in members.organisations if r.kind == "region"] == [
        "East China", "North China", "South China", "Southwest"]
    assert (len(plan.organisations), len(plan.locations), len(plan.accounts)) == (20, 14, 19)
    assert sorted(r.dev_account for r in members.accounts) == list(range(1, 20))
    assert all(onboard.gln_problem(r.gln) is None and r.gln[:3] in {str(p) for p in range(690, 700)}
               for r in members.locations)
    assert plan.skipped == {"organisations": 0, "locations": 0, "accounts": 0} and not plan.notes


def test_the_demo_file_gives_each_kind_of_member_its_working_roles():
    members = onboard.load_members(DEMO)
    kind_of = {r.code: r.kind for r in members.organisations} | {"brand": "brand"}
    held = {(kind_of[a.org], frozenset(a.roles)) for a in members.accounts}

    assert held == {
        ("brand", frozenset({"sales_director"})), ("brand", frozenset({"finance"})),
        ("brand", frozenset({"dispatcher"})), ("region", frozenset({"region_manager"})),
        ("warehouse", frozenset({"dispatcher", "receiver"})),
        ("distributor", frozenset({"purchaser", "dispatcher", "receiver"})),
        ("store", frozenset({"store_staff", "receiver"})), ("carrier", frozenset({"dispatcher"})),
        ("auditor", frozenset({"auditor"})),
    }


def test_a_csv_file_reads_the_same_as_the_yaml_file_it_was_written_from():
    members = onboard.load_members(DEMO)

    assert without_where(onboard.parse_csv(as_csv(members))) == without_where(members)


def test_the_role_and_kind_mirrors_match_the_test_fixtures():
    assert onboard.ROLES == {name.lower(): bit for name, bit in vars(ROLE).items()}
    assert {k: v for k, v in onboard.KINDS.items()} == {
        name.lower(): n for name, n in vars(KIND).items() if name != "NONE"}


@pytest.mark.parametrize("gln, problem", [
    ("6921234000014", None),
    ("6921234000015", "'6921234000015' has a wrong check digit: 5, expected 4"),
    ("692123400001", "'692123400001' is not a GLN: it needs exactly 13 digits"),
    ("69212340000A4", "'69212340000A4' is not a GLN: it needs exactly 13 digits"),
])
def test_a_gln_needs_thirteen_digits_and_its_gs1_check_digit(gln, problem):
    assert onboard.gln_problem(gln) == problem


# ------------------------------------------------------------------------------------- pure: refusals


def _with(section: str, index: int | None = None, **fields):
    """A change to small_network(): set fields of record `index` of `section`, or append a new record."""
    def change(doc: dict) -> dict:
        if index is None:
            doc[section].append(fields)
        else:
            doc[section][index].update(fields)
            for name in [k for k, v in fields.items() if v is None]:
                del doc[section][index][name]
        return doc
    return change


REFUSALS = {
    "an unknown kind": (
        _with("organisations", code="X", kind="wholesaler", name="X"),
        "organisations[5] (organisation X): kind: unknown kind 'wholesaler'; use one of region, warehouse, "
        "distributor, store, carrier, auditor"),
    "the brand itself": (
        _with("organisations", code="HQ", kind="brand", name="HQ"),
        "organisations[5] (organisation HQ): kind: the brand exists from deployment"),
    "a duplicate code": (
        _with("organisations", code="EAST", kind="region", name="East again"),
        "organisations[5] (organisation EAST): code: duplicate code 'EAST', already used by "
        "organisations[0] (organisation EAST)"),
    "a parent code that exists nowhere": (
        _with("organisations", 2, parent="WEST"),
        "organisations[2] (organisation D-HZ): parent: unknown organisation code 'WEST' "
        "(neither in this file nor on chain)"),
    "a distributor under a warehouse": (
        _with("organisations", 2, parent="WH-SH"),
        "organisations[2] (organisation D-HZ): parent: 'WH-SH' is a warehouse; a distributor sits under a region"),
    "a carrier under a region": (
        _with("organisations", 4, parent="EAST"),
        "organisations[4] (organisation CARRIER): parent: a carrier sits under no organisation; leave parent empty"),
    "a price tier beyond a byte": (
        _with("organisations", 2, price_tier=300),
        "organisations[2] (organisation D-HZ): price_tier: must be a whole number from 0 to 255, got 300"),
    "a misspelt field": (
        _with("organisations", 0, parnet="brand"),
        "organisations[0] (organisation EAST): parnet: not a field of an organisation"),
    "a missing name": (
        _with("locations", 2, name=None),
        "locations[2] (location S-HZ): name: missing"),
    "a location of an unknown organisation": (
        _with("locations", 2, org="S-XX"),
        "locations[2] (location S-XX/Wulin shop): org: unknown organisation code 'S-XX'"),
    "a location of a carrier": (
        _with("locations", org="CARRIER", name="Depot"),
        "locations[3] (location CARRIER/Depot): org: 'CARRIER' is a carrier; carriers and auditors hold no stock"),
    "a GLN with a wrong check digit": (
        _with("locations", 0, gln="6921234000015"),
        "locations[0] (location WH-SH/Jiading warehouse): gln: '6921234000015' has a wrong check digit: 5, expected 4"),
    "a GLN used twice": (
        _with("locations", 2, gln="6921234000014"),
        "locations[2] (location S-HZ/Wulin shop): gln: duplicate GLN 6921234000014, already used by "
        "locations[0] (location WH-SH/Jiading warehouse)"),
    "a location named twice": (
        _with("locations", org="S-HZ", name="Wulin shop"),
        "locations[3] (location S-HZ/Wulin shop): name: duplicate location 'Wulin shop' of 'S-HZ'"),
    "an unknown role": (
        _with("accounts", 1, roles=["purchaser", "cashier"]),
        "accounts[1] (account Hangzhou staff): roles: unknown role 'cashier'"),
    "a role the kind may not hold": (
        _with("accounts", 1, roles=["purchaser", "finance"]),
        "accounts[1] (account Hangzhou staff): roles: a distributor account may not hold finance "
        "(allowed: dispatcher, receiver, purchaser)"),
    "no role at all": (
        _with("accounts", 1, roles=[]),
        "accounts[1] (account Hangzhou staff): roles: empty; give at least one role"),
    "an address that is not hex": (
        _with("accounts", 1, dev_account=None, address="0x12345"),
        "accounts[1] (account Hangzhou staff): address: '0x12345' is not an address (0x and 40 hex digits)"),
    "an address with a broken checksum": (
        _with("accounts", 1, dev_account=None, address="0x70997970C51812dc3A010C7d01b50e0d17dc79c8"),
        "address: '0x70997970C51812dc3A010C7d01b50e0d17dc79c8' fails its EIP-55 checksum (mistyped?)"),
    "both an address and a dev account": (
        _with("accounts", 1, address="0x70997970c51812dc3a010c7d01b50e0d17dc79c8"),
        "accounts[1] (account Hangzhou staff): address: give exactly one of address and dev_account"),
    "a dev account the node does not have": (
        _with("accounts", 1, dev_account=20),
        "accounts[1] (account Hangzhou staff): dev_account: the node has 20 unlocked accounts (0-19), not 20"),
    "one account twice": (
        _with("accounts", 2, dev_account=1, org="D-HZ", roles=["dispatcher"]),
        f"accounts[2] (account Courier): dev_account: duplicate account {DEV[1]}, already in "
        "accounts[0] (account Sales director)"),
    "the signer giving away its admin role": (
        _with("accounts", dev_account=0, org="brand", roles=["finance"], name="Admin"),
        f"accounts[3] (account Admin): roles: {DEV[0]} signs this onboarding as brand admin and cannot take "
        "away its own admin role"),
}


@pytest.mark.parametrize("change, expected", REFUSALS.values(), ids=REFUSALS.keys())
def test_the_planner_refuses_a_file_naming_the_record_and_field(change, expected):
    problems = problems_of(change(small_network()))

    assert len(problems) == 1, problems
    assert problems[0].startswith(expected) or expected in problems[0], problems[0]


def test_a_dev_account_is_refused_on_a_network_without_unlocked_accounts():
    problems = problems_of(small_network(), local=False)

    assert problems == [
        f"accounts[{i}] (account {name}): dev_account: only for local networks (development, anvil-local); "
        "give an address" for i, name in enumerate(["Sales director", "Hangzhou staff", "Courier"])]


def test_every_problem_in_a_file_is_reported_at_once():
    doc = small_network()
    doc["organisations"][2]["parent"] = "WEST"
    doc["locations"][0]["gln"] = "6921234000015"
    doc["accounts"][1]["roles"] = ["cashier"]

    assert [p.split(":")[0] for p in problems_of(doc)] == [
        "organisations[2] (organisation D-HZ)", "locations[0] (location WH-SH/Jiading warehouse)",
        "accounts[1] (account Hangzhou staff)"]


def test_a_csv_row_of_an_unknown_record_kind_or_with_a_field_of_another_kind_is_refused():
    text = ("record,code,kind,name,parent,org,roles\n"
            "organisation,EAST,region,East China,brand,,dispatcher\n"
            "warehouse,WH,,Shanghai,brand,,\n")

    with pytest.raises(onboard.InvalidMembers) as refused:
        onboard.parse_csv(text)

    assert refused.value.problems == [
        "line 2 (organisation EAST): roles: not a field of an organisation (fields: code, kind, name, parent, "
        "price_tier)",
        "line 3: record: unknown record kind 'warehouse'; use organisation, location or account",
    ]


# ------------------------------------------------------------------------------------- pure: planning


def test_a_child_listed_before_its_region_is_registered_after_it():
    doc = small_network()
    doc["organisations"].reverse()

    assert [r.code for r in plan_of(doc).organisations] == ["CARRIER", "WH-SH", "EAST", "S-HZ", "D-HZ"]


def test_a_region_or_warehouse_without_a_parent_sits_under_the_brand():
    doc = small_network()
    del doc["organisations"][0]["parent"]

    assert plan_of(doc).organisations[0].parent == "brand"


def on_chain_after(doc: dict) -> onboard.OnChain:
    """The chain as it would be once `doc` is onboarded, ids in file order."""
    chain = onboard.OnChain()
    ids = {"brand": 1}
    for i, rec in enumerate(plan_of(doc).organisations, start=2):
        ids[rec.code] = i
        chain.organisations.append(onboard.ChainOrganisation(
            i, onboard.KINDS[rec.kind], ids[rec.parent] if rec.parent else 0, rec.code, rec.name))
    for i, rec in enumerate(doc["locations"], start=1):
        chain.locations.append(onboard.ChainLocation(i, ids[rec["org"]], rec["name"], rec.get("gln", "")))
    for rec in doc["accounts"]:
        chain.accounts[DEV[rec["dev_account"]]] = onboard.ChainAccount(
            ids[rec["org"]], onboard.roles_mask(rec["roles"]), True)
    return chain


def test_what_is_already_on_chain_is_skipped():
    plan = plan_of(small_network(), chain=on_chain_after(small_network()))

    assert plan.transactions == 0
    assert plan.skipped == {"organisations": 5, "locations": 3, "accounts": 3}


def test_new_records_under_existing_organisations_are_planned_with_their_ids():
    chain = on_chain_after(small_network())
    doc = small_network()
    doc["organisations"].append({"code": "S-SZ", "kind": "store", "parent": "EAST", "name": "Guanqian shop"})
    doc["locations"].append({"org": "S-SZ", "name": "Guanqian Street shop"})
    doc["accounts"].append({"dev_account": 4, "org": "S-SZ", "roles": ["store_staff"], "name": "Store staff"})

    plan = plan_of(doc, chain=chain)

    assert [r.code for r in plan.organisations] == ["S-SZ"] and plan.org_ids["EAST"] == 2
    assert [(r.org, r.name) for r in plan.locations] == [("S-SZ", "Guanqian Street shop")]
    assert [(g.address, g.roles) for g in plan.accounts] == [(DEV[4], ROLE.STORE_STAFF)]


def test_an_account_with_other_roles_on_chain_is_updated_and_a_deactivated_one_left_alone():
    chain = on_chain_after(small_network())
    chain.accounts[DEV[2]] = onboard.ChainAccount(4, ROLE.PURCHASER, True)
    chain.accounts[DEV[3]] = onboard.ChainAccount(6, ROLE.DISPATCHER, False)

    plan = plan_of(small_network(), chain=chain)

    assert [(g.address, g.roles, g.replaces) for g in plan.accounts] == [
        (DEV[2], ROLE.PURCHASER | ROLE.RECEIVER, onboard.ChainAccount(4, ROLE.PURCHASER, True))]
    assert plan.skipped["accounts"] == 2
    assert plan.notes == [f"accounts[2] (account Courier): {DEV[3]} is deactivated on chain; left deactivated "
                          "(reactivating an account is a deliberate act, not an onboarding)"]


def test_an_account_marked_inactive_is_deactivated_only_when_it_is_active_on_chain():
    chain = on_chain_after(small_network())
    chain.accounts[DEV[3]] = onboard.ChainAccount(6, ROLE.DISPATCHER, False)
    doc = small_network()
    doc["accounts"][1]["active"] = False  # active on chain: deactivated
    doc["accounts"][2]["active"] = False  # already inactive: nothing
    doc["accounts"].append({"dev_account": 4, "org": "D-HZ", "roles": ["receiver"], "name": "Never joined",
                            "active": False})  # not on chain: nothing

    plan = plan_of(doc, chain=chain)

    assert [(d.address, d.record.name) for d in plan.deactivations] == [(DEV[2], "Hangzhou staff")]
    assert plan.accounts == [] and plan.transactions == 1 and not plan.notes
    assert plan.skipped["accounts"] == 3
    assert onboard.describe(plan) == [f"deactivate {DEV[2]} (Hangzhou staff) in D-HZ"]
    assert plan_of(doc).deactivations == []  # a fresh ledger: nothing to deactivate, the others granted
    assert [g.address for g in plan_of(doc).accounts] == [DEV[1]]


def test_a_csv_active_column_reads_as_the_yaml_flag_and_anything_but_true_or_false_is_refused():
    members = onboard.parse_csv("record,org,name,roles,dev_account,active\n"
                                "account,D-HZ,Hangzhou staff,purchaser,2,false\n"
                                "account,D-HZ,Hangzhou buyer,purchaser,3,TRUE\n"
                                "account,D-HZ,Hangzhou clerk,receiver,4,\n")
    assert [a.active for a in members.accounts] == [False, True, True]
    with pytest.raises(onboard.InvalidMembers) as refused:
        onboard.parse_csv("record,org,name,roles,dev_account,active\naccount,D-HZ,Staff,purchaser,2,maybe\n")
    assert refused.value.problems == ["line 2 (account Staff): active: must be true or false, got 'maybe'"]


def test_the_signing_admin_cannot_deactivate_itself():
    doc = small_network()
    doc["accounts"].append({"dev_account": 0, "org": "brand", "roles": ["admin"], "name": "Admin", "active": False})

    assert problems_of(doc) == [f"accounts[3] (account Admin): active: {SIGNER} signs this onboarding as brand "
                                "admin and cannot deactivate itself"]


def test_a_code_on_chain_with_another_kind_or_a_gln_taken_on_chain_is_refused():
    chain = on_chain_after(small_network())
    doc = small_network()
    doc["organisations"][1]["kind"] = "region"
    del doc["locations"][0]
    doc["locations"].append({"org": "D-HZ", "name": "Second depot", "gln": "6921234000014"})

    assert problems_of(doc, chain=chain) == [
        "organisations[1] (organisation WH-SH): code: 'WH-SH' is already on chain as a warehouse under 'brand' "
        "(organisation 3), not a region under 'brand'",
        "locations[2] (location D-HZ/Second depot): gln: GLN 6921234000014 is already on chain for location 1 "
        "'Jiading warehouse'",
    ]


# ------------------------------------------------------------------------------------- on the chain


def membership_records(membership, start_block: int) -> tuple[dict, dict]:
    """Organisations by code: (kind, parent code, name); locations by (org code, name): (GLN, region code);
    as Membership's events state them, each checked against its view."""
    contract = web3.eth.contract(address=membership.address, abi=membership.abi)
    code_of = {0: None}
    orgs = {}
    for e in contract.events.OrganisationRegistered.get_logs(from_block=start_block):
        code_of[e.args.org] = e.args.code
        assert tuple(membership.organisations(e.args.org))[:2] == (e.args.kind, e.args.parent)
        orgs[e.args.code] = (e.args.kind, code_of[e.args.parent], e.args.name)
    places = {}
    for e in contract.events.LocationRegistered.get_logs(from_block=start_block):
        assert tuple(membership.locations(e.args.location)) == (e.args.org, e.args.region, e.args.kind, True)
        places[code_of[e.args.org], e.args.name] = (e.args.gln, code_of[e.args.region])
    return orgs, places


def expected_records(members: onboard.Members) -> tuple[dict, dict]:
    """What `membership_records` should read once `members` is onboarded on a fresh ledger."""
    by_code = {r.code: r for r in members.organisations}
    orgs = {"BRAND": (KIND.BRAND, None, "Guizhou Baijiu Co.")}
    for r in members.organisations:
        orgs[r.code] = (onboard.KINDS[r.kind], "BRAND" if r.parent == "brand" else r.parent, r.name)
    places = {}
    for r in members.locations:
        kind = by_code[r.org].kind
        region = r.org if kind == "region" else by_code[r.org].parent if kind in ("distributor", "store") else None
        places[r.org, r.name] = (r.gln, region)
    return orgs, places


def test_onboarding_the_demo_file_registers_exactly_its_records_and_a_second_run_sends_nothing(ledger):
    membership, admin = ledger["membership"], accounts[0]
    members = onboard.load_members(DEMO)
    dev_accounts = [a.address for a in accounts]
    lines = []

    summary = onboard.onboard(members, membership, admin, start_block=ledger["start_block"],
                              dev_accounts=dev_accounts, out=lines.append)

    registered = membership_records(membership, ledger["start_block"])
    assert registered == expected_records(members)
    assert (membership.organisationCount(), membership.locationCount()) == (21, 14)
    id_of = {code: i for i, code in enumerate(registered[0], start=1)}
    for rec in members.accounts:
        org = id_of["BRAND" if rec.org == "brand" else rec.org]
        assert tuple(membership.accounts(accounts[rec.dev_account])) == (org, onboard.roles_mask(rec.roles), True)
    assert tuple(membership.accounts(admin)) == (1, ROLE.ADMIN, True)
    assert "organisations 20/20  S-KUNMING-CUIHU: store 'Cuihu Lake Liquor Store' is organisation 21" in lines
    assert lines[-1] == ("onboard: organisations 20 created, 0 skipped; locations 14 created, 0 skipped; "
                         "accounts 19 created, 0 updated, 0 skipped")
    assert (summary.created, summary.skipped) == (
        {"organisations": 20, "locations": 14, "accounts": 19}, {"organisations": 0, "locations": 0, "accounts": 0})

    block, nonce = web3.eth.block_number, admin.nonce
    again = onboard.onboard(members, membership, admin, start_block=ledger["start_block"],
                            dev_accounts=dev_accounts, out=lines.append)

    assert (web3.eth.block_number, admin.nonce) == (block, nonce)
    assert again.created == {"organisations": 0, "locations": 0, "accounts": 0}
    assert again.skipped == {"organisations": 20, "locations": 14, "accounts": 19}


def test_an_account_marked_inactive_is_deactivated_on_chain_once(ledger):
    membership, admin = ledger["membership"], accounts[0]
    dev_accounts = [a.address for a in accounts]
    doc = small_network()
    members = onboard.parse_yaml(yaml.safe_dump(doc))
    onboard.onboard(members, membership, admin, start_block=ledger["start_block"], dev_accounts=dev_accounts,
                    out=lambda line: None)
    assert tuple(membership.accounts(accounts[2]))[2] is True
    doc["accounts"][1]["active"] = False
    lines = []

    summary = onboard.onboard(onboard.parse_yaml(yaml.safe_dump(doc)), membership, admin,
                              start_block=ledger["start_block"], dev_accounts=dev_accounts, out=lines.append)

    assert tuple(membership.accounts(accounts[2]))[2] is False
    assert tuple(membership.accounts(accounts[3]))[2] is True
    assert summary.deactivated == 1
    assert f"deactivations 1/1  {accounts[2].address} (Hangzhou staff) is deactivated" in lines
    assert lines[-1] == ("onboard: organisations 0 created, 5 skipped; locations 0 created, 3 skipped; "
                         "accounts 0 created, 0 updated, 1 deactivated, 2 skipped")
    block = web3.eth.block_number
    again = onboard.onboard(onboard.parse_yaml(yaml.safe_dump(doc)), membership, admin,
                            start_block=ledger["start_block"], dev_accounts=dev_accounts, out=lines.append)
    assert web3.eth.block_number == block and again.deactivated == 0 and again.skipped["accounts"] == 3


def test_the_planner_allows_exactly_the_roles_membership_accepts_for_each_kind(ledger):
    membership, tx = ledger["membership"], {"from": accounts[0]}
    org_of_kind = {"brand": 1}
    for kind, parent in (("region", 1), ("warehouse", 1), ("carrier", 0), ("auditor", 0)):
        org_of_kind[kind] = membership.registerOrganisation(onboard.KINDS[kind], parent, 0, kind, kind, tx).return_value
    for kind in ("distributor", "store"):
        org_of_kind[kind] = membership.registerOrganisation(
            onboard.KINDS[kind], org_of_kind["region"], 0, kind, kind, tx).return_value

    accepted = {}
    for kind, org in org_of_kind.items():
        accepted[kind] = set()
        for role, bit in onboard.ROLES.items():
            try:
                membership.setAccount.call(accounts[1], org, bit, "probe", tx)
                accepted[kind].add(role)
            except VirtualMachineError:
                pass

    assert accepted == onboard.ALLOWED_ROLES


@pytest.fixture
def deployment_here(ledger, tmp_path, monkeypatch):
    """The test ledger's deployment file, in a scratch working directory."""
    monkeypatch.chdir(tmp_path)
    contracts = {name.capitalize(): ledger[name] for name in ("membership", "catalog", "orders", "inventory", "anchors")}
    write_deployment(Deployment(
        network=network.show_active(), chain_id=web3.eth.chain_id, start_block=ledger["start_block"],
        contracts={n: {"address": c.address, "abi_hash": abi_hash(c.abi)} for n, c in contracts.items()},
    ))
    return tmp_path


def test_the_deploy_script_writes_a_deployment_file_naming_each_contract(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The test network's name is not one deploy.py knows as local; the signer choice is not under test.
    monkeypatch.setattr(deploy, "deployer", lambda: accounts[0])
    first_block = web3.eth.block_number + 1

    deploy.main()

    written = json.loads((tmp_path / "deployments" / f"{network.show_active()}.json").read_text())
    assert (written["network"], written["chain_id"], written["start_block"]) == (
        network.show_active(), web3.eth.chain_id, first_block)
    assert sorted(written["contracts"]) == ["Anchors", "Catalog", "Inventory", "Membership", "Orders"]
    for entry in written["contracts"].values():
        assert len(web3.eth.get_code(entry["address"])) > 0
    membership = Membership.at(written["contracts"]["Membership"]["address"])
    assert written["contracts"]["Membership"]["abi_hash"] == abi_hash(Membership.abi)
    assert tuple(membership.accounts(accounts[0])) == (1, ROLE.ADMIN, True)
    assert membership.organisationCount() == 1 and Membership[-1].address == membership.address


CSV_MEMBERS = """record,code,kind,name,parent,org,gln,dev_account,roles
organisation,NORTH,region,North China,brand,,,,
organisation,D-TJ,distributor,Tianjin Haihe Spirits,NORTH,,,,
organisation,S-BJ,store,Wangfujing Mingjiu Store,NORTH,,,,
location,,,Tianjin Dongli depot,,D-TJ,6912603000018,,
location,,,Wangfujing shop,,S-BJ,6980204000010,,
account,,,North China regional manager,,NORTH,,5,region_manager
account,,,Tianjin staff,,D-TJ,,12,purchaser;dispatcher;receiver
"""


def test_a_csv_file_onboards_through_the_deployment_file_and_a_second_run_sends_nothing(
        ledger, deployment_here, capsys):
    path = deployment_here / "members.csv"
    path.write_text(CSV_MEMBERS)
    membership = ledger["membership"]

    onboard.main(str(path))

    out = capsys.readouterr().out
    assert "organisations 3/3  S-BJ: store 'Wangfujing Mingjiu Store' is organisation 4" in out
    assert "locations 2/2  S-BJ: 'Wangfujing shop' is location 2" in out
    assert out.rstrip().endswith("accounts 2 created, 0 updated, 0 skipped")
    assert tuple(membership.organisations(3)) == (KIND.DISTRIBUTOR, 2, 0)
    assert tuple(membership.locations(1)) == (3, 2, KIND.DISTRIBUTOR, True)
    assert tuple(membership.accounts(accounts[12])) == (3, ROLE.PURCHASER | ROLE.DISPATCHER | ROLE.RECEIVER, True)
    assert tuple(membership.accounts(accounts[5])) == (2, ROLE.REGION_MANAGER, True)

    block = web3.eth.block_number
    onboard.main(str(path))

    assert web3.eth.block_number == block
    assert capsys.readouterr().out.rstrip().endswith(
        "organisations 0 created, 3 skipped; locations 0 created, 2 skipped; accounts 0 created, 0 updated, "
        "2 skipped")


def test_an_invalid_file_is_refused_with_its_problems_and_nothing_is_sent(ledger, deployment_here, capsys):
    doc = small_network()
    doc["organisations"][2]["parent"] = "WEST"
    doc["accounts"][1]["roles"] = ["purchaser", "finance"]
    path = deployment_here / "members.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    block, nonce = web3.eth.block_number, accounts[0].nonce

    with pytest.raises(SystemExit) as refused:
        onboard.main(str(path))

    assert str(refused.value) == f"onboard: 2 problem(s) in {path}; nothing was sent"
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: organisations[2] (organisation D-HZ): parent: unknown organisation code 'WEST' "
        "(neither in this file nor on chain)",
        f"{path}: accounts[1] (account Hangzhou staff): roles: a distributor account may not hold finance "
        "(allowed: dispatcher, receiver, purchaser)",
    ]
    assert (web3.eth.block_number, accounts[0].nonce) == (block, nonce)
    assert ledger["membership"].organisationCount() == 1
