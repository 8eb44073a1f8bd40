"""RC transport: retransmission after packet and ACK loss, duplicate handling, detection latency, flush."""

from __future__ import annotations

import pytest

from shift_core.backend import QPCap, ibv_qp_state, ibv_wc_status, ibv_wr_opcode, local_ack_timeout_ns
from shift_core.fabric import connect
from shift_core.model.causal import first_violation
from shift_core.model.events import AckLost, Completion, Execute, PacketLost, Receive, Send, Timeout
from shift_core.model.memory import Memory
from shift_core.model.properties import execution_count

from .conftest import make_player

WR = ibv_wr_opcode
S = ibv_wc_status


def kinds(trace, op):
    """The event kinds of one op's life, in order."""
    return [type(e).__name__ for e in trace if getattr(e, "op", None) == op]


def op_of(trace, uid):
    return next(e.op for e in trace if isinstance(e, Send) and e.op.uid == uid)


def test_packet_loss_exact_psn_is_retransmitted_go_back_n(players) -> None:
    c, s = players()
    c.b.faults.packet_loss("h0.nic0", psn=1)
    for i in range(4):
        c.mr.write(bytes([65 + i]) * 8, 8, 8 * i)
        c.post(WR.IBV_WR_RDMA_WRITE, 8 * i, 8, s, remote_offset=8 * i, wr_id=i)
    wcs = c.wait(4)
    assert [w.wr_id for w in wcs] == [0, 1, 2, 3] and all(w.ok for w in wcs)
    assert s.mr.read(32) == b"A" * 8 + b"B" * 8 + b"C" * 8 + b"D" * 8
    t = c.b.recorder.trace
    lost = op_of(t, 2)
    assert kinds(t, lost) == ["Send", "PacketLost", "Send", "Receive", "Execute", "Completion"]
    later = op_of(t, 3)  # arrived out of sequence behind the gap: discarded, resent (go-back-N)
    assert kinds(t, later) == ["Send", "PacketLost", "Send", "Receive", "Execute", "Completion"]
    assert kinds(t, op_of(t, 1)) == ["Send", "Receive", "Execute", "Completion"]
    assert first_violation(t) is None


def test_tail_packet_loss_recovers_by_timeout(players) -> None:
    c, s = players(timeout=8, retry_cnt=3)
    c.b.faults.packet_loss("h0.nic0", psn=0)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    t0 = c.b.now_ns()
    (wc,) = c.wait()
    assert wc.ok
    assert c.b.now_ns() - t0 >= local_ack_timeout_ns(8)  # no NAK for a lone lost packet: the timer resends


def test_ack_loss_write_is_executed_twice(players) -> None:
    """The physical fact behind Theorem 1: the ACK is lost, the requester cannot tell, retransmits, and the
    responder executes the WRITE again. The sender sees one success."""
    c, s = players()
    c.b.faults.ack_loss("h0.nic0", psn=0)
    c.mr.write(b"12345678", 8)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    (wc,) = c.wait()
    assert wc.ok and c.cq.poll(1) == (0, [])
    t = c.b.recorder.trace
    op = op_of(t, 1)
    assert kinds(t, op) == ["Send", "Receive", "Execute", "AckLost", "Send", "Receive", "Execute", "Completion"]
    assert execution_count(t, op) == 2
    assert first_violation(t) is None


def test_ack_loss_write_under_rxe_policy_is_acked_not_replaced(players) -> None:
    c, s = players(dup_write="ack_only")
    c.b.faults.ack_loss("h0.nic0", psn=0)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    assert c.wait()[0].ok
    assert execution_count(c.b.recorder.trace, op_of(c.b.recorder.trace, 1)) == 1


def test_reposting_on_another_qp_executes_again(players) -> None:
    """What a failover layer does after an error it cannot attribute: re-post the WR on the backup QP.
    No PSN state is shared, so the responder executes it a second time."""
    c, s = players()
    b = c.b
    _c2, _s2 = players(b=b, client="h0.nic1", server="h1.nic1")
    b.faults.ack_loss("h0.nic0", probability=1.0)
    c.mr.write(b"once?---", 8)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, wr_id=1)
    assert c.wait()[0].status == S.IBV_WC_RETRY_EXC_ERR
    w = [e for e in b.recorder.trace if isinstance(e, Execute)]
    assert len(w) == 4  # first try + retry_cnt=3 retransmissions, each executed (ACKs all lost)
    s_fresh_val = s.mr.read(8)
    assert s_fresh_val == b"once?---"  # it DID land, though the sender saw an error


def test_ack_loss_send_does_not_consume_a_second_receive(players) -> None:
    c, s = players()
    s.recv(0, 8, wr_id=1)
    s.recv(8, 8, wr_id=2)
    c.b.faults.ack_loss("h0.nic0", psn=0)
    c.mr.write(b"message!", 8)
    c.post(WR.IBV_WR_SEND, 0, 8)
    assert c.wait()[0].ok
    rwc = s.wait(1)
    c.b.advance(10_000_000)
    assert [w.wr_id for w in rwc] == [1] and s.cq.poll(4) == (0, [])
    assert len(s.qp.rq) == 1  # the duplicate was ACKed from PSN state, not delivered again
    t = c.b.recorder.trace
    op = op_of(t, 1)
    assert execution_count(t, op) == 1
    assert c.b.fabric.dedups == [op]


def test_ack_loss_fadd_is_answered_from_the_atomic_cache(players) -> None:
    c, s = players()
    c.b.faults.ack_loss("h0.nic0", psn=0)
    from shift_core.backend import SendWR
    w = SendWR(opcode=WR.IBV_WR_ATOMIC_FETCH_AND_ADD, sg_list=[c.sge(0, 8)])
    w.set_wr_atomic(s.mr.rkey, s.mr.buf, 5)
    c.qp.post_send(w)
    assert c.wait()[0].ok
    assert int.from_bytes(s.mr.read(8), "little") == 5  # added once
    assert int.from_bytes(c.mr.read(8), "little") == 0  # the replayed answer is the first old value
    assert execution_count(c.b.recorder.trace, op_of(c.b.recorder.trace, 1)) == 1


def test_read_response_loss_rereads_memory(players) -> None:
    c, s = players()
    c.b.faults.ack_loss("h0.nic0", psn=0)
    s.mr.write(b"readme!!", 8)
    c.post(WR.IBV_WR_RDMA_READ, 0, 8, s)
    assert c.wait()[0].ok and c.mr.read(8) == b"readme!!"
    t = c.b.recorder.trace
    init = Memory.of({s.mr.buf: int.from_bytes(b"readme!!", "little")})  # the CPU store, invisible to the NIC
    assert execution_count(t, op_of(t, 1)) == 2 and first_violation(t, init) is None


@pytest.mark.parametrize(("timeout", "retry_cnt"), [(1, 0), (4, 2), (8, 6), (12, 1), (14, 7)])
def test_detection_latency_is_retry_cnt_plus_one_timeouts(players, timeout: int, retry_cnt: int) -> None:
    c, s = players(timeout=timeout, retry_cnt=retry_cnt)
    c.b.faults.link_down("h1.nic0")
    t0 = c.b.now_ns()
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    (wc,) = c.wait(step_ns=100)
    assert wc.status == S.IBV_WC_RETRY_EXC_ERR
    detected = c.b.now_ns() - t0
    assert detected == (retry_cnt + 1) * local_ack_timeout_ns(timeout)


def test_timeout_error_flushes_every_outstanding_wr(players) -> None:
    c, s = players(timeout=6, retry_cnt=1)
    c.b.faults.link_down("h1.nic0")
    s.recv(0, 8, wr_id=100)
    for i in range(5):
        c.post(WR.IBV_WR_RDMA_WRITE if i % 2 else WR.IBV_WR_SEND, 0, 8, s, wr_id=i)
    wcs = c.wait(5)
    assert [(w.wr_id, w.status) for w in wcs] == [(0, S.IBV_WC_RETRY_EXC_ERR)] + [
        (i, S.IBV_WC_WR_FLUSH_ERR) for i in range(1, 5)]
    assert c.qp.qp_state == ibv_qp_state.IBV_QPS_ERR
    t = c.b.recorder.trace
    assert [e.status for e in t if isinstance(e, Timeout)] == ["RETRY_EXC_ERR"] + ["WR_FLUSH_ERR"] * 4
    assert first_violation(t) is None
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, wr_id=9)  # posting to an ERR QP: flushed at once
    assert c.wait()[0].status == S.IBV_WC_WR_FLUSH_ERR


def test_link_flap_shorter_than_detection_is_masked(players) -> None:
    c, s = players(timeout=8, retry_cnt=3)
    T = local_ack_timeout_ns(8)
    c.b.faults.link_flap("h1.nic0", at_ns=0, down_ns=T + T // 2, up_ns=10 * T)
    c.mr.write(b"survives", 8)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    assert c.wait()[0].ok and s.mr.read(8) == b"survives"
    assert first_violation(c.b.recorder.trace) is None


def test_partial_multi_packet_write_places_prefix_before_the_gap(players) -> None:
    """Bytes before a lost packet are already in responder memory (undefined until completion)."""
    c, s = players(timeout=10, retry_cnt=0)
    c.b.faults.packet_loss("h0.nic0", psn=2)
    c.b.faults.link_down("h1.nic0", at_ns=5_000)  # so the retransmission never lands
    data = b"\xaa" * 4096
    c.mr.write(data, 4096)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 4096, s)
    assert c.wait()[0].status == S.IBV_WC_RETRY_EXC_ERR
    assert s.mr.read(2048) == b"\xaa" * 2048 and s.mr.read(2048, 2048) == bytes(2048)


def test_trace_of_a_clean_stream_is_causal(players) -> None:
    c, s = players()
    for i in range(50):
        c.mr.write(i.to_bytes(8, "little"), 8, 8 * i)
        c.post(WR.IBV_WR_RDMA_WRITE, 8 * i, 8, s, remote_offset=8 * i, wr_id=i)
    c.wait(50)
    t = c.b.recorder.trace
    assert sum(isinstance(e, Completion) for e in t) == 50
    assert not any(isinstance(e, (PacketLost, AckLost, Receive)) and e.t_ns < 0 for e in t)
    assert first_violation(t) is None


def test_sq_full_raises(players) -> None:
    from shift_core.errors import ShiftRDMAError
    from shift_core.fabric import make_fabric
    b = make_fabric()
    c = make_player(b, "h0.nic0")
    c.qp.cap = QPCap(max_send_wr=2)
    s = make_player(b, "h1.nic0")
    connect(c.qp, c.ctx, s.qp, s.ctx)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    with pytest.raises(ShiftRDMAError, match="send queue full"):
        c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
