"""Backend conformance: every verb's semantics, error completions, events and the model trace, with ONE test
body for every backend -- ``sim`` in the host's run, real soft-RoCE (``rxe``, shift_core.verbs) in the guest."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest
from rxe_helpers import BACKEND, DEVICES, connect, make_side, wait_for, wait_wc

from shift_core.backend import SGE, RecvWR, SendWR, ibv_event_type, ibv_port_state, ibv_qp_state, ibv_wc_opcode
from shift_core.backend import ibv_wc_status as S
from shift_core.backend import ibv_wr_opcode as O
from shift_core.model import events as ev


def _wr(side: Any, peer: Any, opcode: O, length: int, wr_id: int, **kw: Any) -> SendWR:
    wr = SendWR(wr_id=wr_id, opcode=opcode, sg_list=[SGE(side.mr.buf, length, side.mr.lkey)], **kw)
    wr.set_wr_rdma(peer.mr.rkey, peer.mr.buf)
    return wr


def test_devices_and_ports(backend: Any) -> None:
    assert set(DEVICES) <= set(backend.get_device_list())
    ctx = backend.Context(name=DEVICES[0])
    assert ctx.query_port(1).state == ibv_port_state.IBV_PORT_ACTIVE
    gid = ctx.query_gid(1, backend.gid_index)
    peer = backend.Context(name=DEVICES[2])
    assert gid != peer.query_gid(1, backend.gid_index)
    peer.close()
    if BACKEND == "rxe":
        assert gid in ("::ffff:10.1.0.1", "0000:0000:0000:0000:0000:ffff:0a01:0001")
    assert ctx.get_async_event() is None  # non-blocking, nothing pending
    ctx.close()


def test_rdma_write_lands_bytes_and_is_traced(backend: Any, pair: Any) -> None:
    a, b = pair
    payload = bytes(range(256)) * 16
    a.mr.write(payload, len(payload))
    a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_WRITE, len(payload), 7))
    (wc,) = wait_wc(backend, a.cq)
    assert wc.status == S.IBV_WC_SUCCESS and wc.opcode == ibv_wc_opcode.IBV_WC_RDMA_WRITE and wc.wr_id == 7
    assert b.mr.read(len(payload)) == payload
    view = ev.sender_view(backend.recorder.trace)  # what every backend can show: the sender's view
    assert [type(o).__name__ for o in view] == ["ObsSent", "ObsCompleted"]
    assert view[0].op == view[1].op and type(view[0].op).__name__ == "Write"


def test_rdma_read_and_atomics(backend: Any, pair: Any) -> None:
    a, b = pair
    b.mr.write(b"remote-bytes", 12)
    a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_READ, 12, 1))
    assert wait_wc(backend, a.cq)[0].status == S.IBV_WC_SUCCESS
    assert a.mr.read(12) == b"remote-bytes"
    b.mr.write((40).to_bytes(8, "little"), 8, 64)
    fadd = SendWR(wr_id=2, opcode=O.IBV_WR_ATOMIC_FETCH_AND_ADD, sg_list=[SGE(a.mr.buf + 128, 8, a.mr.lkey)])
    fadd.set_wr_atomic(b.mr.rkey, b.mr.buf + 64, 2)
    a.qp.post_send(fadd)
    assert wait_wc(backend, a.cq)[0].status == S.IBV_WC_SUCCESS
    assert int.from_bytes(a.mr.read(8, 128), "little") == 40
    assert int.from_bytes(b.mr.read(8, 64), "little") == 42
    for wr_id, expect, new, ok in ((3, 42, 7, True), (4, 42, 9, False)):
        cas = SendWR(wr_id=wr_id, opcode=O.IBV_WR_ATOMIC_CMP_AND_SWP, sg_list=[SGE(a.mr.buf + 256, 8, a.mr.lkey)])
        cas.set_wr_atomic(b.mr.rkey, b.mr.buf + 64, expect, new)
        a.qp.post_send(cas)
        assert wait_wc(backend, a.cq)[0].status == S.IBV_WC_SUCCESS
        completion = [e for e in backend.recorder.trace if isinstance(e, ev.Completion)][-1]
        assert completion.res.success is ok
    assert int.from_bytes(b.mr.read(8, 64), "little") == 7


def test_send_recv_order_and_write_with_imm(backend: Any, pair: Any) -> None:
    a, b = pair
    for i in range(4):
        b.qp.post_recv(RecvWR(wr_id=100 + i, sg_list=[SGE(b.mr.buf + 1024 * i, 1024, b.mr.lkey)]))
    for i in range(3):
        a.mr.write(bytes([65 + i]) * 16, 16, 16 * i)
        a.qp.post_send(SendWR(wr_id=i, opcode=O.IBV_WR_SEND, sg_list=[SGE(a.mr.buf + 16 * i, 16, a.mr.lkey)]))
    assert [w.status for w in wait_wc(backend, a.cq, 3)] == [S.IBV_WC_SUCCESS] * 3
    recvs = wait_wc(backend, b.cq, 3)
    assert [w.wr_id for w in recvs] == [100, 101, 102]  # RECV WQEs consumed in order
    assert [b.mr.read(16, 1024 * i) for i in range(3)] == [bytes([65 + i]) * 16 for i in range(3)]
    wr = SendWR(wr_id=9, opcode=O.IBV_WR_RDMA_WRITE_WITH_IMM, sg_list=[], imm_data=0x1234)
    wr.set_wr_rdma(b.mr.rkey, b.mr.buf)
    a.qp.post_send(wr)
    assert wait_wc(backend, a.cq)[0].status == S.IBV_WC_SUCCESS
    (rw,) = wait_wc(backend, b.cq)
    assert rw.opcode == ibv_wc_opcode.IBV_WC_RECV_RDMA_WITH_IMM and rw.imm_data == 0x1234 and rw.wr_id == 103


def test_unsignaled_wrs_retire_with_the_next_signaled(backend: Any, pair: Any) -> None:
    a, b = pair
    for i in range(5):
        a.mr.write(bytes([i + 1]) * 64, 64, 64 * i)
        wr = SendWR(wr_id=i, opcode=O.IBV_WR_RDMA_WRITE, sg_list=[SGE(a.mr.buf + 64 * i, 64, a.mr.lkey)],
                    send_flags=0 if i < 4 else 2)
        wr.set_wr_rdma(b.mr.rkey, b.mr.buf + 64 * i)
        a.qp.post_send(wr)
    (wc,) = wait_wc(backend, a.cq)
    assert wc.wr_id == 4 and wc.status == S.IBV_WC_SUCCESS
    assert b.mr.read(320) == b"".join(bytes([i + 1]) * 64 for i in range(5))  # RC order: all landed before
    backend.advance(50_000_000)
    assert a.cq.poll(4)[0] == 0  # unsignaled WRs produce no completions


def test_bad_rkey_gives_rem_access_err_then_flush(backend: Any, pair: Any) -> None:
    a, b = pair
    bad = SendWR(wr_id=1, opcode=O.IBV_WR_RDMA_WRITE, sg_list=[SGE(a.mr.buf, 64, a.mr.lkey)])
    bad.set_wr_rdma(b.mr.rkey ^ 0x5A5A00, b.mr.buf)
    a.qp.post_send(bad)
    a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_WRITE, 64, 2))
    w1, w2 = wait_wc(backend, a.cq, 2)
    assert w1.status == S.IBV_WC_REM_ACCESS_ERR and w2.status == S.IBV_WC_WR_FLUSH_ERR
    assert a.qp.qp_state == ibv_qp_state.IBV_QPS_ERR
    timeouts = [e for e in backend.recorder.trace if isinstance(e, ev.Timeout)]
    assert [t.status for t in timeouts] == ["REM_ACCESS_ERR", "WR_FLUSH_ERR"]


def test_mr_on_existing_memory_shares_bytes_across_devices(backend: Any, pair: Any) -> None:
    """SHIFT's shadow MR: the app buffer registered again on the backup NIC of the same host."""
    a, _ = pair
    backup = make_side(backend, DEVICES[1])
    shadow = backend.MR(backup.pd, a.mr.length, 7, address=a.mr.buf)
    a.mr.write(b"same-bytes", 10)
    assert shadow.buf == a.mr.buf and shadow.read(10) == b"same-bytes" and shadow.lkey != 0
    shadow.close()
    backup.close()


def test_completion_channel_is_non_blocking(backend: Any) -> None:
    a, b = make_side(backend, DEVICES[0], channel=True), make_side(backend, DEVICES[2])
    connect(backend, a, b)
    ch = a.cq.channel
    a.cq.req_notify()
    assert ch.get_cq_event() is None
    a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_WRITE, 8, 1))
    assert wait_for(backend, ch.get_cq_event) is a.cq
    a.cq.ack_events(1)
    assert wait_wc(backend, a.cq)[0].status == S.IBV_WC_SUCCESS
    a.close()
    ch.close()
    b.close()


def _sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True)


def _rx_packets(dev: str) -> int:
    with open(f"/sys/class/net/{dev}/statistics/rx_packets") as fh:
        return int(fh.read())


@pytest.mark.rxe_link
def test_traffic_crosses_the_primary_veth(backend: Any, pair: Any) -> None:
    """Policy routing sends rxe_p0 -> rxe_p1 traffic over the p0<->p1 wire (not lo), so link faults bite."""
    a, b = pair
    before = _rx_packets("p1")
    for i in range(20):
        a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_WRITE, 1024, i))
    assert all(w.status == S.IBV_WC_SUCCESS for w in wait_wc(backend, a.cq, 20))
    assert _rx_packets("p1") - before >= 20


@pytest.mark.rxe_link
def test_peer_link_down_gives_port_err_and_retry_exc_err(backend: Any) -> None:
    """rxe_guest_recipe.md: peer carrier loss -> IBV_EVENT_PORT_ERR, then RETRY_EXC_ERR after about
    (retry_cnt+1) x 4.096 us x 2^timeout; the port comes back ACTIVE after `ip link set up`."""
    a, b = make_side(backend, "rxe_p0"), make_side(backend, "rxe_p1")
    connect(backend, a, b, timeout=12, retry_cnt=2)
    a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_WRITE, 64, 1))
    assert wait_wc(backend, a.cq)[0].status == S.IBV_WC_SUCCESS
    try:
        _sh("ip link set p1 down")
        a.qp.post_send(_wr(a, b, O.IBV_WR_RDMA_WRITE, 64, 2))
        (wc,) = wait_wc(backend, a.cq, limit_s=30)
        assert wc.status == S.IBV_WC_RETRY_EXC_ERR
        events = []
        while (e := a.ctx.get_async_event(timeout_s=1.0)) is not None:
            events.append(e.event_type)
        assert ibv_event_type.IBV_EVENT_PORT_ERR in events
    finally:
        _sh("ip link set p1 up && rxe-relink.sh")
    deadline = time.monotonic() + 20
    while a.ctx.query_port(1).state != ibv_port_state.IBV_PORT_ACTIVE and time.monotonic() < deadline:
        time.sleep(0.1)
    assert a.ctx.query_port(1).state == ibv_port_state.IBV_PORT_ACTIVE
    a.close()
    b.close()
