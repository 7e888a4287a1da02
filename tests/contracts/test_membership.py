"""Membership: who is in the baijiu network and what each account may do.

Covers every function of `Membership.sol` on its own terms: the shape of the organisation tree (regions
and warehouses under the brand, distributors and stores under a region, carriers and auditors on their
own), the regions locations inherit, opening and closing locations, which roles each organisation kind
may hold, the guards that keep at least one admin, deactivation taking effect in other contracts at once,
and the `authorise` / `authoriseAt` / `activeLocation` checks every other contract relies on. Which role
may call which function of the other contracts is `test_permissions.py`'s job.
"""

import brownie
import pytest
from brownie import ZERO_ADDRESS, Membership

from conftest import KIND, ROLE, ROLES_ALLOWED_FOR, revert_message

ALL_ROLES = (1 << 9) - 1
UNKNOWN = 99


def org_id(net, name):
    """The id of the organisation `name` in the fixture network; None reads as no parent."""
    return {None: 0, "unknown": UNKNOWN}[name] if name in (None, "unknown") else getattr(net.org, name)


def org_of_kind(net, kind):
    return {
        KIND.BRAND: net.org.brand, KIND.REGION: net.org.east, KIND.WAREHOUSE: net.org.wh_shanghai,
        KIND.DISTRIBUTOR: net.org.dist_a, KIND.STORE: net.org.store_a, KIND.CARRIER: net.org.carrier,
        KIND.AUDITOR: net.org.auditor,
    }[kind]


@pytest.fixture
def admin(net):
    return {"from": net.acct.admin}


# ------------------------------------------------------------------ deployment


def test_deployment_makes_the_brand_organisation_one_and_its_first_admin(net):
    m = Membership.deploy(net.acct.outsider, "Maotai Test Co.", {"from": net.acct.admin})
    assert m.BRAND() == 1 and m.VERSION() == "1.0.0"
    assert m.organisationCount() == 1 and m.locationCount() == 0
    assert tuple(m.organisations(1)) == (KIND.BRAND, 0, 0)
    assert tuple(m.accounts(net.acct.outsider)) == (1, ROLE.ADMIN, True)
    registered, account_set = m.tx.events["OrganisationRegistered"], m.tx.events["AccountSet"]
    assert (registered["org"], registered["kind"], registered["name"], registered["code"]) == (
        1, KIND.BRAND, "Maotai Test Co.", "BRAND")
    assert (account_set["account"], account_set["org"], account_set["roles"]) == (net.acct.outsider, 1, ROLE.ADMIN)
    # The deployer is not a member unless it named itself admin.
    with brownie.reverts(revert_message("NotAMember", net.acct.admin)):
        m.authorise(net.acct.admin, ROLE.ADMIN, 1)


def test_deployment_refuses_a_zero_admin(net):
    with brownie.reverts(revert_message("ZeroAddress")):
        Membership.deploy(ZERO_ADDRESS, "Nobody Co.", {"from": net.acct.admin})


# ------------------------------------------------------------------ registerOrganisation


@pytest.mark.parametrize("kind, parent_name", [
    (KIND.REGION, "brand"), (KIND.WAREHOUSE, "brand"), (KIND.DISTRIBUTOR, "east"), (KIND.STORE, "north"),
    (KIND.CARRIER, None), (KIND.AUDITOR, None),
])
def test_an_organisation_registers_under_the_parent_its_kind_requires(net, admin, kind, parent_name):
    parent = org_id(net, parent_name)
    before = net.membership.organisationCount()
    tx = net.membership.registerOrganisation(kind, parent, 3, "Chengdu Liquor", "CDL", admin)
    assert tx.return_value == before + 1
    assert net.membership.organisationCount() == before + 1
    assert tuple(net.membership.organisations(tx.return_value)) == (kind, parent, 3)
    event = tx.events["OrganisationRegistered"]
    assert (event["org"], event["kind"], event["parent"], event["priceTier"], event["name"], event["code"]) == (
        tx.return_value, kind, parent, 3, "Chengdu Liquor", "CDL")


@pytest.mark.parametrize("kind", [KIND.NONE, KIND.BRAND])
def test_there_is_only_one_brand_and_no_organisation_without_a_kind(net, admin, kind):
    with brownie.reverts(revert_message("InvalidKind", kind)):
        net.membership.registerOrganisation(kind, 1, 0, "Second Brand", "B2", admin)


def test_a_kind_outside_the_enum_is_refused(net, admin):
    with brownie.reverts():
        net.membership.registerOrganisation(KIND.AUDITOR + 1, 0, 0, "Mystery", "M", admin)
    assert net.membership.organisationCount() == net.org.auditor


@pytest.mark.parametrize("kind, parent_name", [
    (KIND.REGION, "east"), (KIND.REGION, None), (KIND.WAREHOUSE, "east"), (KIND.WAREHOUSE, None),
    (KIND.DISTRIBUTOR, "brand"), (KIND.DISTRIBUTOR, "wh_shanghai"), (KIND.DISTRIBUTOR, "dist_a"),
    (KIND.DISTRIBUTOR, None), (KIND.STORE, "dist_a"), (KIND.STORE, "brand"), (KIND.STORE, "unknown"),
    (KIND.CARRIER, "brand"), (KIND.AUDITOR, "east"),
])
def test_an_organisation_under_the_wrong_parent_is_refused(net, admin, kind, parent_name):
    parent = org_id(net, parent_name)
    with brownie.reverts(revert_message("InvalidParent", kind, parent)):
        net.membership.registerOrganisation(kind, parent, 0, "Misplaced", "MIS", admin)


def test_only_a_brand_admin_registers_organisations(net):
    with brownie.reverts(revert_message("MissingRole", net.acct.sales_director, ROLE.ADMIN)):
        net.membership.registerOrganisation(KIND.REGION, 1, 0, "South China", "S", {"from": net.acct.sales_director})
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.membership.registerOrganisation(KIND.REGION, 1, 0, "South China", "S", {"from": net.acct.outsider})


# ------------------------------------------------------------------ setPriceTier


def test_a_distributor_moves_to_another_price_tier(net, admin):
    tx = net.membership.setPriceTier(net.org.dist_a, 2, admin)
    assert tuple(net.membership.organisations(net.org.dist_a)) == (KIND.DISTRIBUTOR, net.org.east, 2)
    assert (tx.events["PriceTierSet"]["org"], tx.events["PriceTierSet"]["priceTier"]) == (net.org.dist_a, 2)


def test_an_unknown_organisation_has_no_price_tier_to_set(net, admin):
    with brownie.reverts(revert_message("UnknownOrganisation", UNKNOWN)):
        net.membership.setPriceTier(UNKNOWN, 2, admin)


@pytest.mark.parametrize("org_name, kind", [
    ("brand", KIND.BRAND), ("east", KIND.REGION), ("wh_beijing", KIND.WAREHOUSE), ("carrier", KIND.CARRIER),
])
def test_only_distributors_and_stores_have_a_price_tier_to_set(net, admin, org_name, kind):
    # Price tiers decide what a buyer pays; brand sites, regions and carriers never buy.
    with brownie.reverts(revert_message("InvalidKind", kind)):
        net.membership.setPriceTier(getattr(net.org, org_name), 2, admin)


def test_only_a_brand_admin_sets_price_tiers(net):
    # Finance grants credit but must not be able to hand a distributor a cheaper price list.
    with brownie.reverts(revert_message("MissingRole", net.acct.finance, ROLE.ADMIN)):
        net.membership.setPriceTier(net.org.dist_a, 2, {"from": net.acct.finance})


# ------------------------------------------------------------------ registerLocation


@pytest.mark.parametrize("org_name, kind, region_name", [
    ("brand", KIND.BRAND, None), ("east", KIND.REGION, "east"), ("wh_beijing", KIND.WAREHOUSE, None),
    ("dist_n", KIND.DISTRIBUTOR, "north"), ("store_a", KIND.STORE, "east"),
])
def test_a_location_takes_its_region_from_the_organisation_that_runs_it(net, admin, org_name, kind, region_name):
    org = getattr(net.org, org_name)
    region = org_id(net, region_name)
    before = net.membership.locationCount()
    tx = net.membership.registerLocation(org, "Second site", "6901234000017", admin)
    assert tx.return_value == before + 1 == net.membership.locationCount()
    assert tuple(net.membership.locations(tx.return_value)) == (org, region, kind, True)
    event = tx.events["LocationRegistered"]
    assert (event["location"], event["org"], event["region"], event["kind"], event["name"], event["gln"]) == (
        tx.return_value, org, region, kind, "Second site", "6901234000017")


def test_a_location_for_an_unknown_organisation_is_refused(net, admin):
    with brownie.reverts(revert_message("UnknownOrganisation", UNKNOWN)):
        net.membership.registerLocation(UNKNOWN, "Nowhere", "", admin)


@pytest.mark.parametrize("org_name, kind", [("carrier", KIND.CARRIER), ("auditor", KIND.AUDITOR)])
def test_carriers_and_auditors_hold_no_stock_and_so_have_no_locations(net, admin, org_name, kind):
    with brownie.reverts(revert_message("InvalidKind", kind)):
        net.membership.registerLocation(getattr(net.org, org_name), "Depot", "", admin)


def test_only_a_brand_admin_registers_locations(net):
    with brownie.reverts(revert_message("MissingRole", net.acct.dist_a_purchaser, ROLE.ADMIN)):
        net.membership.registerLocation(net.org.dist_a, "Back room", "", {"from": net.acct.dist_a_purchaser})


# ------------------------------------------------------------------ setLocationActive


def test_a_closed_location_fails_every_check_until_it_reopens(net, admin):
    location = net.loc.dist_a
    tx = net.membership.setLocationActive(location, False, admin)
    assert (tx.events["LocationActiveSet"]["location"], tx.events["LocationActiveSet"]["active"]) == (location, False)
    assert net.membership.locations(location)["active"] is False
    with brownie.reverts(revert_message("LocationInactive", location)):
        net.membership.activeLocation(location)
    with brownie.reverts(revert_message("LocationInactive", location)):
        net.membership.authoriseAt(net.acct.dist_a_purchaser, ROLE.RECEIVER, location)

    tx = net.membership.setLocationActive(location, True, admin)
    assert tx.events["LocationActiveSet"]["active"] is True
    assert tuple(net.membership.activeLocation(location)) == (net.org.dist_a, net.org.east, KIND.DISTRIBUTOR, True)


def test_an_unknown_location_cannot_be_opened_or_closed(net, admin):
    with brownie.reverts(revert_message("UnknownLocation", UNKNOWN)):
        net.membership.setLocationActive(UNKNOWN, False, admin)


def test_only_a_brand_admin_closes_locations(net):
    # A distributor closing its own site would stop deliveries it has already been sent.
    with brownie.reverts(revert_message("MissingRole", net.acct.dist_a_purchaser, ROLE.ADMIN)):
        net.membership.setLocationActive(net.loc.dist_a, False, {"from": net.acct.dist_a_purchaser})


# ------------------------------------------------------------------ setAccount


def test_an_account_joins_an_organisation_with_exactly_the_roles_granted(net, admin):
    who = net.acct.outsider
    tx = net.membership.setAccount(who, net.org.dist_b, ROLE.PURCHASER | ROLE.RECEIVER, "Suzhou buyer", admin)
    assert tuple(net.membership.accounts(who)) == (net.org.dist_b, ROLE.PURCHASER | ROLE.RECEIVER, True)
    event = tx.events["AccountSet"]
    assert (event["account"], event["org"], event["roles"], event["name"]) == (
        who, net.org.dist_b, ROLE.PURCHASER | ROLE.RECEIVER, "Suzhou buyer")
    net.membership.authorise(who, ROLE.PURCHASER, net.org.dist_b)


def test_setting_an_account_again_replaces_its_roles_and_organisation(net, admin):
    who = net.acct.dist_a_purchaser
    net.membership.setAccount(who, net.org.dist_n, ROLE.RECEIVER, "moved to Tianjin", admin)
    assert tuple(net.membership.accounts(who)) == (net.org.dist_n, ROLE.RECEIVER, True)
    # Roles are replaced, not added to: the old purchaser role and the old organisation are gone.
    with brownie.reverts(revert_message("MissingRole", who, ROLE.PURCHASER)):
        net.membership.authorise(who, ROLE.PURCHASER, net.org.dist_n)
    with brownie.reverts(revert_message("WrongOrganisation", who, net.org.dist_a)):
        net.membership.authorise(who, ROLE.RECEIVER, net.org.dist_a)


def test_setting_a_deactivated_account_reactivates_it(net, admin):
    who = net.acct.store_a_staff
    net.membership.deactivateAccount(who, admin)
    tx = net.membership.setAccount(who, net.org.store_a, ROLE.RECEIVER, "back from leave", admin)
    assert tuple(net.membership.accounts(who)) == (net.org.store_a, ROLE.RECEIVER, True)
    assert tx.events["AccountSet"]["roles"] == ROLE.RECEIVER
    net.membership.authorise(who, ROLE.RECEIVER, net.org.store_a)


def test_a_second_brand_admin_can_be_appointed_and_then_administers(net, admin):
    net.membership.setAccount(net.acct.outsider, net.org.brand, ROLE.ADMIN, "deputy admin", admin)
    tx = net.membership.setPriceTier(net.org.store_n, 1, {"from": net.acct.outsider})
    assert tx.events["PriceTierSet"]["priceTier"] == 1


@pytest.mark.parametrize("kind", sorted(ROLES_ALLOWED_FOR))
def test_each_organisation_kind_may_hold_all_of_its_allowed_roles_at_once(net, admin, kind):
    org = org_of_kind(net, kind)
    net.membership.setAccount(net.acct.outsider, org, ROLES_ALLOWED_FOR[kind], "everything allowed", admin)
    assert tuple(net.membership.accounts(net.acct.outsider)) == (org, ROLES_ALLOWED_FOR[kind], True)


@pytest.mark.parametrize("kind", sorted(ROLES_ALLOWED_FOR))
def test_each_organisation_kind_is_refused_every_role_outside_its_set(net, admin, kind):
    org = org_of_kind(net, kind)
    for role in (1 << bit for bit in range(10)):
        if role & ROLES_ALLOWED_FOR[kind]:
            continue
        # Mixed with an allowed role, a forbidden one still spoils the whole grant.
        roles = role | (ROLES_ALLOWED_FOR[kind] & -ROLES_ALLOWED_FOR[kind])
        with brownie.reverts(revert_message("RolesNotAllowed", kind, roles)):
            net.membership.setAccount(net.acct.outsider, org, roles, "too much", admin)
    assert tuple(net.membership.accounts(net.acct.outsider)) == (0, 0, False)


def test_a_distributor_cannot_be_given_an_approval_stage(net, admin):
    for role in (ROLE.REGION_MANAGER, ROLE.SALES_DIRECTOR, ROLE.FINANCE, ROLE.ADMIN):
        with brownie.reverts(revert_message("RolesNotAllowed", KIND.DISTRIBUTOR, role)):
            net.membership.setAccount(net.acct.dist_a_purchaser, net.org.dist_a, role, "self-approver", admin)


def test_an_account_needs_at_least_one_role(net, admin):
    with brownie.reverts(revert_message("RolesNotAllowed", KIND.STORE, 0)):
        net.membership.setAccount(net.acct.outsider, net.org.store_a, 0, "no roles", admin)


def test_an_account_in_an_unknown_organisation_is_refused(net, admin):
    with brownie.reverts(revert_message("UnknownOrganisation", UNKNOWN)):
        net.membership.setAccount(net.acct.outsider, UNKNOWN, ROLE.RECEIVER, "ghost", admin)


def test_the_zero_address_cannot_be_an_account(net, admin):
    with brownie.reverts(revert_message("ZeroAddress")):
        net.membership.setAccount(ZERO_ADDRESS, net.org.store_a, ROLE.RECEIVER, "nobody", admin)


def test_an_admin_cannot_drop_its_own_admin_role(net, admin):
    with brownie.reverts(revert_message("CannotDropOwnAdmin", net.acct.admin)):
        net.membership.setAccount(net.acct.admin, net.org.brand, ROLE.SALES_DIRECTOR, "demoted", admin)
    assert tuple(net.membership.accounts(net.acct.admin)) == (net.org.brand, ROLE.ADMIN, True)


def test_an_admin_cannot_move_itself_out_of_the_brand(net, admin):
    # Even with the admin bit set: outside the brand it would no longer administer anything.
    for org in (net.org.east, UNKNOWN):
        with brownie.reverts(revert_message("CannotDropOwnAdmin", net.acct.admin)):
            net.membership.setAccount(net.acct.admin, org, ROLE.ADMIN, "moved", admin)


def test_an_admin_may_add_roles_to_itself_while_keeping_admin(net, admin):
    roles = ROLE.ADMIN | ROLE.SALES_DIRECTOR
    tx = net.membership.setAccount(net.acct.admin, net.org.brand, roles, "admin and director", admin)
    assert tuple(net.membership.accounts(net.acct.admin)) == (net.org.brand, roles, True)
    assert tx.events["AccountSet"]["roles"] == roles


def test_another_admin_may_take_away_an_admins_role(net, admin):
    deputy = {"from": net.acct.outsider}
    net.membership.setAccount(net.acct.outsider, net.org.brand, ROLE.ADMIN, "deputy admin", admin)
    net.membership.setAccount(net.acct.admin, net.org.brand, ROLE.FINANCE, "retired admin", deputy)
    assert tuple(net.membership.accounts(net.acct.admin)) == (net.org.brand, ROLE.FINANCE, True)
    with brownie.reverts(revert_message("MissingRole", net.acct.admin, ROLE.ADMIN)):
        net.membership.setPriceTier(net.org.dist_a, 1, admin)


def test_only_a_brand_admin_sets_accounts(net):
    # A distributor must not be able to enrol staff, let alone grant itself more roles.
    who = net.acct.dist_a_purchaser
    with brownie.reverts(revert_message("MissingRole", who, ROLE.ADMIN)):
        net.membership.setAccount(net.acct.outsider, net.org.dist_a, ROLE.RECEIVER, "new hire", {"from": who})


# ------------------------------------------------------------------ deactivateAccount


def test_a_deactivated_account_loses_access_everywhere_at_once(net, admin):
    who = net.acct.sales_director
    tx = net.membership.deactivateAccount(who, admin)
    event = tx.events["AccountDeactivated"]
    assert (event["account"], event["org"]) == (who, net.org.brand)
    # Org and roles are kept for the record; only the active flag goes.
    assert tuple(net.membership.accounts(who)) == (net.org.brand, ROLE.SALES_DIRECTOR, False)
    with brownie.reverts(revert_message("NotAMember", who)):
        net.membership.authorise(who, ROLE.SALES_DIRECTOR, net.org.brand)
    # The catalog asks Membership on every call, so the director can no longer set prices there.
    with brownie.reverts(revert_message("NotAMember", who)):
        net.catalog.setPrices([(1, 0, 950_000)], {"from": who})
    assert net.catalog.priceOf(1, 0) == 900_000


def test_a_deactivated_admin_can_no_longer_administer(net, admin):
    net.membership.setAccount(net.acct.outsider, net.org.brand, ROLE.ADMIN, "deputy admin", admin)
    net.membership.deactivateAccount(net.acct.outsider, admin)
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.membership.registerOrganisation(KIND.REGION, 1, 0, "South China", "S", {"from": net.acct.outsider})


def test_an_admin_cannot_deactivate_itself(net, admin):
    with brownie.reverts(revert_message("CannotDeactivateSelf", net.acct.admin)):
        net.membership.deactivateAccount(net.acct.admin, admin)
    assert net.membership.accounts(net.acct.admin)["active"] is True


def test_an_unknown_or_already_deactivated_account_cannot_be_deactivated(net, admin):
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.membership.deactivateAccount(net.acct.outsider, admin)
    net.membership.deactivateAccount(net.acct.courier, admin)
    with brownie.reverts(revert_message("NotAMember", net.acct.courier)):
        net.membership.deactivateAccount(net.acct.courier, admin)


def test_only_a_brand_admin_deactivates_accounts(net):
    with brownie.reverts(revert_message("MissingRole", net.acct.rm_east, ROLE.ADMIN)):
        net.membership.deactivateAccount(net.acct.dist_a_purchaser, {"from": net.acct.rm_east})


# ------------------------------------------------------------------ authorise, authoriseAt, activeLocation


def test_authorise_passes_a_member_holding_any_one_of_the_roles_asked_for(net):
    # The carrier's courier dispatches; asking for "dispatcher or receiver" must let it through.
    net.membership.authorise(net.acct.courier, ROLE.DISPATCHER | ROLE.RECEIVER, net.org.carrier)
    net.membership.authorise(net.acct.auditor, ROLE.AUDITOR, net.org.auditor)


def test_authorise_refuses_strangers_missing_roles_and_other_organisations_in_that_order(net):
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.membership.authorise(net.acct.outsider, ALL_ROLES, net.org.brand)
    with brownie.reverts(revert_message("MissingRole", net.acct.rm_east, ROLE.FINANCE)):
        net.membership.authorise(net.acct.rm_east, ROLE.FINANCE, net.org.north)
    # East's manager holds the role, but for the wrong region.
    with brownie.reverts(revert_message("WrongOrganisation", net.acct.rm_east, net.org.north)):
        net.membership.authorise(net.acct.rm_east, ROLE.REGION_MANAGER, net.org.north)


def test_authorise_at_returns_the_location_for_its_own_staff(net):
    assert tuple(net.membership.authoriseAt(net.acct.store_n_staff, ROLE.RECEIVER, net.loc.store_n)) == (
        net.org.store_n, net.org.north, KIND.STORE, True)


def test_authorise_at_refuses_staff_of_another_organisation_at_the_location(net):
    # Suzhou's staff receiving into Hangzhou's stock room is how diverted goods get laundered.
    who = net.acct.dist_b_purchaser
    with brownie.reverts(revert_message("WrongOrganisation", who, net.org.dist_a)):
        net.membership.authoriseAt(who, ROLE.RECEIVER, net.loc.dist_a)


def test_authorise_at_refuses_unknown_locations_strangers_and_missing_roles(net):
    with brownie.reverts(revert_message("UnknownLocation", UNKNOWN)):
        net.membership.authoriseAt(net.acct.store_a_staff, ROLE.RECEIVER, UNKNOWN)
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.membership.authoriseAt(net.acct.outsider, ROLE.RECEIVER, net.loc.store_a)
    with brownie.reverts(revert_message("MissingRole", net.acct.store_a_staff, ROLE.DISPATCHER)):
        net.membership.authoriseAt(net.acct.store_a_staff, ROLE.DISPATCHER, net.loc.store_a)


def test_authorise_at_refuses_a_deactivated_account(net, admin):
    net.membership.deactivateAccount(net.acct.wh_beijing_staff, admin)
    with brownie.reverts(revert_message("NotAMember", net.acct.wh_beijing_staff)):
        net.membership.authoriseAt(net.acct.wh_beijing_staff, ROLE.DISPATCHER, net.loc.wh_beijing)


def test_active_location_returns_an_open_location_and_refuses_unknown_ones(net):
    assert tuple(net.membership.activeLocation(net.loc.east_center)) == (net.org.east, net.org.east, KIND.REGION, True)
    for location in (0, UNKNOWN):
        with brownie.reverts(revert_message("UnknownLocation", location)):
            net.membership.activeLocation(location)


def test_unknown_ids_read_as_empty_records(net):
    assert tuple(net.membership.organisations(UNKNOWN)) == (KIND.NONE, 0, 0)
    assert tuple(net.membership.locations(UNKNOWN)) == (0, 0, KIND.NONE, False)
    assert tuple(net.membership.accounts(net.acct.outsider)) == (0, 0, False)
