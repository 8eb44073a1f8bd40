"""Fig 9 on real verbs: wall time of each verb on the host, stock pyverbs vs SHIFT's layer, against the peer.

Control verbs are timed once per repetition on fresh objects (the peer builds its half each time so
``modify_qp_rts`` connects to a real QP; the attribute exchange itself is not timed); ``shadow_setup`` is the
time from the app's ``to_rts`` until the layer has replayed every shadow verb on the backup device (the
paper's background ~35 ms), with the peer's layer running too. Data verbs are averaged over ``data_reps``
calls on one connected pair: ``post_send`` (64 B WRITEs in batches of 16, completed untimed), ``post_recv``
and ``poll_cq`` on an empty CQ. Rows and names are those of the sim's :mod:`shift_core.bench.verbs_cost`.
These are Python costs over pyverbs on this host -- what the layer adds per call in this implementation, not
mlx5's nanoseconds.
"""

from __future__ import annotations

import time
from typing import Any

from shift_core.backend.attrs import SGE, QPCap, QPInitAttr, RecvWR
from shift_core.bench.perftest import ACCESS, send_wr
from shift_core.realverbs.endpoint import STANDARD, Endpoint, PrefixKV
from shift_core.realverbs.session import Context, pair_up, wait_ready
from shift_core.realverbs.stream import idle

BATCH = 16
MR_BYTES = 4096


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter_ns()
    out = fn(*args)
    return out, (time.perf_counter_ns() - t0) / 1e3


def _build(ctx: Context, variant: str, rep: int) -> tuple[Endpoint, dict[str, float]]:
    """Every control verb up to create_qp, timed (µs)."""
    b, d = ctx.backend, ctx.devs
    cap = QPCap(max_send_wr=64, max_recv_wr=64)
    if variant == STANDARD:
        c, t_open = _timed(b.Context, d.primary)
        pd, t_pd = _timed(b.PD, c)
        mr, t_mr = _timed(b.MR, pd, MR_BYTES, ACCESS)
        cq, t_cq = _timed(b.CQ, c, 64)
        qp, t_qp = _timed(b.QP, pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
        ep = Endpoint(variant, c, mr, cq, qp, None, d.gid_index)
    else:
        from shift_core.shift.lib import ShiftLib

        kv = PrefixKV(ctx.kv, f"{ctx.run_id}:{rep}:")
        lib, t_open = _timed(ShiftLib, b, d.primary, d.backup, kv, variant)
        pd, t_pd = _timed(lib.alloc_pd)
        mr, t_mr = _timed(lib.reg_mr, pd, MR_BYTES, ACCESS)
        cq, t_cq = _timed(lib.create_cq, 64)
        qp, t_qp = _timed(lib.create_qp, pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
        ep = Endpoint(variant, lib.ctx, mr, cq, qp, lib, d.gid_index)
    return ep, {"open_device": t_open, "alloc_pd": t_pd, "reg_mr": t_mr, "create_cq": t_cq, "create_qp": t_qp}


def _control(ctx: Context, variant: str, rep: int) -> dict[str, float]:
    ep, t = _build(ctx, variant, rep)
    try:
        peer = ctx.exchange("attrs", ep.attrs())
        _, t["modify_qp_rts"] = _timed(ep.connect, peer, int(ctx.rc["timeout"]), int(ctx.rc["retry_cnt"]))
        if ep.lib is not None:
            t0 = time.perf_counter_ns()
            while not ep.ready:
                ep.progress()
                if time.perf_counter_ns() - t0 > 60e9:
                    raise TimeoutError("shadow verbs not replayed within 60 s")
            t["shadow_setup"] = (time.perf_counter_ns() - t0) / 1e3
            wait_ready(ctx, ep)
        ctx.exchange("done", {})
        return t
    finally:
        ep.close()


def _data(ctx: Context, variant: str, reps: int) -> dict[str, float]:
    ep, peer = pair_up(ctx, variant, MR_BYTES, 4 * BATCH, max_recv=reps + BATCH)
    try:
        remote = _Remote(int(peer["addr"]), int(peer["rkey"]))
        sums = {"post_send": 0, "post_recv": 0, "poll_cq": 0}
        batches = max(1, reps // BATCH)
        for k in range(batches):
            wrs = [send_wr("write", k * BATCH + i, ep.mr, remote, 64) for i in range(BATCH)]
            rwrs = [RecvWR(wr_id=k * BATCH + i, sg_list=[SGE(ep.mr.buf + 2048, 64, ep.mr.lkey)])
                    for i in range(BATCH)]
            t0 = time.perf_counter_ns()
            for wr in wrs:
                ep.qp.post_send(wr)
            t1 = time.perf_counter_ns()
            for rwr in rwrs:
                ep.qp.post_recv(rwr)
            t2 = time.perf_counter_ns()
            sums["post_send"] += t1 - t0
            sums["post_recv"] += t2 - t1
            got = 0
            deadline = time.monotonic() + 30
            while got < BATCH:  # complete the batch (untimed) so the send queue never fills
                wcs = ep.poll(BATCH)
                if any(not wc.ok for wc in wcs):
                    raise RuntimeError(f"WRITE failed while timing data verbs: {wcs[0].status.name}")
                got += len(wcs)
                if not wcs:
                    idle()
                if time.monotonic() > deadline:
                    raise TimeoutError("data-verb WRITEs did not complete within 30 s")
            t3 = time.perf_counter_ns()
            for _ in range(BATCH):
                ep.poll(1)
            sums["poll_cq"] += time.perf_counter_ns() - t3
        return {verb: total / (batches * BATCH) / 1e3 for verb, total in sums.items()}
    finally:
        ctx.ch.send("done")
        ep.close()


class _Remote:
    """The peer's MR as ``send_wr`` wants it (``buf``, ``rkey``)."""

    def __init__(self, buf: int, rkey: int) -> None:
        self.buf, self.rkey = buf, rkey


def host(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for variant in spec["variants"]:
        for rep in range(int(spec["control_reps"])):
            for verb, us in _control(ctx, variant, rep).items():
                rows.append({"variant": variant, "verb": verb, "rep": rep, "time_us": us})
        for verb, us in _data(ctx, variant, int(spec["data_reps"])).items():
            rows.append({"variant": variant, "verb": verb, "rep": 0, "time_us": us})
    return {"rows": rows}


def peer(ctx: Context, spec: dict[str, Any]) -> None:
    for variant in spec["variants"]:
        for rep in range(int(spec["control_reps"])):
            ep, _ = _build(ctx, variant, rep)
            try:
                peer_attrs = ctx.exchange("attrs", ep.attrs())
                ep.connect(peer_attrs, int(ctx.rc["timeout"]), int(ctx.rc["retry_cnt"]))
                if ep.lib is not None:
                    wait_ready(ctx, ep)
                ctx.exchange("done", {})
            finally:
                ep.close()
        ep, _ = pair_up(ctx, variant, MR_BYTES, 4 * BATCH, max_recv=int(spec["data_reps"]) + BATCH)
        try:
            while ctx.ch.poll("done") is None:
                ep.progress()
                time.sleep(0.001)
        finally:
            ep.close()
