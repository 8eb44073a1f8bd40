"""Fig 9 shape: execution time of each verb, stock verbs vs SHIFT's layer, on the sim backend (wall clock).

Control verbs (open device, alloc PD, register MR, create CQ, create QP, connect = modify to RTS) are timed
once per repetition on a fresh fabric; the SHIFT column is the foreground call the application makes (its
shadow verbs are recorded, not run); ``shadow_setup`` is the background replay of every shadow verb on the
backup NIC (the paper's ≈ 35 ms, run asynchronously). Data verbs are averaged over ``data_reps`` calls:
``post_send`` and ``post_recv`` in batches of ``BATCH`` (the fabric is run between batches, untimed), ``poll_cq``
on an empty CQ, as perftest's busy loop mostly does. These are Python costs on this host: they show where the
layer adds work (the paper's extra ``ibv_query_qp`` before RTR/RTS, the WR log on post), not mlx5 nanoseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from shift_core.backend.attrs import QPCap, QPInitAttr
from shift_core.bench.endpoints import STANDARD, layer_missing, open_pair
from shift_core.bench.perftest import ACCESS, recv_wr, send_wr
from shift_core.bench.record import BenchResult, BenchUnavailable
from shift_core.bench.sim import BACKUP, DEFAULT, RECEIVER, SENDER, dev, make_backend

VARIANTS = (STANDARD, "shift")
CONTROL = ("open_device", "alloc_pd", "reg_mr", "create_cq", "create_qp", "modify_qp_rts")
DATA = ("post_send", "post_recv", "poll_cq")
BATCH = 16
MR_BYTES = 4096


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and its wall-clock duration in µs."""
    t0 = time.perf_counter_ns()
    out = fn(*args)
    return out, (time.perf_counter_ns() - t0) / 1e3


def control_once(settings: Mapping[str, Any], variant: str, seed: int) -> dict[str, float]:
    """One setup of a connected QP on each host, every control verb of host h0 timed (µs)."""
    from shift_core.fabric import rc_attr

    fabric = settings["fabric"]
    backend = make_backend(fabric, seed)
    t: dict[str, float] = {}
    cap = QPCap(max_send_wr=64, max_recv_wr=64)
    sides = []
    for host in (SENDER, RECEIVER):
        if variant == STANDARD:
            ctx, dt = _timed(backend.Context, dev(host, DEFAULT))
            pd, dt_pd = _timed(backend.PD, ctx)
            _, dt_mr = _timed(backend.MR, pd, MR_BYTES, ACCESS)
            cq, dt_cq = _timed(backend.CQ, ctx, 64)
            qp, dt_qp = _timed(backend.QP, pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
            lib = None
        else:
            from shift_core.kv.memory_store import MemoryKV
            from shift_core.shift.lib import ShiftLib

            kv = MemoryKV(f"verbs-cost-{seed}", fresh=host == SENDER)
            lib, dt = _timed(ShiftLib, backend, dev(host, DEFAULT), dev(host, BACKUP), kv, variant)
            ctx = lib.ctx
            pd, dt_pd = _timed(lib.alloc_pd)
            _, dt_mr = _timed(lib.reg_mr, pd, MR_BYTES, ACCESS)
            cq, dt_cq = _timed(lib.create_cq, 64)
            qp, dt_qp = _timed(lib.create_qp, pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
        if host == SENDER:
            t.update(open_device=dt, alloc_pd=dt_pd, reg_mr=dt_mr, create_cq=dt_cq, create_qp=dt_qp)
        sides.append((ctx, qp, lib))
    (ca, qa, la), (cb, qb, lb) = sides
    timeout, retry = int(fabric["rc_timeout"]), int(fabric["retry_cnt"])
    _, t["modify_qp_rts"] = _timed(qa.to_rts, rc_attr(cb.query_gid(), qb.qp_num, timeout, retry))
    qb.to_rts(rc_attr(ca.query_gid(), qa.qp_num, timeout, retry))
    if la is not None and lb is not None:
        t0 = time.perf_counter_ns()
        while not (la.ready and lb.ready):
            la.progress()
            lb.progress()
        t["shadow_setup"] = (time.perf_counter_ns() - t0) / 1e3
    return t


def data_verbs(settings: Mapping[str, Any], variant: str) -> dict[str, float]:
    """Mean µs per call of post_send / post_recv / poll_cq over ``data_reps`` calls."""
    fabric, reps = settings["fabric"], int(settings["verbs_cost"]["data_reps"])
    backend = make_backend(fabric, int(settings["seed"]))
    a, b = open_pair(backend, variant, MR_BYTES, 4 * BATCH, int(fabric["rc_timeout"]), int(fabric["retry_cnt"]),
                     namespace="verbs-cost-data")
    sums = dict.fromkeys(DATA, 0)
    batches = max(1, reps // BATCH)
    for k in range(batches):
        wrs = [send_wr("write", k * BATCH + i, a.mr, b.mr, 64) for i in range(BATCH)]
        rwrs = [recv_wr(k * BATCH + i, b.mr, 64) for i in range(BATCH)]
        t0 = time.perf_counter_ns()
        for wr in wrs:
            a.post_send(wr)
        t1 = time.perf_counter_ns()
        for rwr in rwrs:
            b.post_recv(rwr)
        t2 = time.perf_counter_ns()
        sums["post_send"] += t1 - t0
        sums["post_recv"] += t2 - t1
        got = 0
        while got < BATCH:  # complete the batch (untimed) so the queues never fill
            backend.advance(2_000)
            a.progress()
            got += len(a.poll(BATCH))
        for i in range(BATCH):  # consume the posted RECVs with SENDs from the sender (untimed)
            a.post_send(send_wr("send", i, a.mr, b.mr, 64))
        sent = received = 0
        while sent < BATCH or received < BATCH:
            backend.advance(2_000)
            a.progress()
            b.progress()
            received += len(b.poll(2 * BATCH))
            sent += len(a.poll(2 * BATCH))
        t3 = time.perf_counter_ns()
        for _ in range(BATCH):
            a.poll(1)
        sums["poll_cq"] += time.perf_counter_ns() - t3
    return {verb: total / (batches * BATCH) / 1e3 for verb, total in sums.items()}


def summarize(frame: pd.DataFrame) -> dict[str, float]:
    """Per verb: the median time of each variant (ns) and SHIFT's added percentage (any backend)."""
    med = frame.groupby(["variant", "verb"])["time_us"].median()
    summary: dict[str, float] = {}
    for verb in (*CONTROL, *DATA):
        std, shf = float(med[(STANDARD, verb)]), float(med[("shift", verb)])
        summary[f"standard_ns_{verb}"] = std * 1e3
        summary[f"shift_ns_{verb}"] = shf * 1e3
        summary[f"added_pct_{verb}"] = 100 * (shf - std) / std
    summary["max_added_pct_data_verbs"] = max(summary[f"added_pct_{v}"] for v in DATA)
    summary["shadow_setup_ms"] = float(med[("shift", "shadow_setup")]) / 1e3
    return summary


def run(settings: Mapping[str, Any]) -> BenchResult:
    """Both variants; summary = the SHIFT columns and the added percentage per verb."""
    why = layer_missing()
    if why:
        raise BenchUnavailable(why)
    reps = int(settings["verbs_cost"]["control_reps"])
    rows = []
    for variant in VARIANTS:
        for r in range(reps):
            for verb, us in control_once(settings, variant, int(settings["seed"]) * 1000 + r).items():
                rows.append({"variant": variant, "verb": verb, "rep": r, "time_us": us})
        for verb, us in data_verbs(settings, variant).items():
            rows.append({"variant": variant, "verb": verb, "rep": 0, "time_us": us})
    frame = pd.DataFrame(rows)
    summary = summarize(frame)
    notes = {"time_us": "wall clock on this host (Python), median over repetitions for control verbs",
             "modify_qp_rts": "RESET -> INIT -> RTR -> RTS in one call (the SHIFT QP exposes to_rts only)",
             "shadow_setup": "background replay of the shadow verbs on the backup NIC (both hosts)"}
    return BenchResult("verbs_cost", "sim", frame, summary, notes)
