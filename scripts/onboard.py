"""Onboards member organisations, locations and accounts from a YAML or CSV file.

Run by node operators as `brownie run scripts/onboard.py main <file> --network <network>`; with `plan`
after the file it prints what it would send and sends nothing. The brand admin signs: on a local chain
(`development`, `anvil-local` or any chain brownie starts itself) the node's first unlocked account,
elsewhere the key in the `LEDGER_ADMIN_KEY` environment variable.
The contract addresses come from `deployments/<network>.json`, written by `scripts/deploy.py`.

Records name each other by organisation code. The whole file is checked against itself and against what
is already on chain before the first transaction, and every problem is reported at once with the record
and field it is about. What already exists (same organisation code, same location name in the same
organisation, same account organisation and roles) is skipped, so running a file twice sends nothing the
second time. An account record with `active: false` (YAML) or `false` in an `active` column (CSV) asks for
the account to be deactivated: a `deactivateAccount` is planned when it is active on chain, nothing when it
is already inactive or unknown. Parsing, validation and planning are pure functions; only `read_on_chain`, `apply_plan` and
`main` touch the chain.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import yaml
from brownie import accounts, network, web3
from brownie._config import CONFIG
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from indexer.contracts import abi_hash, load_deployment, script_deployments  # noqa: E402
from scripts.deploy import LOCAL_NETWORKS  # noqa: E402

# Mirrors of OrgKind, Roles and Roles.allowedFor in contracts/lib/LedgerTypes.sol.
KINDS = {"brand": 1, "region": 2, "warehouse": 3, "distributor": 4, "store": 5, "carrier": 6, "auditor": 7}
KIND_NAMES = {number: name for name, number in KINDS.items()}
ROLES = {
    "admin": 1 << 0, "region_manager": 1 << 1, "sales_director": 1 << 2, "finance": 1 << 3,
    "dispatcher": 1 << 4, "receiver": 1 << 5, "store_staff": 1 << 6, "auditor": 1 << 7, "purchaser": 1 << 8,
}
ALLOWED_ROLES = {
    "brand": {"admin", "sales_director", "finance", "dispatcher", "receiver"},
    "region": {"region_manager", "dispatcher", "receiver"},
    "warehouse": {"dispatcher", "receiver"},
    "distributor": {"purchaser", "dispatcher", "receiver"},
    "store": {"store_staff", "receiver"},
    "carrier": {"dispatcher"},
    "auditor": {"auditor"},
}
BRAND = "brand"
BRAND_ORG = 1
# Where each kind may sit (Membership.registerOrganisation): under the brand, under a region, or nowhere.
PARENT_KIND = {"region": "brand", "warehouse": "brand", "distributor": "region", "store": "region",
               "carrier": None, "auditor": None}

ORGANISATION_FIELDS = {"code": True, "kind": True, "name": True, "parent": False, "price_tier": False}
LOCATION_FIELDS = {"org": True, "name": True, "gln": False}
ACCOUNT_FIELDS = {"org": True, "name": True, "roles": True, "address": False, "dev_account": False, "active": False}
RECORD_FIELDS = {"organisation": ORGANISATION_FIELDS, "location": LOCATION_FIELDS, "account": ACCOUNT_FIELDS}
SECTIONS = {"organisations": "organisation", "locations": "location", "accounts": "account"}
LOG_CHUNK_BLOCKS = 50_000


class InvalidMembers(Exception):
    """The members file cannot be onboarded; `problems` says why, one line per record and field."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# ---------------------------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class OrganisationRecord:
    where: str
    code: str
    kind: str
    name: str
    parent: str | None = None
    price_tier: int = 0


@dataclass(frozen=True)
class LocationRecord:
    where: str
    org: str
    name: str
    gln: str = ""


@dataclass(frozen=True)
class AccountRecord:
    where: str
    org: str
    name: str
    roles: tuple[str, ...]
    address: str | None = None
    dev_account: int | None = None
    active: bool = True  # false: deactivate the account


@dataclass
class Members:
    organisations: list[OrganisationRecord] = field(default_factory=list)
    locations: list[LocationRecord] = field(default_factory=list)
    accounts: list[AccountRecord] = field(default_factory=list)


def load_members(path: str | Path) -> Members:
    """Reads a members file, YAML or CSV by its extension.

    Raises:
        InvalidMembers: the file is missing, of another type, or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidMembers([f"{path}: no such file"])
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return parse_yaml(text)
    if suffix == ".csv":
        return parse_csv(text)
    raise InvalidMembers([f"{path}: unknown file type '{suffix}'; use .yaml, .yml or .csv"])


def parse_yaml(text: str) -> Members:
    """Parses a YAML members file: top-level `organisations`, `locations` and `accounts` lists.

    Raises:
        InvalidMembers: with every structural problem (unknown section or field, missing field, wrong type).
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidMembers([f"not valid YAML: {exc}"]) from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidMembers(["the file must be a mapping with organisations, locations and accounts lists"])
    problems: list[str] = []
    for section in document:
        if section not in SECTIONS:
            problems.append(f"unknown section '{section}'; expected one of {', '.join(SECTIONS)}")
    rows: list[tuple[str, str, dict]] = []
    for section, kind in SECTIONS.items():
        entries = document.get(section) or []
        if not isinstance(entries, list):
            problems.append(f"{section}: must be a list of records")
            continue
        for i, entry in enumerate(entries):
            where = f"{section}[{i}]"
            if not isinstance(entry, dict):
                problems.append(f"{where}: must be a mapping of fields")
                continue
            rows.append((kind, where, entry))
    return _build(rows, problems)


def parse_csv(text: str) -> Members:
    """Parses a CSV members file: one row per record, its kind in a `record` column, empty cells for the
    fields that do not apply, and roles separated by `;`.

    Raises:
        InvalidMembers: with every structural problem.
    """
    reader = csv.DictReader(io.StringIO(text))
    headers = [(h or "").strip() for h in reader.fieldnames or []]
    if "record" not in headers:
        raise InvalidMembers(["the CSV header has no 'record' column (organisation, location or account)"])
    known = {"record"}.union(*RECORD_FIELDS.values())
    problems = [f"header: unknown column '{h}'" for h in headers if h not in known]
    rows: list[tuple[str, str, dict]] = []
    for row in reader:
        where = f"line {reader.line_num}"
        cells = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            problems.append(f"{where}: more cells than columns")
        if not any(cells.values()):
            continue
        record = cells.pop("record", "").lower()
        rows.append((record, where, {k: v for k, v in cells.items() if v != "" and k in known}))
    return _build(rows, problems)


def _build(rows: Iterable[tuple[str, str, dict]], problems: list[str]) -> Members:
    """Turns (record kind, where, fields) rows into records, checking fields and their types."""
    members = Members()
    for kind, where, raw in rows:
        if kind not in RECORD_FIELDS:
            problems.append(f"{where}: record: unknown record kind '{kind}'; use organisation, location or account")
            continue
        fields = RECORD_FIELDS[kind]
        label = _label(kind, where, raw)
        found: list[str] = []
        for name in raw:
            if name not in fields:
                found.append(f"{label}: {name}: not a field of {a_or_an(kind)} (fields: {', '.join(fields)})")
        for name, required in fields.items():
            if required and _blank(raw.get(name)):
                found.append(f"{label}: {name}: missing")
        values: dict[str, Any] = {}
        for name in fields:
            if name in raw and not _blank(raw[name]):
                value, error = _CONVERTERS[name](raw[name])
                if error:
                    found.append(f"{label}: {name}: {error}")
                values[name] = value
        if kind == "account" and not found:
            if ("address" in values) == ("dev_account" in values):
                found.append(f"{label}: address: give exactly one of address and dev_account")
        problems.extend(found)
        if found:
            continue
        if kind == "organisation":
            members.organisations.append(OrganisationRecord(where=label, **values))
        elif kind == "location":
            members.locations.append(LocationRecord(where=label, **values))
        else:
            members.accounts.append(AccountRecord(where=label, **values))
    if problems:
        raise InvalidMembers(problems)
    return members


def _label(kind: str, where: str, raw: dict) -> str:
    if kind == "organisation":
        what = raw.get("code")
    elif kind == "location":
        what = "/".join(str(raw[k]) for k in ("org", "name") if not _blank(raw.get(k))) or None
    else:
        what = raw.get("name") or raw.get("address") or raw.get("dev_account")
    return f"{where} ({kind} {what})" if what is not None else f"{where} ({kind})"


def a_or_an(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        return value.strip(), None
    return value, f"must be text, got {value!r} (quote it)"


def _reference(value: Any) -> tuple[Any, str | None]:
    text, error = _text(value)
    if error:
        return text, error
    return (BRAND if text.lower() == BRAND else text), None


def _lower(value: Any) -> tuple[Any, str | None]:
    text, error = _text(value)
    return (text.lower() if not error else text), error


def _integer(value: Any, low: int, high: int) -> tuple[Any, str | None]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return value, f"must be a whole number from {low} to {high}, got {value!r}"
    return value, None


def _gln(value: Any) -> tuple[Any, str | None]:
    # An unquoted GLN reads as a YAML integer; that is fine unless it had leading zeros.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _text(value)


def _boolean(value: Any) -> tuple[Any, str | None]:
    # YAML gives a boolean; a CSV cell gives text.
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes"), None
    if isinstance(value, bool):
        return value, None
    return value, f"must be true or false, got {value!r}"


def _roles(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        return value, f"must be a list of role names, got {value!r}"
    return tuple(r.strip().lower() for r in value if r.strip()), None


_CONVERTERS: dict[str, Callable[[Any], tuple[Any, str | None]]] = {
    "code": _text,
    "kind": _lower,
    "name": _text,
    "parent": _reference,
    "price_tier": lambda v: _integer(v, 0, 255),
    "org": _reference,
    "gln": _gln,
    "address": _text,
    "dev_account": lambda v: _integer(v, 0, 10**6),
    "roles": _roles,
    "active": _boolean,
}


def gln_problem(gln: str) -> str | None:
    """Why `gln` is not a GS1 Global Location Number (13 digits, the last a mod-10 check digit), or None."""
    if len(gln) != 13 or not gln.isdigit():
        return f"'{gln}' is not a GLN: it needs exactly 13 digits"
    expected = gs1_check_digit(gln[:-1])
    if int(gln[-1]) != expected:
        return f"'{gln}' has a wrong check digit: {gln[-1]}, expected {expected}"
    return None


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body`: weights 3 and 1 alternate from the rightmost digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def address_problem(address: str) -> str | None:
    """Why `address` cannot receive roles, or None."""
    if not (address.startswith("0x") and is_hex_address(address)):
        return f"'{address}' is not an address (0x and 40 hex digits)"
    if address != address.lower() and address[2:] != address[2:].upper() and not is_checksum_address(address):
        return f"'{address}' fails its EIP-55 checksum (mistyped?)"
    if int(address, 16) == 0:
        return "the zero address cannot hold roles"
    return None


def roles_mask(roles: Iterable[str]) -> int:
    mask = 0
    for role in roles:
        mask |= ROLES[role]
    return mask


def role_names(mask: int) -> list[str]:
    return [name for name, bit in ROLES.items() if mask & bit]


# ---------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class ChainOrganisation:
    id: int
    kind: int
    parent: int
    code: str
    name: str


@dataclass(frozen=True)
class ChainLocation:
    id: int
    org: int
    name: str
    gln: str


@dataclass(frozen=True)
class ChainAccount:
    org: int
    roles: int
    active: bool


@dataclass
class OnChain:
    """What Membership already holds: every organisation and location, and the file's accounts."""

    organisations: list[ChainOrganisation] = field(
        default_factory=lambda: [ChainOrganisation(BRAND_ORG, KINDS["brand"], 0, "BRAND", "brand")]
    )
    locations: list[ChainLocation] = field(default_factory=list)
    accounts: dict[str, ChainAccount] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountGrant:
    record: AccountRecord
    address: str
    roles: int
    replaces: ChainAccount | None = None


@dataclass(frozen=True)
class AccountDeactivation:
    record: AccountRecord
    address: str
    current: ChainAccount


@dataclass
class Plan:
    """The transactions to send, in order, and what was found to exist already. Organisations come
    parents first; locations and accounts name organisations by code, resolved as they are created;
    deactivations come last."""

    organisations: list[OrganisationRecord] = field(default_factory=list)
    locations: list[LocationRecord] = field(default_factory=list)
    accounts: list[AccountGrant] = field(default_factory=list)
    deactivations: list[AccountDeactivation] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: {"organisations": 0, "locations": 0, "accounts": 0})
    notes: list[str] = field(default_factory=list)
    org_ids: dict[str, int] = field(default_factory=dict)

    @property
    def transactions(self) -> int:
        return len(self.organisations) + len(self.locations) + len(self.accounts) + len(self.deactivations)


def resolve_address(record: AccountRecord, dev_accounts: Sequence[str] | None) -> tuple[str | None, str | None]:
    """The account's checksummed address, or why it has none."""
    if record.address is not None:
        problem = address_problem(record.address)
        return (None, f"address: {problem}") if problem else (to_checksum_address(record.address), None)
    if dev_accounts is None:
        return None, "dev_account: only for local networks (development, anvil-local); give an address"
    if record.dev_account >= len(dev_accounts):
        return None, (f"dev_account: the node has {len(dev_accounts)} unlocked accounts "
                      f"(0-{len(dev_accounts) - 1}), not {record.dev_account}")
    return to_checksum_address(dev_accounts[record.dev_account]), None


def file_addresses(members: Members, dev_accounts: Sequence[str] | None) -> list[str]:
    """The addresses the file grants roles to, as far as they resolve."""
    return [a for a in (resolve_address(r, dev_accounts)[0] for r in members.accounts) if a]


def plan_onboarding(members: Members, chain: OnChain, *, signer: str,
                    dev_accounts: Sequence[str] | None = None) -> Plan:
    """Decides what to send, given what is on chain; checks every rule Membership would enforce.

    Args:
        members: the parsed file.
        chain: what Membership already holds.
        signer: the brand admin who will sign (it may not take away its own admin role).
        dev_accounts: the node's unlocked accounts on a local network; None elsewhere.

    Raises:
        InvalidMembers: with every problem found; nothing must be sent then.
    """
    problems: list[str] = []
    plan = Plan()
    by_code = _chain_codes(chain)
    chain_orgs = {o.id: o for o in chain.organisations}
    plan.org_ids = {code: org.id for code, org in by_code.items()}
    plan.org_ids[BRAND] = BRAND_ORG

    # The kind of every organisation a record may name: the brand, the chain's, the file's.
    kinds: dict[str, str] = {code: KIND_NAMES.get(org.kind, "unknown") for code, org in by_code.items()}
    kinds[BRAND] = "brand"
    first_seen: dict[str, str] = {}
    for rec in members.organisations:
        if rec.code.lower() == BRAND:
            problems.append(f"{rec.where}: code: '{rec.code}' is reserved for the brand, which exists from deployment")
        elif rec.code in first_seen:
            problems.append(f"{rec.where}: code: duplicate code '{rec.code}', already used by {first_seen[rec.code]}")
        else:
            first_seen[rec.code] = rec.where
            if rec.code not in by_code:
                kinds[rec.code] = rec.kind

    parents_first: list[OrganisationRecord] = []
    children: list[OrganisationRecord] = []
    for rec in members.organisations:
        if first_seen.get(rec.code) != rec.where:
            continue
        found = _organisation_problems(rec, kinds)
        problems.extend(found)
        if found:
            continue
        if rec.parent is None and PARENT_KIND[rec.kind] == BRAND:
            rec = replace(rec, parent=BRAND)
        existing = by_code.get(rec.code)
        if existing is not None:
            conflict = _organisation_conflict(rec, existing, chain_orgs)
            if conflict:
                problems.append(f"{rec.where}: code: '{rec.code}' is already on chain as {conflict}")
            else:
                plan.skipped["organisations"] += 1
            continue
        new_parent = rec.parent not in (None, BRAND) and rec.parent not in by_code
        (children if new_parent else parents_first).append(rec)
    plan.organisations = parents_first + children

    chain_places = {(loc.org, loc.name): loc for loc in chain.locations}
    chain_glns = {loc.gln: loc for loc in chain.locations if loc.gln}
    seen_places: dict[tuple[str, str], str] = {}
    seen_glns: dict[str, str] = {}
    for rec in members.locations:
        found = []
        kind = kinds.get(rec.org)
        if kind is None:
            found.append(f"{rec.where}: org: {_unknown_code(rec.org)}")
        elif kind in ("carrier", "auditor"):
            found.append(f"{rec.where}: org: '{rec.org}' is {a_or_an(kind)}; carriers and auditors hold no stock")
        if (rec.org, rec.name) in seen_places:
            found.append(f"{rec.where}: name: duplicate location '{rec.name}' of '{rec.org}', "
                         f"already in {seen_places[rec.org, rec.name]}")
        seen_places.setdefault((rec.org, rec.name), rec.where)
        if rec.gln:
            gln_error = gln_problem(rec.gln)
            if gln_error:
                found.append(f"{rec.where}: gln: {gln_error}")
            elif rec.gln in seen_glns:
                found.append(f"{rec.where}: gln: duplicate GLN {rec.gln}, already used by {seen_glns[rec.gln]}")
            seen_glns.setdefault(rec.gln, rec.where)
        problems.extend(found)
        if found:
            continue
        existing = chain_places.get((plan.org_ids.get(rec.org), rec.name))
        other = chain_glns.get(rec.gln)
        if other is not None and other is not existing:
            problems.append(f"{rec.where}: gln: GLN {rec.gln} is already on chain for location {other.id} "
                            f"'{other.name}'")
        elif existing is None:
            plan.locations.append(rec)
        else:
            plan.skipped["locations"] += 1
            if existing.gln != rec.gln:
                plan.notes.append(f"{rec.where}: already on chain as location {existing.id} with GLN "
                                  f"'{existing.gln}', not '{rec.gln}'; left unchanged")

    seen_addresses: dict[str, str] = {}
    for rec in members.accounts:
        found = []
        address, error = resolve_address(rec, dev_accounts)
        if error:
            found.append(f"{rec.where}: {error}")
        elif address in seen_addresses:
            found.append(f"{rec.where}: {'address' if rec.address else 'dev_account'}: duplicate account {address}, "
                         f"already in {seen_addresses[address]}")
        else:
            seen_addresses[address] = rec.where
        kind = kinds.get(rec.org)
        if kind is None:
            found.append(f"{rec.where}: org: {_unknown_code(rec.org)}")
        found.extend(_roles_problems(rec, kind))
        if address and address == to_checksum_address(signer) and not rec.active:
            found.append(f"{rec.where}: active: {address} signs this onboarding as brand admin and cannot "
                         "deactivate itself")
        elif address and address == to_checksum_address(signer) and (rec.org != BRAND or "admin" not in rec.roles):
            found.append(f"{rec.where}: roles: {address} signs this onboarding as brand admin and cannot take away "
                         "its own admin role")
        problems.extend(found)
        if found:
            continue
        mask = roles_mask(rec.roles)
        current = chain.accounts.get(address)
        org_id = plan.org_ids.get(rec.org)
        if not rec.active:
            if current is not None and current.active:
                plan.deactivations.append(AccountDeactivation(rec, address, current))
            else:
                plan.skipped["accounts"] += 1
        elif current is None or (current.org == 0 and not current.active):
            plan.accounts.append(AccountGrant(rec, address, mask))
        elif not current.active:
            plan.skipped["accounts"] += 1
            plan.notes.append(f"{rec.where}: {address} is deactivated on chain; left deactivated "
                              "(reactivating an account is a deliberate act, not an onboarding)")
        elif current.org == org_id and current.roles == mask:
            plan.skipped["accounts"] += 1
        else:
            plan.accounts.append(AccountGrant(rec, address, mask, replaces=current))

    if problems:
        raise InvalidMembers(problems)
    return plan


def _chain_codes(chain: OnChain) -> dict[str, ChainOrganisation]:
    """Organisations on chain by code; the brand is named `brand` instead, and the first of a code wins."""
    by_code: dict[str, ChainOrganisation] = {}
    for org in chain.organisations:
        if org.id != BRAND_ORG:
            by_code.setdefault(org.code, org)
    return by_code


def _unknown_code(code: str) -> str:
    return f"unknown organisation code '{code}' (neither in this file nor on chain)"


def _organisation_problems(rec: OrganisationRecord, kinds: dict[str, str]) -> list[str]:
    if rec.kind == BRAND:
        return [f"{rec.where}: kind: the brand exists from deployment; name it as parent or org 'brand'"]
    if rec.kind not in KINDS:
        return [f"{rec.where}: kind: unknown kind '{rec.kind}'; use one of {', '.join(PARENT_KIND)}"]
    expected = PARENT_KIND[rec.kind]
    parent = rec.parent if rec.parent is not None else (BRAND if expected == BRAND else None)
    if expected is None:
        if parent is not None:
            return [f"{rec.where}: parent: {a_or_an(rec.kind)} sits under no organisation; leave parent empty"]
    elif expected == BRAND:
        if parent != BRAND:
            return [f"{rec.where}: parent: {a_or_an(rec.kind)} sits under the brand; set parent to 'brand'"]
    elif parent is None:
        return [f"{rec.where}: parent: missing; {a_or_an(rec.kind)} sits under a region (give its code)"]
    elif parent not in kinds:
        return [f"{rec.where}: parent: {_unknown_code(parent)}"]
    elif kinds[parent] != expected:
        return [f"{rec.where}: parent: '{parent}' is {a_or_an(kinds[parent])}; {a_or_an(rec.kind)} sits under a region"]
    return []


def _organisation_conflict(rec: OrganisationRecord, existing: ChainOrganisation,
                           chain_orgs: dict[int, ChainOrganisation]) -> str | None:
    """How the organisation on chain differs in kind or parent from the record, or None."""
    parent_org = chain_orgs.get(existing.parent)
    on_chain_parent = None if existing.parent == 0 else (BRAND if existing.parent == BRAND_ORG else
                                                         parent_org.code if parent_org else str(existing.parent))
    if KIND_NAMES.get(existing.kind) == rec.kind and on_chain_parent == rec.parent:
        return None
    where = f" under '{on_chain_parent}'" if on_chain_parent else ""
    return (f"{a_or_an(KIND_NAMES.get(existing.kind, 'unknown'))}{where} (organisation {existing.id}), "
            f"not {a_or_an(rec.kind)}" + (f" under '{rec.parent}'" if rec.parent else ""))


def _roles_problems(rec: AccountRecord, kind: str | None) -> list[str]:
    if not rec.roles:
        return [f"{rec.where}: roles: empty; give at least one role"]
    unknown = [r for r in rec.roles if r not in ROLES]
    if unknown:
        return [f"{rec.where}: roles: unknown role {', '.join(repr(r) for r in unknown)}; "
                f"use {', '.join(ROLES)}"]
    if kind in ALLOWED_ROLES:
        refused = [r for r in rec.roles if r not in ALLOWED_ROLES[kind]]
        if refused:
            return [f"{rec.where}: roles: {a_or_an(kind)} account may not hold {', '.join(refused)} "
                    f"(allowed: {', '.join(r for r in ROLES if r in ALLOWED_ROLES[kind])})"]
    return []


# ---------------------------------------------------------------------------------------------- the chain


@dataclass
class Summary:
    """What an onboarding run did; `updated` counts accounts whose organisation or roles changed."""

    created: dict[str, int]
    skipped: dict[str, int]
    updated: int = 0
    deactivated: int = 0

    def __str__(self) -> str:
        deactivated = f", {self.deactivated} deactivated" if self.deactivated else ""
        return (f"organisations {self.created['organisations']} created, {self.skipped['organisations']} skipped; "
                f"locations {self.created['locations']} created, {self.skipped['locations']} skipped; "
                f"accounts {self.created['accounts']} created, {self.updated} updated{deactivated}, "
                f"{self.skipped['accounts']} skipped")


def read_on_chain(membership, start_block: int, addresses: Iterable[str]) -> OnChain:
    """Reads every organisation and location from Membership's events since `start_block`, and the
    membership of `addresses`."""
    contract = web3.eth.contract(address=membership.address, abi=membership.abi)
    latest = web3.eth.block_number
    orgs = [ChainOrganisation(e.args.org, e.args.kind, e.args.parent, e.args.code, e.args.name)
            for e in _logs(contract.events.OrganisationRegistered, start_block, latest)]
    places = [ChainLocation(e.args.location, e.args.org, e.args.name, e.args.gln)
              for e in _logs(contract.events.LocationRegistered, start_block, latest)]
    members = {}
    for address in addresses:
        org, roles, active = membership.accounts(address)
        members[address] = ChainAccount(org, roles, active)
    return OnChain(organisations=orgs, locations=places, accounts=members)


def _logs(event, start: int, end: int) -> list:
    # Nodes cap the block range of one eth_getLogs; a consortium chain grows a block every few seconds.
    logs = []
    for low in range(start, end + 1, LOG_CHUNK_BLOCKS):
        logs.extend(event.get_logs(from_block=low, to_block=min(low + LOG_CHUNK_BLOCKS - 1, end)))
    return logs


def apply_plan(plan: Plan, membership, signer, out: Callable[[str], None] = print) -> Summary:
    """Sends the plan's transactions in order, printing progress; returns what was done."""
    ids = dict(plan.org_ids)
    tx = {"from": signer}
    n = len(plan.organisations)
    for i, rec in enumerate(plan.organisations, start=1):
        parent = ids[rec.parent] if rec.parent is not None else 0
        receipt = membership.registerOrganisation(KINDS[rec.kind], parent, rec.price_tier, rec.name, rec.code, tx)
        ids[rec.code] = receipt.events["OrganisationRegistered"]["org"]
        out(f"organisations {i}/{n}  {rec.code}: {rec.kind} '{rec.name}' is organisation {ids[rec.code]}")
    n = len(plan.locations)
    for i, rec in enumerate(plan.locations, start=1):
        receipt = membership.registerLocation(ids[rec.org], rec.name, rec.gln, tx)
        location = receipt.events["LocationRegistered"]["location"]
        out(f"locations {i}/{n}  {rec.org}: '{rec.name}' is location {location}")
    n = len(plan.accounts)
    for i, grant in enumerate(plan.accounts, start=1):
        membership.setAccount(grant.address, ids[grant.record.org], grant.roles, grant.record.name, tx)
        verb = "now holds" if grant.replaces else "holds"
        out(f"accounts {i}/{n}  {grant.address} ({grant.record.name}) {verb} "
            f"{'+'.join(role_names(grant.roles))} in {grant.record.org}")
    n = len(plan.deactivations)
    for i, off in enumerate(plan.deactivations, start=1):
        membership.deactivateAccount(off.address, tx)
        out(f"deactivations {i}/{n}  {off.address} ({off.record.name}) is deactivated")
    updated = sum(1 for g in plan.accounts if g.replaces)
    return Summary(
        created={"organisations": len(plan.organisations), "locations": len(plan.locations),
                 "accounts": len(plan.accounts) - updated},
        skipped=dict(plan.skipped),
        updated=updated,
        deactivated=len(plan.deactivations),
    )


def describe(plan: Plan) -> list[str]:
    """The plan as lines for people, without sending anything."""
    lines = [f"register organisation {r.code}: {r.kind} '{r.name}'" + (f" under {r.parent}" if r.parent else "")
             for r in plan.organisations]
    lines += [f"register location '{r.name}' of {r.org}" + (f" (GLN {r.gln})" if r.gln else "")
              for r in plan.locations]
    lines += [f"{'update' if g.replaces else 'grant'} {g.address} ({g.record.name}): "
              f"{'+'.join(role_names(g.roles))} in {g.record.org}" for g in plan.accounts]
    lines += [f"deactivate {d.address} ({d.record.name}) in {d.record.org}" for d in plan.deactivations]
    return lines


def onboard(members: Members, membership, signer, *, start_block: int, dev_accounts: Sequence[str] | None,
            dry_run: bool = False, out: Callable[[str], None] = print) -> Summary:
    """Reads the chain, plans, and (unless `dry_run`) sends. Nothing is sent if anything is invalid.

    Raises:
        InvalidMembers: the file breaks a rule, or the signer is not an active brand admin.
    """
    org, roles, active = membership.accounts(signer)
    if not (active and org == BRAND_ORG and roles & ROLES["admin"]):
        raise InvalidMembers([f"{signer}: not an active brand admin of this deployment; only a brand admin "
                              "can onboard members"])
    chain = read_on_chain(membership, start_block, file_addresses(members, dev_accounts))
    plan = plan_onboarding(members, chain, signer=str(signer), dev_accounts=dev_accounts)
    for note in plan.notes:
        out(f"note: {note}")
    if dry_run:
        for line in describe(plan):
            out(f"would {line}")
        return Summary(created={k: 0 for k in plan.skipped}, skipped=dict(plan.skipped))
    summary = apply_plan(plan, membership, signer, out)
    out(f"onboard: {summary}")
    return summary


def is_local_network() -> bool:
    """A chain with unlocked accounts: the demo anvil, or any chain brownie starts itself."""
    return network.show_active() in LOCAL_NETWORKS or CONFIG.network_type == "development"


def brand_admin(local: bool):
    if local:
        return accounts[0]
    key = os.environ.get("LEDGER_ADMIN_KEY")
    if not key:
        sys.exit(f"onboard: set LEDGER_ADMIN_KEY to a brand admin's private key to onboard on "
                 f"'{network.show_active()}'")
    return accounts.add(key)


def membership_at(network_name: str):
    """The deployed Membership contract, checked against the ABI this project builds."""
    from brownie import Membership

    try:
        deployment = load_deployment(network_name, script_deployments())
    except FileNotFoundError:
        sys.exit(f"onboard: no {script_deployments() / network_name}.json; deploy first with "
                 f"`brownie run scripts/deploy.py --network {network_name}`")
    entry = deployment.contracts["Membership"]
    if entry["abi_hash"] != abi_hash(Membership.abi):
        sys.exit(f"onboard: {script_deployments() / network_name}.json records another Membership ABI than this checkout "
                 "builds; check out the deployed version or redeploy")
    return Membership.at(entry["address"]), deployment.start_block


def main(path: str, mode: str = "apply") -> None:
    if mode not in ("apply", "plan"):
        sys.exit(f"onboard: unknown mode '{mode}'; use `main <file>` to onboard or `main <file> plan` to preview")
    name = network.show_active()
    local = is_local_network()
    try:
        members = load_members(path)
    except InvalidMembers as exc:
        _refuse(path, exc)
    membership, start_block = membership_at(name)
    signer = brand_admin(local)
    dev_accounts = [a.address for a in accounts] if local else None
    print(f"onboard: {path} on {name} (chain id {web3.eth.chain_id}), signed by {signer.address}; "
          f"{len(members.organisations)} organisations, {len(members.locations)} locations, "
          f"{len(members.accounts)} accounts in the file")
    try:
        onboard(members, membership, signer, start_block=start_block, dev_accounts=dev_accounts,
                dry_run=mode == "plan")
    except InvalidMembers as exc:
        _refuse(path, exc)


def _refuse(path: str, exc: InvalidMembers) -> None:
    for problem in exc.problems:
        print(f"{path}: {problem}", file=sys.stderr)
    sys.exit(f"onboard: {len(exc.problems)} problem(s) in {path}; nothing was sent")
