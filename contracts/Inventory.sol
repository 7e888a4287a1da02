// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BRAND_ORG, OrgKind, Roles, Location, Account, Locations, LotIds} from "./lib/LedgerTypes.sol";
import {Membership} from "./Membership.sol";
import {Catalog} from "./Catalog.sol";
import {Orders} from "./Orders.sol";

/// @title Inventory: lots, stock and the shipments that move it
/// @notice Stock is counted in cases per (location, lot). A lot enters the ledger by commissioning at a
/// brand warehouse, with the Merkle root of its bottle codes, never one transaction per bottle. It moves
/// by shipments: dispatch debits the sender into transit and names the carrier, who has custody while
/// the sender keeps ownership; the receiver confirms what actually arrived, is credited with it and
/// becomes the owner. A shortfall opens a discrepancy that the brand resolves. Stock leaves the ledger
/// when a store sells it or the brand writes it off. For every lot, at every moment:
/// commissioned = Σ balances + in transit (open shipments and open discrepancies) + decommissioned.
/// Shipments fulfil an order, carry out a transfer between the brand's own sites that the brand
/// approved, or deliver from a distributor to a store in its own region.
contract Inventory {
    string public constant VERSION = "1.0.0";
    uint256 public constant MAX_LINES = 50;

    enum ShipmentKind {
        Order,
        Transfer,
        Delivery
    }

    enum ShipmentState {
        None,
        InTransit,
        Received
    }

    enum TransferState {
        None,
        Requested,
        Approved,
        Dispatched,
        Completed,
        Rejected
    }

    enum DiscrepancyState {
        None,
        Open,
        Found,
        Returned,
        WrittenOff
    }

    /// @notice Why stock left the ledger.
    enum Decommission {
        Sold,
        Damaged,
        Recalled,
        Lost
    }

    /// @notice What a dispatch is for and where it goes. `ref` is the order or transfer id
    /// (0 for a delivery to a store).
    struct Consignment {
        ShipmentKind kind;
        uint64 ref;
        uint32 from;
        uint32 to;
        uint32 carrier;
        uint40 eta;
        string documentCid;
    }

    /// @notice What the receiver restates when confirming a receipt: the shipment as dispatched.
    struct Manifest {
        ShipmentKind kind;
        uint64 ref;
        uint32 from;
        uint256[] lots;
        uint32[] cases;
    }

    /// @dev One slot: who may act on the shipment in the clear, and a commitment to the rest of it
    /// (kind, reference, origin, lines: see {manifestHash}). The event carries the full data; the
    /// receiver restates the manifest, which must hash to the commitment. 184 bits keep forging a
    /// colliding manifest out of reach even for a sender and receiver working together.
    struct Shipment {
        uint32 to;
        uint32 carrier;
        ShipmentState state;
        bytes23 manifestHash;
    }

    struct Transfer {
        uint32 from;
        uint32 to;
        TransferState state;
    }

    struct Discrepancy {
        uint256 lot;
        uint64 shipment;
        uint32 from;
        uint32 to;
        uint32 cases;
        DiscrepancyState state;
    }

    Membership public immutable membership;
    Catalog public immutable catalog;
    Orders public immutable orders;

    mapping(uint256 lot => bytes32 merkleRoot) public lotRoot;
    mapping(uint256 lot => bool) public recalled;
    mapping(uint32 location => mapping(uint256 lot => uint256 cases)) private _balances;
    mapping(uint256 shipmentId => Shipment) private _shipments;
    mapping(uint256 transferId => Transfer) private _transfers;
    mapping(uint256 transferId => bytes32 linesHash) private _transferManifests;
    mapping(uint256 discrepancyId => Discrepancy) private _discrepancies;
    uint256 public shipmentCount;
    uint256 public transferCount;
    uint256 public discrepancyCount;

    error NotAWarehouse(uint32 location);
    error NotABrandLocation(uint32 location);
    error NotAStore(uint32 location);
    error NotADistributorLocation(uint32 location);
    error SoldIsNotAWriteOff();
    error NotACarrier(uint32 carrier);
    error InvalidMerkleRoot();
    error LotAlreadyCommissioned(uint256 lot);
    error UnknownLot(uint256 lot);
    error LotIsRecalled(uint256 lot);
    error LotAlreadyRecalled(uint256 lot);
    /// @notice `bottles` do not fill `cases` cases of `bottlesPerCase` (only the last case may be partial).
    error BottleCountMismatch(uint32 cases, uint32 bottles, uint16 bottlesPerCase);
    error InsufficientStock(uint32 location, uint256 lot, uint256 available, uint256 requested);
    error InvalidLines();
    error LinesNotSorted(uint256 lot);
    error ZeroCases(uint256 lot);
    error SameLocation(uint32 location);
    error EtaInPast(uint40 eta);
    error OutOfRegion(uint32 from, uint32 to);
    error UnexpectedReference(uint64 ref);
    error UnknownShipment(uint256 shipmentId);
    error ShipmentNotInTransit(uint256 shipmentId);
    error ManifestMismatch(uint256 id);
    error ReceivedMoreThanShipped(uint256 lot, uint32 shipped, uint32 received);
    error UnknownTransfer(uint256 transferId);
    error InvalidTransferState(uint256 transferId, TransferState state);
    error TransferRouteMismatch(uint256 transferId);
    error NotAllowedToRequestTransfer(address account);
    error UnknownDiscrepancy(uint256 discrepancyId);
    error DiscrepancyNotOpen(uint256 discrepancyId);
    error InvalidResolution(DiscrepancyState outcome);

    event LotCommissioned(
        uint256 indexed lot,
        uint32 indexed sku,
        uint32 indexed location,
        bytes20 lotNumber,
        uint32 cases,
        uint32 bottles,
        bytes32 merkleRoot,
        string documentCid
    );
    event LotRecalled(uint256 indexed lot, uint16 reasonCode, address recalledBy);
    event TransferRequested(
        uint256 indexed transferId, uint32 indexed from, uint32 indexed to, uint256[] lots, uint32[] cases, address requestedBy
    );
    event TransferApproved(uint256 indexed transferId, address approvedBy);
    event TransferRejected(uint256 indexed transferId, uint16 reasonCode, address rejectedBy);
    event ShipmentDispatched(
        uint256 indexed shipmentId,
        uint32 indexed from,
        uint32 indexed to,
        Consignment consignment,
        uint32 owner,
        uint256[] lots,
        uint32[] cases,
        address dispatchedBy
    );
    event ShipmentCheckpoint(uint256 indexed shipmentId, uint32 indexed carrier, uint8 status, string place, address reportedBy);
    event ShipmentReceived(
        uint256 indexed shipmentId, uint32 indexed to, uint32 owner, uint32[] received, uint32 shortfall, address receivedBy
    );
    event DiscrepancyOpened(
        uint256 indexed discrepancyId, uint256 indexed shipmentId, uint256 indexed lot, uint32 shipped, uint32 received
    );
    event DiscrepancyResolved(uint256 indexed discrepancyId, DiscrepancyState outcome, uint32 creditedLocation, address resolvedBy);
    event StockDecommissioned(
        uint32 indexed location, uint256 indexed lot, uint32 cases, Decommission reason, address recordedBy
    );

    constructor(Membership membership_, Catalog catalog_, Orders orders_) {
        membership = membership_;
        catalog = catalog_;
        orders = orders_;
    }

    modifier onlyBrand(uint16 role) {
        membership.authorise(msg.sender, role, BRAND_ORG);
        _;
    }

    // ------------------------------------------------------------------ lots

    /// @notice Commissions a lot: its bottles exist from now on, committed by `merkleRoot` (an
    /// OpenZeppelin StandardMerkleTree over (string serial, uint32 case) leaves), and its cases lie at
    /// the warehouse `location`.
    /// Requirements: caller is a brand dispatcher; `location` is an active warehouse; the SKU is listed;
    /// the lot number is valid GS1 and not used for this SKU before; `bottles` fill `cases` cases, only
    /// the last partly; the root is non-zero.
    /// Emits a {LotCommissioned} event.
    function commissionLot(
        uint32 sku,
        bytes20 lotNumber,
        uint32 location,
        uint32 cases,
        uint32 bottles,
        bytes32 merkleRoot,
        string calldata documentCid
    ) external onlyBrand(Roles.DISPATCHER) returns (uint256 lot) {
        if (membership.activeLocation(location).kind != OrgKind.Warehouse) revert NotAWarehouse(location);
        uint16 perCase = catalog.activeSku(sku).bottlesPerCase;
        if (cases == 0 || bottles > uint256(cases) * perCase || bottles <= uint256(cases - 1) * perCase) {
            revert BottleCountMismatch(cases, bottles, perCase);
        }
        if (merkleRoot == bytes32(0)) revert InvalidMerkleRoot();
        LotIds.requireValid(lotNumber);
        lot = LotIds.from(sku, lotNumber);
        if (lotRoot[lot] != bytes32(0)) revert LotAlreadyCommissioned(lot);
        lotRoot[lot] = merkleRoot;
        _balances[location][lot] = cases;
        emit LotCommissioned(lot, sku, location, lotNumber, cases, bottles, merkleRoot, documentCid);
    }

    /// @notice Recalls a lot: none of it may be dispatched again; what is in transit may still arrive.
    /// Requirements: caller is a brand admin; the lot exists and is not recalled yet.
    /// Emits a {LotRecalled} event.
    function recallLot(uint256 lot, uint16 reasonCode) external onlyBrand(Roles.ADMIN) {
        if (lotRoot[lot] == bytes32(0)) revert UnknownLot(lot);
        if (recalled[lot]) revert LotAlreadyRecalled(lot);
        recalled[lot] = true;
        emit LotRecalled(lot, reasonCode, msg.sender);
    }

    // ------------------------------------------------------------------ transfers

    /// @notice Asks to move stock between two of the brand's own sites.
    /// Requirements: caller is the brand's sales director, or a regional manager, dispatcher or
    /// receiver of the organisation that runs `to`; both locations are active brand sites, and
    /// differ; 1-50 lines, lots strictly ascending, cases > 0.
    /// Emits a {TransferRequested} event.
    function requestTransfer(uint32 from, uint32 to, uint256[] calldata lots, uint32[] calldata cases)
        external
        returns (uint256 transferId)
    {
        if (from == to) revert SameLocation(from);
        Location memory source = membership.activeLocation(from);
        Location memory dest = membership.activeLocation(to);
        if (!Locations.isBrands(source)) revert NotABrandLocation(from);
        if (!Locations.isBrands(dest)) revert NotABrandLocation(to);
        Account memory a = membership.accounts(msg.sender);
        bool allowed = a.active
            && (
                (a.org == BRAND_ORG && a.roles & Roles.SALES_DIRECTOR != 0)
                    || (a.org == dest.org && a.roles & (Roles.REGION_MANAGER | Roles.DISPATCHER | Roles.RECEIVER) != 0)
            );
        if (!allowed) revert NotAllowedToRequestTransfer(msg.sender);
        _checkLines(lots, cases);
        transferId = ++transferCount;
        _transfers[transferId] = Transfer(from, to, TransferState.Requested);
        _transferManifests[transferId] = keccak256(abi.encode(lots, cases));
        emit TransferRequested(transferId, from, to, lots, cases, msg.sender);
    }

    /// @notice Approves a requested transfer, so the sending site may dispatch it.
    /// Requirements: caller is the brand's sales director; the transfer is Requested.
    /// Emits a {TransferApproved} event.
    function approveTransfer(uint256 transferId) external onlyBrand(Roles.SALES_DIRECTOR) {
        Transfer storage t = _transferIn(transferId, TransferState.Requested);
        t.state = TransferState.Approved;
        emit TransferApproved(transferId, msg.sender);
    }

    /// @notice Rejects a requested transfer.
    /// Requirements: caller is the brand's sales director; the transfer is Requested.
    /// Emits a {TransferRejected} event.
    function rejectTransfer(uint256 transferId, uint16 reasonCode) external onlyBrand(Roles.SALES_DIRECTOR) {
        Transfer storage t = _transferIn(transferId, TransferState.Requested);
        t.state = TransferState.Rejected;
        emit TransferRejected(transferId, reasonCode, msg.sender);
    }

    // ------------------------------------------------------------------ shipments

    /// @notice Dispatches stock from `c.from`: debits it into transit in the carrier's custody.
    /// Requirements: caller is a dispatcher of the organisation that runs `c.from`; both locations are
    /// active and differ; the carrier is a carrier; the ETA is in the future; 1-50 lines, lots strictly
    /// ascending, cases > 0, none recalled, each within the sender's stock. By kind:
    /// - Order: `c.from` is a brand site and the lines fit the approved order `c.ref` to `c.to`;
    /// - Transfer: the lines and route are exactly those of the approved transfer `c.ref`;
    /// - Delivery: from a distributor to a store of the same region, with no ref.
    /// Emits a {ShipmentDispatched} event (and {Orders-OrderDispatched} for an order).
    function dispatch(Consignment calldata c, uint256[] calldata lots, uint32[] calldata cases)
        external
        returns (uint256 shipmentId)
    {
        if (c.from == c.to) revert SameLocation(c.from);
        Location memory source = membership.authoriseAt(msg.sender, Roles.DISPATCHER, c.from);
        Location memory dest = membership.activeLocation(c.to);
        if (membership.organisations(c.carrier).kind != OrgKind.Carrier) revert NotACarrier(c.carrier);
        if (c.eta <= block.timestamp) revert EtaInPast(c.eta);
        _checkLines(lots, cases);
        shipmentId = ++shipmentCount;

        if (c.kind == ShipmentKind.Order) {
            if (!Locations.isBrands(source)) revert NotABrandLocation(c.from);
            orders.recordDispatch(c.ref, shipmentId, c.to, lots, cases);
        } else if (c.kind == ShipmentKind.Transfer) {
            Transfer storage t = _transferIn(c.ref, TransferState.Approved);
            if (t.from != c.from || t.to != c.to) revert TransferRouteMismatch(c.ref);
            if (_transferManifests[c.ref] != keccak256(abi.encode(lots, cases))) revert ManifestMismatch(c.ref);
            t.state = TransferState.Dispatched;
        } else {
            if (source.kind != OrgKind.Distributor) revert NotADistributorLocation(c.from);
            if (dest.kind != OrgKind.Store) revert NotAStore(c.to);
            if (source.region != dest.region) revert OutOfRegion(c.from, c.to);
            if (c.ref != 0) revert UnexpectedReference(c.ref);
        }

        mapping(uint256 => uint256) storage stock = _balances[c.from];
        for (uint256 i = 0; i < lots.length; ++i) {
            uint256 lot = lots[i];
            if (recalled[lot]) revert LotIsRecalled(lot);
            uint256 available = stock[lot];
            if (available < cases[i]) revert InsufficientStock(c.from, lot, available, cases[i]);
            stock[lot] = available - cases[i];
        }
        _shipments[shipmentId] =
            Shipment(c.to, c.carrier, ShipmentState.InTransit, manifestHash(c.kind, c.ref, c.from, lots, cases));
        emit ShipmentDispatched(shipmentId, c.from, c.to, c, Locations.ownerOf(source), lots, cases, msg.sender);
    }

    /// @notice The carrier reports where a shipment is (status codes: 1 picked up, 2 at hub, 3 out for
    /// delivery, 4 delayed, 5 exception).
    /// Requirements: caller is a dispatcher of the shipment's carrier; the shipment is in transit.
    /// Emits a {ShipmentCheckpoint} event.
    function recordCheckpoint(uint256 shipmentId, uint8 status, string calldata place) external {
        Shipment storage s = _inTransit(shipmentId);
        membership.authorise(msg.sender, Roles.DISPATCHER, s.carrier);
        emit ShipmentCheckpoint(shipmentId, s.carrier, status, place, msg.sender);
    }

    /// @notice The receiver confirms what arrived. `m` restates the shipment as dispatched;
    /// `received[i]` is what was counted for line i. Received stock is credited to the destination,
    /// whose owner now owns it; each short line opens a discrepancy.
    /// Requirements: caller is a receiver (or store staff) of the organisation that runs the
    /// destination; the shipment is in transit; the manifest is the dispatched one; no line received
    /// more than shipped.
    /// Emits a {ShipmentReceived} event, and a {DiscrepancyOpened} event per short line.
    function confirmReceipt(uint256 shipmentId, Manifest calldata m, uint32[] calldata received) external {
        Shipment storage s = _inTransit(shipmentId);
        uint32 to = s.to;
        uint32 owner = Locations.ownerOf(membership.authoriseAt(msg.sender, Roles.RECEIVER | Roles.STORE_STAFF, to));
        if (s.manifestHash != manifestHash(m.kind, m.ref, m.from, m.lots, m.cases)) revert ManifestMismatch(shipmentId);
        if (received.length != m.lots.length) revert InvalidLines();

        mapping(uint256 => uint256) storage stock = _balances[to];
        uint32 totalShipped = 0;
        uint32 shortfall = 0;
        for (uint256 i = 0; i < received.length; ++i) {
            uint32 shipped = m.cases[i];
            if (received[i] > shipped) revert ReceivedMoreThanShipped(m.lots[i], shipped, received[i]);
            stock[m.lots[i]] += received[i];
            totalShipped += shipped;
            if (received[i] < shipped) {
                shortfall += _openDiscrepancy(shipmentId, m.from, to, m.lots[i], shipped, received[i]);
            }
        }
        s.state = ShipmentState.Received;

        if (m.kind == ShipmentKind.Order) {
            orders.recordReceipt(m.ref, shipmentId, totalShipped);
        } else if (m.kind == ShipmentKind.Transfer) {
            _transfers[m.ref].state = TransferState.Completed;
        }
        emit ShipmentReceived(shipmentId, to, owner, received, shortfall, msg.sender);
    }

    /// @notice Settles a shortfall: the cases were found at the receiver, returned to the sender, or
    /// are written off as lost.
    /// Requirements: caller is a brand admin; the discrepancy is open; the outcome is Found, Returned
    /// or WrittenOff.
    /// Emits a {DiscrepancyResolved} event, and {StockDecommissioned} when written off.
    function resolveDiscrepancy(uint256 discrepancyId, DiscrepancyState outcome) external onlyBrand(Roles.ADMIN) {
        Discrepancy storage d = _discrepancies[discrepancyId];
        if (d.state == DiscrepancyState.None) revert UnknownDiscrepancy(discrepancyId);
        if (d.state != DiscrepancyState.Open) revert DiscrepancyNotOpen(discrepancyId);
        uint32 credited = 0;
        if (outcome == DiscrepancyState.Found) credited = d.to;
        else if (outcome == DiscrepancyState.Returned) credited = d.from;
        else if (outcome != DiscrepancyState.WrittenOff) revert InvalidResolution(outcome);
        d.state = outcome;
        if (credited != 0) {
            _balances[credited][d.lot] += d.cases;
        } else {
            emit StockDecommissioned(0, d.lot, d.cases, Decommission.Lost, msg.sender);
        }
        emit DiscrepancyResolved(discrepancyId, outcome, credited, msg.sender);
    }

    // ------------------------------------------------------------------ leaving the ledger

    /// @notice A store records cases sold to consumers (sell-through).
    /// Requirements: caller is store staff of the store that runs `location`; the lot is not recalled;
    /// enough stock.
    /// Emits a {StockDecommissioned} event.
    function recordSale(uint32 location, uint256 lot, uint32 cases) external {
        Location memory l = membership.authoriseAt(msg.sender, Roles.STORE_STAFF, location);
        if (l.kind != OrgKind.Store) revert NotAStore(location);
        // A recalled lot goes back or is written off; it must not reach a consumer.
        if (recalled[lot]) revert LotIsRecalled(lot);
        _decommission(location, lot, cases, Decommission.Sold);
    }

    /// @notice The brand writes off damaged or recalled stock at any location.
    /// Requirements: caller is a brand admin; `reason` is not Sold; enough stock.
    /// Emits a {StockDecommissioned} event.
    function writeOff(uint32 location, uint256 lot, uint32 cases, Decommission reason) external onlyBrand(Roles.ADMIN) {
        if (reason == Decommission.Sold) revert SoldIsNotAWriteOff();
        _decommission(location, lot, cases, reason);
    }

    // ------------------------------------------------------------------ views

    function balanceOf(uint32 location, uint256 lot) external view returns (uint256) {
        return _balances[location][lot];
    }

    function shipments(uint256 shipmentId) external view returns (Shipment memory) {
        return _shipments[shipmentId];
    }

    function transfers(uint256 transferId) external view returns (Transfer memory) {
        return _transfers[transferId];
    }

    function discrepancies(uint256 discrepancyId) external view returns (Discrepancy memory) {
        return _discrepancies[discrepancyId];
    }

    /// @notice The commitment a shipment keeps to its manifest.
    function manifestHash(ShipmentKind kind, uint64 ref, uint32 from, uint256[] calldata lots, uint32[] calldata cases)
        public
        pure
        returns (bytes23)
    {
        return bytes23(keccak256(abi.encode(kind, ref, from, lots, cases)));
    }

    /// @notice True when the bottle (`serial`, in case `caseNumber`) is committed to the lot's root:
    /// a consumer's proof checked against the chain, not against anyone's server.
    function verifyBottle(uint256 lot, string calldata serial, uint32 caseNumber, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = lotRoot[lot];
        if (root == bytes32(0)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(serial, caseNumber))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    // ------------------------------------------------------------------ internals

    function _openDiscrepancy(uint256 shipmentId, uint32 from, uint32 to, uint256 lot, uint32 shipped, uint32 received)
        private
        returns (uint32 missing)
    {
        missing = shipped - received;
        uint256 id = ++discrepancyCount;
        _discrepancies[id] = Discrepancy(lot, uint64(shipmentId), from, to, missing, DiscrepancyState.Open);
        emit DiscrepancyOpened(id, shipmentId, lot, shipped, received);
    }

    function _decommission(uint32 location, uint256 lot, uint32 cases, Decommission reason) private {
        if (cases == 0) revert ZeroCases(lot);
        uint256 available = _balances[location][lot];
        if (available < cases) revert InsufficientStock(location, lot, available, cases);
        _balances[location][lot] = available - cases;
        emit StockDecommissioned(location, lot, cases, reason, msg.sender);
    }

    function _checkLines(uint256[] calldata lots, uint32[] calldata cases) private pure {
        uint256 n = lots.length;
        if (n == 0 || n > MAX_LINES || cases.length != n) revert InvalidLines();
        for (uint256 i = 0; i < n; ++i) {
            if (i > 0 && lots[i] <= lots[i - 1]) revert LinesNotSorted(lots[i]);
            if (cases[i] == 0) revert ZeroCases(lots[i]);
        }
    }

    function _inTransit(uint256 shipmentId) private view returns (Shipment storage s) {
        s = _shipments[shipmentId];
        if (s.state == ShipmentState.None) revert UnknownShipment(shipmentId);
        if (s.state != ShipmentState.InTransit) revert ShipmentNotInTransit(shipmentId);
    }

    function _transferIn(uint256 transferId, TransferState expected) private view returns (Transfer storage t) {
        t = _transfers[transferId];
        if (t.state == TransferState.None) revert UnknownTransfer(transferId);
        if (t.state != expected) revert InvalidTransferState(transferId, t.state);
    }
}
