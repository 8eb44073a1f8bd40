"""Protocol-specific counterexample shapes and the broken receiver rules (positive controls)."""

from __future__ import annotations

from dataclasses import replace

from shift_core.boundary.ll import LL
from shift_core.boundary.put_signal import SignalProtocol
from shift_core.boundary.search import search
from shift_core.boundary.simple import Simple, SimpleCTS
from shift_core.boundary.transport import Policy


def test_simple_needs_the_receive_counter_handshake():
    assert not search(Simple(steps=3, slots=2)).witnesses
    literal = search(Simple(steps=3, slots=2, policy=Policy(restart="skip_sends"))).witnesses
    assert set(literal) == {"stale_or_torn_read"}
    w = [str(s) for s in literal["stale_or_torn_read"]]
    assert any("CQE #1" in s for s in w), "the stale read happens after the NEXT notification was consumed"


def test_simple_holds_with_more_data_wrs_and_slots():
    r = search(Simple(steps=3, slots=2, data_wrs=2, packets=2))
    assert r.complete and not r.witnesses


def test_cts_counterexample_is_a_torn_idx_then_addr_read():
    w = [str(s) for s in search(SimpleCTS(steps=3, slots=2)).witnesses["stale_cts_read"]]
    idx = max(i for i, s in enumerate(w) if ".idx ==" in s)
    resent = next(i for i, s in enumerate(w) if "retransmission" in s)
    assert idx < resent < len(w) - 1 and "read slots" in w[-1]


def test_cts_holds_without_slot_reuse():
    # one CTS per slot: a retransmitted entry rewrites identical bytes, so nothing can go wrong
    assert not search(SimpleCTS(steps=2, slots=2)).witnesses


def test_ll_valid_bit_rule_is_caught_but_step_flags_are_not():
    assert not search(LL(steps=3, slots=1, lines=2)).witnesses
    assert "stale_or_torn_read" in search(LL(steps=3, slots=1, flag="valid_bit")).witnesses


def test_ll_ack_only_duplicates_the_notification():
    r = search(LL(steps=2, slots=1, policy=Policy(restart="ack_only")))
    assert set(r.witnesses) == {"signal_executed_twice"}


def test_signal_early_read_is_caught_and_mscclpp_exception_reads_stale_data():
    assert search(SignalProtocol(steps=2, slots=1, early_read=True)).witnesses
    m = SignalProtocol(protocol="mscclpp", steps=3, slots=2, reuse="slot")
    assert not search(m).witnesses
    r = search(replace(m, variant="atomic_completes", policy=Policy(atomic_guard=False)))
    assert {"signal_executed_twice", "stale_or_torn_read"} <= set(r.witnesses)


def test_simple_in_place_reuse_holds_only_with_the_handshake():
    proto = Simple(steps=3, slots=1, reuse="in_place")
    assert not search(proto).witnesses
    literal = search(replace(proto, policy=Policy(restart="skip_sends"))).witnesses
    assert "ghost_write" in literal


def test_ll128_split_line_tears_only_without_the_handshake():
    ll128 = LL(protocol="nccl_ll128", steps=3, slots=1, split_line=True)
    assert not search(ll128).witnesses
    w = [str(s) for s in search(replace(ll128, policy=Policy(restart="skip_sends"))).witnesses["stale_or_torn_read"]]
    # the newer flag (2) is still in place while the resubmitted older data (1) has landed
    assert "flag [101] = 2 matches: consume data [100] = 1" in w[-1]
    # LL's atomic 8-byte halves never tear, whatever the restart reading
    assert not search(LL(steps=3, slots=1, policy=Policy(restart="skip_sends"))).witnesses
