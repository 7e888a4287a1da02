// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BRAND_ORG, Roles} from "./lib/LedgerTypes.sol";
import {Membership} from "./Membership.sol";

/// @title Anchors: Merkle roots of off-chain logs
/// @notice Some records are too many for the chain: every consumer scan, every bottle marked opened.
/// Their logs stay off chain, and once a period (a day, or on demand) the brand anchors the log's Merkle
/// root here with the period and the entry count. Periods of one log kind never overlap, so an anchored
/// day cannot be anchored again with different content: quietly editing scan counts becomes visible.
///
/// A fix is rolled out by retiring this contract and deploying a successor that names it (see
/// docs/upgrades.md): a retired contract refuses new anchors but keeps every one it holds readable, and the
/// successor continues its anchor ids and its periods, so no period is anchored twice across versions.
contract Anchors {
    string public constant VERSION = "1.1.0";

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
    /// @notice The contract this one succeeded (zero for the first of a ledger); it holds the anchors with
    /// ids below {firstAnchorId}.
    Anchors public immutable predecessor;
    /// @notice The first anchor id this contract assigns itself.
    uint256 public immutable firstAnchorId;
    mapping(uint256 anchorId => Anchor) private _anchors;
    mapping(LogKind kind => uint64 periodEnd) public anchoredUntil;
    uint256 public anchorCount;
    /// @notice True once a brand admin retired this contract: it refuses new anchors, for good.
    bool public retired;

    error InvalidMerkleRoot();
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);
    /// @notice The period starts before the end of the last anchored period of its kind.
    error PeriodOverlaps(LogKind kind, uint64 periodStart, uint64 anchoredUntil);
    /// @notice This contract was retired; its successor (in the deployment file) takes new anchors.
    error ContractRetired();
    /// @notice A successor may only be deployed once its predecessor is retired, so that no anchor lands
    /// on the predecessor after its counters were carried over.
    error PredecessorNotRetired(address predecessor);

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
    event Retired(address by);

    /// @notice `predecessor_` is the retired contract this one replaces, or the zero address for a new
    /// ledger. A successor carries over the anchor count and, for every log kind, the end of the last
    /// anchored period.
    /// Requirements: a non-zero `predecessor_` is retired.
    constructor(Membership membership_, Anchors predecessor_) {
        membership = membership_;
        predecessor = predecessor_;
        if (address(predecessor_) != address(0)) {
            if (!predecessor_.retired()) revert PredecessorNotRetired(address(predecessor_));
            anchorCount = predecessor_.anchorCount();
            for (uint256 k = 0; k <= uint256(type(LogKind).max); ++k) {
                anchoredUntil[LogKind(k)] = predecessor_.anchoredUntil(LogKind(k));
            }
        }
        firstAnchorId = anchorCount + 1;
    }

    /// @notice Anchors the Merkle root of one period of an off-chain log, [periodStart, periodEnd) in
    /// unix seconds. `contentCid` names the log itself in the content store.
    /// Requirements: caller is a brand admin; the contract is not retired; non-zero root; periodStart <
    /// periodEnd ≤ now; the period starts at or after the end of the last one of this kind.
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
        if (retired) revert ContractRetired();
        if (merkleRoot == bytes32(0)) revert InvalidMerkleRoot();
        if (periodStart >= periodEnd || periodEnd > block.timestamp) revert InvalidPeriod(periodStart, periodEnd);
        uint64 until = anchoredUntil[kind];
        if (periodStart < until) revert PeriodOverlaps(kind, periodStart, until);
        anchoredUntil[kind] = periodEnd;
        anchorId = ++anchorCount;
        _anchors[anchorId] = Anchor(merkleRoot, kind, periodStart, periodEnd, entryCount);
        emit Anchored(anchorId, kind, merkleRoot, periodStart, periodEnd, entryCount, contentCid, msg.sender);
    }

    /// @notice Puts the contract in read-only mode before a successor replaces it: `anchor` refuses from
    /// now on, and every anchor stays readable.
    /// Requirements: caller is a brand admin; the contract is not retired yet.
    /// Emits a {Retired} event.
    function retire() external {
        membership.authorise(msg.sender, Roles.ADMIN, BRAND_ORG);
        if (retired) revert ContractRetired();
        retired = true;
        emit Retired(msg.sender);
    }

    /// @notice The anchor with id `anchorId`, wherever it was anchored: ids below {firstAnchorId} are read
    /// from the predecessor (and its predecessors). An unknown id reads as empty.
    function anchorOf(uint256 anchorId) external view returns (Anchor memory) {
        if (anchorId < firstAnchorId && address(predecessor) != address(0)) return predecessor.anchorOf(anchorId);
        return _anchors[anchorId];
    }
}
