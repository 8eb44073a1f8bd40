"""Emulator speed (marker ``benchmark``; excluded by default): simulated WRs per CPU second (and per wall second)
of a 64 B and a 64 KiB WRITE stream, with the same-run ratio against the baseline checkout (the main branch before
this branch's fast-path changes), and the wall time of a 15 s, 100 Gb/s WRITE timeline with a link failure and a
move to the backup NIC (the paper's Fig 7 shape).

Run: ``.venv/bin/pytest -m benchmark tests/fabric/test_benchmark.py -s``. Numbers are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shift_core.backend import SGE, SendWR, ibv_wr_opcode
from shift_core.fabric import make_fabric
from shift_core.fabric.demo import SIGNALED, connect_pair

pytestmark = pytest.mark.benchmark


#: one measurement, run in a fresh interpreter against a given checkout (this one, or the baseline)
_HARNESS = """
import json, sys, time
from shift_core.fabric import make_fabric
from shift_core.fabric.demo import bandwidth, connect_pair
size, iters, post_list = map(int, sys.argv[1:4])
b = make_fabric()
a, z = connect_pair(b, "h0.nic0", "h1.nic0", size)
w, c = time.perf_counter(), time.process_time()
r = bandwidth(b, a, z, size=size, iters=iters, depth=1024, signal_every=64, post_list=post_list)
w, c = time.perf_counter() - w, time.process_time() - c
print(json.dumps({"wrs": r["wrs"], "gbps": r["gbps"], "wall_s": w, "cpu_s": c}))
"""
#: the code before this branch's fabric changes (the main checkout); override with $SHIFT_BASELINE_CHECKOUT
BASELINE = Path(os.environ.get("SHIFT_BASELINE_CHECKOUT", "/work/main"))
REPO = Path(__file__).resolve().parents[2]


def _measure(checkout: Path, size: int, iters: int, post_list: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", _HARNESS, str(size), str(iters), str(post_list)], env=env,
                         capture_output=True, text=True, check=True, cwd=checkout).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("post_list", [64, 1])
@pytest.mark.parametrize(("size", "iters"), [(64, 1_000_000), (65536, 1_000_000)])
def test_write_stream_rate(size: int, iters: int, post_list: int) -> None:
    """WRs per CPU second of the emulator process (the machine is shared: wall seconds are printed too), and
    the same-run ratio against the baseline checkout, interleaved new/old, median of 3."""
    if post_list == 1:
        iters //= 4  # the one-WR-per-post path is slower: keep the run short
    baseline = BASELINE if (BASELINE / "shift_core" / "fabric" / "batch.py").is_file() else None
    new, old = [], []
    for _ in range(3):
        new.append(_measure(REPO, size, iters, post_list))
        if baseline is not None:
            old.append(_measure(baseline, size, iters, post_list))
    med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    rate_cpu, rate_wall = iters / med(new, "cpu_s"), iters / med(new, "wall_s")
    line = (f"\n[fabric benchmark] WRITE {size} B, {post_list} WR/post, {iters:,} WRs: "
            f"{rate_cpu:,.0f} WRs/CPU-s, {rate_wall:,.0f} WRs/wall-s (median of 3)")
    if old:
        old_cpu = iters / med(old, "cpu_s")
        line += f"; baseline {baseline}: {old_cpu:,.0f} WRs/CPU-s; same-run ratio {rate_cpu / old_cpu:.2f}x"
    else:
        line += f"; no baseline checkout at {BASELINE} (set SHIFT_BASELINE_CHECKOUT): ratio not measured"
    print(line)
    assert all(r["wrs"] >= iters and 0 < r["gbps"] <= 100 for r in new + old)


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
