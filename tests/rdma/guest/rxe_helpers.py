"""Helpers of the backend conformance suite: open one "host" side, connect RC QPs, wait for completions.

Backend-neutral on purpose: the same test bodies run on ``sim`` (host, virtual time) and on ``rxe`` (inside
the guest, wall time); waiting calls ``backend.advance``, which runs the sim's event loop or sleeps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

BACKEND = os.environ.get("SHIFT_BACKEND") or ("rxe" if os.environ.get("SHIFT_RXE_GUEST") == "1" else "sim")
_DEFAULT_DEVICES = {"rxe": "rxe_p0,rxe_b0,rxe_p1,rxe_b1", "sim": "h0.nic0,h0.nic1,h1.nic0,h1.nic1"}
#: host A primary, A backup, B primary, B backup
DEVICES = tuple(os.environ.get("SHIFT_DEVICES", _DEFAULT_DEVICES.get(BACKEND, "")).split(","))


def open_backend() -> Any:
    if BACKEND == "sim":
        from shift_core.fabric import make_fabric

        return make_fabric(seed=1)
    from shift_core.verbs import open_backend as open_verbs

    return open_verbs(BACKEND, int(os.environ.get("SHIFT_GID_INDEX", "1")))


@dataclass
class Side:
    """One end: device, PD, CQ, MR, RC QP (closed children first)."""

    ctx: Any
    pd: Any
    cq: Any
    mr: Any
    qp: Any

    def close(self) -> None:
        for o in (self.qp, self.mr, self.cq, self.pd, self.ctx):
            o.close()


def make_side(b: Any, dev: str, size: int = 65536, channel: bool = False) -> Side:
    from shift_core.backend import QPCap, QPInitAttr, ibv_access_flags

    ctx = b.Context(name=dev)
    pd = b.PD(ctx)
    cq = b.CQ(ctx, 256, None, b.CompChannel(ctx) if channel else None)
    acc = (ibv_access_flags.IBV_ACCESS_LOCAL_WRITE | ibv_access_flags.IBV_ACCESS_REMOTE_WRITE
           | ibv_access_flags.IBV_ACCESS_REMOTE_READ | ibv_access_flags.IBV_ACCESS_REMOTE_ATOMIC)
    mr = b.MR(pd, size, acc)
    qp = b.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=QPCap(max_send_wr=128, max_recv_wr=128)))
    return Side(ctx, pd, cq, mr, qp)


def connect(b: Any, x: Side, y: Side, timeout: int = 14, retry_cnt: int = 6) -> None:
    """x.qp <-> y.qp to RTS. Fault tests pass their own retry_cnt (0-6: 7 retries forever on rxe)."""
    from shift_core.backend import AHAttr, GlobalRoute, QPAttr

    idx = getattr(b, "gid_index", 0)
    for a, c in ((x, y), (y, x)):
        gid = c.ctx.query_gid(1, idx)
        attr = QPAttr(dest_qp_num=c.qp.qp_num, timeout=timeout, retry_cnt=retry_cnt, rnr_retry=7,
                      max_rd_atomic=4, max_dest_rd_atomic=4,
                      ah_attr=AHAttr(gr=GlobalRoute(dgid=gid, sgid_index=idx, hop_limit=64)))
        a.qp.to_rts(attr)


def wait_wc(b: Any, cq: Any, n: int = 1, limit_s: float = 20.0, step_ns: int = 20_000) -> list[Any]:
    """Poll ``cq`` until ``n`` completions arrived, advancing the backend's clock between polls; fails after
    ``limit_s`` of backend time (a lost completion is a bug)."""
    out: list[Any] = []
    end = b.now_ns() + int(limit_s * 1e9)
    while True:
        _, wcs = cq.poll(n - len(out))
        out += wcs
        if len(out) >= n:
            return out
        if b.now_ns() > end:
            raise AssertionError(f"only {len(out)} of {n} completions within {limit_s}s")
        b.advance(step_ns)


def wait_for(b: Any, fn: Any, limit_s: float = 10.0, step_ns: int = 20_000) -> Any:
    """Call ``fn()`` until it returns something other than None, advancing the clock; None after ``limit_s``."""
    end = b.now_ns() + int(limit_s * 1e9)
    while b.now_ns() <= end:
        got = fn()
        if got is not None:
            return got
        b.advance(step_ns)
    return None
