"""Table 2 shape: ``ib_write_lat`` for 1-16 B, standard vs SHIFT vs standard + idle QPs, on the sim fabric.

perftest's write-latency loop (``run_iter_lat_write``): each side RDMA-WRITEs ``size`` bytes into the peer's
buffer, whose last byte carries the iteration number, and busy-polls its own buffer for the peer's reply;
latency = round trip / 2. On the sim the clock is virtual, so the columns answer one question exactly: does
SHIFT (or do 500 idle QPs) change anything on the wire of the fast path? A host-CPU column (wall-clock ns per
iteration of this Python loop) is recorded beside it as context; the sim has no QP-context cache, so the
idle-QP column can only show that idle QPs add no work, not the hardware cache effect the paper checked.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from shift_core.bench.endpoints import STANDARD, Endpoint, open_pair
from shift_core.bench.perftest import send_wr
from shift_core.bench.record import BenchResult, BenchUnavailable
from shift_core.bench.sim import DEFAULT, RECEIVER, SENDER, dev, make_backend

VARIANTS = (STANDARD, "shift", "idle_qps")
BUF = 64
RX = 32  #: offset of the receive area: a side sends from [0, size) and the peer's write lands at [RX, RX + size)


def _step(backend: Any) -> None:
    """Run the fabric to its next scheduled event (a busy-polling app sees memory change at that instant)."""
    env = backend.fabric.env
    nxt = env.peek()
    backend.advance(max(0, (nxt if nxt is not None else env.now + 100) - env.now))


def _wait_byte(backend: Any, ep: Endpoint, offset: int, value: int, limit_ns: int) -> None:
    deadline = backend.now_ns() + limit_ns
    while ep.mr.read(1, offset)[0] != value:
        if backend.now_ns() > deadline:
            raise RuntimeError("write latency loop stalled: the peer's write never landed")
        _step(backend)
        ep.poll(16)
        ep.progress()


def _idle_qps(backend: Any, count: int) -> list[Any]:
    """``count`` idle RC QPs on each default NIC (created and left in INIT, as backup QPs sit idle)."""
    from shift_core.backend.attrs import QPAttr, QPInitAttr

    out = []
    for host in (SENDER, RECEIVER):
        ctx = backend.Context(name=dev(host, DEFAULT))
        pd = backend.PD(ctx)
        cq = backend.CQ(ctx, 16)
        out += [backend.QP(pd, QPInitAttr(scq=cq, rcq=cq), QPAttr()) for _ in range(count)]
    return out


def measure(settings: Mapping[str, Any], variant: str, size: int) -> tuple[list[float], float]:
    """Per-iteration one-way latency (µs, virtual) and wall-clock ns per iteration for one variant and size."""
    fabric, p = settings["fabric"], settings["latency"]
    backend = make_backend(fabric, int(settings["seed"]))
    keep = _idle_qps(backend, int(p["idle_qps"])) if variant == "idle_qps" else []
    layer = STANDARD if variant == "idle_qps" else variant
    a, b = open_pair(backend, layer, BUF, 4, int(fabric["rc_timeout"]), int(fabric["retry_cnt"]))
    last = RX + size - 1
    lat: list[float] = []
    t0 = time.perf_counter_ns()
    for i in range(int(p["iterations"])):
        tag = (i % 255) + 1
        start = backend.now_ns()
        a.mr.write(bytes([tag]) * size, size)
        a.post_send(send_wr("write", i, a.mr, b.mr, size, remote_offset=RX))
        _wait_byte(backend, b, last, tag, 10_000_000)
        b.mr.write(bytes([tag]) * size, size)
        b.post_send(send_wr("write", i, b.mr, a.mr, size, remote_offset=RX))
        _wait_byte(backend, a, last, tag, 10_000_000)
        lat.append((backend.now_ns() - start) / 2 / 1e3)
    host_ns = (time.perf_counter_ns() - t0) / max(1, len(lat))
    del keep
    return lat, host_ns


def summarize(frame: pd.DataFrame, sizes: list[int], variants: list[str]) -> dict[str, float | str]:
    """Standard latency and its spread per size, and the worst SHIFT / idle-QP ratio over sizes (any backend)."""
    means = frame.groupby(["variant", "bytes"])["latency_us"].mean()
    summary: dict[str, float | str] = {}
    for size in sizes:
        summary[f"standard_us_{size}"] = float(means[(STANDARD, size)])
        summary[f"standard_sd_us_{size}"] = float(statistics.pstdev(
            frame[(frame.variant == STANDARD) & (frame.bytes == size)]["latency_us"]))
    for variant, key in (("shift", "max_ratio_shift"), ("idle_qps", "max_ratio_idle_qps")):
        if variant in variants:
            summary[key] = max(float(means[(variant, s)] / means[(STANDARD, s)]) for s in sizes)
    return summary


def run(settings: Mapping[str, Any]) -> BenchResult:
    """Every (variant, size) of ``latency``; summary = max over sizes of the SHIFT / idle-QP latency ratios."""
    p = settings["latency"]
    rows, skipped = [], {}
    for variant in VARIANTS:
        for size in p["sizes"]:
            try:
                lat, host_ns = measure(settings, variant, int(size))
            except BenchUnavailable as exc:
                skipped[variant] = str(exc)
                break
            rows += [{"variant": variant, "bytes": size, "iter": i, "latency_us": x, "host_ns_per_iter": host_ns}
                     for i, x in enumerate(lat)]
    if not rows:
        raise BenchUnavailable("; ".join(skipped.values()))
    frame = pd.DataFrame(rows)
    summary = summarize(frame, list(p["sizes"]), [v for v in VARIANTS if v not in skipped])
    notes = {"latency": "virtual time: round trip / 2 of a WRITE ping-pong polled on the last byte (µs)",
             "host_ns_per_iter": "wall clock of this Python loop per iteration (context, not the paper's metric)",
             "skipped": skipped}
    return BenchResult("latency", "sim", frame, summary, notes)
