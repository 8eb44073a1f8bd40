"""Taps: every request and response gets a fabric-wide index, faults strike at an exact index, and a replay with
the same faults reaches the same indices (the explorer's determinism)."""

from __future__ import annotations

from shift_core.backend import SGE, SendWR, ibv_wc_status, ibv_wr_opcode
from shift_core.fabric import make_fabric
from shift_core.fabric.demo import SIGNALED, connect_pair, wait
from shift_core.fabric.faults import load_schedule
from shift_core.fabric.taps import Taps


def _stream(schedule: dict | None = None, wrs: int = 4) -> tuple[Taps, list[str]]:
    b = make_fabric()
    taps = Taps(record=True).attach(b.fabric)
    if schedule is not None:
        load_schedule(schedule).arm(b.faults)
    a, z = connect_pair(b, "h0.nic0", "h1.nic0", 64, timeout=4, retry_cnt=2)
    for i in range(wrs):
        a.qp.post_send(SendWR(wr_id=i, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE,
                              sg_list=[SGE(a.mr.buf, 64, a.mr.lkey)], remote_addr=z.mr.buf, rkey=z.mr.rkey,
                              send_flags=SIGNALED))
    wcs = wait(b, a.cq, wrs)
    return taps, [wc.status.name for wc in wcs]


def test_census_numbers_every_message_and_response() -> None:
    taps, statuses = _stream()
    assert [m.index for m in taps.messages] == [1, 2, 3, 4] and [m.attempt for m in taps.messages] == [1] * 4
    assert [r.kind for r in taps.responses] == ["ack"] * 4
    assert statuses == ["IBV_WC_SUCCESS"] * 4
    seqs = [x.seq for x in taps.messages + taps.responses]
    assert len(set(seqs)) == len(seqs)  # one time line


def test_drop_message_is_retransmitted_and_counted_again() -> None:
    taps, statuses = _stream({"faults": [{"kind": "drop_message", "when": {"message": 2}}]})
    assert statuses == ["IBV_WC_SUCCESS"] * 4 and not taps.unfired
    assert len(taps.messages) > 4 and any(m.attempt == 2 for m in taps.messages)  # go-back-N from PSN 1


def test_drop_response_and_link_down_at_an_index() -> None:
    taps, statuses = _stream({"faults": [{"kind": "drop_response", "when": {"response": 4}}]})
    assert statuses == ["IBV_WC_SUCCESS"] * 4 and taps.messages[-1].attempt == 2  # the last WR is resent
    taps, statuses = _stream({"faults": [{"kind": "link_down", "nic": "h1.nic0", "when": {"message": 3}}]})
    # all four left at t=0; the link dies as message 3 leaves, so 1 and 2 (in flight) are lost with it
    assert statuses == [ibv_wc_status.IBV_WC_RETRY_EXC_ERR.name] + [ibv_wc_status.IBV_WC_WR_FLUSH_ERR.name] * 3
    assert taps.fired[0][0] == 3 and [m.attempt for m in taps.messages] == [1] * 4 + [2] * 4 + [3] * 4


def test_unreached_index_is_reported() -> None:
    taps, _ = _stream({"faults": [{"kind": "drop_message", "when": {"message": 99}}]})
    assert taps.unfired == [{"message": 99}]
