"""The ``staging`` strategy carries WRs of any size (:mod:`shift_core.shift.staging`): a WR larger than the ring's
largest message is cut into pieces, messages wait in software for the receiver's credit instead of failing the
post, and every byte is still committed exactly once across a failover, at a measured cost (copies, extra ops)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from shift_core.backend.attrs import SGE, RecvWR, SendWR
from shift_core.backend.enums import ibv_send_flags, ibv_wc_opcode, ibv_wr_opcode
from shift_core.shift.machine import SQState
from shift_core.shift.staging import PIECE_BYTES, SLOT_BYTES, SLOTS

from .conftest import DETECT_NS, layer_pair

W = ibv_wr_opcode
SIG = int(ibv_send_flags.IBV_SEND_SIGNALED)
K = 10  #: WRs per run, all posted at once: more bytes than the staging ring holds


def _stream(op: str, size: int, ack_loss: bool) -> tuple[Any, ...]:
    span = K * size
    b, ((la, mra, cqa, qa), (lb, mrb, cqb, qb)) = layer_pair(seed=7, mr_bytes=span, strategy="staging")
    rng = random.Random(size)
    payload = [rng.randbytes(size) for _ in range(K)]
    for i, p in enumerate(payload):
        mra.write(p, size, i * size)
    if op == "send":
        qb.post_recv([RecvWR(wr_id=100 + i, sg_list=[SGE(mrb.buf + i * size, size, mrb.lkey)]) for i in range(K)])
    if ack_loss:  # requests execute at the responder, the sender times out and resends on the backup QP
        b.faults.ack_loss("h0.nic0", probability=1.0, at_ns=b.now_ns(), until_ns=b.now_ns() + 2 * DETECT_NS)
    qa.post_send([SendWR(wr_id=i, opcode=W.IBV_WR_RDMA_WRITE if op == "write" else W.IBV_WR_SEND, send_flags=SIG,
                         sg_list=[SGE(mra.buf + i * size, size, mra.lkey)], remote_addr=mrb.buf + i * size,
                         rkey=mrb.rkey) for i in range(K)])
    got_a: list[Any] = []
    got_b: list[Any] = []
    while (len(got_a) < K or (op == "send" and len(got_b) < K)) and b.now_ns() < 200_000_000:
        b.advance(5_000)
        la.progress()
        lb.progress()
        got_a += cqa.poll(16)[1]
        if op == "send":
            got_b += cqb.poll(16)[1]
    return la, lb, qa, mrb, payload, got_a, got_b


@pytest.mark.parametrize("ack_loss", [False, True], ids=["no_fault", "ack_loss"])
@pytest.mark.parametrize("size", [64 * 1024, 2 * PIECE_BYTES + 1000], ids=["64KiB", "3_pieces"])
@pytest.mark.parametrize("op", ["write", "send"])
def test_large_wrs_are_committed_exactly_once(op: str, size: int, ack_loss: bool) -> None:
    assert K * size > SLOTS * SLOT_BYTES  # the ring alone could not hold the burst
    la, lb, qa, mrb, payload, got_a, got_b = _stream(op, size, ack_loss)
    assert [(w.wr_id, w.ok) for w in got_a] == [(i, True) for i in range(K)]
    if op == "send":
        assert [(w.wr_id, w.ok, w.opcode, w.byte_len) for w in got_b] == [
            (100 + i, True, ibv_wc_opcode.IBV_WC_RECV, size) for i in range(K)]
    assert [mrb.read(size, i * size) == p for i, p in enumerate(payload)] == [True] * K
    pieces = -(-size // PIECE_BYTES)
    # the cost, measured: one copy in and one copy out per piece, exactly the payload's bytes each side
    assert la.record.copies >= K * pieces and la.record.copied_bytes >= K * size
    assert lb.record.copies == K * pieces and lb.record.copied_bytes == K * size  # committed once, no more
    assert la.record.extra_remote_ops >= K * (pieces - 1)  # a WRITE_WITH_IMM per piece beyond one per WR
    assert lb.record.extra_remote_ops >= 1  # credit returns: the receiver told the sender what it consumed
    if ack_loss:
        assert qa.sq_state is SQState.FALLBACK and la.record.resubmitted >= 1  # it did fail over and resend
    else:
        assert la.record.first_error_ns is None
