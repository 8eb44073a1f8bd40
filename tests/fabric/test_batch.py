"""The WR-granularity fast path gives the same run as per-WR simulation: same trace, bytes and completions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shift_core.backend import SGE, SendWR, ibv_send_flags, ibv_wc_status, ibv_wr_opcode, local_ack_timeout_ns
from shift_core.fabric import connect, make_fabric
from shift_core.model.causal import first_violation
from shift_core.model.events import Completion, Execute, Send

from .conftest import make_player

SIG = int(ibv_send_flags.IBV_SEND_SIGNALED)


def stream(batching: bool, size: int, rounds: int, per_post: int = 32, fault=None, timeout: int = 10,
           retry_cnt: int = 2, single: bool = False, gap: int = 3_000):
    b = make_fabric(seed=3)
    b.fabric.batching = batching
    c = make_player(b, "h0.nic0", mr_len=max(size, 4096))
    s = make_player(b, "h1.nic0", mr_len=max(size, 4096))
    connect(c.qp, c.ctx, s.qp, s.ctx, timeout=timeout, retry_cnt=retry_cnt)
    c.mr.write(bytes(range(256)) * (size // 256) or b"z" * size, size)
    if fault:
        fault(b)
    wcs = []
    for r in range(rounds):
        wrs = [SendWR(wr_id=r * per_post + i, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE,
                      sg_list=[SGE(c.mr.buf, size, c.mr.lkey)], remote_addr=s.mr.buf, rkey=s.mr.rkey,
                      send_flags=SIG if i % 8 == 7 else 0) for i in range(per_post)]
        if single:  # one WR per post_send, like ib_write_bw's default post_list=1
            for w in wrs:
                c.qp.post_send(w)
                b.advance(50)
        else:
            c.qp.post_send(wrs)
        b.advance(gap)
        wcs += [(w.wr_id, w.status, b.now_ns()) for w in c.cq.poll(per_post)[1]]
    b.run_until_idle(limit_ns=10**10)
    wcs += [(w.wr_id, w.status, b.now_ns()) for w in c.cq.poll(10_000)[1]]
    return b, s.mr.read(size), wcs


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("size", [64, 4096, 65536])
def test_batched_stream_equals_per_wr_stream(size: int, single: bool) -> None:
    fast, mem_f, wcs_f = stream(True, size, 6, single=single)
    slow, mem_s, wcs_s = stream(False, size, 6, single=single)
    assert not fast.fabric.batches and mem_f == mem_s
    assert wcs_f == wcs_s  # same WCs, polled at the same virtual times
    tf, ts = fast.recorder.trace, slow.recorder.trace
    assert tf == ts  # the same model events in the same order
    assert [e.t_ns for e in tf] == [e.t_ns for e in ts]
    assert first_violation(tf) is None
    assert sum(isinstance(e, Completion) for e in tf) == 6 * 32


def test_link_down_splits_a_batch_and_detection_keeps_the_formula() -> None:
    T = local_ack_timeout_ns(10)
    down_at = 40_000

    def fault(b):
        b.faults.link_down("h1.nic0", at_ns=down_at)

    runs = [stream(batching, 65536, 1, per_post=64, fault=fault) for batching in (True, False)]
    (fast, _, wcs_f), (slow, _, wcs_s) = runs
    assert wcs_f == wcs_s
    statuses = [st for _, st, _ in wcs_f]
    assert ibv_wc_status.IBV_WC_RETRY_EXC_ERR in statuses
    assert fast.recorder.trace == slow.recorder.trace
    assert first_violation(fast.recorder.trace) is None
    # the error surfaces (retry_cnt + 1) timeouts after the last ACK that made progress
    completions = [e.t_ns for e in fast.recorder.trace if isinstance(e, Completion)]
    err_t = next(e.t_ns for e in fast.recorder.trace if type(e).__name__ == "Timeout")
    assert err_t == max(completions) + 3 * T


def test_batch_needs_identical_writes_and_a_clean_path() -> None:
    b = make_fabric()
    c = make_player(b, "h0.nic0")
    s = make_player(b, "h1.nic0")
    connect(c.qp, c.ctx, s.qp, s.ctx)
    wr = SendWR(opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, sg_list=[SGE(c.mr.buf, 8, c.mr.lkey)],
                remote_addr=s.mr.buf, rkey=s.mr.rkey)
    other = SendWR(opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, sg_list=[SGE(c.mr.buf, 8, c.mr.lkey)],
                   remote_addr=s.mr.buf + 8, rkey=s.mr.rkey)
    c.qp.post_send([wr, other])
    assert not b.fabric.batches
    b.run_until_idle()
    b.faults.packet_loss("h0.nic0", probability=0.5)
    c.qp.post_send([wr, wr])
    assert not b.fabric.batches
    b.run_until_idle()
    b.faults.packet_loss("h0.nic0", probability=0.0)
    c.qp.post_send([wr, wr])
    assert len(b.fabric.batches) == 1
    b.run_until_idle()
    assert sum(isinstance(e, Execute) for e in b.recorder.trace) >= 6
    assert sum(isinstance(e, Send) for e in b.recorder.trace) >= 6


FAULTS = ("link_down_dst", "link_down_src", "nic_fatal_src", "flap_dst", "delay", "ack_loss", "modify_err")


def _inject(kind: str, at: int):
    def fault(b):
        inj = b.faults
        if kind == "link_down_dst":
            inj.link_down("h1.nic0", at_ns=at)
        elif kind == "link_down_src":
            inj.link_down("h0.nic0", at_ns=at)
        elif kind == "nic_fatal_src":
            inj.nic_fatal("h0.nic0", at_ns=at)
        elif kind == "flap_dst":
            inj.link_flap("h1.nic0", at_ns=at, down_ns=3_000, up_ns=10**9)
        elif kind == "delay":
            inj.delay("h1.nic0", extra_ns=2_500, at_ns=at, until_ns=at + 20_000)
        elif kind == "ack_loss":
            inj.ack_loss("h0.nic0", probability=0.5, at_ns=at, until_ns=at + 10_000)
        else:
            from shift_core.backend import QPAttr, ibv_qp_state
            qp = next(q for q in b.fabric.nics["h1.nic0"].qps.values())
            b.fabric.env.schedule_at(at, qp.modify, QPAttr(qp_state=ibv_qp_state.IBV_QPS_ERR), 1)
    return fault


def test_back_to_back_lists_extend_one_batch() -> None:
    """A list posted while the uplink still carries the previous one joins its batch (payload placed once)."""
    b, _, wcs = stream(True, 4096, 2, per_post=16, gap=1)
    assert len(b.recorder._records) == 1 and len(wcs) == 2 * 16 // 8  # one batch for both posts
    fast, mem_f, wcs_f = stream(True, 4096, 3, per_post=16, gap=1)
    slow, mem_s, wcs_s = stream(False, 4096, 3, per_post=16, gap=1)
    assert wcs_f == wcs_s and mem_f == mem_s and fast.recorder.trace == slow.recorder.trace


@settings(max_examples=200, deadline=None)
@given(size=st.sampled_from([8, 1000, 4096, 65536]), rounds=st.integers(1, 4), per_post=st.integers(1, 40),
       kind=st.sampled_from(FAULTS), at=st.integers(0, 60_000), single=st.booleans(),
       gap=st.sampled_from([1, 200, 3_000]))
def test_batched_equals_per_wr_under_faults(size: int, rounds: int, per_post: int, kind: str, at: int,
                                            single: bool, gap: int) -> None:
    """Whatever fault hits a stream mid-batch (or between two posts that extend it), the split batch continues
    exactly as per-WR simulation."""
    fast, mem_f, wcs_f = stream(True, size, rounds, per_post, fault=_inject(kind, at), timeout=6, single=single,
                                gap=gap)
    slow, mem_s, wcs_s = stream(False, size, rounds, per_post, fault=_inject(kind, at), timeout=6, single=single,
                                gap=gap)
    assert wcs_f == wcs_s
    assert mem_f == mem_s
    assert fast.recorder.trace == slow.recorder.trace
    assert [e.t_ns for e in fast.recorder.trace] == [e.t_ns for e in slow.recorder.trace]
