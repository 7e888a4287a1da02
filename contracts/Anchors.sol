// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BRAND_ORG, Roles} from "./lib/LedgerTypes.sol";
import {Membership} from "./Membership.sol";

/// @title Anchors: Merkle roots of off-chain logs
/// @notice Some records are too many for the chain: every consumer scan, every bottle marked opened.
/// Their logs stay off chain, and once a period (a day, or on demand) the brand anchors the log's Merkle
/// root here with the period and the entry count. Periods of one log kind never overlap, so an anchored
/// day cannot be anchored again with different content: quietly editing scan counts becomes visible.
contract Anchors {
    string public constant VERSION = "1.0.0";

    /// @notice Which off-chain log an anchor commits to.
    enum LogKind {
        ConsumerScans,
        OpenedBottles
    }

    struct Anchor {
        bytes32 merkleRoot;
        LogKind kind;
        uint64 periodStart;
        uint64 periodEnd;
        uint32 entryCount;
    }

    Membership public immutable membership;
    mapping(uint256 anchorId => Anchor) private _anchors;
    mapping(LogKind kind => uint64 periodEnd) public anchoredUntil;
    uint256 public anchorCount;

    error InvalidMerkleRoot();
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);
    /// @notice The period starts before the end of the last anchored period of its kind.
    error PeriodOverlaps(LogKind kind, uint64 periodStart, uint64 anchoredUntil);

    event Anchored(
        uint256 indexed anchorId,
        LogKind indexed kind,
        bytes32 merkleRoot,
        uint64 periodStart,
        uint64 periodEnd,
        uint32 entryCount,
        string contentCid,
        address anchoredBy
    );

    constructor(Membership membership_) {
        membership = membership_;
    }

    /// @notice Anchors the Merkle root of one period of an off-chain log, [periodStart, periodEnd) in
    /// unix seconds. `contentCid` names the log itself in the content store.
    /// Requirements: caller is a brand admin; non-zero root; periodStart < periodEnd ≤ now; the period
    /// starts at or after the end of the last one of this kind.
    /// Emits an {Anchored} event.
    function anchor(
        LogKind kind,
        bytes32 merkleRoot,
        uint64 periodStart,
        uint64 periodEnd,
        uint32 entryCount,
        string calldata contentCid
    ) external returns (uint256 anchorId) {
        membership.authorise(msg.sender, Roles.ADMIN, BRAND_ORG);
        if (merkleRoot == bytes32(0)) revert InvalidMerkleRoot();
        if (periodStart >= periodEnd || periodEnd > block.timestamp) revert InvalidPeriod(periodStart, periodEnd);
        uint64 until = anchoredUntil[kind];
        if (periodStart < until) revert PeriodOverlaps(kind, periodStart, until);
        anchoredUntil[kind] = periodEnd;
        anchorId = ++anchorCount;
        _anchors[anchorId] = Anchor(merkleRoot, kind, periodStart, periodEnd, entryCount);
        emit Anchored(anchorId, kind, merkleRoot, periodStart, periodEnd, entryCount, contentCid, msg.sender);
    }

    function anchorOf(uint256 anchorId) external view returns (Anchor memory) {
        return _anchors[anchorId];
    }
}
