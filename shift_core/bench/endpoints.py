"""A connected sender/receiver pair under test: stock verbs (``standard``) or a failover strategy's layer.

Benchmarks talk to an :class:`Endpoint` only (``post_send`` / ``post_recv`` / ``poll`` / ``progress`` and an MR),
so one loop measures stock RDMA and every strategy of :mod:`shift_core.shift` on the same fabric. The
``standard`` variant is the backend's own objects with no layer at all (perftest without SHIFTLib); a strategy
variant builds a :class:`~shift_core.shift.lib.ShiftLib` per host over the default (``nic0``) and backup
(``nic1``) NICs with one in-process KV store, connects the default QPs the way an application does, and runs
the layer's background step (the paper's background thread) between polls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shift_core.backend.attrs import QPCap, QPInitAttr
from shift_core.bench.perftest import ACCESS
from shift_core.bench.record import BenchUnavailable
from shift_core.bench.sim import BACKUP, DEFAULT, RECEIVER, SENDER, dev

STANDARD = "standard"


@dataclass
class Endpoint:
    """One host's end of the connection under test."""

    mr: Any
    cq: Any
    qp: Any
    lib: Any = None  #: the strategy layer (``None`` for ``standard``)

    def post_send(self, wr: Any) -> None:
        self.qp.post_send(wr)

    def post_recv(self, wr: Any) -> None:
        self.qp.post_recv(wr)

    def poll(self, n: int) -> list[Any]:
        return list(self.cq.poll(n)[1])

    def progress(self) -> None:
        if self.lib is not None:
            self.lib.progress()

    def on_default(self) -> bool:
        """Is the QP's send queue on the default NIC (SHIFT state ``default``; always, without a layer)?"""
        return self.lib is None or getattr(self.qp, "sq_state", None) is None or self.qp.sq_state.value == "default"


def _cap(depth: int) -> QPCap:
    return QPCap(max_send_wr=2 * depth + 8, max_recv_wr=2 * depth + 8)


def _standard(backend: Any, host: str, buf_bytes: int, depth: int) -> tuple[Endpoint, Any]:
    ctx = backend.Context(name=dev(host, DEFAULT))
    pd = backend.PD(ctx)
    mr = backend.MR(pd, buf_bytes, ACCESS)
    cq = backend.CQ(ctx, 4 * depth + 16)
    qp = backend.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=_cap(depth)))
    return Endpoint(mr, cq, qp), ctx


def _layered(backend: Any, host: str, buf_bytes: int, depth: int, strategy: str, kv: Any) -> tuple[Endpoint, Any]:
    from shift_core.shift.lib import ShiftLib

    lib = ShiftLib(backend, dev(host, DEFAULT), dev(host, BACKUP), kv, strategy)
    pd = lib.alloc_pd()
    mr = lib.reg_mr(pd, buf_bytes, ACCESS)
    cq = lib.create_cq(4 * depth + 16)
    qp = lib.create_qp(pd, QPInitAttr(scq=cq, rcq=cq, cap=_cap(depth)))
    return Endpoint(mr, cq, qp, lib), lib.ctx


def layer_missing() -> str | None:
    """Why the strategy layer cannot be used (``None`` when it can)."""
    try:
        import shift_core.shift.lib
        import shift_core.shift.qp  # noqa: F401
        from shift_core.kv.memory_store import MemoryKV  # noqa: F401
    except ImportError as exc:
        return f"strategy layer not available ({exc})"
    return None


def open_pair(backend: Any, variant: str, buf_bytes: int, depth: int, timeout: int, retry_cnt: int,
              namespace: str = "bench") -> tuple[Endpoint, Endpoint]:
    """A connected (sender on ``h0``, receiver on ``h1``) pair of ``variant`` (``standard`` or a strategy)."""
    from shift_core.fabric import connect

    if variant == STANDARD:
        (a, ca), (b, cb) = (_standard(backend, h, buf_bytes, depth) for h in (SENDER, RECEIVER))
    else:
        why = layer_missing()
        if why:
            raise BenchUnavailable(why)
        from shift_core.kv.memory_store import MemoryKV

        kv = MemoryKV(namespace, fresh=True)
        (a, ca), (b, cb) = (_layered(backend, h, buf_bytes, depth, variant, kv) for h in (SENDER, RECEIVER))
    connect(a.qp, ca, b.qp, cb, timeout=timeout, retry_cnt=retry_cnt)
    for _ in range(3):  # let the background step replay the shadow verbs on the backup NICs
        a.progress()
        b.progress()
    return a, b
