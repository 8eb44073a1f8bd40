"""Emulator speed (marker ``benchmark``; excluded by default): simulated WRs per wall second, and the wall time
of a 15 s, 100 Gb/s WRITE timeline with a link failure and a move to the backup NIC (the paper's Fig 7 shape).

Run: ``.venv/bin/pytest -m benchmark tests/fabric/test_benchmark.py -s``. Numbers are printed, never asserted.
"""

from __future__ import annotations

import time

import pytest

from shift_core.backend import SGE, SendWR, ibv_wr_opcode
from shift_core.fabric import make_fabric
from shift_core.fabric.demo import SIGNALED, bandwidth, connect_pair

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("post_list", [64, 1])
@pytest.mark.parametrize(("size", "iters"), [(64, 1_000_000), (65536, 300_000)])
def test_write_stream_rate(size: int, iters: int, post_list: int) -> None:
    b = make_fabric()
    a, z = connect_pair(b, "h0.nic0", "h1.nic0", size)
    r = bandwidth(b, a, z, size=size, iters=iters, depth=1024, signal_every=64, post_list=post_list)
    print(f"\n[fabric benchmark] WRITE {size} B, {post_list} WR/post: {r['wrs']:,} WRs in {r['wall_s']:.2f} s wall = "
          f"{r['wr_per_wall_s']:,.0f} WRs/s; virtual {r['virtual_ns'] / 1e6:.1f} ms at {r['gbps']:.1f} Gb/s")
    assert r["wrs"] >= iters and 0 < r["gbps"] <= 100


def test_fig7_timeline_shape() -> None:
    """15 s of 64 KiB WRITEs at 100 Gb/s; h1.nic0's link dies at 5 s; after RETRY_EXC_ERR the stream moves to
    the nic1 pair. Throughput is binned per 100 ms of virtual time."""
    size, depth, chunk_n = 65536, 1024, 64
    b = make_fabric(seed=7)
    env = b.fabric.env
    pairs = [connect_pair(b, "h0.nic0", "h1.nic0", size, timeout=14, retry_cnt=6),
             connect_pair(b, "h0.nic1", "h1.nic1", size, timeout=14, retry_cnt=6)]
    b.faults.link_down("h1.nic0", at_ns=5_000_000_000)
    end_ns, bin_ns = 15_000_000_000, 100_000_000
    bins = [0] * (end_ns // bin_ns)
    t_wall = time.perf_counter()
    active, outstanding, failed_at = 0, 0, None
    while env.now < end_ns:
        a, z = pairs[active]
        chunk = [SendWR(wr_id=i, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, sg_list=[SGE(a.mr.buf, size, a.mr.lkey)],
                        remote_addr=z.mr.buf, rkey=z.mr.rkey, send_flags=SIGNALED if i == chunk_n - 1 else 0)
                 for i in range(chunk_n)]
        while outstanding + chunk_n <= depth:
            a.qp.post_send(chunk)
            outstanding += chunk_n
        nxt = env.peek()
        if nxt is None:
            break
        env.run(min(nxt, end_ns))
        for wc in a.cq.poll(depth)[1]:
            if wc.ok:
                outstanding -= chunk_n
                bins[min(env.now // bin_ns, len(bins) - 1)] += chunk_n * size * 8
            elif failed_at is None:
                failed_at, active, outstanding = env.now, 1, 0  # error surfaced: move to the backup pair
    wall = time.perf_counter() - t_wall
    gbps = [bits / bin_ns for bits in bins]
    print(f"\n[fabric benchmark] 15 s timeline: {wall:.1f} s wall; failure surfaced at {failed_at / 1e9:.3f} s; "
          f"Gb/s per 100 ms bin: first {gbps[0]:.1f}, pre-fault {gbps[40]:.1f}, "
          f"outage min {min(gbps[50:55]):.1f}, post-move {gbps[-1]:.1f}")
    assert failed_at is not None and failed_at > 5_000_000_000
    assert gbps[40] > 90 and gbps[-1] > 90 and min(gbps[50:55]) < 1
