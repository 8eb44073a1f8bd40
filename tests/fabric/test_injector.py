"""Faults at run time: async events, NIC fatal, link up, delay."""

from __future__ import annotations

from shift_core.backend import ibv_event_type, ibv_port_state, ibv_wc_status, ibv_wr_opcode
from shift_core.model.events import Fault

WR = ibv_wr_opcode
E = ibv_event_type


def test_link_down_and_up_raise_port_events_on_that_device_only(players) -> None:
    c, s = players()
    s.b.faults.link_down("h1.nic0", at_ns=1000)
    s.b.faults.link_up("h1.nic0", at_ns=5000)
    s.b.advance(2000)
    assert s.ctx.query_port().state == ibv_port_state.IBV_PORT_DOWN
    ev = s.ctx.get_async_event()
    assert (ev.event_type, ev.device) == (E.IBV_EVENT_PORT_ERR, "h1.nic0")
    assert c.ctx.get_async_event() is None  # across the switch nobody is told
    s.b.advance(5000)
    assert s.ctx.get_async_event().event_type == E.IBV_EVENT_PORT_ACTIVE
    assert s.ctx.query_port().state == ibv_port_state.IBV_PORT_ACTIVE
    assert [e.what for e in s.b.recorder.trace if isinstance(e, Fault)] == ["link_down:h1.nic0", "link_up:h1.nic0"]


def test_local_link_down_errors_by_timeout_after_port_err(players) -> None:
    c, s = players(timeout=5, retry_cnt=2)
    c.b.faults.link_down("h0.nic0")
    assert c.ctx.get_async_event().event_type == E.IBV_EVENT_PORT_ERR
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    assert c.wait()[0].status == ibv_wc_status.IBV_WC_RETRY_EXC_ERR


def test_nic_fatal_flushes_its_qps_and_raises_device_fatal(players) -> None:
    c, s = players(timeout=20, retry_cnt=6)
    s.recv(0, 8, wr_id=5)
    for i in range(3):
        c.post(WR.IBV_WR_SEND, 0, 8, wr_id=i)
    c.b.faults.nic_fatal("h0.nic0")
    wcs = c.wait(3)
    assert {w.status for w in wcs} == {ibv_wc_status.IBV_WC_WR_FLUSH_ERR}
    assert c.ctx.get_async_event().event_type == E.IBV_EVENT_DEVICE_FATAL
    assert c.ctx.query_port().state == ibv_port_state.IBV_PORT_DOWN


def test_delay_adds_latency(players) -> None:
    c, s = players()
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    t0 = c.b.now_ns()
    c.wait(step_ns=10)
    base = c.b.now_ns() - t0
    c.b.faults.delay("h1.nic0", extra_ns=50_000)
    c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s)
    t1 = c.b.now_ns()
    c.wait(step_ns=10)
    assert c.b.now_ns() - t1 >= base + 2 * 50_000  # both directions cross the delayed link


def test_probabilistic_loss_is_seeded(players) -> None:
    def run(seed: int) -> tuple:
        c, s = players(seed=seed)
        c.b.faults.packet_loss("h0.nic0", probability=0.3)
        for i in range(20):
            c.post(WR.IBV_WR_RDMA_WRITE, 0, 8, s, wr_id=i)
        c.wait(20)
        return tuple((type(e).__name__, e.t_ns) for e in c.b.recorder.trace)
    assert run(1) == run(1)
    assert run(1) != run(2)
