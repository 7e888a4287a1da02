// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BRAND_ORG, OrgKind, Roles, Organisation, Location, Account} from "./lib/LedgerTypes.sol";

/// @title Membership registry of the baijiu distribution network
/// @notice Who is in the network and what each account may do. Organisations form a shallow tree: the
/// brand at the top, regions and warehouses under it, distributors and stores under their region.
/// Locations are the places where stock lies; each belongs to one organisation and one region.
/// Accounts hold roles inside exactly one organisation. Every other ledger contract asks this one
/// whether a caller may act, so deactivating an account here takes effect everywhere at once.
contract Membership {
    uint32 public constant BRAND = BRAND_ORG;
    string public constant VERSION = "1.0.0";

    mapping(uint32 orgId => Organisation) private _organisations;
    mapping(uint32 locationId => Location) private _locations;
    mapping(address account => Account) private _accounts;
    uint32 public organisationCount;
    uint32 public locationCount;

    /// @notice `account` is unknown or deactivated.
    error NotAMember(address account);
    /// @notice `account` holds none of the roles in `anyOf`.
    error MissingRole(address account, uint16 anyOf);
    /// @notice `account` belongs to another organisation than `expectedOrg`.
    error WrongOrganisation(address account, uint32 expectedOrg);
    error UnknownOrganisation(uint32 org);
    error UnknownLocation(uint32 location);
    error LocationInactive(uint32 location);
    /// @notice An organisation of `kind` cannot sit under `parent`.
    error InvalidParent(OrgKind kind, uint32 parent);
    error InvalidKind(OrgKind kind);
    /// @notice Organisations of `kind` may not hold `roles` (or `roles` is empty).
    error RolesNotAllowed(OrgKind kind, uint16 roles);
    error CannotDeactivateSelf(address account);
    error CannotDropOwnAdmin(address account);
    error ZeroAddress();

    event OrganisationRegistered(
        uint32 indexed org, OrgKind kind, uint32 indexed parent, uint8 priceTier, string name, string code
    );
    event PriceTierSet(uint32 indexed org, uint8 priceTier);
    event LocationRegistered(
        uint32 indexed location, uint32 indexed org, uint32 indexed region, OrgKind kind, string name, string gln
    );
    event LocationActiveSet(uint32 indexed location, bool active);
    event AccountSet(address indexed account, uint32 indexed org, uint16 roles, string name);
    event AccountDeactivated(address indexed account, uint32 indexed org);

    /// @param admin The brand's first administrator.
    /// @param brandName Display name of the brand.
    constructor(address admin, string memory brandName) {
        if (admin == address(0)) revert ZeroAddress();
        organisationCount = BRAND;
        _organisations[BRAND] = Organisation(OrgKind.Brand, 0, 0);
        emit OrganisationRegistered(BRAND, OrgKind.Brand, 0, 0, brandName, "BRAND");
        _accounts[admin] = Account(BRAND, Roles.ADMIN, true);
        emit AccountSet(admin, BRAND, Roles.ADMIN, "brand admin");
    }

    modifier onlyAdmin() {
        authorise(msg.sender, Roles.ADMIN, BRAND);
        _;
    }

    // ------------------------------------------------------------------ registration

    /// @notice Adds an organisation to the network.
    /// Requirements: caller is a brand admin; regions and warehouses sit under the brand, distributors
    /// and stores under a region, carriers and auditors under nothing (parent 0).
    /// Emits an {OrganisationRegistered} event.
    function registerOrganisation(OrgKind kind, uint32 parent, uint8 priceTier, string calldata name, string calldata code)
        external
        onlyAdmin
        returns (uint32 org)
    {
        if (kind == OrgKind.None || kind == OrgKind.Brand) revert InvalidKind(kind);
        OrgKind parentKind = _organisations[parent].kind;
        bool parentOk;
        if (kind == OrgKind.Region || kind == OrgKind.Warehouse) parentOk = parent == BRAND;
        else if (kind == OrgKind.Distributor || kind == OrgKind.Store) parentOk = parentKind == OrgKind.Region;
        else parentOk = parent == 0;
        if (!parentOk) revert InvalidParent(kind, parent);
        org = ++organisationCount;
        _organisations[org] = Organisation(kind, parent, priceTier);
        emit OrganisationRegistered(org, kind, parent, priceTier, name, code);
    }

    /// @notice Moves a distributor or store to another price tier.
    /// Requirements: caller is a brand admin; `org` is a distributor or a store.
    /// Emits a {PriceTierSet} event.
    function setPriceTier(uint32 org, uint8 priceTier) external onlyAdmin {
        OrgKind kind = _organisations[org].kind;
        if (kind == OrgKind.None) revert UnknownOrganisation(org);
        if (kind != OrgKind.Distributor && kind != OrgKind.Store) revert InvalidKind(kind);
        _organisations[org].priceTier = priceTier;
        emit PriceTierSet(org, priceTier);
    }

    /// @notice Adds a place where stock can lie. Its region is the organisation's own region; brand
    /// and warehouse locations are national (region 0).
    /// Requirements: caller is a brand admin; `org` exists and is not a carrier or an auditor.
    /// Emits a {LocationRegistered} event.
    function registerLocation(uint32 org, string calldata name, string calldata gln)
        external
        onlyAdmin
        returns (uint32 location)
    {
        Organisation memory o = _organisations[org];
        if (o.kind == OrgKind.None) revert UnknownOrganisation(org);
        if (o.kind == OrgKind.Carrier || o.kind == OrgKind.Auditor) revert InvalidKind(o.kind);
        uint32 region;
        if (o.kind == OrgKind.Region) region = org;
        else if (o.kind == OrgKind.Distributor || o.kind == OrgKind.Store) region = o.parent;
        location = ++locationCount;
        _locations[location] = Location(org, region, o.kind, true);
        emit LocationRegistered(location, org, region, o.kind, name, gln);
    }

    /// @notice Opens or closes a location. A closed location can neither ship nor receive.
    /// Requirements: caller is a brand admin; the location exists.
    /// Emits a {LocationActiveSet} event.
    function setLocationActive(uint32 location, bool active) external onlyAdmin {
        if (_locations[location].org == 0) revert UnknownLocation(location);
        _locations[location].active = active;
        emit LocationActiveSet(location, active);
    }

    /// @notice Grants `account` exactly `roles` inside `org`, replacing what it held, and activates it.
    /// Requirements: caller is a brand admin; `org` exists; `roles` is non-empty and allowed for the
    /// organisation's kind; an admin cannot take away its own admin role (the network would risk
    /// having no admin left).
    /// Emits an {AccountSet} event.
    function setAccount(address account, uint32 org, uint16 roles, string calldata name) external onlyAdmin {
        if (account == address(0)) revert ZeroAddress();
        if (account == msg.sender && (org != BRAND || roles & Roles.ADMIN == 0)) revert CannotDropOwnAdmin(account);
        OrgKind kind = _organisations[org].kind;
        if (kind == OrgKind.None) revert UnknownOrganisation(org);
        if (roles == 0 || roles & ~Roles.allowedFor(kind) != 0) revert RolesNotAllowed(kind, roles);
        _accounts[account] = Account(org, roles, true);
        emit AccountSet(account, org, roles, name);
    }

    /// @notice Deactivates `account`: every ledger contract refuses it from the next block on.
    /// Requirements: caller is a brand admin other than `account`; `account` is active.
    /// Emits an {AccountDeactivated} event.
    function deactivateAccount(address account) external onlyAdmin {
        if (account == msg.sender) revert CannotDeactivateSelf(account);
        Account storage a = _accounts[account];
        if (!a.active) revert NotAMember(account);
        a.active = false;
        emit AccountDeactivated(account, a.org);
    }

    // ------------------------------------------------------------------ checks for other contracts

    /// @notice Reverts unless `account` is active, holds one of `anyOf` and belongs to `org`.
    function authorise(address account, uint16 anyOf, uint32 org) public view {
        Account memory a = _accounts[account];
        if (!a.active) revert NotAMember(account);
        if (a.roles & anyOf == 0) revert MissingRole(account, anyOf);
        if (a.org != org) revert WrongOrganisation(account, org);
    }

    /// @notice Reverts unless `account` is active, holds one of `anyOf` and belongs to the
    /// organisation that runs the active `location`; returns the location.
    function authoriseAt(address account, uint16 anyOf, uint32 location) external view returns (Location memory l) {
        l = activeLocation(location);
        authorise(account, anyOf, l.org);
    }

    /// @notice The active location `location`; reverts if it is unknown or closed.
    function activeLocation(uint32 location) public view returns (Location memory l) {
        l = _locations[location];
        if (l.org == 0) revert UnknownLocation(location);
        if (!l.active) revert LocationInactive(location);
    }

    function organisations(uint32 org) external view returns (Organisation memory) {
        return _organisations[org];
    }

    function locations(uint32 locationId) external view returns (Location memory) {
        return _locations[locationId];
    }

    function accounts(address who) external view returns (Account memory) {
        return _accounts[who];
    }
}
