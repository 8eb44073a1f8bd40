"""Verbs semantics on the sim backend: every op lands where it should, with pyverbs-shaped objects."""

from __future__ import annotations

import errno

import pytest

from shift_core.backend import (
    SGE,
    Backend,
    QPAttr,
    QPInitAttr,
    SendWR,
    ibv_qp_state,
    ibv_send_flags,
    ibv_wc_flags,
    ibv_wc_opcode,
    ibv_wc_status,
    ibv_wr_opcode,
)
from shift_core.errors import NoDevice, ShiftRDMAError
from shift_core.fabric import make_fabric

from .conftest import make_player

WR = ibv_wr_opcode
S = ibv_wc_status
UNSIGNALED = 0


def test_backend_protocol_and_devices() -> None:
    b = make_fabric()
    assert isinstance(b, Backend)
    assert b.name == "sim"
    assert b.get_device_list() == ["h0.nic0", "h0.nic1", "h1.nic0", "h1.nic1"]
    with pytest.raises(NoDevice):
        b.Context(name="h9.nic0")


def test_rdma_write_lands_bytes(players) -> None:
    c, s = players()
    c.mr.write(b"payload-bytes", 13, 100)
    c.post(WR.IBV_WR_RDMA_WRITE, 100, 13, s, remote_offset=4000, wr_id=5)
    (wc,) = c.wait()
    assert (wc.wr_id, wc.status, wc.opcode) == (5, S.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_RDMA_WRITE)
    assert s.mr.read(13, 4000) == b"payload-bytes"
    assert s.cq.poll(1) == (0, [])  # one-sided: the responder's CPU sees nothing


def test_write_with_imm_consumes_recv_and_carries_imm(players) -> None:
    c, s = players()
    s.recv(0, 16, wr_id=9)
    c.mr.write(b"abcdefgh", 8)
    c.post(WR.IBV_WR_RDMA_WRITE_WITH_IMM, 0, 8, s, remote_offset=512, imm_data=0xBEEF)
    c.wait()
    (wc,) = s.wait()
    assert (wc.wr_id, wc.opcode, wc.imm_data, wc.byte_len) == (9, ibv_wc_opcode.IBV_WC_RECV_RDMA_WITH_IMM,
                                                               0xBEEF, 8)
    assert wc.wc_flags & ibv_wc_flags.IBV_WC_WITH_IMM
    assert s.mr.read(8, 512) == b"abcdefgh"


def test_send_recv_consumes_receives_in_post_order(players) -> None:
    c, s = players()
    for i in range(3):
        s.recv(100 * i, 100, wr_id=i)
    for i, msg in enumerate((b"first", b"second", b"third")):
        c.mr.write(msg, len(msg), 1000 + 100 * i)
        c.post(WR.IBV_WR_SEND_WITH_IMM if i == 2 else WR.IBV_WR_SEND, 1000 + 100 * i, len(msg), imm_data=7)
    c.wait(3)
    wcs = s.wait(3)
    assert [w.wr_id for w in wcs] == [0, 1, 2]
    assert [w.byte_len for w in wcs] == [5, 6, 5]
    assert wcs[2].imm_data == 7 and wcs[2].wc_flags & ibv_wc_flags.IBV_WC_WITH_IMM
    assert (s.mr.read(5, 0), s.mr.read(6, 100), s.mr.read(5, 200)) == (b"first", b"second", b"third")


def test_rdma_read_fetches_remote_bytes(players) -> None:
    c, s = players()
    s.mr.write(b"remote-data", 11, 300)
    c.post(WR.IBV_WR_RDMA_READ, 50, 11, s, remote_offset=300, wr_id=3)
    (wc,) = c.wait()
    assert (wc.opcode, wc.byte_len, wc.status) == (ibv_wc_opcode.IBV_WC_RDMA_READ, 11, S.IBV_WC_SUCCESS)
    assert c.mr.read(11, 50) == b"remote-data"


def test_atomics_return_old_values(players) -> None:
    c, s = players()
    s.mr.write((40).to_bytes(8, "little"), 8, 64)
    fadd = SendWR(wr_id=1, opcode=WR.IBV_WR_ATOMIC_FETCH_AND_ADD, sg_list=[c.sge(0, 8)])
    fadd.set_wr_atomic(s.mr.rkey, s.mr.buf + 64, 2)
    cas_hit = SendWR(wr_id=2, opcode=WR.IBV_WR_ATOMIC_CMP_AND_SWP, sg_list=[c.sge(8, 8)])
    cas_hit.set_wr_atomic(s.mr.rkey, s.mr.buf + 64, 42, 100)
    cas_miss = SendWR(wr_id=3, opcode=WR.IBV_WR_ATOMIC_CMP_AND_SWP, sg_list=[c.sge(16, 8)])
    cas_miss.set_wr_atomic(s.mr.rkey, s.mr.buf + 64, 42, 7)
    c.qp.post_send([fadd, cas_hit, cas_miss])
    assert [w.opcode for w in c.wait(3)] == [ibv_wc_opcode.IBV_WC_FETCH_ADD, ibv_wc_opcode.IBV_WC_COMP_SWAP,
                                             ibv_wc_opcode.IBV_WC_COMP_SWAP]
    olds = [int.from_bytes(c.mr.read(8, off), "little") for off in (0, 8, 16)]
    assert olds == [40, 42, 100]
    assert int.from_bytes(s.mr.read(8, 64), "little") == 100


def test_fadd_wraps_at_64_bits(players) -> None:
    c, s = players()
    s.mr.write(((1 << 64) - 1).to_bytes(8, "little"), 8, 0)
    w = SendWR(opcode=WR.IBV_WR_ATOMIC_FETCH_AND_ADD, sg_list=[c.sge(0, 8)])
    w.set_wr_atomic(s.mr.rkey, s.mr.buf, 2)
    c.qp.post_send(w)
    c.wait()
    assert int.from_bytes(s.mr.read(8, 0), "little") == 1


def test_unsignaled_wr_has_no_completion_but_takes_effect(players) -> None:
    c, s = players()
    c.mr.write(b"x" * 8, 8)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, wr_id=1, send_flags=UNSIGNALED)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, remote_offset=8, wr_id=2)
    (wc,) = c.wait()
    assert wc.wr_id == 2
    assert s.mr.read(16) == b"x" * 16


def test_inline_data_is_copied_at_post(players) -> None:
    c, s = players()
    c.mr.write(b"inline!!", 8)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, send_flags=int(ibv_send_flags.IBV_SEND_SIGNALED
                                                         | ibv_send_flags.IBV_SEND_INLINE))
    c.mr.write(b"changed!", 8)  # the buffer is free as soon as an inline post returns
    c.wait()
    assert s.mr.read(8) == b"inline!!"


def test_non_inline_payload_is_read_at_transmission(players) -> None:
    """A NIC DMA-reads the source when it transmits, not at post: reusing the buffer early is the app's bug."""
    c, s = players()
    c.mr.write(b"original", 8)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    c.mr.write(b"reused!!", 8)  # same instant: the WR is already on the wire (transmitted at post)
    c.wait()
    assert s.mr.read(8) == b"original"


def test_remote_access_error_on_bad_rkey_and_missing_permission(players) -> None:
    c, s = players()
    w = SendWR(wr_id=1, opcode=WR.IBV_WR_RDMA_WRITE, sg_list=[c.sge(0, 8)])
    w.set_wr_rdma(s.mr.rkey + 1000, s.mr.buf)
    c.qp.post_send(w)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, wr_id=2)
    wcs = c.wait(2)
    assert [(w.wr_id, w.status) for w in wcs] == [(1, S.IBV_WC_REM_ACCESS_ERR), (2, S.IBV_WC_WR_FLUSH_ERR)]
    assert c.qp.qp_state == ibv_qp_state.IBV_QPS_ERR
    assert s.qp.qp_state == ibv_qp_state.IBV_QPS_ERR  # class C error: the responder QP errors too


def test_remote_access_error_on_read_without_remote_read(players) -> None:
    from shift_core.fabric import connect
    b = make_fabric()
    c = make_player(b, "h0.nic0")
    s = make_player(b, "h1.nic0", access=1 | 2)  # LOCAL_WRITE | REMOTE_WRITE only
    connect(c.qp, c.ctx, s.qp, s.ctx, timeout=8, retry_cnt=3)
    c.post(WR.IBV_WR_RDMA_READ, 0, 8, s)
    assert c.wait()[0].status == S.IBV_WC_REM_ACCESS_ERR


def test_remote_access_error_out_of_bounds(players) -> None:
    c, s = players()
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 64, s, remote_offset=s.mr.length - 8)
    assert c.wait()[0].status == S.IBV_WC_REM_ACCESS_ERR


def test_local_protection_error_on_bad_lkey(players) -> None:
    c, s = players()
    c.qp.post_send(SendWR(wr_id=4, opcode=WR.IBV_WR_RDMA_WRITE, sg_list=[SGE(c.mr.buf, 8, c.mr.lkey + 77)],
                          remote_addr=s.mr.buf, rkey=s.mr.rkey))
    (wc,) = c.wait()
    assert (wc.wr_id, wc.status) == (4, S.IBV_WC_LOC_PROT_ERR)
    assert c.qp.qp_state == ibv_qp_state.IBV_QPS_ERR


def test_post_send_needs_rts_and_modify_checks_masks() -> None:
    b = make_fabric()
    p = make_player(b, "h0.nic0")
    with pytest.raises(ShiftRDMAError, match="Failed to post send") as ei:
        p.qp.post_send(SendWR(opcode=WR.IBV_WR_SEND, sg_list=[p.sge(0, 4)]))
    assert ei.value.error_code == errno.EINVAL
    with pytest.raises(ShiftRDMAError, match="Failed to modify QP state to RTS"):
        p.qp.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_RTS), 1)
    p.qp.to_init(QPAttr())
    with pytest.raises(ShiftRDMAError, match="missing IBV_QP_AV"):
        p.qp.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_RTR), 1)
    attr, init = p.qp.query()
    assert attr.qp_state == ibv_qp_state.IBV_QPS_INIT and isinstance(init, QPInitAttr)


def test_qp_constructor_with_attr_moves_to_init() -> None:
    b = make_fabric()
    ctx = b.Context(name="h1.nic1")
    pd = b.PD(ctx)
    cq = b.CQ(ctx, 16)
    qp = b.QP(pd, QPInitAttr(scq=cq, rcq=cq), QPAttr())
    assert qp.qp_state == ibv_qp_state.IBV_QPS_INIT


def test_modify_to_error_flushes_send_and_receive_queues(players) -> None:
    _c, s = players()
    s.recv(0, 64, wr_id=11)
    s.recv(64, 64, wr_id=12)
    s.qp.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_ERR), 1)
    wcs = s.wait(2)
    assert [(w.wr_id, w.status, w.opcode) for w in wcs] == [
        (11, S.IBV_WC_WR_FLUSH_ERR, ibv_wc_opcode.IBV_WC_RECV), (12, S.IBV_WC_WR_FLUSH_ERR, ibv_wc_opcode.IBV_WC_RECV)]
    s.recv(0, 8, wr_id=13)  # posting to an ERR QP completes at once with a flush error
    assert s.wait()[0].status == S.IBV_WC_WR_FLUSH_ERR


def test_rnr_retry_exhausted_then_success_after_recv(players) -> None:
    c, _s = players(rnr_retry=2, min_rnr_timer=1)  # 10 us RNR timer
    c.post(WR.IBV_WR_SEND, 0, 8, wr_id=1)
    (wc,) = c.wait()
    assert wc.status == S.IBV_WC_RNR_RETRY_EXC_ERR
    c2, s2 = players(rnr_retry=7, min_rnr_timer=1)  # 7 = retry forever
    c2.post(WR.IBV_WR_SEND, 0, 8, wr_id=2)
    c2.b.advance(200_000)
    assert c2.cq.poll(1) == (0, [])
    s2.recv(0, 8, wr_id=3)
    assert c2.wait()[0].status == S.IBV_WC_SUCCESS
    assert s2.wait()[0].wr_id == 3


def test_completion_channel_fires_once_per_arm(players) -> None:
    b = make_fabric()
    from shift_core.fabric import connect
    c = make_player(b, "h0.nic0")
    ch = b.CompChannel(c.ctx)
    c.cq.channel = ch
    s = make_player(b, "h1.nic0")
    connect(c.qp, c.ctx, s.qp, s.ctx, timeout=8, retry_cnt=3)
    assert ch.get_cq_event() is None
    c.cq.req_notify()
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    b.advance(100_000)
    assert ch.get_cq_event() is c.cq
    assert ch.get_cq_event() is None  # one event per req_notify
    c.cq.ack_events(1)
    assert c.cq.poll(4)[0] == 2


def test_multi_packet_write_and_mtu(players) -> None:
    c, s = players()
    data = bytes(range(256)) * 40  # 10 KiB over a 1 KiB MTU: 10 packets, 10 PSNs
    c.mr.write(data, len(data))
    c.post(WR.IBV_WR_RDMA_WRITE, 0, len(data), s, remote_offset=20000)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    c.wait(2)
    assert s.mr.read(len(data), 20000) == data
    assert c.qp.next_psn == 11 and s.qp.epsn == 11


def test_mr_on_existing_memory_shares_bytes_across_nics_of_one_host() -> None:
    b = make_fabric()
    app = make_player(b, "h0.nic0")
    ctx1 = b.Context(name="h0.nic1")
    shadow = b.MR(b.PD(ctx1), 4096, 7, address=app.mr.buf + 4096)
    app.mr.write(b"shared!!", 8, 4096)
    assert shadow.buf == app.mr.buf + 4096 and shadow.read(8) == b"shared!!"
    shadow.write(b"back", 4)
    assert app.mr.read(4, 4096) == b"back"
    other_host = b.PD(b.Context(name="h1.nic0"))
    with pytest.raises(ShiftRDMAError, match="not inside memory of host h1") as ei:
        b.MR(other_host, 64, 7, address=app.mr.buf)
    assert ei.value.error_code == errno.EFAULT
