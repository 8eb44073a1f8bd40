"""The WR log's contract, on both implementations: wraparound, unsignaled retirement, replay order,
overflow, counters, the peer-counter skip, truncation, and the error classification of the QP core."""

from __future__ import annotations

from types import ModuleType

import pytest

from shift_core.fastpath import errors
from shift_core.fastpath.records import (
    OP_ATOMIC_FETCH_AND_ADD,
    OP_RDMA_READ,
    OP_RDMA_WRITE,
    OP_RDMA_WRITE_WITH_IMM,
    OP_RECV,
    OP_SEND,
    SGE,
    WR,
    WR_APP_UNSAFE,
)
from shift_core.shift.machine import IllegalTransition, RQEvent, RQState, SQEvent, SQState


def write(i: int, signaled: bool = False, opcode: int = OP_RDMA_WRITE) -> WR:
    return WR(wr_id=i, opcode=opcode, signaled=signaled, sg_list=(SGE(0x1000 + i, 64, 7),), remote_addr=0x9000 + i,
              rkey=11)


def test_capacity_rounds_up_to_a_power_of_two(impl: ModuleType) -> None:
    assert impl.WRLog(5).capacity == 8
    assert impl.WRLog(1).capacity == 1
    with pytest.raises(ValueError):
        impl.WRLog(0)


def test_signaled_completion_retires_earlier_unsignaled(impl: ModuleType) -> None:
    log = impl.WRLog(8)
    for i in range(3):
        log.post(write(i))
    log.post(write(3, signaled=True))
    log.post(write(4))
    assert log.complete(3) == 4
    assert [w.wr_id for w in log.replay()] == [4]
    assert (log.posted, log.retired, log.outstanding) == (5, 4, 1)


def test_completion_must_name_the_oldest_signaled(impl: ModuleType) -> None:
    log = impl.WRLog(8)
    log.post(write(0, signaled=True))
    log.post(write(1, signaled=True))
    with pytest.raises(errors.WrIdMismatch):
        log.complete(1)
    assert log.outstanding == 2  # nothing retired on a mismatch
    log.post(write(2))
    assert log.complete(0) == 1


def test_completion_without_signaled_record(impl: ModuleType) -> None:
    log = impl.WRLog(4)
    with pytest.raises(errors.NoSignaledRecord):
        log.complete(0)
    log.post(write(0))
    with pytest.raises(errors.NoSignaledRecord):
        log.complete(0)


def test_overflow_is_explicit_and_recoverable(impl: ModuleType) -> None:
    log = impl.WRLog(4)
    for i in range(4):
        log.post(write(i, signaled=i == 1))
    with pytest.raises(errors.RingOverflow):
        log.post(write(4))
    assert log.outstanding == 4
    assert log.complete(1) == 2
    log.post(write(4))
    log.post(write(5))
    with pytest.raises(errors.RingOverflow):
        log.post(write(6))


def test_wraparound_keeps_records_intact(impl: ModuleType) -> None:
    log = impl.WRLog(4)
    for i in range(4 * 10 + 2):  # every record signaled: retire one at a time, slots are reused ten times
        log.post(write(i, signaled=True))
        if log.outstanding == 4:
            assert log.complete(i - 3) == 1
    expect = [write(i, signaled=True) for i in range(42 - 3, 42)]
    assert list(log.replay()) == expect
    assert log.posted == 42 and log.retired == 39


def test_replay_walks_posting_order_and_skips_records_retired_meanwhile(impl: ModuleType) -> None:
    log = impl.WRLog(8)
    for i in range(6):
        log.post(write(i, signaled=i in (2, 5)))
    it = log.replay()
    assert next(it).wr_id == 0
    log.complete(2)
    assert [w.wr_id for w in it] == [3, 4, 5]


def test_records_round_trip_every_field(impl: ModuleType) -> None:
    log = impl.WRLog(4)
    wr = WR(wr_id=2**64 - 1, opcode=OP_ATOMIC_FETCH_AND_ADD, signaled=True,
            sg_list=tuple(SGE(2**64 - 1 - k, 2**32 - 1, k) for k in range(4)), remote_addr=2**63, rkey=2**32 - 1,
            imm_data=0xDEADBEEF, compare_add=5, swap=2**64 - 2, flags=WR_APP_UNSAFE, send_flags=0x2)
    log.post(wr)
    assert list(log.replay()) == [wr]


def test_too_many_sges_is_refused(impl: ModuleType) -> None:
    log = impl.WRLog(4)
    with pytest.raises(errors.TooManySGE):
        log.post(WR(0, OP_SEND, sg_list=tuple(SGE(0, 1, 1) for _ in range(5))))
    assert log.posted == 0


def test_counters_count_two_sided_wrs_only(impl: ModuleType) -> None:
    log = impl.WRLog(16)
    ops = [OP_RDMA_WRITE, OP_SEND, OP_RDMA_READ, OP_RDMA_WRITE_WITH_IMM, OP_RDMA_WRITE]
    for i, op in enumerate(ops):
        log.post(write(i, signaled=i in (1, 4), opcode=op))
    assert (log.two_sided_posted, log.two_sided_retired) == (2, 0)
    log.complete(1)
    assert log.two_sided_retired == 1
    log.complete(4)
    assert log.two_sided_retired == 2
    rq = impl.WRLog(4)
    rq.post(WR(7, OP_RECV))
    rq.post(WR(8, OP_RECV))
    assert rq.complete(7) == 1 and rq.two_sided_retired == 1  # the receive counter


def test_ack_remote_skips_what_the_peer_received(impl: ModuleType) -> None:
    log = impl.WRLog(16)
    ops = [OP_SEND, OP_RDMA_WRITE, OP_SEND, OP_RDMA_WRITE, OP_SEND]
    for i, op in enumerate(ops):
        log.post(write(i, opcode=op, signaled=i == 4))
    assert log.ack_remote(0) == 0
    assert log.ack_remote(2) == 3  # through the second SEND: the WRITE before it finished too (RC order)
    assert [w.wr_id for w in log.replay()] == [3, 4]
    assert log.two_sided_retired == 2
    assert log.ack_remote(1) == 0  # the peer is not ahead
    with pytest.raises(errors.CounterAhead):
        log.ack_remote(4)


def test_truncate_undoes_rejected_posts(impl: ModuleType) -> None:
    log = impl.WRLog(8)
    log.post(write(0, opcode=OP_SEND))
    log.post(write(1, opcode=OP_SEND))
    log.post(write(2, opcode=OP_ATOMIC_FETCH_AND_ADD))
    assert log.unsafe_outstanding == 1
    log.truncate(1)
    assert (log.posted, log.two_sided_posted, log.unsafe_outstanding) == (1, 1, 0)
    with pytest.raises(errors.OutOfRange):
        log.truncate(2)
    log.truncate(0)
    assert log.two_sided_posted == 0


def test_error_with_atomic_outstanding_is_unsafe(impl: ModuleType) -> None:
    core = impl.QPCore(8, 8)
    core.sq.post(write(0, opcode=OP_ATOMIC_FETCH_AND_ADD, signaled=True))
    assert core.error_event(on_backup=False) is SQEvent.ERROR_UNSAFE
    core.sq.complete(0)  # an atomic that already completed no longer matters
    assert core.error_event(on_backup=False) is SQEvent.ERROR_SAFE
    core.sq.post(WR(1, OP_RDMA_WRITE, flags=WR_APP_UNSAFE))
    assert core.on_error() is SQState.FAILED


def test_full_failover_cycle_and_illegal_steps(impl: ModuleType) -> None:
    core = impl.QPCore(8, 8)
    core.sq.post(write(0, signaled=True))
    assert core.on_error() is SQState.FALLBACK
    assert core.rq_event(RQEvent.HANDSHAKE) is RQState.FALLBACK
    with pytest.raises(IllegalTransition):
        core.sq_event(SQEvent.FENCE_DONE)
    assert core.sq_state is SQState.FALLBACK
    assert core.sq_event(SQEvent.PROBE_OK) is SQState.WAIT_SIGNALED
    assert core.on_error(on_backup=False) is SQState.FALLBACK  # DEFAULT_ERROR during switch-back
    assert core.on_error(on_backup=True) is SQState.FAILED     # SECOND_FAILURE
    assert core.rq_event(RQEvent.SECOND_FAILURE) is RQState.FAILED


def test_python_constants_match_c_and_verbs(native: ModuleType) -> None:
    from shift_core.backend.enums import ibv_wr_opcode
    from shift_core.fastpath import records

    assert native.lib.SHIFT_MAX_SGE == records.MAX_SGE
    ours = (records.OP_RDMA_WRITE, records.OP_RDMA_WRITE_WITH_IMM, records.OP_SEND, records.OP_SEND_WITH_IMM,
            records.OP_RDMA_READ, records.OP_ATOMIC_CMP_AND_SWP, records.OP_ATOMIC_FETCH_AND_ADD)
    assert tuple(int(op) for op in ibv_wr_opcode) == ours
