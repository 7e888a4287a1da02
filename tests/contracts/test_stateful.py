"""Random walks through the ledger's life, checked after every step against a Python model of it.

A hypothesis state machine (run by brownie's `state_machine`, which reverts the chain between
sequences) commissions lots, submits, approves, rejects, cancels and pays for orders, dispatches
against them in part or in full, transfers stock between the brand's sites, delivers on from
distributors to stores, receives with random shortfalls, resolves discrepancies, sells, writes off
and recalls. Steps that must fail are attempted and must revert with the contract's own custom error,
leaving the model untouched. After every step the invariants compare the model with the contracts'
views: every (location, lot) balance, shipment, discrepancy, transfer, order and credit line; stock is
conserved per lot (commissioned = balances + in transit + open discrepancies + decommissioned); orders
only move along the transitions Orders.sol allows; no distributor's exposure exceeds its limit.
"""

from __future__ import annotations

import copy
import importlib.util
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import requests
from brownie import chain, web3
from conftest import (
    DAY, DECOMMISSION, DISCREPANCY, ORDER, SHIPMENT_KIND, SHIPMENT_STATE, STAGE, TRANSFER, lot_id, lot_number, reverts,
)
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

# Orders.sol's default approval policy, in fen: the stages an order of at least `amount` needs.
POLICY = ((100_000_000, STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR | STAGE.FINANCE),
          (10_000_000, STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR), (0, STAGE.REGION_MANAGER))
CASE_PRICE = 900_000
UINT256 = [{"internalType": "uint256", "name": "", "type": "uint256"}]
# Low enough that a few large orders exhaust it, so approvals meet CreditLimitExceeded and payments matter.
DIST_B_LIMIT = 200_000_000

# Every state change an order may make (Orders.sol); staying put is always allowed.
LEGAL_TRANSITIONS = {
    ORDER.NONE: {ORDER.SUBMITTED},
    ORDER.SUBMITTED: {ORDER.APPROVED, ORDER.REJECTED, ORDER.CANCELLED},
    ORDER.APPROVED: {ORDER.PARTIALLY_DISPATCHED, ORDER.DISPATCHED, ORDER.CANCELLED},
    ORDER.PARTIALLY_DISPATCHED: {ORDER.DISPATCHED},
    ORDER.DISPATCHED: {ORDER.DELIVERED},
    ORDER.DELIVERED: set(),
    ORDER.REJECTED: set(),
    ORDER.CANCELLED: set(),
}

SETTINGS = {
    "max_examples": 200,
    # 12 steps keep the file near three minutes on two cores (15 took 3-3.6, 20 about 4); the seeded
    # world below lets 12 steps still reach dispatch, receipt and discrepancy states.
    "stateful_step_count": 12,
    # Kept random on purpose: the model is exact and no step depends on timing, so a failure is a real
    # bug rather than flakiness, and every CI run then walks 200 sequences no run has walked before.
    # derandomize=True would replay the same 200 forever. A failure prints the shrunk steps and a
    # @reproduce_failure blob, and brownie's example database replays it first on the next run.
    "derandomize": False,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow],
}


st_pick = st.integers(min_value=0, max_value=1_000)
st_percent = st.integers(min_value=1, max_value=100)
st_bool = st.booleans()
st_mistake = st.sampled_from([False, False, False, True])
st_sku = st.sampled_from([1, 2, 3])
st_cases = st.integers(min_value=1, max_value=120)
st_stage = st.sampled_from([STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR, STAGE.FINANCE])
# Line sizes straddle the policy's tiers (under 12 cases, under 112, more), so every stage mix occurs.
st_lines = st.dictionaries(
    st.sampled_from([1, 2, 3]),
    st.one_of(st.integers(min_value=1, max_value=11), st.integers(min_value=12, max_value=60),
              st.integers(min_value=100, max_value=150)),
    min_size=1, max_size=3,
)
st_shortfalls = st.lists(st.sampled_from([0, 0, 0, 1, 2, 5, 1_000]), min_size=3, max_size=3)
st_outcome = st.sampled_from([DISCREPANCY.FOUND, DISCREPANCY.RETURNED, DISCREPANCY.WRITTEN_OFF])


def required_stages(amount: int) -> int:
    return next(stages for floor, stages in POLICY if amount >= floor)


def share(available: int, percent: int) -> int:
    """Between 1 and `available` cases: `percent` of it, rounded up."""
    return max(1, -(-available * percent // 100))


class Ledger:
    """The rules and invariants of the ledger's state machine.

    Rules carry hypothesis's own `@rule` and `@precondition` (brownie's state_machine leaves decorated
    methods alone): a rule that has nothing to act on is never drawn, so no step is wasted as a no-op.
    The `invariant_*` methods follow brownie's naming convention and run after every step. Most rules
    take `mistake`: one step in four it tries what the contracts must refuse (approving out of turn,
    dispatching more than ordered, receiving twice, supplying another region's store, ...) and asserts
    the custom error; the model is left as it was.
    """

    def __init__(cls, net):
        # Runs once, before brownie's snapshot: every sequence starts from the world built here, with
        # stock, orders at several stages and an approved transfer, so short sequences reach deep states.
        cls.net = net
        n, a, lo = net, net.acct, net.loc
        cls.brand_sites = [lo.wh_shanghai, lo.wh_beijing, lo.east_center]
        cls.warehouses = [lo.wh_shanghai, lo.wh_beijing]
        cls.distributors = {lo.dist_a: n.org.dist_a, lo.dist_b: n.org.dist_b, lo.dist_n: n.org.dist_n}
        cls.purchaser = {lo.dist_a: a.dist_a_purchaser, lo.dist_b: a.dist_b_purchaser, lo.dist_n: a.dist_n_purchaser}
        cls.region_manager = {lo.dist_a: a.rm_east, lo.dist_b: a.rm_east, lo.dist_n: a.rm_north}
        cls.region_of = {lo.dist_a: n.org.east, lo.dist_b: n.org.east, lo.dist_n: n.org.north}
        cls.store_of = {lo.dist_a: lo.store_a, lo.dist_b: lo.store_a, lo.dist_n: lo.store_n}
        cls.stores = {lo.store_a: a.store_a_staff, lo.store_n: a.store_n_staff}
        cls.locations = [*cls.brand_sites, *cls.distributors, *cls.stores]
        cls.owner = {**{site: 1 for site in cls.brand_sites}, **{lo.dist_a: n.org.dist_a, lo.dist_b: n.org.dist_b,
                     lo.dist_n: n.org.dist_n, lo.store_a: n.org.store_a, lo.store_n: n.org.store_n}}
        cls.rpc = requests.Session()

        model = SimpleNamespace(
            commissioned={}, bal=defaultdict(int), decommissioned=defaultdict(int), recalled=set(), lot_seq=0,
            orders={}, seen_state={}, exposure={org: 0 for org in cls.distributors.values()},
            limit={org: 10**13 for org in cls.distributors.values()}, shipments={}, transfers={}, discrepancies={},
        )
        n.orders.setCreditLimit(n.org.dist_b, DIST_B_LIMIT, {"from": a.finance})
        model.limit[n.org.dist_b] = DIST_B_LIMIT
        for sku, location, cases in ((1, lo.wh_shanghai, 200), (2, lo.wh_shanghai, 200), (3, lo.wh_beijing, 200),
                                     (1, lo.wh_beijing, 100)):
            lot = n.commission(sku, cases, location)
            model.commissioned[lot] = cases
            model.bal[(location, lot)] = cases
        for location, urgent, lines, approve in ((lo.dist_a, False, {1: 10, 2: 5}, True),
                                                 (lo.dist_n, True, {3: 3}, False),
                                                 (lo.dist_b, False, {1: 120}, False)):
            order_id = n.orders.submitOrder(location, urgent, sorted(lines), [lines[k] for k in sorted(lines)],
                                            {"from": cls.purchaser[location]}).return_value
            o = cls._new_order(cls, location, urgent, lines)
            if approve:
                for stage in (STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR, STAGE.FINANCE):
                    if o.required & stage:
                        n.orders.approveOrder(order_id, stage, {"from": cls._approver(cls, location, stage)})
                o.approved, o.state = o.required, ORDER.APPROVED
                model.exposure[o.distributor] += o.amount
            model.orders[order_id] = o
        model.seen_state = {order_id: o.state for order_id, o in model.orders.items()}
        first_lot = min(model.commissioned)
        transfer = n.inventory.requestTransfer(lo.wh_shanghai, lo.east_center, [first_lot], [20],
                                               {"from": a.sales_director}).return_value
        n.inventory.approveTransfer(transfer, {"from": a.sales_director})
        model.transfers[transfer] = SimpleNamespace(source=lo.wh_shanghai, dest=lo.east_center, lots=[first_lot],
                                                    cases=[20], state=TRANSFER.APPROVED)
        cls.initial_model = model

    def setup(self):
        for name, value in copy.deepcopy(vars(self.initial_model)).items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ helpers

    def _views(self, calls):
        """Answers many view calls in one JSON-RPC batch: a step's full check costs one round trip."""
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_call",
             "params": [{"to": method._address, "data": method.encode_input(*args)}, "latest"]}
            for i, (method, args) in enumerate(calls)
        ]
        answers = sorted(self.rpc.post(web3.provider.endpoint_uri, json=payload).json(), key=lambda r: r["id"])
        # Balances are most of a step's calls; a lone uint256 needs no ABI decoder.
        return [int(r["result"], 16) if method.abi["outputs"] == UINT256 else method.decode_output(r["result"])
                for (method, _), r in zip(calls, answers)]

    @staticmethod
    def _choose(items, pick):
        items = list(items)
        return items[pick % len(items)] if items else None

    def _new_order(self, location, urgent, lines):
        amount = CASE_PRICE * sum(lines.values())
        return SimpleNamespace(location=location, distributor=self.distributors[location], urgent=urgent, amount=amount,
                               required=required_stages(amount), approved=0, state=ORDER.SUBMITTED, in_transit=0,
                               lines={sku: [n, 0] for sku, n in lines.items()})

    def _approver(self, location, stage):
        if stage == STAGE.REGION_MANAGER:
            return self.region_manager[location]
        return self.net.acct.sales_director if stage == STAGE.SALES_DIRECTOR else self.net.acct.finance

    def _pick_order(self, pick, states, mistake):
        """An order in one of `states`; on a mistake, any order, so the wrong states are tried too."""
        return self._choose([i for i, o in self.orders.items() if mistake or o.state in states], pick)

    def _orders_in(self, *states):
        return [i for i, o in self.orders.items() if o.state in states]

    def _transfers_in(self, state):
        return [i for i, t in self.transfers.items() if t.state == state]

    def _holding(self, locations, recalled_too=False):
        """The `locations` holding stock they may dispatch (or, with `recalled_too`, any stock)."""
        held = {at for (at, lot), n in self.bal.items() if n > 0 and (recalled_too or lot not in self.recalled)}
        return [loc for loc in locations if loc in held]

    def _dispatchable_orders(self):
        """(order, brand site) pairs where the site holds a lot of an SKU the order still waits for."""
        skus = defaultdict(set)
        for (loc, lot), n in self.bal.items():
            if n > 0 and lot not in self.recalled:
                skus[loc].add(lot >> 160)
        open_orders = self._orders_in(ORDER.APPROVED, ORDER.PARTIALLY_DISPATCHED)
        return [(i, site) for i in open_orders for site in self.brand_sites
                if any(n > sent and sku in skus[site] for sku, (n, sent) in self.orders[i].lines.items())]

    def _stock_at(self, location, sku=None):
        """Lots with stock at `location` that may still be dispatched, ascending (as dispatch lines must be)."""
        return sorted(lot for (loc, lot), cases in self.bal.items() if loc == location and cases > 0
                      and lot not in self.recalled and (sku is None or lot >> 160 == sku))

    def _consignment(self, kind, ref, source, dest):
        return (kind, ref, source, dest, self.net.org.carrier, chain.time() + 2 * DAY, "bafkreiwaybill")

    def _record_shipment(self, tx, kind, ref, source, dest, lots, cases):
        shipment = tx.return_value
        assert shipment == len(self.shipments) + 1
        event = tx.events["ShipmentDispatched"]
        assert (event["shipmentId"], event["from"], event["to"]) == (shipment, source, dest)
        assert event["owner"] == self.owner[source]
        assert list(event["lots"]) == lots and list(event["cases"]) == cases
        for lot, n in zip(lots, cases):
            self.bal[(source, lot)] -= n
        self.shipments[shipment] = SimpleNamespace(kind=kind, ref=ref, source=source, dest=dest, lots=lots, cases=cases,
                                                   open=True)

    # ------------------------------------------------------------------ lots

    @rule(location=st_pick, sku=st_sku, cases=st_cases, mistake=st_mistake)
    def rule_commission(self, location, sku, cases, mistake):
        location = self._choose(self.warehouses, location)
        dispatcher = {"from": self.net.acct.brand_dispatcher}
        if mistake:
            lot = self._choose(sorted(self.commissioned), cases)
            number = (lot & (2**160 - 1)).to_bytes(20, "big")
            with reverts("LotAlreadyCommissioned", lot):
                self.net.inventory.commissionLot(lot >> 160, number, location, 1, 6, web3.keccak(number), "bafkreilot",
                                                 dispatcher)
            return
        self.lot_seq += 1
        number = f"R{self.lot_seq:04d}"
        lot = lot_id(sku, number)
        # One bottle short of full cases: only the last case may be partial.
        tx = self.net.inventory.commissionLot(sku, lot_number(number), location, cases, cases * 6 - 1,
                                              web3.keccak(text=number), "bafkreilot", dispatcher)
        event = tx.events["LotCommissioned"]
        assert (event["lot"], event["sku"], event["location"], event["cases"]) == (lot, sku, location, cases)
        self.commissioned[lot] = cases
        self.bal[(location, lot)] += cases

    # ------------------------------------------------------------------ orders

    @rule(location=st_pick, lines=st_lines, urgent=st_bool)
    def rule_submit(self, location, lines, urgent):
        location = self._choose(self.distributors, location)
        skus = sorted(lines)
        tx = self.net.orders.submitOrder(location, urgent, skus, [lines[k] for k in skus],
                                         {"from": self.purchaser[location]})
        order_id = tx.return_value
        assert order_id == len(self.orders) + 1
        o = self.orders[order_id] = self._new_order(location, urgent, lines)
        event = tx.events["OrderSubmitted"]
        assert (event["deliverTo"], event["urgent"], event["amount"]) == (location, urgent, o.amount)
        assert event["requiredStages"] == o.required

    @precondition(lambda self: self._orders_in(ORDER.SUBMITTED))
    @rule(pick=st_pick, stage=st_stage, mistake=st_mistake)
    def rule_approve(self, pick, stage, mistake):
        order_id = self._pick_order(pick, {ORDER.SUBMITTED}, mistake)
        o = self.orders[order_id]
        pending = o.required & ~o.approved
        if not mistake and pending:
            # The next stage in sequence, or any pending one when the order is urgent.
            stage = self._choose([s for s in (1, 2, 4) if pending & s], pick) if o.urgent else pending & -pending
        approver = self._approver(o.location, stage)
        if mistake and stage == STAGE.REGION_MANAGER and pick % 2:
            approver = self.net.acct.rm_north if approver == self.net.acct.rm_east else self.net.acct.rm_east
        earlier = o.required & (stage - 1) & ~o.approved
        fully = (o.approved | stage) == o.required
        exposure, limit = self.exposure[o.distributor], self.limit[o.distributor]
        if o.state != ORDER.SUBMITTED:
            error = ("InvalidState", order_id, o.state)
        elif approver != self._approver(o.location, stage):
            error = ("WrongOrganisation", approver, self.region_of[o.location])
        elif not o.required & stage:
            error = ("StageNotRequired", order_id, stage)
        elif o.approved & stage:
            error = ("StageAlreadyApproved", order_id, stage)
        elif earlier and not o.urgent:
            error = ("StageOutOfSequence", order_id, stage, earlier & -earlier)
        elif fully and exposure + o.amount > limit:
            error = ("CreditLimitExceeded", o.distributor, limit, exposure, o.amount)
        else:
            error = None
        if error:
            with reverts(*error):
                self.net.orders.approveOrder(order_id, stage, {"from": approver})
            return
        tx = self.net.orders.approveOrder(order_id, stage, {"from": approver})
        event = tx.events["OrderApproved"]
        assert (event["orderId"], event["stage"], event["fullyApproved"]) == (order_id, stage, fully)
        o.approved |= stage
        if fully:
            self.exposure[o.distributor] += o.amount
            assert tx.events["CreditReserved"]["exposure"] == self.exposure[o.distributor]
            o.state = ORDER.APPROVED

    @precondition(lambda self: self._orders_in(ORDER.SUBMITTED))
    @rule(pick=st_pick, stage=st_stage, mistake=st_mistake)
    def rule_reject(self, pick, stage, mistake):
        order_id = self._pick_order(pick, {ORDER.SUBMITTED}, mistake)
        o = self.orders[order_id]
        pending = o.required & ~o.approved
        if not mistake and pending:
            # Any pending stage may reject, in or out of turn.
            stage = self._choose([s for s in (1, 2, 4) if pending & s], pick)
        approver = self._approver(o.location, stage)
        if o.state != ORDER.SUBMITTED:
            error = ("InvalidState", order_id, o.state)
        elif not o.required & stage:
            error = ("StageNotRequired", order_id, stage)
        elif o.approved & stage:
            error = ("StageAlreadyApproved", order_id, stage)
        else:
            error = None
        if error:
            with reverts(*error):
                self.net.orders.rejectOrder(order_id, stage, 3, {"from": approver})
            return
        tx = self.net.orders.rejectOrder(order_id, stage, 3, {"from": approver})
        assert (tx.events["OrderRejected"]["orderId"], tx.events["OrderRejected"]["stage"]) == (order_id, stage)
        o.state = ORDER.REJECTED

    @precondition(lambda self: self._orders_in(ORDER.SUBMITTED, ORDER.APPROVED))
    @rule(pick=st_pick, mistake=st_mistake)
    def rule_cancel(self, pick, mistake):
        order_id = self._pick_order(pick, {ORDER.SUBMITTED, ORDER.APPROVED}, mistake)
        o = self.orders[order_id]
        purchaser = {"from": self.purchaser[o.location]}
        if o.state not in (ORDER.SUBMITTED, ORDER.APPROVED):
            with reverts("InvalidState", order_id, o.state):
                self.net.orders.cancelOrder(order_id, 2, purchaser)
            return
        tx = self.net.orders.cancelOrder(order_id, 2, purchaser)
        assert tx.events["OrderCancelled"]["orderId"] == order_id
        if o.state == ORDER.APPROVED:
            # Payments are not tied to orders: a distributor that paid ahead gets back no more than it owes.
            self.exposure[o.distributor] -= min(o.amount, self.exposure[o.distributor])
            assert tx.events["CreditReleased"]["exposure"] == self.exposure[o.distributor]
        else:
            assert "CreditReleased" not in tx.events
        o.state = ORDER.CANCELLED

    @rule(pick=st_pick, percent=st_percent, mistake=st_mistake)
    def rule_record_payment(self, pick, percent, mistake):
        distributor = self._choose(sorted(self.exposure), pick)
        exposure = self.exposure[distributor]
        finance = {"from": self.net.acct.finance}
        if mistake or exposure == 0:
            with reverts("PaymentExceedsExposure", distributor, exposure, exposure + 1):
                self.net.orders.recordPayment(distributor, exposure + 1, finance)
            return
        amount = share(exposure, percent)
        tx = self.net.orders.recordPayment(distributor, amount, finance)
        self.exposure[distributor] -= amount
        assert tx.events["PaymentRecorded"]["exposure"] == self.exposure[distributor]

    # ------------------------------------------------------------------ shipments

    @precondition(lambda self: self._dispatchable_orders())
    @rule(pick=st_pick, percent=st_percent, full=st_bool, mistake=st_mistake)
    def rule_dispatch_order(self, pick, percent, full, mistake):
        if mistake:
            self._dispatch_more_than_ordered(self._choose(self.orders, pick), pick)
            return
        order_id, source = self._choose(self._dispatchable_orders(), pick)
        o = self.orders[order_id]
        wanted = [sku for sku, (ordered, dispatched) in o.lines.items() if ordered > dispatched]
        lots, cases = [], []
        for sku in sorted(wanted):
            stock = self._stock_at(source, sku)
            if stock:
                ordered, dispatched = o.lines[sku]
                available = min(ordered - dispatched, self.bal[(source, stock[0])])
                lots.append(stock[0])
                cases.append(available if full else share(available, percent))
        consignment = self._consignment(SHIPMENT_KIND.ORDER, order_id, source, o.location)
        tx = self.net.inventory.dispatch(consignment, lots, cases, {"from": self.net.dispatcher_of(source)})
        self._record_shipment(tx, SHIPMENT_KIND.ORDER, order_id, source, o.location, lots, cases)
        for lot, n in zip(lots, cases):
            o.lines[lot >> 160][1] += n
        o.in_transit += sum(cases)
        done = all(ordered == dispatched for ordered, dispatched in o.lines.values())
        o.state = ORDER.DISPATCHED if done else ORDER.PARTIALLY_DISPATCHED
        event = tx.events["OrderDispatched"]
        assert (event["orderId"], event["cases"], event["state"]) == (order_id, sum(cases), o.state)

    def _dispatch_more_than_ordered(self, order_id, pick):
        o = self.orders[order_id]
        sku = self._choose(sorted(o.lines), pick)
        remaining = o.lines[sku][0] - o.lines[sku][1]
        if o.state in (ORDER.APPROVED, ORDER.PARTIALLY_DISPATCHED):
            error = ("ExceedsOrderedQuantity", order_id, sku, remaining, remaining + 1)
        else:
            error = ("InvalidState", order_id, o.state)
        # The order is checked before the stock, so a lot that does not exist still names the line.
        source = self.net.loc.wh_shanghai
        with reverts(*error):
            self.net.inventory.dispatch(self._consignment(SHIPMENT_KIND.ORDER, order_id, source, o.location),
                                        [lot_id(sku, "NO-SUCH-LOT")], [remaining + 1],
                                        {"from": self.net.dispatcher_of(source)})

    @precondition(lambda self: self._holding(self.brand_sites))
    @rule(source=st_pick, dest=st_pick, percent=st_percent, by_director=st_bool, mistake=st_mistake)
    def rule_request_transfer(self, source, dest, percent, by_director, mistake):
        source = self._choose(self._holding(self.brand_sites), source)
        dest = self._choose([s for s in self.brand_sites if s != source], dest)
        lots = self._stock_at(source)[:2]
        cases = [share(self.bal[(source, lot)], percent) for lot in lots]
        if mistake:
            # Only the receiving side (or the sales director) may ask for stock; the sender may not push it.
            sender = self.net.dispatcher_of(source)
            with reverts("NotAllowedToRequestTransfer", sender):
                self.net.inventory.requestTransfer(source, dest, lots, cases, {"from": sender})
            return
        requester = self.net.acct.sales_director if by_director else self.net.receiver_of(dest)
        tx = self.net.inventory.requestTransfer(source, dest, lots, cases, {"from": requester})
        transfer = tx.return_value
        assert transfer == len(self.transfers) + 1
        event = tx.events["TransferRequested"]
        assert (event["from"], event["to"], list(event["lots"]), list(event["cases"])) == (source, dest, lots, cases)
        self.transfers[transfer] = SimpleNamespace(source=source, dest=dest, lots=lots, cases=cases,
                                                   state=TRANSFER.REQUESTED)

    @precondition(lambda self: self._transfers_in(TRANSFER.REQUESTED))
    @rule(pick=st_pick, approve=st_bool, mistake=st_mistake)
    def rule_decide_transfer(self, pick, approve, mistake):
        transfer = self._choose(self.transfers if mistake else self._transfers_in(TRANSFER.REQUESTED), pick)
        t = self.transfers[transfer]
        director = {"from": self.net.acct.sales_director}
        if t.state != TRANSFER.REQUESTED:
            with reverts("InvalidTransferState", transfer, t.state):
                self.net.inventory.approveTransfer(transfer, director)
            return
        if approve:
            tx = self.net.inventory.approveTransfer(transfer, director)
            assert tx.events["TransferApproved"]["transferId"] == transfer
            t.state = TRANSFER.APPROVED
        else:
            tx = self.net.inventory.rejectTransfer(transfer, 5, director)
            assert tx.events["TransferRejected"]["transferId"] == transfer
            t.state = TRANSFER.REJECTED

    @precondition(lambda self: self._transfers_in(TRANSFER.APPROVED))
    @rule(pick=st_pick)
    def rule_dispatch_transfer(self, pick):
        transfer = self._choose(self._transfers_in(TRANSFER.APPROVED), pick)
        t = self.transfers[transfer]
        consignment = self._consignment(SHIPMENT_KIND.TRANSFER, transfer, t.source, t.dest)
        sender = {"from": self.net.dispatcher_of(t.source)}
        # Stock may have left, or the lot been recalled, since the transfer was requested.
        for lot, n in zip(t.lots, t.cases):
            available = self.bal[(t.source, lot)]
            error = (("LotIsRecalled", lot) if lot in self.recalled else
                     ("InsufficientStock", t.source, lot, available, n) if available < n else None)
            if error:
                with reverts(*error):
                    self.net.inventory.dispatch(consignment, t.lots, t.cases, sender)
                return
        tx = self.net.inventory.dispatch(consignment, t.lots, t.cases, sender)
        self._record_shipment(tx, SHIPMENT_KIND.TRANSFER, transfer, t.source, t.dest, t.lots, t.cases)
        t.state = TRANSFER.DISPATCHED

    @precondition(lambda self: self._holding(self.distributors))
    @rule(pick=st_pick, percent=st_percent, mistake=st_mistake)
    def rule_deliver_to_store(self, pick, percent, mistake):
        source = self._choose(self._holding(self.distributors), pick)
        lots = self._stock_at(source)[:2]
        cases = [share(self.bal[(source, lot)], percent) for lot in lots]
        sender = {"from": self.purchaser[source]}
        if mistake:
            # Diversion: a distributor may not supply a store in another region.
            dest = next(s for s in self.stores if s != self.store_of[source])
            with reverts("OutOfRegion", source, dest):
                self.net.inventory.dispatch(self._consignment(SHIPMENT_KIND.DELIVERY, 0, source, dest), lots, cases,
                                            sender)
            return
        dest = self.store_of[source]
        consignment = self._consignment(SHIPMENT_KIND.DELIVERY, 0, source, dest)
        tx = self.net.inventory.dispatch(consignment, lots, cases, sender)
        self._record_shipment(tx, SHIPMENT_KIND.DELIVERY, 0, source, dest, lots, cases)

    @precondition(lambda self: any(s.open for s in self.shipments.values()))
    @rule(pick=st_pick, shortfalls=st_shortfalls, mistake=st_mistake)
    def rule_receive(self, pick, shortfalls, mistake):
        shipment = self._choose([i for i, s in self.shipments.items() if mistake or s.open], pick)
        s = self.shipments[shipment]
        manifest = (s.kind, s.ref, s.source, s.lots, s.cases)
        receiver = {"from": self.net.receiver_of(s.dest)}
        if mistake:
            received = [*s.cases[:-1], s.cases[-1] + 1]
            error = (("ReceivedMoreThanShipped", s.lots[-1], s.cases[-1], received[-1]) if s.open
                     else ("ShipmentNotInTransit", shipment))
            with reverts(*error):
                self.net.inventory.confirmReceipt(shipment, manifest, received, receiver)
            return
        received = [max(0, n - short) for n, short in zip(s.cases, shortfalls)]
        tx = self.net.inventory.confirmReceipt(shipment, manifest, received, receiver)
        event = tx.events["ShipmentReceived"]
        assert (event["shipmentId"], event["owner"]) == (shipment, self.owner[s.dest])
        assert list(event["received"]) == received
        assert event["shortfall"] == sum(s.cases) - sum(received)
        opened = tx.events["DiscrepancyOpened"] if "DiscrepancyOpened" in tx.events else []
        opened = [opened[i] for i in range(len(opened))]
        assert len(opened) == sum(r < n for r, n in zip(received, s.cases))
        for lot, n, r in zip(s.lots, s.cases, received):
            self.bal[(s.dest, lot)] += r
            if r < n:
                discrepancy = len(self.discrepancies) + 1
                assert (opened[0]["discrepancyId"], opened[0]["lot"]) == (discrepancy, lot)
                opened.pop(0)
                self.discrepancies[discrepancy] = SimpleNamespace(lot=lot, cases=n - r, source=s.source, dest=s.dest,
                                                                  state=DISCREPANCY.OPEN)
        s.open = False
        if s.kind == SHIPMENT_KIND.ORDER:
            o = self.orders[s.ref]
            o.in_transit -= sum(s.cases)
            if o.state == ORDER.DISPATCHED and o.in_transit == 0:
                o.state = ORDER.DELIVERED
            assert ("OrderDelivered" in tx.events) == (o.state == ORDER.DELIVERED)
        elif s.kind == SHIPMENT_KIND.TRANSFER:
            self.transfers[s.ref].state = TRANSFER.COMPLETED

    @precondition(lambda self: any(d.state == DISCREPANCY.OPEN for d in self.discrepancies.values()))
    @rule(pick=st_pick, outcome=st_outcome, mistake=st_mistake)
    def rule_resolve_discrepancy(self, pick, outcome, mistake):
        discrepancy = self._choose([i for i, d in self.discrepancies.items() if mistake or d.state == DISCREPANCY.OPEN],
                                   pick)
        d = self.discrepancies[discrepancy]
        admin = {"from": self.net.acct.admin}
        if d.state != DISCREPANCY.OPEN:
            with reverts("DiscrepancyNotOpen", discrepancy):
                self.net.inventory.resolveDiscrepancy(discrepancy, outcome, admin)
            return
        tx = self.net.inventory.resolveDiscrepancy(discrepancy, outcome, admin)
        credited = {DISCREPANCY.FOUND: d.dest, DISCREPANCY.RETURNED: d.source, DISCREPANCY.WRITTEN_OFF: 0}[outcome]
        assert tx.events["DiscrepancyResolved"]["creditedLocation"] == credited
        if credited:
            self.bal[(credited, d.lot)] += d.cases
        else:
            assert tx.events["StockDecommissioned"]["cases"] == d.cases
            self.decommissioned[d.lot] += d.cases
        d.state = outcome

    # ------------------------------------------------------------------ leaving the ledger

    @precondition(lambda self: self._holding(self.stores, recalled_too=True))
    @rule(pick=st_pick, percent=st_percent, mistake=st_mistake)
    def rule_sell(self, pick, percent, mistake):
        store = self._choose(self._holding(self.stores, recalled_too=True), pick)
        lot = self._choose(sorted(lot for (loc, lot), n in self.bal.items() if loc == store and n > 0), pick)
        available = self.bal[(store, lot)]
        staff = {"from": self.stores[store]}
        if lot in self.recalled:
            with reverts("LotIsRecalled", lot):
                self.net.inventory.recordSale(store, lot, 1, staff)
            return
        if mistake:
            with reverts("InsufficientStock", store, lot, available, available + 1):
                self.net.inventory.recordSale(store, lot, available + 1, staff)
            return
        cases = share(available, percent)
        tx = self.net.inventory.recordSale(store, lot, cases, staff)
        assert tx.events["StockDecommissioned"]["cases"] == cases
        self.bal[(store, lot)] -= cases
        self.decommissioned[lot] += cases

    @precondition(lambda self: any(n > 0 for n in self.bal.values()))
    @rule(pick=st_pick, percent=st_percent, recall=st_mistake)
    def rule_recall_or_write_off(self, pick, percent, recall):
        location, lot = self._choose(sorted(key for key, n in self.bal.items() if n > 0), pick)
        admin = {"from": self.net.acct.admin}
        if recall and lot not in self.recalled:
            tx = self.net.inventory.recallLot(lot, 7, admin)
            assert tx.events["LotRecalled"]["lot"] == lot
            self.recalled.add(lot)
            return
        cases = share(self.bal[(location, lot)], percent)
        tx = self.net.inventory.writeOff(location, lot, cases, DECOMMISSION.DAMAGED, admin)
        event = tx.events["StockDecommissioned"]
        assert (event["location"], event["lot"], event["cases"]) == (location, lot, cases)
        self.bal[(location, lot)] -= cases
        self.decommissioned[lot] += cases

    # ------------------------------------------------------------------ invariants

    def invariant_stock_is_conserved_and_matches_the_model(self):
        inv = self.net.inventory
        lots = sorted(self.commissioned)
        keys = [(loc, lot) for loc in self.locations for lot in lots]
        answers = self._views(
            [(inv.balanceOf, key) for key in keys]
            + [(inv.shipments, (i,)) for i in self.shipments]
            + [(inv.discrepancies, (i,)) for i in self.discrepancies]
            + [(inv.transfers, (i,)) for i in self.transfers]
            + [(inv.shipmentCount, ()), (inv.transferCount, ()), (inv.discrepancyCount, ())]
        )
        balances = dict(zip(keys, answers))
        shipments = dict(zip(self.shipments, answers[len(keys):]))
        discrepancies = dict(zip(self.discrepancies, answers[len(keys) + len(shipments):]))
        transfers = dict(zip(self.transfers, answers[len(keys) + len(shipments) + len(discrepancies):]))
        assert tuple(answers[-3:]) == (len(self.shipments), len(self.transfers), len(self.discrepancies))

        total = defaultdict(int)
        for (loc, lot), cases in balances.items():
            assert cases == self.bal[(loc, lot)], f"balance of lot {lot:#x} at location {loc}"
            total[lot] += cases
        for i, s in self.shipments.items():
            assert shipments[i]["state"] == (SHIPMENT_STATE.IN_TRANSIT if s.open else SHIPMENT_STATE.RECEIVED)
            if shipments[i]["state"] == SHIPMENT_STATE.IN_TRANSIT:
                for lot, n in zip(s.lots, s.cases):
                    total[lot] += n
        for i, d in self.discrepancies.items():
            view = discrepancies[i]
            assert (view["lot"], view["cases"], view["state"]) == (d.lot, d.cases, d.state)
            if discrepancies[i]["state"] == DISCREPANCY.OPEN:
                total[d.lot] += d.cases
        for i, t in self.transfers.items():
            assert transfers[i]["state"] == t.state
        for lot, cases in self.commissioned.items():
            assert total[lot] + self.decommissioned[lot] == cases, f"lot {lot:#x} is not conserved"

    def invariant_orders_move_only_along_legal_transitions(self):
        orders = self.net.orders
        answers = self._views([(orders.orders, (i,)) for i in self.orders] + [(orders.orderCount, ())])
        assert answers[-1] == len(self.orders)
        for (order_id, o), view in zip(self.orders.items(), answers):
            before, now = self.seen_state.get(order_id, ORDER.NONE), view["state"]
            assert now == before or now in LEGAL_TRANSITIONS[before], f"order {order_id} went {before} -> {now}"
            self.seen_state[order_id] = now
            dispatched = sum(d for _, d in o.lines.values())
            assert (now, view["approvedStages"], view["casesInTransit"]) == (o.state, o.approved, o.in_transit)
            assert view["casesToDispatch"] == sum(n for n, _ in o.lines.values()) - dispatched

    def invariant_credit_exposure_stays_within_the_limit(self):
        distributors = sorted(self.exposure)
        credits = self._views([(self.net.orders.credits, (d,)) for d in distributors])
        for distributor, credit in zip(distributors, credits):
            assert credit["exposure"] <= credit["limit"]
            assert (credit["limit"], credit["exposure"]) == (self.limit[distributor], self.exposure[distributor])


def brownie_state_machine():
    """brownie's `state_machine`, from its Python source when the installed module is compiled.

    eth-brownie 1.22.2 compiles brownie/test/stateful.py with mypyc (eth-brownie PR #1952), and the compiled
    `_BrownieStateMachine.__init__` rejects the very subclass `state_machine` builds ("TypeError:
    brownie.test.stateful._BrownieStateMachine object expected"). The wheel ships the source beside the
    extension, so load that: the same helper, chain revert per sequence and all.
    """
    import brownie.test.stateful as compiled

    if compiled.__file__.endswith(".py"):
        return compiled.state_machine
    source = Path(compiled.__file__).with_name("stateful.py")
    spec = importlib.util.spec_from_file_location("brownie_stateful_source", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.state_machine


def test_random_walks_keep_stock_orders_and_credit_consistent(net):
    brownie_state_machine()(Ledger, net, settings=SETTINGS)

