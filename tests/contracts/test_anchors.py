"""Anchors: the Merkle roots that pin the off-chain consumer-scan and opened-bottle logs to the chain.

Covers `Anchors.anchor` and its views: an anchor records the root, the period [start, end) and the
entry count; periods of one log kind follow one another and never overlap, so an anchored day cannot
be anchored again with edited content, while the two log kinds keep separate timelines; periods may
not end in the future; only a brand admin anchors. Block times are pinned with anvil's
`evm_setNextBlockTimestamp` where the boundary "ends no later than now" is under test.

Then the upgrade path (docs/upgrades.md): a brand admin retires the contract, which from then on refuses
anchors but keeps its own readable; a successor names its retired predecessor, continues its anchor ids and
its periods for every log kind, and reads the predecessor's anchors through `anchorOf`; a successor of a
live contract cannot be deployed.
"""

import brownie
import pytest
from brownie import ZERO_ADDRESS, Anchors, chain, web3

from conftest import DAY, LOG_KIND, ROLE, revert_message
from ledger_api.merkle import StandardMerkleTree

SCANS, OPENED = LOG_KIND.CONSUMER_SCANS, LOG_KIND.OPENED_BOTTLES
ROOT = "0x" + "ab" * 32
OTHER_ROOT = "0x" + "cd" * 32
ZERO_ROOT = "0x" + "00" * 32


@pytest.fixture
def admin(net):
    return {"from": net.acct.admin}


@pytest.fixture
def today():
    """Midnight (UTC) of the latest block's day: periods before it are safely in the past."""
    return chain[-1].timestamp // DAY * DAY


def next_block_at(timestamp):
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


def test_the_anchors_contract_asks_the_deployed_membership(net):
    assert net.anchors.membership() == net.membership.address
    assert net.anchors.VERSION() == "1.1.0"
    assert net.anchors.predecessor() == ZERO_ADDRESS and net.anchors.firstAnchorId() == 1
    assert not net.anchors.retired()
    assert net.anchors.anchorCount() == 0
    assert net.anchors.anchoredUntil(SCANS) == net.anchors.anchoredUntil(OPENED) == 0


def test_a_days_scan_log_is_anchored_with_its_root_period_and_count(net, admin, today):
    scans = [("https://brand.example/01/06901234560015/10/L0001/21/S1-1-0", today - DAY + 3600 * h) for h in range(3)]
    root = StandardMerkleTree.of(scans, ("string", "uint64")).root
    tx = net.anchors.anchor(SCANS, root, today - DAY, today, len(scans), "bafkreiscanlog", admin)

    assert tx.return_value == 1 == net.anchors.anchorCount()
    assert tuple(net.anchors.anchorOf(1)) == ("0x" + bytes(root).hex(), SCANS, today - DAY, today, 3)
    assert net.anchors.anchoredUntil(SCANS) == today
    assert net.anchors.anchoredUntil(OPENED) == 0
    event = tx.events["Anchored"]
    assert (event["anchorId"], event["kind"], event["merkleRoot"], event["periodStart"], event["periodEnd"],
            event["entryCount"], event["contentCid"], event["anchoredBy"]) == (
        1, SCANS, "0x" + bytes(root).hex(), today - DAY, today, 3, "bafkreiscanlog", net.acct.admin)


def test_the_next_period_may_start_exactly_where_the_last_one_ended(net, admin, today):
    net.anchors.anchor(OPENED, ROOT, today - 2 * DAY, today - DAY, 40, "bafkreiday1", admin)
    tx = net.anchors.anchor(OPENED, OTHER_ROOT, today - DAY, today, 55, "bafkreiday2", admin)
    assert tx.return_value == 2
    assert (tx.events["Anchored"]["anchorId"], tx.events["Anchored"]["periodStart"]) == (2, today - DAY)
    assert tuple(net.anchors.anchorOf(2)) == (OTHER_ROOT, OPENED, today - DAY, today, 55)
    assert net.anchors.anchoredUntil(OPENED) == today


def test_a_gap_between_periods_is_allowed(net, admin, today):
    # An on-demand anchor after a quiet weekend skips days nobody logged.
    net.anchors.anchor(SCANS, ROOT, today - 5 * DAY, today - 4 * DAY, 9, "", admin)
    tx = net.anchors.anchor(SCANS, OTHER_ROOT, today - 2 * DAY, today - DAY, 0, "", admin)
    assert tx.events["Anchored"]["periodStart"] == today - 2 * DAY
    assert net.anchors.anchoredUntil(SCANS) == today - DAY


def test_each_log_kind_keeps_its_own_timeline(net, admin, today):
    net.anchors.anchor(SCANS, ROOT, today - DAY, today, 1_000, "bafkreiscans", admin)
    tx = net.anchors.anchor(OPENED, OTHER_ROOT, today - DAY, today, 12, "bafkreiopened", admin)
    assert (tx.events["Anchored"]["anchorId"], tx.events["Anchored"]["kind"]) == (2, OPENED)
    assert net.anchors.anchoredUntil(SCANS) == net.anchors.anchoredUntil(OPENED) == today


def test_a_period_may_end_at_the_current_block_but_not_a_second_later(net, admin):
    now = chain[-1].timestamp + 60
    next_block_at(now)
    tx = net.anchors.anchor(SCANS, ROOT, now - DAY, now, 5, "", admin)
    assert tx.timestamp == now and net.anchors.anchoredUntil(SCANS) == now

    next_block_at(now + 60)
    with brownie.reverts(revert_message("InvalidPeriod", now, now + 61)):
        net.anchors.anchor(SCANS, OTHER_ROOT, now, now + 61, 5, "", admin)
    assert net.anchors.anchoredUntil(SCANS) == now


@pytest.mark.parametrize("start_offset, end_offset", [(-DAY, -DAY), (-DAY, -2 * DAY), (-DAY, 30 * DAY)])
def test_an_empty_backwards_or_future_period_is_refused(net, admin, today, start_offset, end_offset):
    start, end = today + start_offset, today + end_offset
    with brownie.reverts(revert_message("InvalidPeriod", start, end)):
        net.anchors.anchor(SCANS, ROOT, start, end, 5, "", admin)
    assert net.anchors.anchorCount() == 0


def test_a_zero_merkle_root_is_refused(net, admin, today):
    with brownie.reverts(revert_message("InvalidMerkleRoot")):
        net.anchors.anchor(SCANS, ZERO_ROOT, today - DAY, today, 0, "", admin)
    assert net.anchors.anchorCount() == 0


def test_an_anchored_day_cannot_be_anchored_again_with_edited_content(net, admin, today):
    net.anchors.anchor(SCANS, ROOT, today - DAY, today, 1_000, "bafkreioriginal", admin)
    # Quietly lowering a day's scan count would hide a counterfeit code being scanned in many places.
    for start, end in ((today - DAY, today), (today - 3600, today), (today - 2 * DAY, today - DAY)):
        with brownie.reverts(revert_message("PeriodOverlaps", SCANS, start, today)):
            net.anchors.anchor(SCANS, OTHER_ROOT, start, end, 990, "bafkreiedited", admin)
    assert tuple(net.anchors.anchorOf(1)) == (ROOT, SCANS, today - DAY, today, 1_000)
    assert net.anchors.anchorCount() == 1


def test_a_log_kind_outside_the_enum_is_refused(net, admin, today):
    with brownie.reverts():
        net.anchors.anchor(OPENED + 1, ROOT, today - DAY, today, 1, "", admin)
    assert net.anchors.anchorCount() == 0


def test_only_an_active_brand_admin_anchors(net, admin, today):
    args = (SCANS, ROOT, today - DAY, today, 1, "")
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.anchors.anchor(*args, {"from": net.acct.outsider})
    # The auditor checks anchors; it must not be able to write them.
    with brownie.reverts(revert_message("MissingRole", net.acct.auditor, ROLE.ADMIN)):
        net.anchors.anchor(*args, {"from": net.acct.auditor})
    with brownie.reverts(revert_message("MissingRole", net.acct.sales_director, ROLE.ADMIN)):
        net.anchors.anchor(*args, {"from": net.acct.sales_director})
    net.membership.setAccount(net.acct.outsider, net.org.brand, ROLE.ADMIN, "deputy admin", admin)
    net.membership.deactivateAccount(net.acct.outsider, admin)
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.anchors.anchor(*args, {"from": net.acct.outsider})
    assert net.anchors.anchorCount() == 0


def test_an_unknown_anchor_reads_as_empty(net):
    assert tuple(net.anchors.anchorOf(7)) == (ZERO_ROOT, SCANS, 0, 0, 0)


# ------------------------------------------------------------------------------------ retire, then succeed


def test_a_retired_contract_refuses_anchors_and_keeps_its_own_readable(net, admin, today):
    net.anchors.anchor(SCANS, ROOT, today - DAY, today, 7, "bafkreiday", admin)
    tx = net.anchors.retire(admin)

    assert net.anchors.retired()
    assert tx.events["Retired"]["by"] == net.acct.admin
    with brownie.reverts(revert_message("ContractRetired")):
        net.anchors.anchor(OPENED, OTHER_ROOT, today - DAY, today, 3, "", admin)
    assert tuple(net.anchors.anchorOf(1)) == (ROOT, SCANS, today - DAY, today, 7)
    assert net.anchors.anchorCount() == 1


def test_a_contract_is_retired_once(net, admin):
    net.anchors.retire(admin)
    with brownie.reverts(revert_message("ContractRetired")):
        net.anchors.retire(admin)


def test_only_an_active_brand_admin_retires(net, admin):
    with brownie.reverts(revert_message("MissingRole", net.acct.auditor, ROLE.ADMIN)):
        net.anchors.retire({"from": net.acct.auditor})
    with brownie.reverts(revert_message("NotAMember", net.acct.outsider)):
        net.anchors.retire({"from": net.acct.outsider})
    assert not net.anchors.retired()


def test_a_successor_continues_the_anchor_ids_and_every_kinds_periods(net, admin, today):
    net.anchors.anchor(SCANS, ROOT, today - 2 * DAY, today - DAY, 10, "bafkreiscans", admin)
    net.anchors.anchor(OPENED, OTHER_ROOT, today - 3 * DAY, today - 2 * DAY, 4, "bafkreiopened", admin)
    net.anchors.retire(admin)

    successor = Anchors.deploy(net.membership, net.anchors, admin)

    assert successor.predecessor() == net.anchors.address
    assert successor.membership() == net.membership.address
    assert (successor.anchorCount(), successor.firstAnchorId()) == (2, 3)
    assert successor.anchoredUntil(SCANS) == today - DAY
    assert successor.anchoredUntil(OPENED) == today - 2 * DAY
    assert not successor.retired()
    # A day the predecessor anchored cannot be anchored again on the successor.
    with brownie.reverts(revert_message("PeriodOverlaps", SCANS, today - 2 * DAY, today - DAY)):
        successor.anchor(SCANS, OTHER_ROOT, today - 2 * DAY, today - DAY, 9, "", admin)
    tx = successor.anchor(SCANS, OTHER_ROOT, today - DAY, today, 12, "bafkreinext", admin)
    assert tx.return_value == 3 == tx.events["Anchored"]["anchorId"]
    assert successor.anchorCount() == 3 and net.anchors.anchorCount() == 2


def test_a_successor_reads_its_predecessors_anchors_through_anchor_of(net, admin, today):
    net.anchors.anchor(SCANS, ROOT, today - 3 * DAY, today - 2 * DAY, 10, "", admin)
    net.anchors.retire(admin)
    second = Anchors.deploy(net.membership, net.anchors, admin)
    second.anchor(SCANS, OTHER_ROOT, today - 2 * DAY, today - DAY, 20, "", admin)
    second.retire(admin)
    third = Anchors.deploy(net.membership, second, admin)
    third.anchor(OPENED, ROOT, today - DAY, today, 30, "", admin)

    # Through a chain of successors: each id is read where it was anchored.
    assert tuple(third.anchorOf(1)) == (ROOT, SCANS, today - 3 * DAY, today - 2 * DAY, 10)
    assert tuple(third.anchorOf(2)) == (OTHER_ROOT, SCANS, today - 2 * DAY, today - DAY, 20)
    assert tuple(third.anchorOf(3)) == (ROOT, OPENED, today - DAY, today, 30)
    assert tuple(third.anchorOf(4)) == (ZERO_ROOT, SCANS, 0, 0, 0)
    assert third.anchorCount() == 3


def test_a_successor_of_a_live_contract_is_refused(net, admin, today):
    net.anchors.anchor(SCANS, ROOT, today - DAY, today, 1, "", admin)
    # Counters carried over from a live contract would be stale at its next anchor.
    with brownie.reverts(revert_message("PredecessorNotRetired", net.anchors)):
        Anchors.deploy(net.membership, net.anchors, admin)


def test_a_successor_of_a_ledger_without_anchors_starts_at_id_one(net, admin, today):
    net.anchors.retire(admin)
    successor = Anchors.deploy(net.membership, net.anchors, admin)
    assert (successor.anchorCount(), successor.firstAnchorId()) == (0, 1)
    assert successor.anchor(SCANS, ROOT, today - DAY, today, 1, "", admin).return_value == 1
    assert tuple(net.anchors.anchorOf(1)) == (ZERO_ROOT, SCANS, 0, 0, 0)
