"""Behaviour of the Orders contract: a distributor's order from submission to delivery.

An order is priced from the catalogue at the distributor's tier, needs the approval stages its amount
falls into (in sequence unless urgent), reserves credit on its last approval, may be rejected at a
pending stage or cancelled before anything ships, and is then fulfilled by shipments recorded by the
Inventory contract: partly dispatched, dispatched, delivered. Each test checks the resulting state
through the views and the events with their fields, and each rule's refusal by its custom error.
Denials by role are covered by the permission matrix; here a denial appears only where it is a rule of
its own (a regional manager of another region).
"""

import pytest
from brownie import Orders, history

from conftest import CASE_PRICE_FEN, ORDER, SHIPMENT_KIND, STAGE, gtin14, plain, reverts

ALL_STAGES = STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR | STAGE.FINANCE
# Default policy thresholds, in fen: 100,000 and 1,000,000 yuan.
SALES_DIRECTOR_FROM = 10_000_000
FINANCE_FROM = 100_000_000


def state_of(net, order_id):
    return net.orders.orders(order_id)["state"]


def ship_order(net, order_id, lots, cases, dest=None):
    """Dispatches `lots` against the order from the Shanghai warehouse; returns the transaction."""
    net.dispatch(SHIPMENT_KIND.ORDER, order_id, net.loc.wh_shanghai, dest or net.loc.dist_a, lots, cases)
    return history[-1]


def receive_order(net, shipment_id, order_id, lots, cases, received=None):
    return net.receive(shipment_id, SHIPMENT_KIND.ORDER, order_id, net.loc.wh_shanghai, net.loc.dist_a, lots, cases,
                       received)


@pytest.fixture
def approved(net):
    """An approved, non-urgent order of 10 cases of SKU 1 for distributor A (regional manager only)."""
    order_id = net.submit()
    net.approve_all(order_id)
    return order_id


@pytest.fixture
def exact_prices(net):
    """SKU 2 at 10,000 yuan and SKU 3 at 1 fen a case, so any amount can be ordered to the fen."""
    net.catalog.setPrices([(2, 0, 1_000_000), (3, 0, 1)], {"from": net.acct.sales_director})


# ---------------------------------------------------------------------------------------------- submit


def test_submitting_an_order_prices_it_from_the_list_and_records_its_lines(net):
    tx = net.orders.submitOrder(net.loc.dist_a, False, [1, 3], [10, 2], {"from": net.acct.dist_a_purchaser})
    order_id = tx.return_value

    amount = 12 * CASE_PRICE_FEN
    assert order_id == 1 and net.orders.orderCount() == 1
    order = net.orders.orders(order_id)
    assert order["distributor"] == net.org.dist_a
    assert order["deliverTo"] == net.loc.dist_a
    assert order["state"] == ORDER.SUBMITTED
    assert not order["urgent"]
    assert order["requiredStages"] == STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR
    assert order["approvedStages"] == 0
    assert order["lineCount"] == 2
    assert order["casesToDispatch"] == 12
    assert order["casesInTransit"] == 0
    assert order["amount"] == amount
    assert plain(net.orders.orderLines(order_id, 0)) == (1, 10, 0)
    assert plain(net.orders.orderLines(order_id, 1)) == (3, 2, 0)

    event = tx.events["OrderSubmitted"]
    assert event["orderId"] == order_id
    assert event["distributor"] == net.org.dist_a
    assert event["deliverTo"] == net.loc.dist_a
    assert event["urgent"] is False
    assert event["requiredStages"] == STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR
    assert event["amount"] == amount
    assert plain(event["lines"]) == ((1, 10, CASE_PRICE_FEN), (3, 2, CASE_PRICE_FEN))
    assert event["submittedBy"] == net.acct.dist_a_purchaser


def test_an_order_is_priced_at_the_distributors_own_tier(net):
    net.catalog.setPrices([(1, 1, 800_000), (2, 1, 700_000)], {"from": net.acct.sales_director})
    net.membership.setPriceTier(net.org.dist_a, 1, {"from": net.acct.admin})

    tier_one = net.orders.submitOrder(net.loc.dist_a, False, [1, 2], [2, 3], {"from": net.acct.dist_a_purchaser})
    tier_zero = net.orders.submitOrder(net.loc.dist_b, False, [1, 2], [2, 3], {"from": net.acct.dist_b_purchaser})

    assert plain(tier_one.events["OrderSubmitted"]["lines"]) == ((1, 2, 800_000), (2, 3, 700_000))
    assert tier_one.events["OrderSubmitted"]["amount"] == 3_700_000
    assert net.orders.orders(tier_one.return_value)["amount"] == 3_700_000
    assert plain(tier_zero.events["OrderSubmitted"]["lines"]) == ((1, 2, CASE_PRICE_FEN), (2, 3, CASE_PRICE_FEN))
    assert net.orders.orders(tier_zero.return_value)["amount"] == 5 * CASE_PRICE_FEN


def test_a_sku_without_a_price_at_the_distributors_tier_cannot_be_ordered(net):
    net.catalog.setPrices([(1, 1, 800_000)], {"from": net.acct.sales_director})
    net.membership.setPriceTier(net.org.dist_a, 1, {"from": net.acct.admin})

    with reverts("NoPrice", 2, 1):
        net.orders.submitOrder(net.loc.dist_a, False, [1, 2], [1, 1], {"from": net.acct.dist_a_purchaser})


def test_an_order_may_have_twenty_lines(net):
    tx = {"from": net.acct.admin}
    skus = net.skus + [
        net.catalog.registerSku(gtin14(690123456000 + i), 6, f"SKU {i}", "", tx).return_value for i in range(4, 21)
    ]
    net.catalog.setPrices([(sku, 0, 100) for sku in skus[3:]], {"from": net.acct.sales_director})

    order_id = net.submit(skus=skus, cases=[1] * 20)

    assert net.orders.orders(order_id)["lineCount"] == 20
    assert plain(net.orders.orderLines(order_id, 19)) == (20, 1, 0)
    assert net.orders.orders(order_id)["amount"] == 3 * CASE_PRICE_FEN + 17 * 100


@pytest.mark.parametrize(
    "skus, cases",
    [([], []), ([1], []), ([1, 2], [1]), (list(range(1, 22)), [1] * 21)],
    ids=["no lines", "no cases", "fewer cases than skus", "21 lines"],
)
def test_an_order_needs_one_to_twenty_lines_with_a_case_count_each(net, skus, cases):
    with reverts("InvalidLines"):
        net.orders.submitOrder(net.loc.dist_a, False, skus, cases, {"from": net.acct.dist_a_purchaser})


@pytest.mark.parametrize(
    "skus, cases, error",
    [
        ([2, 1], [1, 1], ("LinesNotSorted", 1)),
        ([1, 1], [1, 1], ("LinesNotSorted", 1)),
        ([1, 3, 2], [1, 1, 1], ("LinesNotSorted", 2)),
        ([1, 2], [5, 0], ("ZeroCases", 2)),
        ([1, 99], [1, 1], ("UnknownSku", 99)),
    ],
    ids=["descending", "duplicate", "unsorted third line", "zero cases", "unknown sku"],
)
def test_order_lines_must_be_strictly_ascending_known_skus_with_cases(net, skus, cases, error):
    with reverts(*error):
        net.orders.submitOrder(net.loc.dist_a, False, skus, cases, {"from": net.acct.dist_a_purchaser})


def test_a_delisted_sku_cannot_be_ordered(net):
    net.catalog.setSkuActive(2, False, {"from": net.acct.admin})

    with reverts("SkuInactive", 2):
        net.submit(skus=(1, 2), cases=(1, 1))


def test_a_sku_with_no_price_list_cannot_be_ordered(net):
    sku = net.catalog.registerSku(gtin14(690123456099), 6, "unpriced", "", {"from": net.acct.admin}).return_value

    with reverts("NoPrice", sku, 0):
        net.submit(skus=(sku,), cases=(1,))


@pytest.mark.parametrize("location", ["dist_b", "store_a", "wh_shanghai"])
def test_a_purchaser_orders_only_for_its_own_distributors_location(net, location):
    # A purchaser exists only in a distributor, so any other location, distributor or not, is another
    # organisation's: the contract's NotADistributorLocation check can never be reached.
    loc = getattr(net.loc, location)
    owner = net.membership.locations(loc)["org"]

    with reverts("WrongOrganisation", net.acct.dist_a_purchaser, owner):
        net.orders.submitOrder(loc, False, [1], [1], {"from": net.acct.dist_a_purchaser})


def test_a_closed_location_cannot_be_ordered_for(net):
    net.membership.setLocationActive(net.loc.dist_a, False, {"from": net.acct.admin})

    with reverts("LocationInactive", net.loc.dist_a):
        net.submit()


def test_an_amount_beyond_88_bits_is_refused(net):
    too_much = 2**88
    net.catalog.setPrices([(3, 0, too_much)], {"from": net.acct.sales_director})

    with reverts("AmountTooLarge", too_much):
        net.submit(skus=(3,), cases=(1,))


def test_more_than_four_billion_cases_in_one_order_are_refused(net):
    most = 2**32 - 1

    with reverts("AmountTooLarge", 2 * most * CASE_PRICE_FEN):
        net.submit(skus=(1, 2), cases=(most, most))


# ---------------------------------------------------------------------------------------- approval policy


@pytest.mark.parametrize(
    "sku2_cases, sku3_cases, stages",
    [
        (0, 1, STAGE.REGION_MANAGER),
        (9, 999_999, STAGE.REGION_MANAGER),
        (10, 0, STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR),
        (99, 999_999, STAGE.REGION_MANAGER | STAGE.SALES_DIRECTOR),
        (100, 0, ALL_STAGES),
    ],
    ids=["1 fen", "just below 100k yuan", "at 100k yuan", "just below 1m yuan", "at 1m yuan"],
)
def test_an_order_needs_exactly_the_stages_of_its_amount_tier(net, exact_prices, sku2_cases, sku3_cases, stages):
    lines = [(sku, n) for sku, n in ((2, sku2_cases), (3, sku3_cases)) if n]
    tx = net.orders.submitOrder(
        net.loc.dist_a, False, [s for s, _ in lines], [n for _, n in lines], {"from": net.acct.dist_a_purchaser}
    )
    order_id = tx.return_value
    assert tx.events["OrderSubmitted"]["amount"] == sku2_cases * 1_000_000 + sku3_cases
    assert tx.events["OrderSubmitted"]["requiredStages"] == stages
    assert net.orders.requiredStages(sku2_cases * 1_000_000 + sku3_cases) == stages

    for stage in (STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR, STAGE.FINANCE):
        if not stages & stage:
            with reverts("StageNotRequired", order_id, stage):
                net.orders.approveOrder(order_id, stage, {"from": net.approver(stage)})
    required = [s for s in (STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR, STAGE.FINANCE) if stages & s]
    for i, stage in enumerate(required):
        assert state_of(net, order_id) == ORDER.SUBMITTED
        approval = net.orders.approveOrder(order_id, stage, {"from": net.approver(stage)})
        assert approval.events["OrderApproved"]["fullyApproved"] == (i == len(required) - 1)
    assert state_of(net, order_id) == ORDER.APPROVED
    assert net.orders.orders(order_id)["approvedStages"] == stages


def test_the_brand_can_replace_the_approval_policy(net):
    tiers = [(0, STAGE.SALES_DIRECTOR), (5_000_000, STAGE.SALES_DIRECTOR | STAGE.FINANCE), (9_000_000, ALL_STAGES)]

    tx = net.orders.setApprovalPolicy(tiers, {"from": net.acct.admin})

    assert plain(tx.events["ApprovalPolicySet"]["tiers"]) == tuple(tuple(t) for t in tiers)
    assert plain(net.orders.approvalPolicy()) == tuple(tuple(t) for t in tiers)
    assert [net.orders.requiredStages(a) for a in (0, 4_999_999, 5_000_000, 8_999_999, 9_000_000)] == [
        STAGE.SALES_DIRECTOR, STAGE.SALES_DIRECTOR, STAGE.SALES_DIRECTOR | STAGE.FINANCE,
        STAGE.SALES_DIRECTOR | STAGE.FINANCE, ALL_STAGES,
    ]
    assert net.orders.orders(net.submit(cases=(10,)))["requiredStages"] == ALL_STAGES


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [(i * 10, STAGE.REGION_MANAGER) for i in range(9)],
        [(1, STAGE.REGION_MANAGER)],
        [(0, STAGE.REGION_MANAGER), (0, ALL_STAGES)],
        [(0, STAGE.REGION_MANAGER), (20, STAGE.FINANCE), (10, ALL_STAGES)],
        [(0, 0)],
        [(0, STAGE.REGION_MANAGER), (10, 0)],
        [(0, 8)],
        [(0, STAGE.REGION_MANAGER), (10, ALL_STAGES | 16)],
    ],
    ids=["empty", "nine tiers", "first not from 0", "equal amounts", "falling amounts", "no stage",
         "later tier with no stage", "unknown stage bit", "known and unknown stage bits"],
)
def test_an_approval_policy_must_be_one_to_eight_rising_tiers_of_known_stages(net, tiers):
    with reverts("InvalidApprovalPolicy"):
        net.orders.setApprovalPolicy(tiers, {"from": net.acct.admin})
    assert plain(net.orders.approvalPolicy()) == ((0, 1), (SALES_DIRECTOR_FROM, 3), (FINANCE_FROM, ALL_STAGES))


def test_eight_tiers_are_allowed(net):
    tiers = [(i * 10, STAGE.REGION_MANAGER) for i in range(8)]

    net.orders.setApprovalPolicy(tiers, {"from": net.acct.admin})

    assert len(net.orders.approvalPolicy()) == 8


# -------------------------------------------------------------------------------------------- approval


def test_approving_the_last_stage_reserves_credit_and_approves_the_order(net):
    order_id = net.submit(cases=(20,))
    amount = 20 * CASE_PRICE_FEN

    first = net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})
    assert dict(first.events["OrderApproved"]) == {
        "orderId": order_id, "stage": STAGE.REGION_MANAGER, "approver": net.acct.rm_east, "fullyApproved": False,
    }
    assert "CreditReserved" not in first.events
    assert net.orders.orders(order_id)["approvedStages"] == STAGE.REGION_MANAGER
    assert state_of(net, order_id) == ORDER.SUBMITTED
    assert net.orders.credits(net.org.dist_a)["exposure"] == 0

    last = net.orders.approveOrder(order_id, STAGE.SALES_DIRECTOR, {"from": net.acct.sales_director})
    assert dict(last.events["OrderApproved"]) == {
        "orderId": order_id, "stage": STAGE.SALES_DIRECTOR, "approver": net.acct.sales_director,
        "fullyApproved": True,
    }
    assert dict(last.events["CreditReserved"]) == {"distributor": net.org.dist_a, "orderId": order_id,
                                                   "exposure": amount}
    assert state_of(net, order_id) == ORDER.APPROVED
    assert net.orders.credits(net.org.dist_a)["exposure"] == amount


def test_a_non_urgent_order_names_the_earliest_pending_stage_when_a_later_one_comes_first(net):
    order_id = net.submit(cases=(112,))
    assert net.orders.orders(order_id)["requiredStages"] == ALL_STAGES

    with reverts("StageOutOfSequence", order_id, STAGE.FINANCE, STAGE.REGION_MANAGER):
        net.orders.approveOrder(order_id, STAGE.FINANCE, {"from": net.acct.finance})
    with reverts("StageOutOfSequence", order_id, STAGE.SALES_DIRECTOR, STAGE.REGION_MANAGER):
        net.orders.approveOrder(order_id, STAGE.SALES_DIRECTOR, {"from": net.acct.sales_director})
    net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})
    with reverts("StageOutOfSequence", order_id, STAGE.FINANCE, STAGE.SALES_DIRECTOR):
        net.orders.approveOrder(order_id, STAGE.FINANCE, {"from": net.acct.finance})
    assert net.orders.orders(order_id)["approvedStages"] == STAGE.REGION_MANAGER


def test_the_sequence_skips_stages_the_order_does_not_need(net):
    net.orders.setApprovalPolicy([(0, STAGE.SALES_DIRECTOR | STAGE.FINANCE)], {"from": net.acct.admin})
    order_id = net.submit()

    with reverts("StageOutOfSequence", order_id, STAGE.FINANCE, STAGE.SALES_DIRECTOR):
        net.orders.approveOrder(order_id, STAGE.FINANCE, {"from": net.acct.finance})
    net.orders.approveOrder(order_id, STAGE.SALES_DIRECTOR, {"from": net.acct.sales_director})
    net.orders.approveOrder(order_id, STAGE.FINANCE, {"from": net.acct.finance})

    assert state_of(net, order_id) == ORDER.APPROVED


def test_an_urgent_order_takes_its_stages_in_any_order(net):
    order_id = net.submit(cases=(112,), urgent=True)
    assert net.orders.orders(order_id)["urgent"]

    finance = net.orders.approveOrder(order_id, STAGE.FINANCE, {"from": net.acct.finance})
    director = net.orders.approveOrder(order_id, STAGE.SALES_DIRECTOR, {"from": net.acct.sales_director})
    manager = net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})

    assert not finance.events["OrderApproved"]["fullyApproved"]
    assert not director.events["OrderApproved"]["fullyApproved"]
    assert manager.events["OrderApproved"]["fullyApproved"]
    assert manager.events["CreditReserved"]["exposure"] == 112 * CASE_PRICE_FEN
    assert state_of(net, order_id) == ORDER.APPROVED


def test_a_stage_cannot_be_approved_twice(net):
    order_id = net.submit(cases=(20,))
    net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})

    with reverts("StageAlreadyApproved", order_id, STAGE.REGION_MANAGER):
        net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})


def test_a_stage_the_order_does_not_need_cannot_be_approved(net):
    order_id = net.submit()

    with reverts("StageNotRequired", order_id, STAGE.SALES_DIRECTOR):
        net.orders.approveOrder(order_id, STAGE.SALES_DIRECTOR, {"from": net.acct.sales_director})


@pytest.mark.parametrize("stage", [0, 3, 8, 255])
def test_a_stage_must_be_a_single_known_stage(net, stage):
    order_id = net.submit()

    with reverts("InvalidStage", stage):
        net.orders.approveOrder(order_id, stage, {"from": net.acct.rm_east})
    with reverts("InvalidStage", stage):
        net.orders.rejectOrder(order_id, stage, 1, {"from": net.acct.rm_east})


def test_a_regional_manager_of_another_region_cannot_approve_or_reject(net):
    order_id = net.submit()

    with reverts("WrongOrganisation", net.acct.rm_north, net.org.east):
        net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_north})
    with reverts("WrongOrganisation", net.acct.rm_north, net.org.east):
        net.orders.rejectOrder(order_id, STAGE.REGION_MANAGER, 1, {"from": net.acct.rm_north})

    north = net.submit(distributor="dist_n")
    net.orders.approveOrder(north, STAGE.REGION_MANAGER, {"from": net.acct.rm_north})
    assert state_of(net, north) == ORDER.APPROVED


def test_an_approved_order_takes_no_further_approval(net, approved):
    with reverts("InvalidState", approved, ORDER.APPROVED):
        net.orders.approveOrder(approved, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})


def test_an_unknown_order_cannot_be_approved_rejected_or_cancelled(net):
    with reverts("UnknownOrder", 7):
        net.orders.approveOrder(7, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})
    with reverts("UnknownOrder", 7):
        net.orders.rejectOrder(7, STAGE.REGION_MANAGER, 1, {"from": net.acct.rm_east})
    with reverts("UnknownOrder", 7):
        net.orders.cancelOrder(7, 1, {"from": net.acct.dist_a_purchaser})


# ---------------------------------------------------------------------------------------------- credit


def test_finance_sets_a_distributors_credit_limit(net):
    tx = net.orders.setCreditLimit(net.org.dist_b, 5_000_000, {"from": net.acct.finance})

    assert dict(tx.events["CreditLimitSet"]) == {"distributor": net.org.dist_b, "limit": 5_000_000}
    assert plain(net.orders.credits(net.org.dist_b)) == (5_000_000, 0)


@pytest.mark.parametrize("org", ["east", "store_a", "carrier", "wh_shanghai"])
def test_only_a_distributor_is_given_credit(net, org):
    with reverts("NotADistributor", getattr(net.org, org)):
        net.orders.setCreditLimit(getattr(net.org, org), 1, {"from": net.acct.finance})


def test_an_approval_beyond_the_credit_limit_is_refused_and_the_order_stays_submitted(net):
    amount = 10 * CASE_PRICE_FEN
    net.orders.setCreditLimit(net.org.dist_a, 2 * amount - 1, {"from": net.acct.finance})
    first = net.submit()
    second = net.submit()
    net.approve_all(first)

    with reverts("CreditLimitExceeded", net.org.dist_a, 2 * amount - 1, amount, amount):
        net.orders.approveOrder(second, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})

    order = net.orders.orders(second)
    assert order["state"] == ORDER.SUBMITTED
    assert order["approvedStages"] == 0
    assert plain(net.orders.credits(net.org.dist_a)) == (2 * amount - 1, amount)


def test_an_approval_may_use_the_credit_limit_to_the_last_fen(net):
    amount = 10 * CASE_PRICE_FEN
    net.orders.setCreditLimit(net.org.dist_a, amount, {"from": net.acct.finance})

    tx = net.orders.approveOrder(net.submit(), STAGE.REGION_MANAGER, {"from": net.acct.rm_east})

    assert tx.events["CreditReserved"]["exposure"] == amount
    assert plain(net.orders.credits(net.org.dist_a)) == (amount, amount)


def test_a_payment_frees_credit_for_the_next_approval(net):
    amount = 10 * CASE_PRICE_FEN
    net.orders.setCreditLimit(net.org.dist_a, amount, {"from": net.acct.finance})
    net.approve_all(net.submit())
    waiting = net.submit()

    tx = net.orders.recordPayment(net.org.dist_a, amount, {"from": net.acct.finance})

    assert dict(tx.events["PaymentRecorded"]) == {"distributor": net.org.dist_a, "amount": amount, "exposure": 0}
    assert net.orders.credits(net.org.dist_a)["exposure"] == 0
    net.approve_all(waiting)
    assert state_of(net, waiting) == ORDER.APPROVED
    assert net.orders.credits(net.org.dist_a)["exposure"] == amount


def test_a_part_payment_frees_that_much_credit(net, approved):
    tx = net.orders.recordPayment(net.org.dist_a, 1_000_000, {"from": net.acct.finance})

    assert tx.events["PaymentRecorded"]["exposure"] == 10 * CASE_PRICE_FEN - 1_000_000
    assert net.orders.credits(net.org.dist_a)["exposure"] == 10 * CASE_PRICE_FEN - 1_000_000


def test_a_payment_cannot_exceed_the_exposure(net, approved):
    exposure = 10 * CASE_PRICE_FEN

    with reverts("PaymentExceedsExposure", net.org.dist_a, exposure, exposure + 1):
        net.orders.recordPayment(net.org.dist_a, exposure + 1, {"from": net.acct.finance})
    assert net.orders.credits(net.org.dist_a)["exposure"] == exposure


# ----------------------------------------------------------------------------------- reject and cancel


def test_an_order_is_rejected_at_a_pending_stage(net):
    order_id = net.submit(cases=(20,))
    net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})

    tx = net.orders.rejectOrder(order_id, STAGE.SALES_DIRECTOR, 42, {"from": net.acct.sales_director})

    assert dict(tx.events["OrderRejected"]) == {
        "orderId": order_id, "stage": STAGE.SALES_DIRECTOR, "reasonCode": 42, "rejectedBy": net.acct.sales_director,
    }
    assert state_of(net, order_id) == ORDER.REJECTED
    assert net.orders.credits(net.org.dist_a)["exposure"] == 0
    with reverts("InvalidState", order_id, ORDER.REJECTED):
        net.orders.approveOrder(order_id, STAGE.SALES_DIRECTOR, {"from": net.acct.sales_director})
    with reverts("InvalidState", order_id, ORDER.REJECTED):
        net.orders.rejectOrder(order_id, STAGE.SALES_DIRECTOR, 42, {"from": net.acct.sales_director})


def test_an_order_cannot_be_rejected_at_a_stage_already_approved(net):
    order_id = net.submit(cases=(20,))
    net.orders.approveOrder(order_id, STAGE.REGION_MANAGER, {"from": net.acct.rm_east})

    with reverts("StageAlreadyApproved", order_id, STAGE.REGION_MANAGER):
        net.orders.rejectOrder(order_id, STAGE.REGION_MANAGER, 1, {"from": net.acct.rm_east})


def test_an_order_cannot_be_rejected_at_a_stage_it_does_not_need(net):
    order_id = net.submit()

    with reverts("StageNotRequired", order_id, STAGE.FINANCE):
        net.orders.rejectOrder(order_id, STAGE.FINANCE, 1, {"from": net.acct.finance})


def test_an_approved_order_can_no_longer_be_rejected(net, approved):
    with reverts("InvalidState", approved, ORDER.APPROVED):
        net.orders.rejectOrder(approved, STAGE.REGION_MANAGER, 1, {"from": net.acct.rm_east})


def test_the_purchaser_cancels_a_submitted_order(net):
    order_id = net.submit()

    tx = net.orders.cancelOrder(order_id, 7, {"from": net.acct.dist_a_purchaser})

    assert dict(tx.events["OrderCancelled"]) == {"orderId": order_id, "reasonCode": 7,
                                                 "cancelledBy": net.acct.dist_a_purchaser}
    assert "CreditReleased" not in tx.events
    assert state_of(net, order_id) == ORDER.CANCELLED


def test_cancelling_an_approved_order_releases_its_credit(net, approved):
    other = net.submit(cases=(5,))
    net.approve_all(other)
    assert net.orders.credits(net.org.dist_a)["exposure"] == 15 * CASE_PRICE_FEN

    tx = net.orders.cancelOrder(approved, 1, {"from": net.acct.dist_a_purchaser})

    assert dict(tx.events["CreditReleased"]) == {"distributor": net.org.dist_a, "orderId": approved,
                                                 "exposure": 5 * CASE_PRICE_FEN}
    assert tx.events["OrderCancelled"]["orderId"] == approved
    assert state_of(net, approved) == ORDER.CANCELLED
    assert net.orders.credits(net.org.dist_a)["exposure"] == 5 * CASE_PRICE_FEN


def test_an_approved_order_paid_in_advance_can_still_be_cancelled(net, approved):
    net.orders.recordPayment(net.org.dist_a, 10 * CASE_PRICE_FEN, {"from": net.acct.finance})

    tx = net.orders.cancelOrder(approved, 1, {"from": net.acct.dist_a_purchaser})

    assert state_of(net, approved) == ORDER.CANCELLED
    # The exposure release stops at zero: the payment covered part of this order already.
    assert tx.events["CreditReleased"]["exposure"] == 0
    assert net.orders.credits(net.org.dist_a)["exposure"] == 0


def test_only_the_ordering_distributors_purchaser_may_cancel(net):
    order_id = net.submit()

    with reverts("WrongOrganisation", net.acct.dist_b_purchaser, net.org.dist_a):
        net.orders.cancelOrder(order_id, 1, {"from": net.acct.dist_b_purchaser})
    assert state_of(net, order_id) == ORDER.SUBMITTED


def test_an_order_cannot_be_cancelled_once_something_is_dispatched(net, approved):
    lot = net.commission()
    ship_order(net, approved, [lot], [4])

    with reverts("InvalidState", approved, ORDER.PARTIALLY_DISPATCHED):
        net.orders.cancelOrder(approved, 1, {"from": net.acct.dist_a_purchaser})
    ship_order(net, approved, [lot], [6])
    with reverts("InvalidState", approved, ORDER.DISPATCHED):
        net.orders.cancelOrder(approved, 1, {"from": net.acct.dist_a_purchaser})


@pytest.mark.parametrize("end", ["rejected", "cancelled"])
def test_a_closed_order_cannot_be_cancelled(net, end):
    order_id = net.submit()
    if end == "rejected":
        net.orders.rejectOrder(order_id, STAGE.REGION_MANAGER, 1, {"from": net.acct.rm_east})
    else:
        net.orders.cancelOrder(order_id, 1, {"from": net.acct.dist_a_purchaser})

    with reverts("InvalidState", order_id, ORDER.REJECTED if end == "rejected" else ORDER.CANCELLED):
        net.orders.cancelOrder(order_id, 1, {"from": net.acct.dist_a_purchaser})


# ----------------------------------------------------------------------------------------- the wiring


def test_the_inventory_is_connected_once(net):
    fresh = Orders.deploy(net.membership, net.catalog, {"from": net.acct.admin})

    tx = fresh.setInventory(net.inventory, {"from": net.acct.admin})

    assert tx.events["InventorySet"]["inventory"] == net.inventory
    assert fresh.inventory() == net.inventory
    with reverts("InventoryAlreadySet", net.inventory.address.lower()):
        fresh.setInventory(net.acct.admin, {"from": net.acct.admin})
    with reverts("InventoryAlreadySet", net.inventory.address.lower()):
        net.orders.setInventory(net.acct.admin, {"from": net.acct.admin})


def test_only_the_inventory_records_dispatches_and_receipts(net, approved):
    caller = net.acct.admin

    with reverts("OnlyInventory", caller):
        net.orders.recordDispatch(approved, 1, net.loc.dist_a, [], [], {"from": caller})
    with reverts("OnlyInventory", caller):
        net.orders.recordReceipt(approved, 1, 0, {"from": caller})


# ---------------------------------------------------------------------------------------- fulfilment


def test_an_order_moves_through_partial_dispatch_and_dispatch_to_delivery(net):
    order_id = net.submit(skus=(1, 2), cases=(10, 5))
    net.approve_all(order_id)
    lot1, lot2 = net.commission(sku=1), net.commission(sku=2)

    first = ship_order(net, order_id, [lot1], [4])
    first_id = first.return_value
    assert dict(first.events["OrderDispatched"]) == {
        "orderId": order_id, "shipmentId": first_id, "cases": 4, "state": ORDER.PARTIALLY_DISPATCHED,
    }
    order = net.orders.orders(order_id)
    assert (order["state"], order["casesToDispatch"], order["casesInTransit"]) == (ORDER.PARTIALLY_DISPATCHED, 11, 4)
    assert plain(net.orders.orderLines(order_id, 0)) == (1, 10, 4)

    receive_order(net, first_id, order_id, [lot1], [4])
    order = net.orders.orders(order_id)
    assert (order["state"], order["casesToDispatch"], order["casesInTransit"]) == (ORDER.PARTIALLY_DISPATCHED, 11, 0)

    second = ship_order(net, order_id, [lot1, lot2], [6, 5])
    second_id = second.return_value
    assert dict(second.events["OrderDispatched"]) == {
        "orderId": order_id, "shipmentId": second_id, "cases": 11, "state": ORDER.DISPATCHED,
    }
    assert plain(net.orders.orderLines(order_id, 0)) == (1, 10, 10)
    assert plain(net.orders.orderLines(order_id, 1)) == (2, 5, 5)
    order = net.orders.orders(order_id)
    assert (order["state"], order["casesToDispatch"], order["casesInTransit"]) == (ORDER.DISPATCHED, 0, 11)

    receipt = receive_order(net, second_id, order_id, [lot1, lot2], [6, 5])
    assert dict(receipt.events["OrderDelivered"]) == {"orderId": order_id, "shipmentId": second_id}
    order = net.orders.orders(order_id)
    assert (order["state"], order["casesInTransit"]) == (ORDER.DELIVERED, 0)


def test_an_order_is_delivered_only_when_its_last_shipment_in_transit_arrives(net, approved):
    lot = net.commission()
    first = ship_order(net, approved, [lot], [4]).return_value
    second = ship_order(net, approved, [lot], [6]).return_value

    early = receive_order(net, second, approved, [lot], [6])
    assert "OrderDelivered" not in early.events
    assert net.orders.orders(approved)["state"] == ORDER.DISPATCHED
    assert net.orders.orders(approved)["casesInTransit"] == 4

    last = receive_order(net, first, approved, [lot], [4])
    assert last.events["OrderDelivered"]["shipmentId"] == first
    assert state_of(net, approved) == ORDER.DELIVERED


def test_an_order_received_short_is_still_delivered(net, approved):
    lot = net.commission()
    shipment = ship_order(net, approved, [lot], [10]).return_value

    tx = receive_order(net, shipment, approved, [lot], [10], received=[7])

    assert "OrderDelivered" in tx.events
    assert "DiscrepancyOpened" in tx.events
    assert state_of(net, approved) == ORDER.DELIVERED
    assert net.orders.orders(approved)["casesInTransit"] == 0


def test_lots_of_the_same_sku_fill_the_same_order_line(net, approved):
    lots = sorted([net.commission(sku=1), net.commission(sku=1)])

    tx = ship_order(net, approved, lots, [3, 7])

    assert tx.events["OrderDispatched"]["cases"] == 10
    assert plain(net.orders.orderLines(approved, 0)) == (1, 10, 10)
    assert state_of(net, approved) == ORDER.DISPATCHED


def test_an_order_cannot_be_dispatched_beyond_what_remains_of_a_line(net, approved):
    lot = net.commission()
    with reverts("ExceedsOrderedQuantity", approved, 1, 10, 11):
        ship_order(net, approved, [lot], [11])

    ship_order(net, approved, [lot], [4])

    with reverts("ExceedsOrderedQuantity", approved, 1, 6, 7):
        ship_order(net, approved, [lot], [7])
    assert plain(net.orders.orderLines(approved, 0)) == (1, 10, 4)


def test_two_lots_of_one_sku_together_cannot_exceed_its_line(net, approved):
    lots = sorted([net.commission(sku=1), net.commission(sku=1)])

    with reverts("ExceedsOrderedQuantity", approved, 1, 4, 5):
        ship_order(net, approved, lots, [6, 5])


def test_a_sku_the_order_does_not_hold_cannot_be_dispatched_against_it(net, approved):
    lot = net.commission(sku=2)

    with reverts("SkuNotOrdered", approved, 2):
        ship_order(net, approved, [lot], [1])


def test_an_order_is_dispatched_only_to_its_delivery_location(net, approved):
    lot = net.commission()

    with reverts("WrongDestination", approved, net.loc.dist_a, net.loc.dist_b):
        ship_order(net, approved, [lot], [1], dest=net.loc.dist_b)


@pytest.mark.parametrize("state", ["submitted", "rejected", "cancelled", "dispatched"])
def test_only_an_approved_or_partly_dispatched_order_can_be_dispatched(net, state):
    lot = net.commission()
    order_id = net.submit()
    expected = {"submitted": ORDER.SUBMITTED, "rejected": ORDER.REJECTED, "cancelled": ORDER.CANCELLED,
                "dispatched": ORDER.DISPATCHED}[state]
    if state == "rejected":
        net.orders.rejectOrder(order_id, STAGE.REGION_MANAGER, 1, {"from": net.acct.rm_east})
    elif state == "cancelled":
        net.orders.cancelOrder(order_id, 1, {"from": net.acct.dist_a_purchaser})
    elif state == "dispatched":
        net.approve_all(order_id)
        ship_order(net, order_id, [lot], [10])

    with reverts("InvalidState", order_id, expected):
        ship_order(net, order_id, [lot], [1])
    assert net.balance(net.loc.wh_shanghai, lot) == (90 if state == "dispatched" else 100)


def test_an_unknown_order_cannot_be_dispatched_against(net):
    lot = net.commission()

    with reverts("UnknownOrder", 99):
        ship_order(net, 99, [lot], [1])
