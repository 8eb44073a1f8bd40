"""Fence-based switch-back (paper §4.3.3): after the default link recovers, the probe succeeds, the app's next
signaled WR is the fence on the backup QP, later WRs wait, and they go to the default QP only after the
notification, so the receiver sees every message exactly once and in order across both paths."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Any

import pytest

from shift_core.backend.attrs import SGE, SendWR
from shift_core.backend.enums import ibv_send_flags, ibv_wr_opcode
from shift_core.bench.workloads import tag, u64
from shift_core.errors import ShiftRDMAError
from shift_core.model.events import Execute
from shift_core.model.operations import Send as SendOp
from shift_core.shift.machine import RQState, SQState

from .conftest import DETECT_NS, flap, layer_pair, run

W = ibv_wr_opcode
SIG = int(ibv_send_flags.IBV_SEND_SIGNALED)


def test_switch_back_preserves_order_and_returns_to_default() -> None:
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=150, pace_ns=200_000, after=5)
    assert v.outcome == "correct"
    assert v.switch_backs == 1
    assert res.ledger.consumed == res.ledger.expected  # in order, no gap, no duplicate
    a = res.records["A"]
    seq = [t.event for t in a.transitions if t.queue == "sq"]
    assert seq == ["error_safe", "probe_ok", "fence_posted", "fence_done"]
    # RC order across the switch: the app's sends executed in tag order on the receiver's NIC
    tags = [ev.op.val for ev in res.trace if isinstance(ev, Execute) and isinstance(ev.op, SendOp) and ev.op.val]
    assert tags == sorted(tags)


def test_without_switch_back_naive_stays_on_the_backup() -> None:
    res, v, _ = run("send_recv", "naive", flap("h0.nic0"), n=150, pace_ns=200_000, after=5)
    assert v.switch_backs == 0
    assert [t.event for t in res.records["A"].transitions if t.queue == "sq"] == ["error_safe"]


# -- one-sided streams (ib_write_bw / ib_read_bw shape): the responder posts nothing and never polls its CQ ------

N, SIZE, PACE_NS, STEP_NS = 160, 64, 200_000, 20_000


def _one_sided_stream(op: str, flap_nic: str, wrap: Callable[[Any, Any], None] | None = None) -> tuple[Any, ...]:
    """A paced stream of signaled 64-byte WRITEs (or READs) from h0 to h1 across one link flap of ``flap_nic``.

    Only the sender's app polls; the responder's app does nothing but let its layer's background step run
    (``progress()``), as perftest's passive side. ``wrap(backend, qa)`` may replace the sender's default QP.
    """
    b, ((la, mra, cqa, qa), (lb, mrb, _, qb)) = layer_pair(seed=5, mr_bytes=2 * N * SIZE)
    if wrap is not None:
        wrap(b, qa)
    write = op == "write"
    for i in range(N):  # READ source: every remote chunk carries its tag
        mrb.write(struct.pack("<Q", tag(1, i)), 8, i * SIZE)
    wcs: list[Any] = []
    sent, next_post = 0, 0
    b.faults.link_flap(flap_nic, b.now_ns() + 3 * PACE_NS, int(1.5 * DETECT_NS), 10**12, 1)
    while len(wcs) < N and b.now_ns() < 400_000_000:
        if sent < N and b.now_ns() >= next_post:
            loff, roff = N * SIZE + sent * SIZE, sent * SIZE
            if write:
                mra.write(struct.pack("<Q", tag(2, sent)), 8, loff)
            qa.post_send(SendWR(wr_id=sent, opcode=W.IBV_WR_RDMA_WRITE if write else W.IBV_WR_RDMA_READ,
                                send_flags=SIG, sg_list=[SGE(mra.buf + loff, SIZE, mra.lkey)],
                                remote_addr=mrb.buf + (N * SIZE if write else 0) + roff, rkey=mrb.rkey))
            sent += 1
            next_post = b.now_ns() + PACE_NS
        b.advance(STEP_NS)
        la.progress()
        lb.progress()  # the passive side: its layer's background thread only
        wcs += cqa.poll(16)[1]
    return b, la, lb, qa, qb, mra, mrb, wcs


@pytest.mark.parametrize("flap_nic", ["h0.nic0", "h1.nic0"])
@pytest.mark.parametrize("op", ["write", "read"])
def test_one_sided_stream_switches_back_with_data_intact(op: str, flap_nic: str) -> None:
    _, la, lb, qa, qb, mra, mrb, wcs = _one_sided_stream(op, flap_nic)
    assert [(w.wr_id, w.ok) for w in wcs] == [(i, True) for i in range(N)]  # every WR once, in order, no error
    if op == "write":
        got = [u64(mrb.read(8, N * SIZE + i * SIZE)) for i in range(N)]
        assert got == [tag(2, i) for i in range(N)]
    else:
        got = [u64(mra.read(8, N * SIZE + i * SIZE)) for i in range(N)]
        assert got == [tag(1, i) for i in range(N)]
    assert la.record.first_error_ns is not None  # the flap did hit the stream
    assert la.record.switch_backs >= 1
    assert qa.sq_state is SQState.DEFAULT
    # the responder followed: its RQ is back on the default QP (the notification reached it while it never polled)
    assert ("rq", "fallback", "switch_back") in {(t.queue, t.from_, t.event) for t in lb.record.transitions}
    assert qb.rq_state is RQState.DEFAULT


class _Unroutable:
    """The default QP as RoCE behaves while the route is unresolvable: ``to_rts`` (RESET->RTR resolves the
    route) fails with ENETUNREACH, as rxe does after ``ip link set <default> down``. Everything else delegates."""

    def __init__(self, qp: Any, unreachable: Callable[[], bool]) -> None:
        self._qp = qp
        self._unreachable = unreachable
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._qp, name)

    def to_rts(self, attr: Any) -> None:
        if self._unreachable():
            self.refused += 1
            raise ShiftRDMAError("Failed to modify QP to RTR: Network is unreachable", errno.ENETUNREACH)
        self._qp.to_rts(attr)


def test_probe_whose_reset_fails_is_retried_not_raised() -> None:
    fake: list[_Unroutable] = []
    flap_at = 3 * PACE_NS  # mirrors _one_sided_stream's schedule: route back 3 ms after the link

    def wrap(b: Any, qa: Any) -> None:
        t0 = b.now_ns()
        fake.append(_Unroutable(qa.default, lambda: b.now_ns() < t0 + flap_at + int(1.5 * DETECT_NS) + 3_000_000))
        qa.default = fake[0]

    _, la, _, qa, _, _, mrb, wcs = _one_sided_stream("write", "h1.nic0", wrap)
    assert fake[0].refused >= 1  # the probe did meet the unreachable route ...
    assert la.record.probe_failures >= fake[0].refused
    assert any("probe failed" in n for n in la.record.notes)
    assert [(w.wr_id, w.ok) for w in wcs] == [(i, True) for i in range(N)]  # ... and the app never saw it
    assert [u64(mrb.read(8, N * SIZE + i * SIZE)) for i in range(N)] == [tag(2, i) for i in range(N)]
    assert la.record.switch_backs >= 1 and qa.sq_state is SQState.DEFAULT  # switched back once the route returned


def test_a_notification_that_never_completes_is_a_default_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer reset its default QP just after our probe executed there (seen on rxe): it expects the probe's PSN
    again, and RC resends our notification, out of sequence, forever without an error. After
    NOTIFY_TIMEOUT_PROBES probe intervals the default path counts as failed again (DEFAULT_ERROR, back to the
    backup), and a later probe switches back; every message arrives once."""
    from shift_core.shift import qp as qp_mod

    real = qp_mod.ShiftQP._post_notify
    lost: list[int] = []

    def lose_the_first(self: Any) -> None:  # as if posted, but it never completes (nor errors)
        if lost:
            real(self)
            return
        lost.append(self.qp_num)
        self.notify_deadline_ns = self.lib.now() + qp_mod.NOTIFY_TIMEOUT_PROBES * self.lib.probe_interval_ns

    monkeypatch.setattr(qp_mod.ShiftQP, "_post_notify", lose_the_first)
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=600, pace_ns=200_000, after=5)
    assert lost, "no notification was posted: the run never reached the switch-back"
    seq = [t.event for t in res.records["A"].transitions if t.queue == "sq"]
    assert seq[:4] == ["error_safe", "probe_ok", "fence_posted", "default_error"], seq
    assert seq[-2:] == ["fence_posted", "fence_done"], seq
    assert v.outcome == "correct" and res.ledger.consumed == res.ledger.expected
