// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BRAND_ORG, OrgKind, Roles, Stages, Organisation, Location, LotIds} from "./lib/LedgerTypes.sol";
import {Membership} from "./Membership.sol";
import {Catalog} from "./Catalog.sol";

/// @title Orders: a distributor's purchase from the brand, its approvals and its fulfilment
/// @notice A distributor submits lines of (SKU, cases) for one of its locations; the amount comes from
/// the price list at the distributor's tier. The approval policy's amount tiers decide which stages
/// (regional manager → sales director → finance) the order needs. Stages go in that sequence unless the
/// order is urgent, when they may come in any order. The last approval reserves the amount against the
/// distributor's credit limit. Shipments from the {Inventory} contract then fulfil the order, partially
/// or fully. Every step is an event, so its block time measures the order's cycle time.
contract Orders {
    string public constant VERSION = "1.0.0";
    uint256 public constant MAX_LINES = 20;
    uint256 public constant MAX_TIERS = 8;

    enum OrderState {
        None,
        Submitted,
        Approved,
        PartiallyDispatched,
        Dispatched,
        Delivered,
        Rejected,
        Cancelled
    }

    /// @dev Packed into one slot: everything an approval or a dispatch must check.
    struct Order {
        uint32 distributor;
        uint32 deliverTo;
        OrderState state;
        bool urgent;
        uint8 requiredStages;
        uint8 approvedStages;
        uint8 lineCount;
        uint32 casesToDispatch;
        uint32 casesInTransit;
        uint88 amount;
    }

    struct OrderLine {
        uint32 sku;
        uint32 cases;
        uint32 dispatched;
    }

    /// @notice An order line as submitted, with the price per case (fen) it was priced at.
    struct PricedLine {
        uint32 sku;
        uint32 cases;
        uint128 unitPrice;
    }

    /// @notice Orders of at least `minAmount` fen need `stages`.
    struct ApprovalTier {
        uint128 minAmount;
        uint8 stages;
    }

    /// @notice Credit the brand extends to a distributor, in fen. Exposure is what approved and unpaid
    /// orders add up to.
    struct Credit {
        uint128 limit;
        uint128 exposure;
    }

    Membership public immutable membership;
    Catalog public immutable catalog;
    /// @notice The contract that records dispatches and receipts against orders; set once at deployment.
    address public inventory;

    mapping(uint256 orderId => Order) private _orders;
    mapping(uint256 orderId => mapping(uint256 index => OrderLine)) private _lines;
    mapping(uint32 distributor => Credit) private _credit;
    ApprovalTier[] private _tiers;
    uint256 public orderCount;

    error UnknownOrder(uint256 orderId);
    error InvalidState(uint256 orderId, OrderState state);
    error NotADistributor(uint32 org);
    error NotADistributorLocation(uint32 location);
    error InvalidLines();
    error LinesNotSorted(uint32 sku);
    error ZeroCases(uint32 sku);
    error AmountTooLarge(uint256 amount);
    error StageNotRequired(uint256 orderId, uint8 stage);
    error StageAlreadyApproved(uint256 orderId, uint8 stage);
    /// @notice A non-urgent order's `stage` came before `pendingStage`.
    error StageOutOfSequence(uint256 orderId, uint8 stage, uint8 pendingStage);
    error InvalidStage(uint8 stage);
    error CreditLimitExceeded(uint32 distributor, uint128 limit, uint128 exposure, uint256 amount);
    error PaymentExceedsExposure(uint32 distributor, uint128 exposure, uint128 payment);
    error InvalidApprovalPolicy();
    error OnlyInventory(address caller);
    error InventoryAlreadySet(address inventory);
    error WrongDestination(uint256 orderId, uint32 deliverTo, uint32 shippedTo);
    error SkuNotOrdered(uint256 orderId, uint32 sku);
    error ExceedsOrderedQuantity(uint256 orderId, uint32 sku, uint32 remaining, uint32 requested);

    event OrderSubmitted(
        uint256 indexed orderId,
        uint32 indexed distributor,
        uint32 indexed deliverTo,
        bool urgent,
        uint8 requiredStages,
        uint256 amount,
        PricedLine[] lines,
        address submittedBy
    );
    event OrderApproved(uint256 indexed orderId, uint8 indexed stage, address approver, bool fullyApproved);
    event OrderRejected(uint256 indexed orderId, uint8 indexed stage, uint16 reasonCode, address rejectedBy);
    event OrderCancelled(uint256 indexed orderId, uint16 reasonCode, address cancelledBy);
    event OrderDispatched(uint256 indexed orderId, uint256 indexed shipmentId, uint32 cases, OrderState state);
    event OrderDelivered(uint256 indexed orderId, uint256 indexed shipmentId);
    event CreditLimitSet(uint32 indexed distributor, uint128 limit);
    event CreditReserved(uint32 indexed distributor, uint256 indexed orderId, uint128 exposure);
    event CreditReleased(uint32 indexed distributor, uint256 indexed orderId, uint128 exposure);
    event PaymentRecorded(uint32 indexed distributor, uint128 amount, uint128 exposure);
    event ApprovalPolicySet(ApprovalTier[] tiers);
    event InventorySet(address inventory);

    /// @dev The default policy: under 100,000 yuan the regional manager alone; under 1,000,000 yuan the
    /// sales director too; above that finance as well.
    constructor(Membership membership_, Catalog catalog_) {
        membership = membership_;
        catalog = catalog_;
        _tiers.push(ApprovalTier(0, Stages.REGION_MANAGER));
        _tiers.push(ApprovalTier(10_000_000, Stages.REGION_MANAGER | Stages.SALES_DIRECTOR));
        _tiers.push(ApprovalTier(100_000_000, Stages.ALL));
    }

    modifier onlyBrand(uint16 role) {
        membership.authorise(msg.sender, role, BRAND_ORG);
        _;
    }

    modifier onlyInventory() {
        if (msg.sender != inventory) revert OnlyInventory(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ configuration

    /// @notice Connects the inventory contract, once.
    /// Requirements: caller is a brand admin; not set before.
    /// Emits an {InventorySet} event.
    function setInventory(address inventory_) external onlyBrand(Roles.ADMIN) {
        if (inventory != address(0)) revert InventoryAlreadySet(inventory);
        inventory = inventory_;
        emit InventorySet(inventory_);
    }

    /// @notice Replaces the approval policy.
    /// Requirements: caller is a brand admin; 1-8 tiers, the first from 0, amounts strictly rising,
    /// each naming at least one stage.
    /// Emits an {ApprovalPolicySet} event.
    function setApprovalPolicy(ApprovalTier[] calldata tiers) external onlyBrand(Roles.ADMIN) {
        if (tiers.length == 0 || tiers.length > MAX_TIERS || tiers[0].minAmount != 0) revert InvalidApprovalPolicy();
        delete _tiers;
        for (uint256 i = 0; i < tiers.length; ++i) {
            uint8 stages = tiers[i].stages;
            if (stages == 0 || stages & ~Stages.ALL != 0) revert InvalidApprovalPolicy();
            if (i > 0 && tiers[i].minAmount <= tiers[i - 1].minAmount) revert InvalidApprovalPolicy();
            _tiers.push(tiers[i]);
        }
        emit ApprovalPolicySet(tiers);
    }

    /// @notice Sets a distributor's credit limit in fen. A limit below the current exposure is allowed: it
    /// reserves nothing back, but no further order is approved until payments bring the exposure down.
    /// Requirements: caller is the brand's finance; `distributor` is a distributor.
    /// Emits a {CreditLimitSet} event.
    function setCreditLimit(uint32 distributor, uint128 limit) external onlyBrand(Roles.FINANCE) {
        if (membership.organisations(distributor).kind != OrgKind.Distributor) revert NotADistributor(distributor);
        _credit[distributor].limit = limit;
        emit CreditLimitSet(distributor, limit);
    }

    /// @notice Records a distributor's payment, which frees that much credit.
    /// Requirements: caller is the brand's finance; the payment is at most the exposure.
    /// Emits a {PaymentRecorded} event.
    function recordPayment(uint32 distributor, uint128 amount) external onlyBrand(Roles.FINANCE) {
        Credit storage c = _credit[distributor];
        if (amount > c.exposure) revert PaymentExceedsExposure(distributor, c.exposure, amount);
        c.exposure -= amount;
        emit PaymentRecorded(distributor, amount, c.exposure);
    }

    // ------------------------------------------------------------------ the order's life

    /// @notice Submits an order for delivery to one of the caller's locations.
    /// Requirements: caller is a purchaser of the distributor that runs `deliverTo`; 1-20 lines with
    /// SKUs strictly ascending, each listed and priced for the distributor's tier, each with cases > 0.
    /// Emits an {OrderSubmitted} event.
    function submitOrder(uint32 deliverTo, bool urgent, uint32[] calldata skus, uint32[] calldata cases)
        external
        returns (uint256 orderId)
    {
        Location memory l = membership.authoriseAt(msg.sender, Roles.PURCHASER, deliverTo);
        if (l.kind != OrgKind.Distributor) revert NotADistributorLocation(deliverTo);
        uint256 n = skus.length;
        if (n == 0 || n > MAX_LINES || cases.length != n) revert InvalidLines();
        uint128[] memory unitPrices = catalog.unitPrices(skus, membership.organisations(l.org).priceTier);
        orderId = ++orderCount;
        (PricedLine[] memory lines, uint256 amount, uint256 totalCases) = _recordLines(orderId, skus, cases, unitPrices);
        _open(orderId, l.org, deliverTo, urgent, lines, amount, totalCases);
    }

    /// @notice Approves `stage` of a submitted order. The last required approval reserves the order's
    /// amount against the distributor's credit limit and makes the order Approved.
    /// Requirements: the order is Submitted; `stage` is required and not yet approved; unless the order
    /// is urgent, every required earlier stage is approved; the caller holds the stage's role (regional
    /// manager of the order's region, or the brand's sales director or finance); on the last approval,
    /// exposure + amount ≤ credit limit.
    /// Emits an {OrderApproved} event, and a {CreditReserved} event on the last approval.
    function approveOrder(uint256 orderId, uint8 stage) external {
        Order storage o = _submitted(orderId);
        _authoriseStage(o, stage);
        if (o.requiredStages & stage == 0) revert StageNotRequired(orderId, stage);
        if (o.approvedStages & stage != 0) revert StageAlreadyApproved(orderId, stage);
        if (!o.urgent) {
            // Stages are single bits in sequence order, so the pending earlier ones are the required
            // bits below `stage` that are not yet approved.
            uint8 pendingEarlier = o.requiredStages & (stage - 1) & ~o.approvedStages;
            if (pendingEarlier != 0) revert StageOutOfSequence(orderId, stage, pendingEarlier & (~pendingEarlier + 1));
        }
        uint8 approved = o.approvedStages | stage;
        o.approvedStages = approved;
        bool fully = approved == o.requiredStages;
        if (fully) {
            Credit storage c = _credit[o.distributor];
            uint128 exposure = c.exposure + o.amount;
            if (exposure > c.limit) revert CreditLimitExceeded(o.distributor, c.limit, c.exposure, o.amount);
            c.exposure = exposure;
            o.state = OrderState.Approved;
            emit CreditReserved(o.distributor, orderId, exposure);
        }
        emit OrderApproved(orderId, stage, msg.sender, fully);
    }

    /// @notice Rejects a submitted order at one of its pending stages.
    /// Requirements: the order is Submitted; `stage` is required and not yet approved; the caller
    /// holds the stage's role.
    /// Emits an {OrderRejected} event.
    function rejectOrder(uint256 orderId, uint8 stage, uint16 reasonCode) external {
        Order storage o = _submitted(orderId);
        _authoriseStage(o, stage);
        if (o.requiredStages & stage == 0) revert StageNotRequired(orderId, stage);
        if (o.approvedStages & stage != 0) revert StageAlreadyApproved(orderId, stage);
        o.state = OrderState.Rejected;
        emit OrderRejected(orderId, stage, reasonCode, msg.sender);
    }

    /// @notice Cancels an order that nothing has been dispatched against, releasing reserved credit.
    /// Requirements: caller is a purchaser of the ordering distributor; the order is Submitted or Approved.
    /// Emits an {OrderCancelled} event, and a {CreditReleased} event if credit was reserved.
    function cancelOrder(uint256 orderId, uint16 reasonCode) external {
        Order storage o = _existing(orderId);
        membership.authorise(msg.sender, Roles.PURCHASER, o.distributor);
        OrderState state = o.state;
        if (state != OrderState.Submitted && state != OrderState.Approved) revert InvalidState(orderId, state);
        o.state = OrderState.Cancelled;
        if (state == OrderState.Approved) {
            Credit storage c = _credit[o.distributor];
            // Payments are not tied to orders, so a distributor that paid ahead may have less exposure
            // left than this order's amount; the release stops at zero and the refund is settled off chain.
            c.exposure -= o.amount < c.exposure ? o.amount : c.exposure;
            emit CreditReleased(o.distributor, orderId, c.exposure);
        }
        emit OrderCancelled(orderId, reasonCode, msg.sender);
    }

    // ------------------------------------------------------------------ fulfilment (from Inventory)

    /// @notice Records a shipment of `cases[i]` cases of lot `lots[i]` to `shippedTo` against the order.
    /// Requirements: caller is the inventory contract; the order is Approved or PartiallyDispatched;
    /// `shippedTo` is the order's delivery location; each lot's SKU is ordered with enough cases left.
    /// Emits an {OrderDispatched} event.
    function recordDispatch(
        uint256 orderId,
        uint256 shipmentId,
        uint32 shippedTo,
        uint256[] calldata lots,
        uint32[] calldata cases
    ) external onlyInventory {
        Order storage o = _existing(orderId);
        OrderState state = o.state;
        if (state != OrderState.Approved && state != OrderState.PartiallyDispatched) revert InvalidState(orderId, state);
        if (shippedTo != o.deliverTo) revert WrongDestination(orderId, o.deliverTo, shippedTo);
        uint256 lineCount = o.lineCount;
        uint32 total = 0;
        for (uint256 i = 0; i < lots.length; ++i) {
            uint32 sku = LotIds.skuOf(lots[i]);
            OrderLine storage line = _lineFor(orderId, lineCount, sku);
            uint32 remaining = line.cases - line.dispatched;
            if (cases[i] > remaining) revert ExceedsOrderedQuantity(orderId, sku, remaining, cases[i]);
            line.dispatched += cases[i];
            total += cases[i];
        }
        o.casesToDispatch -= total;
        o.casesInTransit += total;
        o.state = o.casesToDispatch == 0 ? OrderState.Dispatched : OrderState.PartiallyDispatched;
        emit OrderDispatched(orderId, shipmentId, total, o.state);
    }

    /// @notice Records that a shipment of `shippedCases` against the order has been received (with or
    /// without shortfall, which the inventory tracks as a discrepancy). The order is Delivered once
    /// every case is dispatched and received.
    /// Requirements: caller is the inventory contract.
    /// Emits an {OrderDelivered} event when the order becomes Delivered.
    function recordReceipt(uint256 orderId, uint256 shipmentId, uint32 shippedCases) external onlyInventory {
        Order storage o = _existing(orderId);
        o.casesInTransit -= shippedCases;
        if (o.state == OrderState.Dispatched && o.casesInTransit == 0) {
            o.state = OrderState.Delivered;
            emit OrderDelivered(orderId, shipmentId);
        }
    }

    // ------------------------------------------------------------------ views

    function orders(uint256 orderId) external view returns (Order memory) {
        return _orders[orderId];
    }

    function orderLines(uint256 orderId, uint256 index) external view returns (OrderLine memory) {
        return _lines[orderId][index];
    }

    function credits(uint32 distributor) external view returns (Credit memory) {
        return _credit[distributor];
    }

    function approvalPolicy() external view returns (ApprovalTier[] memory) {
        return _tiers;
    }

    /// @notice The stages an order of `amount` fen needs under the current policy.
    function requiredStages(uint256 amount) public view returns (uint8 stages) {
        uint256 n = _tiers.length;
        for (uint256 i = n; i > 0; --i) {
            if (amount >= _tiers[i - 1].minAmount) return _tiers[i - 1].stages;
        }
    }

    // ------------------------------------------------------------------ internals

    function _existing(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.state == OrderState.None) revert UnknownOrder(orderId);
    }

    function _submitted(uint256 orderId) private view returns (Order storage o) {
        o = _existing(orderId);
        if (o.state != OrderState.Submitted) revert InvalidState(orderId, o.state);
    }

    /// @dev The regional manager must belong to the order's own region; the other stages to the brand.
    function _authoriseStage(Order storage o, uint8 stage) private view {
        if (stage == Stages.REGION_MANAGER) {
            Organisation memory d = membership.organisations(o.distributor);
            membership.authorise(msg.sender, Roles.REGION_MANAGER, d.parent);
        } else if (stage == Stages.SALES_DIRECTOR) {
            membership.authorise(msg.sender, Roles.SALES_DIRECTOR, BRAND_ORG);
        } else if (stage == Stages.FINANCE) {
            membership.authorise(msg.sender, Roles.FINANCE, BRAND_ORG);
        } else {
            revert InvalidStage(stage);
        }
    }

    function _open(
        uint256 orderId,
        uint32 distributor,
        uint32 deliverTo,
        bool urgent,
        PricedLine[] memory lines,
        uint256 amount,
        uint256 totalCases
    ) private {
        if (amount > type(uint88).max || totalCases > type(uint32).max) revert AmountTooLarge(amount);
        uint8 required = requiredStages(amount);
        _orders[orderId] = Order({
            distributor: distributor,
            deliverTo: deliverTo,
            state: OrderState.Submitted,
            urgent: urgent,
            requiredStages: required,
            approvedStages: 0,
            lineCount: uint8(lines.length),
            casesToDispatch: uint32(totalCases),
            casesInTransit: 0,
            amount: uint88(amount)
        });
        emit OrderSubmitted(orderId, distributor, deliverTo, urgent, required, amount, lines, msg.sender);
    }

    function _recordLines(uint256 orderId, uint32[] calldata skus, uint32[] calldata cases, uint128[] memory unitPrices)
        private
        returns (PricedLine[] memory lines, uint256 amount, uint256 totalCases)
    {
        lines = new PricedLine[](skus.length);
        for (uint256 i = 0; i < skus.length; ++i) {
            if (i > 0 && skus[i] <= skus[i - 1]) revert LinesNotSorted(skus[i]);
            if (cases[i] == 0) revert ZeroCases(skus[i]);
            amount += uint256(unitPrices[i]) * cases[i];
            totalCases += cases[i];
            _lines[orderId][i] = OrderLine(skus[i], cases[i], 0);
            lines[i] = PricedLine(skus[i], cases[i], unitPrices[i]);
        }
    }

    function _lineFor(uint256 orderId, uint256 lineCount, uint32 sku) private view returns (OrderLine storage) {
        for (uint256 j = 0; j < lineCount; ++j) {
            OrderLine storage line = _lines[orderId][j];
            if (line.sku == sku) return line;
        }
        revert SkuNotOrdered(orderId, sku);
    }
}
