"""Table 2 on real verbs: ``ib_write_lat``'s loop between the hosts, stock vs SHIFT vs stock + idle QPs.

perftest's ``run_iter_lat_write``: each side RDMA-WRITEs ``size`` bytes into the other's buffer, the last byte
carrying the iteration's tag, and busy-polls its own buffer for the other's write; latency = round trip / 2
on the host's clock (no clock is shared). ``idle_qps`` adds that many idle RC QPs (in INIT) on each host's
primary device before measuring, the paper's check that idle backup QPs do not hurt the fast path. The loop
is Python over pyverbs, so the absolute value is this implementation's, and the columns compare variants run
back to back on the same devices.
"""

from __future__ import annotations

import time
from typing import Any

from shift_core.backend.attrs import QPAttr, QPCap, QPInitAttr
from shift_core.bench.perftest import send_wr
from shift_core.realverbs.endpoint import STANDARD, Endpoint
from shift_core.realverbs.session import Context, pair_up
from shift_core.realverbs.stream import idle

BUF = 64
RX = 32  #: a side sends from [0, size) and the other's write lands at [RX, RX + size)


class _Remote:
    def __init__(self, peer: dict[str, Any]) -> None:
        self.buf, self.rkey = int(peer["addr"]), int(peer["rkey"])


def idle_qps(ctx: Context, count: int) -> list[Any]:
    """``count`` idle RC QPs on this host's primary device, moved to INIT (as backup QPs sit idle)."""
    b = ctx.backend
    c = b.Context(name=ctx.devs.primary)
    pd = b.PD(c)
    cq = b.CQ(c, 16)
    qps = []
    for _ in range(count):
        qp = b.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=QPCap(max_send_wr=8, max_recv_wr=8, max_inline_data=0)))
        qp.to_init(QPAttr())
        qps.append(qp)
    return [c, qps]


def _wait(ep: Endpoint, offset: int, value: int, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while ep.mr.read(1, offset)[0] != value:
        wcs = ep.poll(16)
        bad = [wc for wc in wcs if not wc.ok]
        if bad:
            raise RuntimeError(f"a latency WRITE failed: {bad[0].status.name}")
        if not wcs:
            idle()
        ep.progress()
        if time.monotonic() > deadline:
            raise TimeoutError("write latency loop stalled: the other side's write never landed")


def _loop(ctx: Context, ep: Endpoint, peer: dict[str, Any], size: int, iterations: int) -> list[float]:
    """One size: the host starts each round trip, the peer answers; per-iteration latency (µs) on the host."""
    remote = _Remote(peer)
    last = RX + size - 1
    lat = []
    for i in range(iterations):
        tag = (i % 255) + 1
        if ctx.is_host:
            start = time.perf_counter_ns()
            ep.mr.write(bytes([tag]) * size, size)
            ep.qp.post_send(send_wr("write", i, ep.mr, remote, size, remote_offset=RX))
            _wait(ep, last, tag)
            lat.append((time.perf_counter_ns() - start) / 2 / 1e3)
        else:
            _wait(ep, last, tag)
            ep.mr.write(bytes([tag]) * size, size)
            ep.qp.post_send(send_wr("write", i, ep.mr, remote, size, remote_offset=RX))
    return lat


def _variant(ctx: Context, spec: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    keep = idle_qps(ctx, int(spec["idle_qps"])) if variant == "idle_qps" else []
    layer = STANDARD if variant == "idle_qps" else variant
    ep, peer = pair_up(ctx, layer, BUF, 8)
    rows: list[dict[str, Any]] = []
    try:
        ep.mr.write(b"\x00" * BUF, BUF)  # before the first barrier below: no stale tag can match
        for size in spec["sizes"]:
            ctx.exchange("size", {"size": size})  # both sides at the same size before the clock starts
            t0 = time.perf_counter_ns()
            lat = _loop(ctx, ep, peer, int(size), int(spec["iterations"]))
            host_ns = (time.perf_counter_ns() - t0) / max(1, int(spec["iterations"]))
            rows += [{"variant": variant, "bytes": size, "iter": i, "latency_us": x, "host_ns_per_iter": host_ns}
                     for i, x in enumerate(lat)]
        ctx.exchange("done", {})
    finally:
        ep.close()
        if keep:
            keep[0].close()
    return rows


def host(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    return {"rows": [r for v in spec["variants"] for r in _variant(ctx, spec, v)]}


def peer(ctx: Context, spec: dict[str, Any]) -> None:
    for v in spec["variants"]:
        _variant(ctx, spec, v)
