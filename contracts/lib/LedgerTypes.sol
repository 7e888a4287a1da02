// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// The ledger's shared vocabulary: Organisation kinds, account roles, approval stages and the lot identifier shared by every
// ledger contract. Roles are bit flags so one account can hold several (a small distributor's owner
// both orders and receives), and one storage slot answers every permission question about it.

// The brand is always organisation 1.
uint32 constant BRAND_ORG = 1;

/// @notice What an organisation is in the distribution network.
enum OrgKind {
    None,
    Brand,
    Region,
    Warehouse,
    Distributor,
    Store,
    Carrier,
    Auditor
}

/// @notice A member organisation. Distributors and stores sit under a region; `priceTier` picks their
/// price list.
struct Organisation {
    OrgKind kind;
    uint32 parent;
    uint8 priceTier;
}

/// @notice A place where stock lies, run by `org`, in `region` (0 for national brand sites).
struct Location {
    uint32 org;
    uint32 region;
    OrgKind kind;
    bool active;
}

/// @notice An account's membership: one organisation, a set of roles, and whether it may act.
struct Account {
    uint32 org;
    uint16 roles;
    bool active;
}

/// @notice Ownership of the stock at a location, as distinct from custody.
library Locations {
    /// @notice The organisation that owns the stock at `l`: the brand for its own regional centres and
    /// warehouses, otherwise the organisation that runs the location.
    function ownerOf(Location memory l) internal pure returns (uint32) {
        return (l.kind == OrgKind.Region || l.kind == OrgKind.Warehouse) ? BRAND_ORG : l.org;
    }

    /// @notice True for the brand's own sites: head office, regional centres and warehouses.
    function isBrands(Location memory l) internal pure returns (bool) {
        return ownerOf(l) == BRAND_ORG;
    }
}

/// @notice Account roles, as bit flags. A role is always held within one organisation.
library Roles {
    uint16 internal constant ADMIN = 1 << 0;
    uint16 internal constant REGION_MANAGER = 1 << 1;
    uint16 internal constant SALES_DIRECTOR = 1 << 2;
    uint16 internal constant FINANCE = 1 << 3;
    uint16 internal constant DISPATCHER = 1 << 4;
    uint16 internal constant RECEIVER = 1 << 5;
    uint16 internal constant STORE_STAFF = 1 << 6;
    uint16 internal constant AUDITOR = 1 << 7;
    uint16 internal constant PURCHASER = 1 << 8;
    uint16 internal constant ALL = (1 << 9) - 1;

    /// @notice The roles an account of an organisation of `kind` may hold. Brand-wide authority
    /// (admin, sales director, finance) exists only inside the brand, so no distributor can
    /// grant itself an approval stage.
    function allowedFor(OrgKind kind) internal pure returns (uint16) {
        if (kind == OrgKind.Brand) return ADMIN | SALES_DIRECTOR | FINANCE | DISPATCHER | RECEIVER;
        if (kind == OrgKind.Region) return REGION_MANAGER | DISPATCHER | RECEIVER;
        if (kind == OrgKind.Warehouse) return DISPATCHER | RECEIVER;
        if (kind == OrgKind.Distributor) return PURCHASER | DISPATCHER | RECEIVER;
        if (kind == OrgKind.Store) return STORE_STAFF | RECEIVER;
        if (kind == OrgKind.Carrier) return DISPATCHER;
        if (kind == OrgKind.Auditor) return AUDITOR;
        return 0;
    }
}

/// @notice Order approval stages, as bit flags. Their numeric order is the normal sequence.
library Stages {
    uint8 internal constant REGION_MANAGER = 1 << 0;
    uint8 internal constant SALES_DIRECTOR = 1 << 1;
    uint8 internal constant FINANCE = 1 << 2;
    uint8 internal constant ALL = (1 << 3) - 1;
}

/// @notice A lot is named by its SKU and its GS1 lot number (AI 10, at most 20 characters), packed
/// into one uint256: the SKU in bits 160-191, the lot number's bytes below. Anyone can derive the id
/// from a bottle's Digital Link, and the SKU of a lot costs no storage read.
library LotIds {
    /// @notice The lot number is empty, has a gap, or holds a character outside GS1's set.
    error InvalidLotNumber(bytes20 lotNumber);

    function from(uint32 sku, bytes20 lotNumber) internal pure returns (uint256) {
        return (uint256(sku) << 160) | uint256(uint160(lotNumber));
    }

    function skuOf(uint256 lot) internal pure returns (uint32) {
        return uint32(lot >> 160);
    }

    /// @dev Left-aligned printable ASCII (0x21-0x7A covers GS1's CSET 82), zero padded on the right.
    function requireValid(bytes20 lotNumber) internal pure {
        bool ended = false;
        for (uint256 i = 0; i < 20; ++i) {
            uint8 c = uint8(lotNumber[i]);
            if (c == 0) {
                if (i == 0) revert InvalidLotNumber(lotNumber);
                ended = true;
            } else if (ended || c < 0x21 || c > 0x7A) {
                revert InvalidLotNumber(lotNumber);
            }
        }
    }
}

/// @notice GS1 identifiers checked on chain.
library Gtins {
    /// @notice True when `gtin` is a GTIN-14 (at most 14 digits) whose last digit is its GS1 check digit.
    function isValid(uint64 gtin) internal pure returns (bool) {
        if (gtin == 0 || gtin >= 1e14) return false;
        uint256 rest = gtin / 10;
        uint256 sum = 0;
        uint256 weight = 3;
        for (uint256 i = 0; i < 13; ++i) {
            sum += (rest % 10) * weight;
            rest /= 10;
            weight = 4 - weight;
        }
        return (10 - (sum % 10)) % 10 == gtin % 10;
    }
}
