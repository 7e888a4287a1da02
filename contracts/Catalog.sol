// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BRAND_ORG, Roles, Gtins} from "./lib/LedgerTypes.sol";
import {Membership} from "./Membership.sol";

/// @title Catalog: SKUs and their price lists
/// @notice The brand's products and what distributors pay for them. A SKU carries its GTIN-14 (check
/// digit validated here), its bottles per case and the CID of its content (label, AR story). Prices are
/// per case in fen (0.01 yuan), one per SKU and price tier; the history lives in the {PriceSet} events,
/// and a change larger than the alert threshold also emits a {PriceAlert}.
contract Catalog {
    string public constant VERSION = "1.0.0";
    uint16 internal constant BPS = 10_000;

    struct Sku {
        uint64 gtin;
        uint16 bottlesPerCase;
        bool active;
    }

    /// @notice One price change: `price` fen per case of `sku` for distributors in `tier`.
    struct PriceChange {
        uint32 sku;
        uint8 tier;
        uint128 price;
    }

    Membership public immutable membership;
    mapping(uint32 sku => Sku) private _skus;
    mapping(uint64 gtin => uint32 sku) public skuByGtin;
    mapping(uint32 sku => mapping(uint8 tier => uint128 fen)) private _prices;
    uint32 public skuCount;
    /// @notice A price change of more than this many basis points emits a {PriceAlert}.
    uint16 public priceAlertBps = 1_000;

    error InvalidGtin(uint64 gtin);
    error DuplicateGtin(uint64 gtin, uint32 sku);
    error InvalidBottlesPerCase(uint16 bottlesPerCase);
    error UnknownSku(uint32 sku);
    error SkuInactive(uint32 sku);
    error ZeroPrice(uint32 sku, uint8 tier);
    error NoPrice(uint32 sku, uint8 tier);
    error InvalidThreshold(uint16 bps);

    event SkuRegistered(uint32 indexed sku, uint64 indexed gtin, uint16 bottlesPerCase, string name, string contentCid);
    event SkuContentSet(uint32 indexed sku, string contentCid);
    event SkuActiveSet(uint32 indexed sku, bool active);
    event PriceSet(uint32 indexed sku, uint8 indexed tier, uint128 oldPrice, uint128 newPrice, address setBy);
    event PriceAlert(uint32 indexed sku, uint8 indexed tier, uint128 oldPrice, uint128 newPrice, uint256 changeBps);
    event PriceAlertThresholdSet(uint16 bps);

    constructor(Membership membership_) {
        membership = membership_;
    }

    modifier onlyBrand(uint16 role) {
        membership.authorise(msg.sender, role, BRAND_ORG);
        _;
    }

    /// @notice Registers a SKU.
    /// Requirements: caller is a brand admin; `gtin` is a valid, unused GTIN-14; 1-48 bottles per case.
    /// Emits a {SkuRegistered} event.
    function registerSku(uint64 gtin, uint16 bottlesPerCase, string calldata name, string calldata contentCid)
        external
        onlyBrand(Roles.ADMIN)
        returns (uint32 sku)
    {
        if (!Gtins.isValid(gtin)) revert InvalidGtin(gtin);
        if (skuByGtin[gtin] != 0) revert DuplicateGtin(gtin, skuByGtin[gtin]);
        if (bottlesPerCase == 0 || bottlesPerCase > 48) revert InvalidBottlesPerCase(bottlesPerCase);
        sku = ++skuCount;
        _skus[sku] = Sku(gtin, bottlesPerCase, true);
        skuByGtin[gtin] = sku;
        emit SkuRegistered(sku, gtin, bottlesPerCase, name, contentCid);
    }

    /// @notice Points a SKU at new content (label, AR story).
    /// Requirements: caller is a brand admin; the SKU exists.
    /// Emits a {SkuContentSet} event.
    function setSkuContent(uint32 sku, string calldata contentCid) external onlyBrand(Roles.ADMIN) {
        _requireKnown(sku);
        emit SkuContentSet(sku, contentCid);
    }

    /// @notice Lists or delists a SKU. A delisted SKU can be neither ordered nor commissioned.
    /// Requirements: caller is a brand admin; the SKU exists.
    /// Emits a {SkuActiveSet} event.
    function setSkuActive(uint32 sku, bool active) external onlyBrand(Roles.ADMIN) {
        _requireKnown(sku);
        _skus[sku].active = active;
        emit SkuActiveSet(sku, active);
    }

    /// @notice Sets prices, many at once (a price list revision touches hundreds of SKUs).
    /// Requirements: caller is the brand's sales director; each SKU exists; each price is non-zero.
    /// Emits a {PriceSet} event per change, and a {PriceAlert} for each beyond the threshold.
    function setPrices(PriceChange[] calldata changes) external onlyBrand(Roles.SALES_DIRECTOR) {
        uint256 threshold = priceAlertBps;
        for (uint256 i = 0; i < changes.length; ++i) {
            PriceChange calldata c = changes[i];
            _requireKnown(c.sku);
            if (c.price == 0) revert ZeroPrice(c.sku, c.tier);
            uint128 old = _prices[c.sku][c.tier];
            _prices[c.sku][c.tier] = c.price;
            emit PriceSet(c.sku, c.tier, old, c.price, msg.sender);
            if (old != 0) {
                uint256 diff = c.price > old ? c.price - old : old - c.price;
                // Compared unrounded, so a change a fraction of a basis point past the threshold still alerts;
                // the reported change is rounded to the nearest basis point.
                if (diff * BPS > threshold * old) {
                    emit PriceAlert(c.sku, c.tier, old, c.price, (diff * BPS + old / 2) / old);
                }
            }
        }
    }

    /// @notice Sets the price change, in basis points, beyond which a {PriceAlert} is emitted.
    /// Requirements: caller is a brand admin; 1 ≤ bps ≤ 10000.
    /// Emits a {PriceAlertThresholdSet} event.
    function setPriceAlertThreshold(uint16 bps) external onlyBrand(Roles.ADMIN) {
        if (bps == 0 || bps > BPS) revert InvalidThreshold(bps);
        priceAlertBps = bps;
        emit PriceAlertThresholdSet(bps);
    }

    // ------------------------------------------------------------------ views

    function skus(uint32 skuId) external view returns (Sku memory) {
        return _skus[skuId];
    }

    /// @notice The SKU `skuId`, which must exist and be listed.
    function activeSku(uint32 skuId) external view returns (Sku memory s) {
        s = _skus[skuId];
        if (s.gtin == 0) revert UnknownSku(skuId);
        if (!s.active) revert SkuInactive(skuId);
    }

    function priceOf(uint32 skuId, uint8 tier) public view returns (uint128 price) {
        price = _prices[skuId][tier];
        if (price == 0) revert NoPrice(skuId, tier);
    }

    /// @notice The price per case of each of `skuIds` at `tier`; every SKU must be listed and priced.
    function unitPrices(uint32[] calldata skuIds, uint8 tier) external view returns (uint128[] memory prices) {
        prices = new uint128[](skuIds.length);
        for (uint256 i = 0; i < skuIds.length; ++i) {
            Sku memory s = _skus[skuIds[i]];
            if (s.gtin == 0) revert UnknownSku(skuIds[i]);
            if (!s.active) revert SkuInactive(skuIds[i]);
            prices[i] = priceOf(skuIds[i], tier);
        }
    }

    function _requireKnown(uint32 skuId) private view {
        if (_skus[skuId].gtin == 0) revert UnknownSku(skuId);
    }
}
