"""The distributor health score as a pure function, against figures worked out by hand: each component by its
stated rule, the weighted score, a distributor that has not traded, a zero credit limit, and the ranking's top
20% with ties at the cut."""

from __future__ import annotations

import pytest

from ledger_api import health
from ledger_api.health import HealthRules, Trade

RULES = HealthRules()  # 90 days, one order a week expected: 12.86 orders; weights .25 .2 .15 .2 .2


def test_the_hand_worked_score_of_a_trading_distributor():
    trade = Trade(7, orders=9, cases_ordered=100, cases_dispatched=80, shipments_confirmed=9, shipments_unconfirmed=1,
                  credit_limit=1_000_000, exposure=250_000, paid=400_000, cases_sold=60, cases_on_hand=40)
    [row] = health.distributor_health([trade], RULES)
    # 9 orders of 90/7 expected: 0.7; 80 of 100 cases; 9 of 10 shipments; a quarter of the limit used; 60 of 100.
    assert row["components"] == {"purchase_frequency": 0.7, "fulfilment": 0.8, "receipt_confirmation": 0.9,
                                 "payment": 0.75, "sell_through": 0.6}
    # 100 × (0.25 × 0.7 + 0.2 × 0.8 + 0.15 × 0.9 + 0.2 × 0.75 + 0.2 × 0.6) = 17.5 + 16 + 13.5 + 15 + 12
    assert (row["score"], row["rank"], row["top"]) == (74.0, 1, True)
    assert row["figures"] == {
        "orders": 9, "orders_expected": 12.86, "cases_ordered": 100, "cases_dispatched": 80,
        "shipments_confirmed": 9, "shipments_unconfirmed": 1, "credit_limit_yuan": 10_000.0,
        "exposure_yuan": 2_500.0, "paid_yuan": 4_000.0, "cases_sold": 60, "cases_on_hand": 40}


def test_a_distributor_without_orders_scores_only_what_it_does_not_owe():
    [row] = health.distributor_health([Trade(8)], RULES)
    assert row["components"] == {"purchase_frequency": 0.0, "fulfilment": 0.0, "receipt_confirmation": 0.0,
                                 "payment": 1.0, "sell_through": 0.0}
    assert row["score"] == 20.0


@pytest.mark.parametrize("limit, exposure, payment", [
    (0, 0, 1.0),  # no credit, owing nothing: pays as it goes
    (0, 5_000, 0.0),  # owing with no credit limit (a limit cut below the exposure)
    (10_000, 10_000, 0.0),  # the whole limit used
    (10_000, 30_000, 0.0),  # beyond it: no lower than 0
])
def test_payment_against_the_credit_limit(limit, exposure, payment):
    assert health.components(Trade(1, credit_limit=limit, exposure=exposure), RULES)["payment"] == payment


def test_more_orders_than_expected_earn_no_more_than_full_marks():
    assert health.components(Trade(1, orders=40), RULES)["purchase_frequency"] == 1.0
    weekly = HealthRules(window_days=28, orders_per_week=2.0)
    assert health.components(Trade(1, orders=4), weekly)["purchase_frequency"] == 0.5


def scores(*values: float) -> list[tuple[int, float]]:
    return [(n, v) for n, v in enumerate(values, start=1)]


def test_the_top_twenty_percent_of_five_is_the_best_one():
    assert health.ranked(scores(60, 90, 80, 80, 70), 0.2) == [
        (2, 90, 1, True), (3, 80, 2, False), (4, 80, 2, False), (5, 70, 4, False), (1, 60, 5, False)]


def test_everyone_tied_at_the_cut_is_in_the_top():
    assert [(key, rank, top) for key, _, rank, top in health.ranked(scores(90, 90, 50, 40, 30), 0.2)] == [
        (1, 1, True), (2, 1, True), (3, 3, False), (4, 4, False), (5, 5, False)]
    ten = health.ranked(scores(95, 80, 80, 70, 60, 50, 40, 30, 20, 10), 0.2)  # the cut is 2 places: ranks 1, 2, 2
    assert [top for *_, top in ten] == [True, True, True] + [False] * 7


def test_the_cut_rounds_up_and_survives_floating_point():
    assert [health.top_count(n, 0.2) for n in (0, 1, 4, 5, 6, 10, 15)] == [0, 1, 1, 1, 2, 2, 3]
    assert sum(top for *_, top in health.ranked(scores(*range(15, 0, -1)), 0.2)) == 3


def test_the_weights_are_relative_and_shown_with_the_formula():
    rules = HealthRules(weights={"purchase_frequency": 2, "fulfilment": 2, "receipt_confirmation": 0,
                                 "payment": 1, "sell_through": 0})
    assert health.formula(rules)["weights"] == {"purchase_frequency": 0.4, "fulfilment": 0.4,
                                                "receipt_confirmation": 0.0, "payment": 0.2, "sell_through": 0.0}
    [row] = health.distributor_health([Trade(1, orders=90, cases_ordered=10, cases_dispatched=5)], rules)
    assert row["score"] == 100 * (0.4 * 1 + 0.4 * 0.5 + 0.2 * 1)
    assert "0.4 × purchase frequency" in health.formula(rules)["text"]


def test_weights_that_are_all_zero_or_negative_are_refused():
    with pytest.raises(ValueError):
        HealthRules(weights=dict.fromkeys(health.COMPONENTS, 0))
    with pytest.raises(ValueError):
        HealthRules(weights={**health.DEFAULT_WEIGHTS, "payment": -1})
