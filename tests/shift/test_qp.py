"""Data-path details of :class:`shift_core.shift.qp.ShiftQP`: the app's non-idempotent hint, the WC buffer's
order, and wr_id/qp_num translation (the app never sees the layer's ids or the backup QP)."""

from __future__ import annotations

from shift_core.backend.attrs import SGE, RecvWR, SendWR
from shift_core.backend.enums import ibv_send_flags, ibv_wc_status, ibv_wr_opcode
from shift_core.shift.machine import SQState
from shift_core.shift.qp import SHIFT_NON_IDEMPOTENT

from .conftest import layer_pair

SIG = int(ibv_send_flags.IBV_SEND_SIGNALED)


def _pair():  # type: ignore[no-untyped-def]
    return layer_pair(seed=3)


def _poll_until(b, cq, libs, n, limit_ns=100_000_000):  # type: ignore[no-untyped-def]
    got = []
    while len(got) < n and b.now_ns() < limit_ns:
        b.advance(5_000)
        for lib in libs:
            lib.progress()
        got += cq.poll(16)[1]
    return got


def test_app_flagged_wr_in_flight_surfaces_the_error() -> None:
    b, ((la, mra, cqa, qa), (lb, mrb, _, qb)) = _pair()
    qb.post_recv(RecvWR(wr_id=1, sg_list=[SGE(mrb.buf, 64, mrb.lkey)]))
    b.faults.nic_fatal("h1.nic0", at_ns=b.now_ns() + 100)
    qa.post_send(SendWR(wr_id=77, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, send_flags=SIG | SHIFT_NON_IDEMPOTENT,
                        sg_list=[SGE(mra.buf, 64, mra.lkey)], remote_addr=mrb.buf + 1024, rkey=mrb.rkey))
    wcs = _poll_until(b, cqa, (la, lb), 1)
    assert [(w.wr_id, w.status) for w in wcs] == [(77, ibv_wc_status.IBV_WC_RETRY_EXC_ERR)]
    assert qa.sq_state is SQState.FAILED
    assert ("sq", "default", "error_unsafe") in {(t.queue, t.from_, t.event) for t in la.record.transitions}


def test_unflagged_write_fails_over_with_app_ids_and_default_qpn() -> None:
    b, ((la, mra, cqa, qa), (lb, mrb, _, _)) = _pair()
    b.faults.nic_fatal("h1.nic0", at_ns=b.now_ns() + 100)
    for i in range(3):
        mra.write(bytes([i + 1]) * 8, 8, 8 * i)
        qa.post_send(SendWR(wr_id=100 + i, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, send_flags=SIG,
                            sg_list=[SGE(mra.buf + 8 * i, 8, mra.lkey)], remote_addr=mrb.buf + 8 * i,
                            rkey=mrb.rkey))
    wcs = _poll_until(b, cqa, (la, lb), 3)
    assert [(w.wr_id, w.ok, w.qp_num) for w in wcs] == [(100 + i, True, qa.qp_num) for i in range(3)]
    assert mrb.read(24, 0) == b"\x01" * 8 + b"\x02" * 8 + b"\x03" * 8  # landed through the backup NICs
    assert qa.sq_state is SQState.FALLBACK
