"""Behaviour of the Inventory contract: lots, stock and the shipments that move it.

A lot is commissioned at a brand warehouse under a Merkle root of its bottles; stock then moves only by
shipments (against an order, for an approved transfer between brand sites, or as a delivery from a
distributor to a store of its region), is credited to the receiver for what actually arrived, and
leaves the ledger by a store's sale, the brand's write-off or a shortfall written off as lost. Each test
checks the resulting balances, records and events with their fields, and each rule's refusal by its
custom error; the last one walks a long scenario and checks stock conservation after every step.
Denials by role are covered by the permission matrix; a denial appears here only where it is a rule.
"""

from collections import Counter

import pytest
from brownie import chain

from conftest import (
    DECOMMISSION, DISCREPANCY, SHIPMENT_KIND, SHIPMENT_STATE, TRANSFER, bottle_tree, lot_id, lot_number, plain,
    reverts,
)

ROOT = b"\x11" * 32
DOC = "bafkreilotdocument"
WAYBILL = "bafkreiwaybill"
ORDER_KIND, TRANSFER_KIND, DELIVERY_KIND = SHIPMENT_KIND.ORDER, SHIPMENT_KIND.TRANSFER, SHIPMENT_KIND.DELIVERY


def ship(net, kind, ref, source, dest, lots, cases, sender=None, carrier=None, eta=None):
    """Dispatches and returns the transaction (conftest's verb returns only the shipment id)."""
    consignment = (kind, ref, source, dest, net.org.carrier if carrier is None else carrier,
                   net.eta() if eta is None else eta, WAYBILL)
    return net.inventory.dispatch(consignment, list(lots), list(cases), {"from": sender or net.dispatcher_of(source)})


def commission(net, sku=1, number="LOT-A", location=None, cases=10, bottles=None, root=ROOT):
    return net.inventory.commissionLot(
        sku, lot_number(number), location or net.loc.wh_shanghai, cases, cases * 6 if bottles is None else bottles,
        root, DOC, {"from": net.acct.brand_dispatcher},
    )


def approved_order(net, skus=(1,), cases=(10,)):
    order_id = net.submit(skus=skus, cases=cases)
    net.approve_all(order_id)
    return order_id


def requested_transfer(net, lots, cases, source=None, dest=None):
    tx = net.inventory.requestTransfer(source or net.loc.wh_shanghai, dest or net.loc.wh_beijing, lots, cases,
                                       {"from": net.acct.sales_director})
    return tx.return_value


def approved_transfer(net, lots, cases, source=None, dest=None):
    transfer_id = requested_transfer(net, lots, cases, source, dest)
    net.inventory.approveTransfer(transfer_id, {"from": net.acct.sales_director})
    return transfer_id


@pytest.fixture
def lot(net):
    """A lot of 100 cases of SKU 1 at the Shanghai warehouse."""
    return net.commission()


@pytest.fixture
def order_shipment(net, lot):
    """An approved order of 10 cases of SKU 1 for distributor A, shipped in full: (shipment, order, lot)."""
    order_id = approved_order(net)
    return ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10]).return_value, order_id, lot


@pytest.fixture
def at_dist_a(net, order_shipment):
    """10 cases of a lot held by distributor A, received against an order; returns the lot."""
    shipment, order_id, lot = order_shipment
    net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])
    return lot


@pytest.fixture
def at_store_a(net, at_dist_a):
    """6 cases of a lot at store A, delivered by distributor A; returns the lot."""
    shipment = ship(net, DELIVERY_KIND, 0, net.loc.dist_a, net.loc.store_a, [at_dist_a], [6]).return_value
    net.receive(shipment, DELIVERY_KIND, 0, net.loc.dist_a, net.loc.store_a, [at_dist_a], [6])
    return at_dist_a


@pytest.fixture
def short_receipt(net, lot):
    """A transfer of 10 cases Shanghai → Beijing received as 7: (discrepancy, shipment, lot)."""
    transfer_id = approved_transfer(net, [lot], [10])
    shipment = ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [10]).return_value
    tx = net.receive(shipment, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [10], [7])
    return tx.events["DiscrepancyOpened"]["discrepancyId"], shipment, lot


# ------------------------------------------------------------------------------------------ commission


def test_commissioning_puts_a_lot_at_a_warehouse_under_its_root(net):
    tx = commission(net, sku=2, number="2024-09A", cases=40)

    lot = tx.return_value
    assert lot == lot_id(2, "2024-09A") == (2 << 160) | int.from_bytes(b"2024-09A".ljust(20, b"\0"), "big")
    assert net.inventory.lotRoot(lot) == "0x" + ROOT.hex()
    assert net.balance(net.loc.wh_shanghai, lot) == 40
    assert not net.inventory.recalled(lot)
    event = tx.events["LotCommissioned"]
    assert event["lot"] == lot
    assert event["sku"] == 2
    assert event["location"] == net.loc.wh_shanghai
    assert bytes(event["lotNumber"]) == lot_number("2024-09A")
    assert (event["cases"], event["bottles"]) == (40, 240)
    assert bytes(event["merkleRoot"]) == ROOT
    assert event["documentCid"] == DOC


@pytest.mark.parametrize("cases, bottles", [(3, 13), (3, 18), (1, 1)], ids=["13 in 3", "18 in 3", "1 in 1"])
def test_only_the_last_case_of_a_lot_may_be_partly_filled(net, cases, bottles):
    tx = commission(net, cases=cases, bottles=bottles)

    assert tx.events["LotCommissioned"]["bottles"] == bottles
    assert net.balance(net.loc.wh_shanghai, tx.return_value) == cases


@pytest.mark.parametrize(
    "cases, bottles", [(3, 12), (3, 19), (1, 0), (0, 0), (0, 6)],
    ids=["last case empty", "more than fits", "no bottles", "no cases", "bottles but no cases"],
)
def test_the_bottles_must_fill_the_cases(net, cases, bottles):
    with reverts("BottleCountMismatch", cases, bottles, 6):
        commission(net, cases=cases, bottles=bottles)


@pytest.mark.parametrize("location", ["east_center", "dist_a", "store_a"])
def test_a_lot_is_commissioned_only_at_a_warehouse(net, location):
    with reverts("NotAWarehouse", getattr(net.loc, location)):
        commission(net, location=getattr(net.loc, location))


def test_an_unknown_or_delisted_sku_cannot_be_commissioned(net):
    net.catalog.setSkuActive(2, False, {"from": net.acct.admin})

    with reverts("UnknownSku", 99):
        commission(net, sku=99)
    with reverts("SkuInactive", 2):
        commission(net, sku=2)


def test_a_lot_needs_a_merkle_root(net):
    with reverts("InvalidMerkleRoot"):
        commission(net, root=b"\0" * 32)


@pytest.mark.parametrize(
    "raw",
    [b"", b"A\0B", b"\0A", b"LOT 1", b"LOT{1}", b"LOT~", b"LOT\x7f", b"LOT\xff", b"\x20"],
    ids=["empty", "gap", "leading zero", "space", "brace", "tilde", "delete", "high byte", "only a space"],
)
def test_a_lot_number_must_be_left_aligned_gs1_characters(net, raw):
    number = raw.ljust(20, b"\0")

    with reverts("InvalidLotNumber", number):
        net.inventory.commissionLot(1, number, net.loc.wh_shanghai, 1, 6, ROOT, DOC, {"from": net.acct.brand_dispatcher})


def test_a_lot_number_may_use_all_twenty_characters_from_bang_to_z(net):
    number = b"!" + b"z" * 18 + b"0"

    tx = net.inventory.commissionLot(1, number, net.loc.wh_shanghai, 1, 6, ROOT, DOC, {"from": net.acct.brand_dispatcher})

    assert tx.return_value == (1 << 160) | int.from_bytes(number, "big")


def test_a_lot_number_is_used_once_per_sku_but_may_recur_in_another_sku(net):
    first = commission(net, sku=1, number="2024-01").return_value

    with reverts("LotAlreadyCommissioned", first):
        commission(net, sku=1, number="2024-01", location=net.loc.wh_beijing)
    other = commission(net, sku=3, number="2024-01").return_value

    assert other == lot_id(3, "2024-01") != first
    assert net.balance(net.loc.wh_shanghai, first) == 10
    assert net.balance(net.loc.wh_shanghai, other) == 10


# -------------------------------------------------------------------------------------------- recall


def test_a_recalled_lot_cannot_be_dispatched_again(net, lot):
    tx = net.inventory.recallLot(lot, 3, {"from": net.acct.admin})

    assert dict(tx.events["LotRecalled"]) == {"lot": lot, "reasonCode": 3, "recalledBy": net.acct.admin}
    assert net.inventory.recalled(lot)
    with reverts("LotIsRecalled", lot):
        ship(net, ORDER_KIND, approved_order(net), net.loc.wh_shanghai, net.loc.dist_a, [lot], [1])
    assert net.balance(net.loc.wh_shanghai, lot) == 100


def test_recalled_stock_in_transit_can_still_be_received(net, order_shipment):
    shipment, order_id, lot = order_shipment
    net.inventory.recallLot(lot, 3, {"from": net.acct.admin})

    tx = net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])

    assert tx.events["ShipmentReceived"]["shipmentId"] == shipment
    assert net.balance(net.loc.dist_a, lot) == 10


def test_only_a_known_lot_not_yet_recalled_can_be_recalled(net, lot):
    with reverts("UnknownLot", lot + 1):
        net.inventory.recallLot(lot + 1, 3, {"from": net.acct.admin})
    net.inventory.recallLot(lot, 3, {"from": net.acct.admin})
    with reverts("LotAlreadyRecalled", lot):
        net.inventory.recallLot(lot, 4, {"from": net.acct.admin})


# ------------------------------------------------------------------------------------------ transfers


def test_the_sales_director_requests_a_transfer_between_brand_sites(net, lot):
    tx = net.inventory.requestTransfer(net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [30],
                                       {"from": net.acct.sales_director})

    transfer_id = tx.return_value
    assert transfer_id == net.inventory.transferCount() == 1
    assert plain(net.inventory.transfers(transfer_id)) == (net.loc.wh_shanghai, net.loc.wh_beijing, TRANSFER.REQUESTED)
    event = tx.events["TransferRequested"]
    assert (event["transferId"], event["from"], event["to"]) == (transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing)
    assert (plain(event["lots"]), plain(event["cases"])) == ((lot,), (30,))
    assert event["requestedBy"] == net.acct.sales_director
    # A request reserves nothing: the stock stays where it is until dispatched.
    assert net.balance(net.loc.wh_shanghai, lot) == 100


@pytest.mark.parametrize(
    "requester, source, dest",
    [("wh_beijing_staff", "wh_shanghai", "wh_beijing"), ("east_center_staff", "wh_shanghai", "east_center"),
     ("rm_east", "wh_beijing", "east_center")],
)
def test_the_receiving_sites_staff_may_ask_for_stock(net, lot, requester, source, dest):
    account = getattr(net.acct, requester)

    tx = net.inventory.requestTransfer(getattr(net.loc, source), getattr(net.loc, dest), [lot], [5], {"from": account})

    assert tx.events["TransferRequested"]["requestedBy"] == account
    assert net.inventory.transfers(tx.return_value)["state"] == TRANSFER.REQUESTED


def test_the_sending_sites_staff_cannot_push_stock_out_by_a_transfer(net, lot):
    with reverts("NotAllowedToRequestTransfer", net.acct.wh_shanghai_staff):
        net.inventory.requestTransfer(net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [5],
                                      {"from": net.acct.wh_shanghai_staff})


@pytest.mark.parametrize(
    "source, dest, bad",
    [("dist_a", "wh_beijing", "dist_a"), ("wh_shanghai", "store_a", "store_a"), ("wh_shanghai", "dist_b", "dist_b")],
)
def test_a_transfer_moves_stock_only_between_brand_sites(net, lot, source, dest, bad):
    with reverts("NotABrandLocation", getattr(net.loc, bad)):
        net.inventory.requestTransfer(getattr(net.loc, source), getattr(net.loc, dest), [lot], [5],
                                      {"from": net.acct.sales_director})


def test_a_transfer_needs_two_different_sites(net, lot):
    with reverts("SameLocation", net.loc.wh_shanghai):
        net.inventory.requestTransfer(net.loc.wh_shanghai, net.loc.wh_shanghai, [lot], [5],
                                      {"from": net.acct.sales_director})


def test_a_transfer_may_have_fifty_lines(net):
    lots = [lot_id(1, f"L{i:03d}") for i in range(50)]

    transfer_id = requested_transfer(net, lots, [1] * 50)

    assert net.inventory.transfers(transfer_id)["state"] == TRANSFER.REQUESTED


def test_the_sales_director_approves_a_requested_transfer_once(net, lot):
    transfer_id = requested_transfer(net, [lot], [5])

    tx = net.inventory.approveTransfer(transfer_id, {"from": net.acct.sales_director})

    assert dict(tx.events["TransferApproved"]) == {"transferId": transfer_id, "approvedBy": net.acct.sales_director}
    assert net.inventory.transfers(transfer_id)["state"] == TRANSFER.APPROVED
    with reverts("InvalidTransferState", transfer_id, TRANSFER.APPROVED):
        net.inventory.approveTransfer(transfer_id, {"from": net.acct.sales_director})
    with reverts("InvalidTransferState", transfer_id, TRANSFER.APPROVED):
        net.inventory.rejectTransfer(transfer_id, 1, {"from": net.acct.sales_director})


def test_a_rejected_transfer_can_be_neither_approved_nor_dispatched(net, lot):
    transfer_id = requested_transfer(net, [lot], [5])

    tx = net.inventory.rejectTransfer(transfer_id, 9, {"from": net.acct.sales_director})

    assert dict(tx.events["TransferRejected"]) == {"transferId": transfer_id, "reasonCode": 9,
                                                   "rejectedBy": net.acct.sales_director}
    assert net.inventory.transfers(transfer_id)["state"] == TRANSFER.REJECTED
    with reverts("InvalidTransferState", transfer_id, TRANSFER.REJECTED):
        net.inventory.approveTransfer(transfer_id, {"from": net.acct.sales_director})
    with reverts("InvalidTransferState", transfer_id, TRANSFER.REJECTED):
        ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [5])


def test_an_unknown_transfer_can_be_neither_decided_nor_dispatched(net, lot):
    with reverts("UnknownTransfer", 4):
        net.inventory.approveTransfer(4, {"from": net.acct.sales_director})
    with reverts("UnknownTransfer", 4):
        net.inventory.rejectTransfer(4, 1, {"from": net.acct.sales_director})
    with reverts("UnknownTransfer", 4):
        ship(net, TRANSFER_KIND, 4, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [5])


def test_a_transfer_is_dispatched_only_once_approved(net, lot):
    transfer_id = requested_transfer(net, [lot], [5])

    with reverts("InvalidTransferState", transfer_id, TRANSFER.REQUESTED):
        ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [5])


def test_an_approved_transfer_is_dispatched_once_and_completed_by_its_receipt(net, lot):
    transfer_id = approved_transfer(net, [lot], [30])

    shipment = ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [30]).return_value

    assert net.inventory.transfers(transfer_id)["state"] == TRANSFER.DISPATCHED
    assert net.balance(net.loc.wh_shanghai, lot) == 70
    with reverts("InvalidTransferState", transfer_id, TRANSFER.DISPATCHED):
        ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [30])

    tx = net.receive(shipment, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], [30])

    assert net.inventory.transfers(transfer_id)["state"] == TRANSFER.COMPLETED
    assert net.balance(net.loc.wh_beijing, lot) == 30
    assert tx.events["ShipmentReceived"]["owner"] == net.org.brand


@pytest.mark.parametrize(
    "source, dest", [("wh_shanghai", "east_center"), ("east_center", "wh_beijing")], ids=["other to", "other from"],
)
def test_a_transfer_is_dispatched_only_on_its_own_route(net, lot, source, dest):
    transfer_id = approved_transfer(net, [lot], [5])

    with reverts("TransferRouteMismatch", transfer_id):
        ship(net, TRANSFER_KIND, transfer_id, getattr(net.loc, source), getattr(net.loc, dest), [lot], [5])


@pytest.mark.parametrize("cases", [[4], [6]])
def test_a_transfer_is_dispatched_only_with_its_own_lines(net, lot, cases):
    transfer_id = approved_transfer(net, [lot], [5])

    with reverts("ManifestMismatch", transfer_id):
        ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [lot], cases)


def test_a_transfer_cannot_swap_in_another_lot(net, lot):
    other = commission(net, number="LOT-Z").return_value
    transfer_id = approved_transfer(net, [lot], [5])

    with reverts("ManifestMismatch", transfer_id):
        ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, net.loc.wh_beijing, [other], [5])


# ------------------------------------------------------------------------------------------- dispatch


def test_dispatch_moves_stock_into_transit_in_the_carriers_custody(net, lot):
    order_id = approved_order(net)
    eta = net.eta(3)

    tx = ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10], eta=eta)

    shipment = tx.return_value
    assert shipment == net.inventory.shipmentCount() == 1
    assert net.balance(net.loc.wh_shanghai, lot) == 90
    assert net.balance(net.loc.dist_a, lot) == 0
    record = net.inventory.shipments(shipment)
    assert (record["to"], record["carrier"], record["state"]) == (net.loc.dist_a, net.org.carrier,
                                                                  SHIPMENT_STATE.IN_TRANSIT)
    assert record["manifestHash"] == net.inventory.manifestHash(ORDER_KIND, order_id, net.loc.wh_shanghai, [lot], [10])
    event = tx.events["ShipmentDispatched"]
    assert (event["shipmentId"], event["from"], event["to"]) == (shipment, net.loc.wh_shanghai, net.loc.dist_a)
    assert plain(event["consignment"]) == (ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, net.org.carrier,
                                           eta, WAYBILL)
    assert event["owner"] == net.org.brand
    assert (plain(event["lots"]), plain(event["cases"])) == ((lot,), (10,))
    assert event["dispatchedBy"] == net.acct.wh_shanghai_staff


def test_a_distributor_delivers_to_a_store_of_its_own_region(net, at_dist_a):
    tx = ship(net, DELIVERY_KIND, 0, net.loc.dist_a, net.loc.store_a, [at_dist_a], [4])

    assert tx.events["ShipmentDispatched"]["owner"] == net.org.dist_a
    assert net.balance(net.loc.dist_a, at_dist_a) == 6

    receipt = net.receive(tx.return_value, DELIVERY_KIND, 0, net.loc.dist_a, net.loc.store_a, [at_dist_a], [4])

    assert receipt.events["ShipmentReceived"]["owner"] == net.org.store_a
    assert receipt.events["ShipmentReceived"]["receivedBy"] == net.acct.store_a_staff
    assert net.balance(net.loc.store_a, at_dist_a) == 4


def test_only_a_brand_site_dispatches_against_an_order(net, at_dist_a):
    order_id = net.submit(distributor="dist_b")
    net.approve_all(order_id)

    with reverts("NotABrandLocation", net.loc.dist_a):
        ship(net, ORDER_KIND, order_id, net.loc.dist_a, net.loc.dist_b, [at_dist_a], [1])


@pytest.mark.parametrize(
    "source, dest, ref, error",
    [
        ("wh_shanghai", "store_a", 0, "NotADistributorLocation"),
        ("dist_a", "dist_b", 0, "NotAStore"),
        ("dist_a", "store_n", 0, "OutOfRegion"),
        ("dist_a", "store_a", 5, "UnexpectedReference"),
    ],
    ids=["from a warehouse", "to a distributor", "to another region", "with a reference"],
)
def test_a_delivery_goes_only_from_a_distributor_to_a_store_of_its_region(net, lot, source, dest, ref, error):
    source, dest = getattr(net.loc, source), getattr(net.loc, dest)
    args = {"NotADistributorLocation": (source,), "NotAStore": (dest,), "OutOfRegion": (source, dest),
            "UnexpectedReference": (ref,)}[error]

    with reverts(error, *args):
        ship(net, DELIVERY_KIND, ref, source, dest, [lot], [1])


def test_a_shipment_needs_two_different_locations(net, lot):
    with reverts("SameLocation", net.loc.wh_shanghai):
        ship(net, ORDER_KIND, 1, net.loc.wh_shanghai, net.loc.wh_shanghai, [lot], [1])


def test_nothing_is_dispatched_to_a_closed_location(net, lot):
    order_id = approved_order(net)
    net.membership.setLocationActive(net.loc.dist_a, False, {"from": net.acct.admin})

    with reverts("LocationInactive", net.loc.dist_a):
        ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [1])


@pytest.mark.parametrize("org", ["auditor", "store_a", "brand"])
def test_the_carrier_must_be_a_carrier(net, lot, org):
    with reverts("NotACarrier", getattr(net.org, org)):
        ship(net, ORDER_KIND, approved_order(net), net.loc.wh_shanghai, net.loc.dist_a, [lot], [1],
             carrier=getattr(net.org, org))


def test_the_eta_must_be_in_the_future(net, lot):
    order_id = approved_order(net)
    # The next block is mined no earlier than the last one, so its own timestamp is already too late.
    for eta in (0, chain[-1].timestamp):
        with reverts("EtaInPast", eta):
            ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [1], eta=eta)


def test_a_dispatch_cannot_exceed_the_senders_stock(net):
    lot = commission(net, cases=5).return_value
    order_id = approved_order(net)

    with reverts("InsufficientStock", net.loc.wh_shanghai, lot, 5, 6):
        ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [6])
    with reverts("InsufficientStock", net.loc.wh_beijing, lot, 0, 1):
        ship(net, ORDER_KIND, order_id, net.loc.wh_beijing, net.loc.dist_a, [lot], [1])
    assert net.balance(net.loc.wh_shanghai, lot) == 5
    assert net.orders.orderLines(order_id, 0)["dispatched"] == 0


LINE_RULES = [
    ([], [], ("InvalidLines",)),
    ([1], [], ("InvalidLines",)),
    ([1, 2], [1], ("InvalidLines",)),
    ([1], [1, 1], ("InvalidLines",)),
    (list(range(1, 52)), [1] * 51, ("InvalidLines",)),
    ([2, 1], [1, 1], ("LinesNotSorted", 1)),
    ([1, 1], [1, 1], ("LinesNotSorted", 1)),
    ([1, 2], [1, 0], ("ZeroCases", 2)),
]
LINE_IDS = ["no lines", "no cases", "fewer cases", "more cases", "51 lines", "unsorted", "duplicate", "zero cases"]


@pytest.mark.parametrize("lots, cases, error", LINE_RULES, ids=LINE_IDS)
def test_dispatch_lines_are_one_to_fifty_ascending_lots_with_cases(net, lots, cases, error):
    with reverts(*error):
        ship(net, ORDER_KIND, 1, net.loc.wh_shanghai, net.loc.dist_a, lots, cases)


@pytest.mark.parametrize("lots, cases, error", LINE_RULES, ids=LINE_IDS)
def test_transfer_lines_are_one_to_fifty_ascending_lots_with_cases(net, lots, cases, error):
    with reverts(*error):
        net.inventory.requestTransfer(net.loc.wh_shanghai, net.loc.wh_beijing, lots, cases,
                                      {"from": net.acct.sales_director})


# ----------------------------------------------------------------------------------------- checkpoints


def test_the_carrier_reports_checkpoints_while_the_shipment_is_in_transit(net, order_shipment):
    shipment = order_shipment[0]

    tx = net.inventory.recordCheckpoint(shipment, 2, "Jiaxing hub", {"from": net.acct.courier})

    assert dict(tx.events["ShipmentCheckpoint"]) == {
        "shipmentId": shipment, "carrier": net.org.carrier, "status": 2, "place": "Jiaxing hub",
        "reportedBy": net.acct.courier,
    }


def test_only_the_shipments_own_carrier_reports_its_checkpoints(net, order_shipment):
    rival = net.membership.registerOrganisation(6, 0, 0, "Rival Express", "RIVAL", {"from": net.acct.admin}).return_value
    net.membership.setAccount(net.acct.outsider, rival, 16, "rival courier", {"from": net.acct.admin})

    with reverts("WrongOrganisation", net.acct.outsider, net.org.carrier):
        net.inventory.recordCheckpoint(order_shipment[0], 2, "somewhere", {"from": net.acct.outsider})


def test_no_checkpoint_is_recorded_for_a_received_or_unknown_shipment(net, order_shipment):
    shipment, order_id, lot = order_shipment
    net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])

    with reverts("ShipmentNotInTransit", shipment):
        net.inventory.recordCheckpoint(shipment, 3, "door", {"from": net.acct.courier})
    with reverts("UnknownShipment", shipment + 1):
        net.inventory.recordCheckpoint(shipment + 1, 3, "door", {"from": net.acct.courier})


# -------------------------------------------------------------------------------------------- receipt


def test_the_receiver_is_credited_and_becomes_the_owner(net, order_shipment):
    shipment, order_id, lot = order_shipment

    tx = net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])

    assert net.balance(net.loc.dist_a, lot) == 10
    assert net.balance(net.loc.wh_shanghai, lot) == 90
    assert net.inventory.shipments(shipment)["state"] == SHIPMENT_STATE.RECEIVED
    assert net.inventory.discrepancyCount() == 0
    event = tx.events["ShipmentReceived"]
    assert (event["shipmentId"], event["to"], event["owner"]) == (shipment, net.loc.dist_a, net.org.dist_a)
    assert plain(event["received"]) == (10,)
    assert event["shortfall"] == 0
    assert event["receivedBy"] == net.acct.dist_a_purchaser
    assert "DiscrepancyOpened" not in tx.events


@pytest.mark.parametrize("dest", ["east_center", "wh_beijing"])
def test_stock_received_at_a_brand_site_is_owned_by_the_brand(net, lot, dest):
    dest = getattr(net.loc, dest)
    transfer_id = approved_transfer(net, [lot], [5], dest=dest)
    shipment = ship(net, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, dest, [lot], [5]).return_value

    tx = net.receive(shipment, TRANSFER_KIND, transfer_id, net.loc.wh_shanghai, dest, [lot], [5])

    assert tx.events["ShipmentReceived"]["owner"] == net.org.brand
    assert net.balance(dest, lot) == 5


@pytest.mark.parametrize("field", ["kind", "ref", "from", "lots", "cases", "fewer lines"])
def test_the_receiver_must_restate_the_manifest_as_dispatched(net, field):
    lot1, lot2 = net.commission(sku=1), net.commission(sku=2)
    order_id = approved_order(net, skus=(1, 2), cases=(10, 10))
    shipment = ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot1, lot2], [4, 5]).return_value
    manifest = {"kind": ORDER_KIND, "ref": order_id, "from": net.loc.wh_shanghai, "lots": [lot1, lot2], "cases": [4, 5]}
    manifest.update({"kind": {"kind": DELIVERY_KIND}, "ref": {"ref": order_id + 1}, "from": {"from": net.loc.wh_beijing},
                     "lots": {"lots": [lot1, lot2 + 1]}, "cases": {"cases": [4, 4]},
                     "fewer lines": {"lots": [lot1], "cases": [4]}}[field])
    received = manifest["cases"]

    with reverts("ManifestMismatch", shipment):
        net.inventory.confirmReceipt(shipment, tuple(manifest.values()), received, {"from": net.acct.dist_a_purchaser})
    assert net.inventory.shipments(shipment)["state"] == SHIPMENT_STATE.IN_TRANSIT


def test_a_receipt_counts_every_line_of_the_manifest(net, order_shipment):
    shipment, order_id, lot = order_shipment

    for received in ([], [10, 0]):
        with reverts("InvalidLines"):
            net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10], received)


def test_no_line_can_be_received_beyond_what_was_shipped(net, order_shipment):
    shipment, order_id, lot = order_shipment

    with reverts("ReceivedMoreThanShipped", lot, 10, 11):
        net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10], [11])


def test_only_the_destinations_organisation_receives_a_shipment(net, order_shipment):
    shipment, order_id, lot = order_shipment

    with reverts("WrongOrganisation", net.acct.dist_b_purchaser, net.org.dist_a):
        net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10],
                    sender=net.acct.dist_b_purchaser)


def test_a_shipment_is_received_once(net, order_shipment):
    shipment, order_id, lot = order_shipment
    net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])

    with reverts("ShipmentNotInTransit", shipment):
        net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])
    assert net.balance(net.loc.dist_a, lot) == 10


def test_an_unknown_shipment_cannot_be_received(net, lot):
    with reverts("UnknownShipment", 3):
        net.receive(3, ORDER_KIND, 1, net.loc.wh_shanghai, net.loc.dist_a, [lot], [10])


def test_a_shortfall_opens_one_discrepancy_per_short_line(net):
    lots = [net.commission(sku=1), net.commission(sku=2), net.commission(sku=3)]
    order_id = approved_order(net, skus=(1, 2, 3), cases=(10, 8, 6))
    shipment = ship(net, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, lots, [10, 8, 6]).return_value

    tx = net.receive(shipment, ORDER_KIND, order_id, net.loc.wh_shanghai, net.loc.dist_a, lots, [10, 8, 6], [7, 8, 0])

    assert [net.balance(net.loc.dist_a, lot) for lot in lots] == [7, 8, 0]
    assert tx.events["ShipmentReceived"]["shortfall"] == 9
    assert plain(tx.events["ShipmentReceived"]["received"]) == (7, 8, 0)
    opened = tx.events["DiscrepancyOpened"]
    assert [dict(e) for e in opened] == [
        {"discrepancyId": 1, "shipmentId": shipment, "lot": lots[0], "shipped": 10, "received": 7},
        {"discrepancyId": 2, "shipmentId": shipment, "lot": lots[2], "shipped": 6, "received": 0},
    ]
    assert net.inventory.discrepancyCount() == 2
    assert plain(net.inventory.discrepancies(1)) == (lots[0], shipment, net.loc.wh_shanghai, net.loc.dist_a, 3,
                                                     DISCREPANCY.OPEN)
    assert plain(net.inventory.discrepancies(2)) == (lots[2], shipment, net.loc.wh_shanghai, net.loc.dist_a, 6,
                                                     DISCREPANCY.OPEN)


# ------------------------------------------------------------------------------------------ resolution


@pytest.mark.parametrize("outcome", [DISCREPANCY.FOUND, DISCREPANCY.RETURNED])
def test_a_shortfall_found_or_returned_is_credited_back(net, short_receipt, outcome):
    discrepancy, _, lot = short_receipt
    credited = net.loc.wh_beijing if outcome == DISCREPANCY.FOUND else net.loc.wh_shanghai
    before = net.balance(credited, lot)

    tx = net.inventory.resolveDiscrepancy(discrepancy, outcome, {"from": net.acct.admin})

    assert dict(tx.events["DiscrepancyResolved"]) == {
        "discrepancyId": discrepancy, "outcome": outcome, "creditedLocation": credited, "resolvedBy": net.acct.admin,
    }
    assert "StockDecommissioned" not in tx.events
    assert net.balance(credited, lot) == before + 3
    assert net.inventory.discrepancies(discrepancy)["state"] == outcome


def test_a_shortfall_written_off_leaves_the_ledger_as_lost(net, short_receipt):
    discrepancy, _, lot = short_receipt

    tx = net.inventory.resolveDiscrepancy(discrepancy, DISCREPANCY.WRITTEN_OFF, {"from": net.acct.admin})

    assert dict(tx.events["StockDecommissioned"]) == {
        "location": 0, "lot": lot, "cases": 3, "reason": DECOMMISSION.LOST, "recordedBy": net.acct.admin,
    }
    assert dict(tx.events["DiscrepancyResolved"]) == {
        "discrepancyId": discrepancy, "outcome": DISCREPANCY.WRITTEN_OFF, "creditedLocation": 0,
        "resolvedBy": net.acct.admin,
    }
    assert (net.balance(net.loc.wh_shanghai, lot), net.balance(net.loc.wh_beijing, lot)) == (90, 7)
    assert net.inventory.discrepancies(discrepancy)["state"] == DISCREPANCY.WRITTEN_OFF


@pytest.mark.parametrize("outcome", [DISCREPANCY.NONE, DISCREPANCY.OPEN])
def test_a_discrepancy_is_resolved_only_as_found_returned_or_written_off(net, short_receipt, outcome):
    with reverts("InvalidResolution", outcome):
        net.inventory.resolveDiscrepancy(short_receipt[0], outcome, {"from": net.acct.admin})


def test_a_discrepancy_is_resolved_once(net, short_receipt):
    discrepancy = short_receipt[0]
    net.inventory.resolveDiscrepancy(discrepancy, DISCREPANCY.FOUND, {"from": net.acct.admin})

    with reverts("DiscrepancyNotOpen", discrepancy):
        net.inventory.resolveDiscrepancy(discrepancy, DISCREPANCY.RETURNED, {"from": net.acct.admin})
    with reverts("UnknownDiscrepancy", discrepancy + 1):
        net.inventory.resolveDiscrepancy(discrepancy + 1, DISCREPANCY.FOUND, {"from": net.acct.admin})


# ------------------------------------------------------------------------------------- sales, write-offs


def test_a_store_records_its_sales(net, at_store_a):
    tx = net.inventory.recordSale(net.loc.store_a, at_store_a, 4, {"from": net.acct.store_a_staff})

    assert dict(tx.events["StockDecommissioned"]) == {
        "location": net.loc.store_a, "lot": at_store_a, "cases": 4, "reason": DECOMMISSION.SOLD,
        "recordedBy": net.acct.store_a_staff,
    }
    assert net.balance(net.loc.store_a, at_store_a) == 2


def test_a_store_cannot_sell_more_than_it_holds_or_nothing(net, at_store_a):
    with reverts("InsufficientStock", net.loc.store_a, at_store_a, 6, 7):
        net.inventory.recordSale(net.loc.store_a, at_store_a, 7, {"from": net.acct.store_a_staff})
    with reverts("ZeroCases", at_store_a):
        net.inventory.recordSale(net.loc.store_a, at_store_a, 0, {"from": net.acct.store_a_staff})


def test_a_recalled_lot_cannot_be_sold_but_can_still_be_written_off(net, at_store_a):
    net.inventory.recallLot(at_store_a, 3, {"from": net.acct.admin})

    with reverts("LotIsRecalled", at_store_a):
        net.inventory.recordSale(net.loc.store_a, at_store_a, 1, {"from": net.acct.store_a_staff})
    assert net.balance(net.loc.store_a, at_store_a) == 6
    net.inventory.writeOff(net.loc.store_a, at_store_a, 6, DECOMMISSION.RECALLED, {"from": net.acct.admin})
    assert net.balance(net.loc.store_a, at_store_a) == 0


def test_sales_are_recorded_only_at_the_staffs_own_store(net, at_dist_a):
    # Only stores hold store staff, so another kind of location is always another organisation's:
    # recordSale's NotAStore check can never be reached.
    with reverts("WrongOrganisation", net.acct.store_a_staff, net.org.dist_a):
        net.inventory.recordSale(net.loc.dist_a, at_dist_a, 1, {"from": net.acct.store_a_staff})


@pytest.mark.parametrize("reason", [DECOMMISSION.DAMAGED, DECOMMISSION.RECALLED, DECOMMISSION.LOST])
def test_the_brand_writes_off_stock_at_any_location(net, at_dist_a, reason):
    tx = net.inventory.writeOff(net.loc.dist_a, at_dist_a, 3, reason, {"from": net.acct.admin})

    assert dict(tx.events["StockDecommissioned"]) == {
        "location": net.loc.dist_a, "lot": at_dist_a, "cases": 3, "reason": reason, "recordedBy": net.acct.admin,
    }
    assert net.balance(net.loc.dist_a, at_dist_a) == 7


def test_a_write_off_is_never_a_sale_never_empty_and_never_beyond_the_stock(net, lot):
    with reverts("SoldIsNotAWriteOff"):
        net.inventory.writeOff(net.loc.wh_shanghai, lot, 1, DECOMMISSION.SOLD, {"from": net.acct.admin})
    with reverts("ZeroCases", lot):
        net.inventory.writeOff(net.loc.wh_shanghai, lot, 0, DECOMMISSION.DAMAGED, {"from": net.acct.admin})
    with reverts("InsufficientStock", net.loc.wh_shanghai, lot, 100, 101):
        net.inventory.writeOff(net.loc.wh_shanghai, lot, 101, DECOMMISSION.DAMAGED, {"from": net.acct.admin})
    assert net.balance(net.loc.wh_shanghai, lot) == 100


# ------------------------------------------------------------------------------------------- bottles


@pytest.fixture
def bottles(net):
    """A lot of three cases (6 + 6 + 1 bottles) committed by a real StandardMerkleTree: (lot, tree, values)."""
    serials = [[f"GZ{c}{b:02d}" for b in range(6 if c < 3 else 1)] for c in range(1, 4)]
    tree = bottle_tree(serials)
    lot = commission(net, number="2024-AR", cases=3, bottles=13, root=tree.root).return_value
    values = [(serial, case) for case, row in enumerate(serials, start=1) for serial in row]
    return lot, tree, values


def test_every_committed_bottle_verifies_with_its_proof(net, bottles):
    lot, tree, values = bottles

    assert net.inventory.lotRoot(lot) == "0x" + tree.root.hex()
    for i in (0, 5, 6, 12):
        serial, case = values[i]
        assert net.inventory.verifyBottle(lot, serial, case, tree.proof(i))


def test_a_bottle_not_committed_as_claimed_does_not_verify(net, bottles):
    lot, tree, values = bottles
    serial, case = values[3]
    proof = tree.proof(3)

    assert not net.inventory.verifyBottle(lot, "GZ9999", case, proof)
    assert not net.inventory.verifyBottle(lot, serial, case + 1, proof)
    assert not net.inventory.verifyBottle(lot, serial, case, tree.proof(4))
    assert not net.inventory.verifyBottle(lot, serial, case, [])
    assert not net.inventory.verifyBottle(lot + 1, serial, case, proof)
    assert not net.inventory.verifyBottle(lot_id(2, "2024-AR"), serial, case, proof)


# -------------------------------------------------------------------------------------- conservation


class StockBook:
    """Checks, per lot, commissioned = Σ balances + in transit (open shipment lines and open discrepancies)
    + decommissioned, where the flows come from the events and the stocks from the views."""

    def __init__(self, net):
        self.net = net
        self.commissioned = Counter()
        self.decommissioned = Counter()
        self.shipped = {}
        self.discrepancies = []

    def settle(self, tx):
        """Books the transaction's events, then checks the law for every lot seen so far."""
        events = tx.events
        for e in events["LotCommissioned"] if "LotCommissioned" in events else []:
            self.commissioned[e["lot"]] += e["cases"]
        for e in events["ShipmentDispatched"] if "ShipmentDispatched" in events else []:
            self.shipped[e["shipmentId"]] = list(zip(e["lots"], e["cases"]))
        for e in events["DiscrepancyOpened"] if "DiscrepancyOpened" in events else []:
            self.discrepancies.append(e["discrepancyId"])
        for e in events["StockDecommissioned"] if "StockDecommissioned" in events else []:
            self.decommissioned[e["lot"]] += e["cases"]
        self.check()
        return tx

    def in_transit(self):
        moving = Counter()
        for shipment, lines in self.shipped.items():
            if self.net.inventory.shipments(shipment)["state"] == SHIPMENT_STATE.IN_TRANSIT:
                for lot, cases in lines:
                    moving[lot] += cases
        for discrepancy in self.discrepancies:
            d = self.net.inventory.discrepancies(discrepancy)
            if d["state"] == DISCREPANCY.OPEN:
                moving[d["lot"]] += d["cases"]
        return moving

    def held(self):
        locations = range(1, self.net.membership.locationCount() + 1)
        return Counter({lot: sum(self.net.balance(loc, lot) for loc in locations) for lot in self.commissioned})

    def check(self):
        held, moving = self.held(), self.in_transit()
        for lot, cases in self.commissioned.items():
            assert cases == held[lot] + moving[lot] + self.decommissioned[lot], f"lot {lot:#x} is not conserved"


def test_stock_is_conserved_through_a_season_of_trade(net):
    book = StockBook(net)
    inv, wsh, wbj, da, sa = net.inventory, net.loc.wh_shanghai, net.loc.wh_beijing, net.loc.dist_a, net.loc.store_a
    admin = {"from": net.acct.admin}

    a = book.settle(commission(net, sku=1, number="A", cases=60)).return_value
    b = book.settle(commission(net, sku=2, number="B", cases=40)).return_value
    c = book.settle(commission(net, sku=1, number="C", cases=30, location=wbj)).return_value

    # An order shipped in two parts; the first arrives short and the missing cases turn up.
    order_id = approved_order(net, skus=(1, 2), cases=(20, 10))
    first = book.settle(ship(net, ORDER_KIND, order_id, wsh, da, [a, b], [12, 10])).return_value
    book.settle(inv.recordCheckpoint(first, 1, "Shanghai DC", {"from": net.acct.courier}))
    receipt = book.settle(net.receive(first, ORDER_KIND, order_id, wsh, da, [a, b], [12, 10], [10, 10]))
    book.settle(inv.resolveDiscrepancy(receipt.events["DiscrepancyOpened"]["discrepancyId"], DISCREPANCY.FOUND, admin))
    second = book.settle(ship(net, ORDER_KIND, order_id, wsh, da, [a], [8])).return_value
    book.settle(net.receive(second, ORDER_KIND, order_id, wsh, da, [a], [8]))

    # Sell-through: a delivery to a store loses a case on the road, then the store sells.
    delivery = book.settle(ship(net, DELIVERY_KIND, 0, da, sa, [a], [15])).return_value
    receipt = book.settle(net.receive(delivery, DELIVERY_KIND, 0, da, sa, [a], [15], [14]))
    book.settle(inv.resolveDiscrepancy(receipt.events["DiscrepancyOpened"]["discrepancyId"], DISCREPANCY.WRITTEN_OFF,
                                       admin))
    book.settle(inv.recordSale(sa, a, 5, {"from": net.acct.store_a_staff}))

    # Rebalancing from Beijing to Shanghai; the missing cases go back to the sender.
    transfer_id = inv.requestTransfer(wbj, wsh, [c], [20], {"from": net.acct.wh_shanghai_staff}).return_value
    inv.approveTransfer(transfer_id, {"from": net.acct.sales_director})
    moved = book.settle(ship(net, TRANSFER_KIND, transfer_id, wbj, wsh, [c], [20])).return_value
    receipt = book.settle(net.receive(moved, TRANSFER_KIND, transfer_id, wbj, wsh, [c], [20], [17]))
    book.settle(inv.resolveDiscrepancy(receipt.events["DiscrepancyOpened"]["discrepancyId"], DISCREPANCY.RETURNED,
                                       admin))

    # Damage, a recall, and a season that ends with a shortfall unresolved and a delivery on the road.
    book.settle(inv.writeOff(da, b, 2, DECOMMISSION.DAMAGED, admin))
    book.settle(inv.recallLot(a, 1, admin))
    book.settle(inv.writeOff(wsh, a, 40, DECOMMISSION.RECALLED, admin))
    short = book.settle(ship(net, DELIVERY_KIND, 0, da, sa, [b], [4])).return_value
    book.settle(net.receive(short, DELIVERY_KIND, 0, da, sa, [b], [4], [3]))
    book.settle(ship(net, DELIVERY_KIND, 0, da, sa, [b], [2]))

    assert book.in_transit() == Counter({b: 3})
    assert book.decommissioned == Counter({a: 1 + 5 + 40, b: 2})
    assert book.held() == Counter({a: 5 + 9, b: 30 + 2 + 3, c: 13 + 17})
    assert (net.balance(da, b), net.balance(sa, b), net.balance(wbj, c), net.balance(wsh, c)) == (2, 3, 13, 17)
