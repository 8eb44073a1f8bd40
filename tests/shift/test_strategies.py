"""Each strategy on each workload under one fixed fault, and each strategy's declared Trilemma corner.

The fault is Thm 1's T2 made physical: every ACK towards the sender's default NIC is lost for twice the
detection time, so requests execute at the responder while the sender times out and fails over. The
responder acknowledges duplicate WRITEs without re-placing data (``dup_write="ack_only"``, rxe's
behaviour), so every corruption below is the failover layer's doing, not the RC transport's.
The expected table is what each mechanism implies (see the module docstrings in shift_core.shift):

* ``none``: stock RDMA; the error reaches the app, never a corruption, never continuity.
* ``naive``: resends executed WRs: SEND/RECV slides, FADD/CAS run twice, NCCL Simple's notification is
  delivered twice (the receiver consumes a slot twice), the reused buffer is ghost-written; under LL/LL128
  the duplicate notifications make the receiving proxy grant credits twice, a later CTS overwrites the FIFO
  slot the sender waits on, and the job hangs (a stall; NCCL would time out); READ is idempotent.
* ``shift``: supported traffic correct; atomics in flight -> error surfaced; the buffer reused before any
  notification the layer can count is ghost-written (paper: "can corrupt").
* ``receiver_log``: the responder's log shows what executed, so nothing is resent twice; an atomic whose
  result died with the ACK cannot be completed -> error surfaced.
* ``staging``: every message committed once by the receiver CPU: correct everywhere.
"""

from __future__ import annotations

import pytest

from shift_core.errors import ShiftUserError
from shift_core.shift.strategy import STRATEGY_TABLE, get_strategy
from shift_core.vocabulary import STRATEGIES, TRILEMMA, WORKLOADS

from .conftest import ack_loss, run

C, E, X, S = "correct", "error_surfaced", "silent_corruption", "stall"
EXPECTED = {
    #               simple ll ll128 read send fadd cas reuse
    "none":         (E, E, E, E, E, E, E, E),
    "naive":        (X, S, S, C, X, X, X, X),
    "shift":        (C, C, C, C, C, E, E, X),
    "receiver_log": (C, C, C, C, C, E, E, C),
    "staging":      (C, C, C, C, C, C, C, C),
}
ORDER = ("nccl_simple", "nccl_ll", "nccl_ll128", "rdma_read", "send_recv", "fadd_counter", "cas_lock",
         "buffer_reuse")


def test_every_strategy_declares_its_trilemma_corner() -> None:
    assert tuple(STRATEGY_TABLE) == STRATEGIES and set(ORDER) == set(WORKLOADS)
    assert {s.gives_up for s in STRATEGY_TABLE.values()} == {*TRILEMMA, "continuity"}
    assert get_strategy("shift").gives_up == "exactly_once"
    assert get_strategy("receiver_log").gives_up == "receiver_opacity"
    assert get_strategy("staging").gives_up == "zero_copy"
    with pytest.raises(ShiftUserError, match="choose one of"):
        get_strategy("magic")


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("workload", ORDER)
def test_strategy_on_workload_under_ack_loss(strategy: str, workload: str) -> None:
    _, v, _ = run(workload, strategy, ack_loss("h0.nic0"), n=12, dup_write="ack_only")
    assert v.outcome == EXPECTED[strategy][ORDER.index(workload)], v.reasons


def test_costs_are_measured_not_assumed() -> None:
    """The exactly-once corners pay: receiver_log one log WRITE per WR, staging a payload copy per WR."""
    _, log, _ = run("nccl_simple", "receiver_log", ack_loss("h0.nic0"), n=12, dup_write="ack_only")
    _, stg, _ = run("nccl_simple", "staging", ack_loss("h0.nic0"), n=12, dup_write="ack_only")
    _, sh, _ = run("nccl_simple", "shift", ack_loss("h0.nic0"), n=12, dup_write="ack_only")
    assert log.extra_remote_ops >= log.app_wrs  # a piggybacked log WRITE per app WR (+ the READ)
    assert stg.copies >= stg.app_wrs  # at least one payload copy per staged WR
    assert sh.copies == 0 and sh.extra_remote_ops < sh.app_wrs
