"""Catalog: the brand's SKUs and the price lists distributors order against.

Covers every function of `Catalog.sol`: registering SKUs (the GTIN-14 check digit checked on chain,
one SKU per GTIN, 1-48 bottles a case), pointing a SKU at new content, listing and delisting, price
changes per SKU and tier with their history in `PriceSet` events and a `PriceAlert` for each change
beyond the configurable basis-point threshold, and the views orders price against. The fixture network
starts with SKUs 1-3 at 900,000 fen a case in tier 0 and the default alert threshold of 1,000 bps.
"""

import brownie
import pytest

from conftest import CASE_PRICE_FEN, ROLE, gtin14, revert_message

UNKNOWN = 99
NEW_GTIN = gtin14(690123456004)  # 06901234560046, a fresh SKU of the fixture brand.


@pytest.fixture
def admin(net):
    return {"from": net.acct.admin}


@pytest.fixture
def director(net):
    return {"from": net.acct.sales_director}


def price_events(tx):
    return [(e["sku"], e["tier"], e["oldPrice"], e["newPrice"]) for e in tx.events["PriceSet"]]


def alert_events(tx):
    if "PriceAlert" not in tx.events:
        return []
    return [(e["sku"], e["tier"], e["oldPrice"], e["newPrice"], e["changeBps"]) for e in tx.events["PriceAlert"]]


# ------------------------------------------------------------------ deployment


def test_the_catalog_asks_the_deployed_membership_and_starts_with_a_ten_percent_alert(net):
    assert net.catalog.membership() == net.membership.address
    assert net.catalog.VERSION() == "1.0.0"
    assert net.catalog.priceAlertBps() == 1_000


# ------------------------------------------------------------------ registerSku


def test_a_sku_registers_with_its_gtin_bottles_per_case_and_content(net, admin):
    tx = net.catalog.registerSku(NEW_GTIN, 12, "Feitian 53% 500ml", "bafkreifeitian", admin)
    assert tx.return_value == 4 == net.catalog.skuCount()
    assert tuple(net.catalog.skus(4)) == (NEW_GTIN, 12, True)
    assert net.catalog.skuByGtin(NEW_GTIN) == 4
    event = tx.events["SkuRegistered"]
    assert (event["sku"], event["gtin"], event["bottlesPerCase"], event["name"], event["contentCid"]) == (
        4, NEW_GTIN, 12, "Feitian 53% 500ml", "bafkreifeitian")


@pytest.mark.parametrize("gtin", [
    4006381333931,  # a real EAN-13, left-padded to GTIN-14 with a zero
    17,  # GTIN-14 00000000000017: the shortest body, check digit 7
    gtin14(690123456006),  # check digit 0, where (10 - sum % 10) wraps
    99999999999997,  # the largest GTIN-14
])
def test_any_gtin14_with_a_correct_check_digit_is_accepted(net, admin, gtin):
    tx = net.catalog.registerSku(gtin, 6, "edge", "", admin)
    assert tx.events["SkuRegistered"]["gtin"] == gtin
    assert net.catalog.skuByGtin(gtin) == tx.return_value


def test_every_wrong_check_digit_is_refused(net, admin):
    body = NEW_GTIN // 10
    for digit in range(10):
        gtin = body * 10 + digit
        if gtin == NEW_GTIN:
            continue
        with brownie.reverts(revert_message("InvalidGtin", gtin)):
            net.catalog.registerSku(gtin, 6, "mistyped", "", admin)
    assert net.catalog.skuCount() == 3


@pytest.mark.parametrize("gtin", [0, 10**14 + NEW_GTIN, 2**64 - 1])
def test_zero_and_numbers_longer_than_fourteen_digits_are_not_gtins(net, admin, gtin):
    # 10**14 + NEW_GTIN passes the check-digit sum, which reads only 13 digits: its length alone refuses it.
    with brownie.reverts(revert_message("InvalidGtin", gtin)):
        net.catalog.registerSku(gtin, 6, "too long", "", admin)


def test_a_gtin_belongs_to_one_sku_only(net, admin):
    taken = gtin14(690123456002)
    with brownie.reverts(revert_message("DuplicateGtin", taken, 2)):
        net.catalog.registerSku(taken, 12, "relabelled", "", admin)


@pytest.mark.parametrize("bottles", [1, 48])
def test_a_case_holds_between_one_and_forty_eight_bottles(net, admin, bottles):
    tx = net.catalog.registerSku(NEW_GTIN, bottles, "case edge", "", admin)
    assert net.catalog.skus(tx.return_value)["bottlesPerCase"] == bottles == tx.events["SkuRegistered"]["bottlesPerCase"]


@pytest.mark.parametrize("bottles", [0, 49])
def test_an_empty_or_oversized_case_is_refused(net, admin, bottles):
    with brownie.reverts(revert_message("InvalidBottlesPerCase", bottles)):
        net.catalog.registerSku(NEW_GTIN, bottles, "bad case", "", admin)


def test_only_a_brand_admin_registers_skus(net, director):
    with brownie.reverts(revert_message("MissingRole", net.acct.sales_director, ROLE.ADMIN)):
        net.catalog.registerSku(NEW_GTIN, 6, "unofficial", "", director)
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.catalog.registerSku(NEW_GTIN, 6, "counterfeit", "", {"from": net.acct.outsider})


# ------------------------------------------------------------------ setSkuContent


def test_a_sku_points_at_new_content(net, admin):
    tx = net.catalog.setSkuContent(2, "bafkreimidautumnstory", admin)
    assert (tx.events["SkuContentSet"]["sku"], tx.events["SkuContentSet"]["contentCid"]) == (2, "bafkreimidautumnstory")


def test_content_cannot_be_set_for_an_unknown_sku(net, admin):
    with brownie.reverts(revert_message("UnknownSku", UNKNOWN)):
        net.catalog.setSkuContent(UNKNOWN, "bafkreiorphan", admin)


def test_only_a_brand_admin_sets_sku_content(net):
    # The AR story is what consumers trust; a distributor must not be able to swap it.
    with brownie.reverts(revert_message("MissingRole", net.acct.dist_a_purchaser, ROLE.ADMIN)):
        net.catalog.setSkuContent(1, "bafkreifake", {"from": net.acct.dist_a_purchaser})


# ------------------------------------------------------------------ setSkuActive


def test_a_delisted_sku_can_no_longer_be_priced_for_an_order_until_relisted(net, admin):
    tx = net.catalog.setSkuActive(2, False, admin)
    assert (tx.events["SkuActiveSet"]["sku"], tx.events["SkuActiveSet"]["active"]) == (2, False)
    assert tuple(net.catalog.skus(2)) == (gtin14(690123456002), 6, False)
    with brownie.reverts(revert_message("SkuInactive", 2)):
        net.catalog.activeSku(2)
    with brownie.reverts(revert_message("SkuInactive", 2)):
        net.catalog.unitPrices([1, 2], 0)
    # Its price survives delisting, so relisting needs no new price list.
    assert net.catalog.priceOf(2, 0) == CASE_PRICE_FEN

    tx = net.catalog.setSkuActive(2, True, admin)
    assert tx.events["SkuActiveSet"]["active"] is True
    assert tuple(net.catalog.activeSku(2)) == (gtin14(690123456002), 6, True)
    assert list(net.catalog.unitPrices([1, 2], 0)) == [CASE_PRICE_FEN, CASE_PRICE_FEN]


def test_an_unknown_sku_cannot_be_listed_or_delisted(net, admin):
    with brownie.reverts(revert_message("UnknownSku", UNKNOWN)):
        net.catalog.setSkuActive(UNKNOWN, True, admin)


def test_only_a_brand_admin_lists_and_delists_skus(net, director):
    with brownie.reverts(revert_message("MissingRole", net.acct.sales_director, ROLE.ADMIN)):
        net.catalog.setSkuActive(1, False, director)


# ------------------------------------------------------------------ setPrices


def test_a_first_price_in_a_new_tier_is_recorded_without_an_alert(net, director):
    # From nothing to any price is not a "change" the market should be warned about.
    tx = net.catalog.setPrices([(1, 2, 800_000)], director)
    assert net.catalog.priceOf(1, 2) == 800_000
    assert price_events(tx) == [(1, 2, 0, 800_000)]
    assert tx.events["PriceSet"]["setBy"] == net.acct.sales_director
    assert alert_events(tx) == []


def test_a_price_list_revision_sets_many_prices_in_one_transaction(net, director):
    changes = [(1, 0, 920_000), (2, 0, 910_000), (3, 1, 850_000)]
    tx = net.catalog.setPrices(changes, director)
    assert list(net.catalog.unitPrices([1, 2], 0)) == [920_000, 910_000]
    assert net.catalog.priceOf(3, 1) == 850_000
    assert price_events(tx) == [(1, 0, CASE_PRICE_FEN, 920_000), (2, 0, CASE_PRICE_FEN, 910_000), (3, 1, 0, 850_000)]


def test_the_price_history_chains_through_the_price_set_events(net, director):
    first = net.catalog.setPrices([(1, 0, 950_000)], director)
    second = net.catalog.setPrices([(1, 0, 980_000), (1, 0, 990_000)], director)
    # Each event's old price is the previous event's new price, even twice in one batch.
    assert price_events(first) + price_events(second) == [
        (1, 0, CASE_PRICE_FEN, 950_000), (1, 0, 950_000, 980_000), (1, 0, 980_000, 990_000)]
    assert net.catalog.priceOf(1, 0) == 990_000


def test_a_price_set_again_unchanged_is_recorded_without_an_alert(net, director):
    tx = net.catalog.setPrices([(1, 0, CASE_PRICE_FEN)], director)
    assert price_events(tx) == [(1, 0, CASE_PRICE_FEN, CASE_PRICE_FEN)]
    assert alert_events(tx) == []


@pytest.mark.parametrize("new_price, change_bps", [(990_090, 1_001), (809_910, 1_001), (450_000, 5_000),
                                                   (2_700_000, 20_000)])
def test_a_change_beyond_the_threshold_raises_a_price_alert(net, director, new_price, change_bps):
    tx = net.catalog.setPrices([(1, 0, new_price)], director)
    assert alert_events(tx) == [(1, 0, CASE_PRICE_FEN, new_price, change_bps)]
    assert net.catalog.priceOf(1, 0) == new_price


@pytest.mark.parametrize("new_price", [990_000, 810_000, 900_001])
def test_a_change_up_to_the_threshold_raises_no_alert(net, director, new_price):
    tx = net.catalog.setPrices([(1, 0, new_price)], director)
    assert price_events(tx) == [(1, 0, CASE_PRICE_FEN, new_price)]
    assert alert_events(tx) == []


def test_a_change_a_fraction_of_a_basis_point_beyond_the_threshold_raises_an_alert(net, director):
    tx = net.catalog.setPrices([(1, 0, 990_089)], director)
    # 10.0099 %: past 1,000 bps by a fraction, reported to the nearest basis point.
    assert alert_events(tx) == [(1, 0, 900_000, 990_089, 1001)]


def test_only_the_changes_beyond_the_threshold_in_a_batch_alert(net, director):
    tx = net.catalog.setPrices([(1, 0, 950_000), (2, 0, 1_200_000), (3, 0, 870_000)], director)
    assert len(tx.events["PriceSet"]) == 3
    assert alert_events(tx) == [(2, 0, CASE_PRICE_FEN, 1_200_000, 3_333)]


def test_an_extreme_price_jump_alerts_without_overflow(net, director):
    top = 2**128 - 1
    net.catalog.setPrices([(1, 5, 1)], director)
    tx = net.catalog.setPrices([(1, 5, top)], director)
    assert alert_events(tx) == [(1, 5, 1, top, (top - 1) * 10_000)]


def test_a_delisted_sku_can_still_be_repriced_ahead_of_its_relisting(net, admin, director):
    net.catalog.setSkuActive(3, False, admin)
    tx = net.catalog.setPrices([(3, 0, 930_000)], director)
    assert price_events(tx) == [(3, 0, CASE_PRICE_FEN, 930_000)]
    assert net.catalog.priceOf(3, 0) == 930_000


def test_a_batch_with_an_unknown_sku_changes_no_price(net, director):
    with brownie.reverts(revert_message("UnknownSku", UNKNOWN)):
        net.catalog.setPrices([(1, 0, 950_000), (UNKNOWN, 0, 950_000)], director)
    assert net.catalog.priceOf(1, 0) == CASE_PRICE_FEN


def test_a_zero_price_is_refused_because_it_would_read_as_unpriced(net, director):
    with brownie.reverts(revert_message("ZeroPrice", 2, 1)):
        net.catalog.setPrices([(1, 1, 700_000), (2, 1, 0)], director)
    with brownie.reverts(revert_message("NoPrice", 1, 1)):
        net.catalog.priceOf(1, 1)


def test_only_the_sales_director_sets_prices(net, admin):
    # Not even the brand admin: pricing authority is the sales director's alone.
    with brownie.reverts(revert_message("MissingRole", net.acct.admin, ROLE.SALES_DIRECTOR)):
        net.catalog.setPrices([(1, 0, 1)], admin)
    with brownie.reverts(revert_message("MissingRole", net.acct.dist_a_purchaser, ROLE.SALES_DIRECTOR)):
        net.catalog.setPrices([(1, 0, 1)], {"from": net.acct.dist_a_purchaser})
    assert net.catalog.priceOf(1, 0) == CASE_PRICE_FEN


# ------------------------------------------------------------------ setPriceAlertThreshold


def test_a_lower_threshold_makes_smaller_changes_alert(net, admin, director):
    tx = net.catalog.setPriceAlertThreshold(500, admin)
    assert tx.events["PriceAlertThresholdSet"]["bps"] == 500 == net.catalog.priceAlertBps()
    tx = net.catalog.setPrices([(1, 0, 954_000), (2, 0, 945_000)], director)
    # 6% alerts now; 5% exactly still does not.
    assert alert_events(tx) == [(1, 0, CASE_PRICE_FEN, 954_000, 600)]


def test_a_higher_threshold_silences_changes_that_used_to_alert(net, admin, director):
    net.catalog.setPriceAlertThreshold(3_000, admin)
    tx = net.catalog.setPrices([(1, 0, 1_150_000)], director)
    assert alert_events(tx) == []


@pytest.mark.parametrize("bps", [1, 10_000])
def test_the_threshold_may_be_anywhere_from_one_basis_point_to_one_hundred_percent(net, admin, bps):
    tx = net.catalog.setPriceAlertThreshold(bps, admin)
    assert net.catalog.priceAlertBps() == bps == tx.events["PriceAlertThresholdSet"]["bps"]


@pytest.mark.parametrize("bps", [0, 10_001, 2**16 - 1])
def test_a_threshold_of_zero_or_beyond_one_hundred_percent_is_refused(net, admin, bps):
    with brownie.reverts(revert_message("InvalidThreshold", bps)):
        net.catalog.setPriceAlertThreshold(bps, admin)
    assert net.catalog.priceAlertBps() == 1_000


def test_only_a_brand_admin_sets_the_alert_threshold(net, director):
    # The director whose changes raise alerts must not be able to silence them.
    with brownie.reverts(revert_message("MissingRole", net.acct.sales_director, ROLE.ADMIN)):
        net.catalog.setPriceAlertThreshold(10_000, director)


# ------------------------------------------------------------------ views


def test_active_sku_and_skus_tell_unknown_skus_apart(net):
    assert tuple(net.catalog.activeSku(1)) == (gtin14(690123456001), 6, True)
    assert tuple(net.catalog.skus(UNKNOWN)) == (0, 0, False)
    assert net.catalog.skuByGtin(NEW_GTIN) == 0
    with brownie.reverts(revert_message("UnknownSku", UNKNOWN)):
        net.catalog.activeSku(UNKNOWN)


def test_an_unpriced_tier_has_no_price(net):
    with brownie.reverts(revert_message("NoPrice", 1, 7)):
        net.catalog.priceOf(1, 7)
    with brownie.reverts(revert_message("NoPrice", UNKNOWN, 0)):
        net.catalog.priceOf(UNKNOWN, 0)


def test_unit_prices_reads_one_tier_for_every_sku_asked(net, director):
    net.catalog.setPrices([(3, 1, 860_000), (1, 1, 870_000)], director)
    assert list(net.catalog.unitPrices([3, 1, 3], 1)) == [860_000, 870_000, 860_000]
    assert list(net.catalog.unitPrices([], 1)) == []


def test_unit_prices_refuses_unknown_and_unpriced_skus(net):
    with brownie.reverts(revert_message("UnknownSku", UNKNOWN)):
        net.catalog.unitPrices([1, UNKNOWN], 0)
    # SKU 2 is listed but nobody set its tier-1 price.
    with brownie.reverts(revert_message("NoPrice", 2, 1)):
        net.catalog.unitPrices([2], 1)
