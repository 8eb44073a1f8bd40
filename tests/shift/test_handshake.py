"""The receive-counter handshake (paper §4.3.2 step 4) with ACK loss on either side: requests executed at the
responder, ACKs lost, the requester times out and fails over. SHIFT must not resend what the peer already
consumed (no queue sliding); ``naive`` (no counters) must, so the same fault shows the difference."""

from __future__ import annotations

import pytest

from shift_core.shift.mailbox import ACK, REQ, Handshake

from .conftest import ack_loss, run


def test_mailbox_message_round_trips() -> None:
    m = Handshake(3, REQ, 41, 2)
    assert Handshake.unpack(m.pack()) == m and len(m.pack()) == 32 and ACK != REQ


def test_sender_side_ack_loss_shift_skips_consumed_sends() -> None:
    res, v, _ = run("send_recv", "shift", ack_loss("h0.nic0"), n=12)
    assert v.outcome == "correct"
    assert v.skipped_by_counter > 0  # the counter said the peer had consumed them
    assert v.duplicate_executions == 0
    assert res.ledger.consumed == res.ledger.expected


def test_sender_side_ack_loss_naive_slides_the_queue() -> None:
    """Positive control: without counters the same fault duplicates SENDs into later receive buffers."""
    _, v, _ = run("send_recv", "naive", ack_loss("h0.nic0"), n=12)
    assert v.outcome == "silent_corruption"
    assert v.duplicate_executions > 0


@pytest.mark.parametrize("strategy", ["shift", "receiver_log"])
def test_receiver_side_ack_loss_on_the_reverse_cts(strategy: str) -> None:
    """NCCL Simple's receiver also sends (the CTS WRITEs): ACK loss towards *its* NIC makes the receiver the
    side that fails over first and starts the handshake; the sender joins through its mailbox."""
    res, v, _ = run("nccl_simple", strategy, ack_loss("h1.nic0"), n=12, after=1)
    got = {(t.qpn, t.event) for rec in res.records.values() for t in rec.transitions}
    assert any(e == "error_safe" for _, e in got) and any(e == "peer_fallback" for _, e in got)
    assert v.outcome == "correct"
    assert res.ledger.consumed == res.ledger.expected


def test_both_sides_lose_acks() -> None:
    def both(b):  # type: ignore[no-untyped-def]
        ack_loss("h0.nic0")(b)
        ack_loss("h1.nic0")(b)

    res, v, _ = run("nccl_simple", "shift", both, n=12, after=1)
    assert v.outcome == "correct"
    assert res.ledger.consumed == res.ledger.expected
