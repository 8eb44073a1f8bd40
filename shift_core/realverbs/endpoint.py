"""One host's end of a benchmark connection on real verbs: stock pyverbs (``standard`` / strategy ``none``) or a
failover strategy's layer (:class:`shift_core.shift.lib.ShiftLib` over the primary and backup devices).

Both hosts build one; they trade :meth:`Endpoint.attrs` over the app's channel (as perftest trades QP numbers
over TCP) and :meth:`Endpoint.connect` each other. The layer publishes its backup attributes in the KV store
(Redis on the management network, paper §4.2) under a per-run prefix, so a QP number reused by a later run
never finds a stale entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shift_core.backend.attrs import AHAttr, GlobalRoute, QPAttr, QPCap, QPInitAttr
from shift_core.backend.enums import ibv_mtu, ibv_port_state
from shift_core.bench.perftest import ACCESS

STANDARD = "standard"
#: outstanding RDMA READs per QP (both directions): enough for a READ stream (rxe and mlx5 allow 16+)
RD_ATOMIC = 16


@dataclass(frozen=True)
class Devices:
    """One host's devices: primary (default path) and backup, with their GID index and netdev."""

    primary: str
    backup: str
    gid_index: int
    backup_gid_index: int
    netdev: str = ""
    backup_netdev: str = ""


class PrefixKV:
    """A KV store whose keys all start with ``prefix`` (one namespace per run in a shared Redis)."""

    def __init__(self, store: Any, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.url = f"{store.url}#{prefix}"

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.store.put(self.prefix + key, value)

    def get(self, key: str) -> dict[str, Any] | None:
        out: dict[str, Any] | None = self.store.get(self.prefix + key)
        return out

    def delete(self, key: str) -> None:
        self.store.delete(self.prefix + key)

    def close(self) -> None:
        """The shared store outlives the run."""


@dataclass
class Endpoint:
    """MR, CQ and RC QP of one host (``lib`` is ``None`` for stock verbs)."""

    variant: str
    ctx: Any
    mr: Any
    cq: Any
    qp: Any
    lib: Any = None
    gid_index: int = 1

    def attrs(self) -> dict[str, Any]:
        """What the peer needs to reach this end: default GID, QPN, rkey and buffer address."""
        gid = self.lib.default_gid if self.lib is not None else self.ctx.query_gid(1, self.gid_index)
        mtu = int(self.ctx.query_port(1).active_mtu)
        if self.lib is not None and self.lib.bctx is None:
            self.lib.progress()  # opens the backup device (its other shadow verbs wait for the peer)
        if self.lib is not None and self.lib.bctx is not None:  # the backup path shares the connection's MTU
            mtu = min(mtu, int(self.lib.bctx.query_port(1).active_mtu))
        return {"gid": gid, "qpn": self.qp.qp_num, "rkey": self.mr.rkey, "addr": self.mr.buf, "mtu": mtu}

    def connect(self, peer: dict[str, Any], timeout: int, retry_cnt: int) -> None:
        """To RTS against the peer, at the smaller active MTU of both ends (as perftest does)."""
        mtu = ibv_mtu(min(int(self.attrs()["mtu"]), int(peer.get("mtu", ibv_mtu.IBV_MTU_1024))))
        attr = QPAttr(dest_qp_num=int(peer["qpn"]), timeout=timeout, retry_cnt=retry_cnt, rnr_retry=7, path_mtu=mtu,
                      max_rd_atomic=RD_ATOMIC, max_dest_rd_atomic=RD_ATOMIC,
                      ah_attr=AHAttr(gr=GlobalRoute(dgid=str(peer["gid"]), sgid_index=self.gid_index, hop_limit=64)))
        self.qp.to_rts(attr)

    def progress(self) -> None:
        if self.lib is not None:
            self.lib.progress()

    @property
    def ready(self) -> bool:
        """The backup path is set up (always, for stock verbs)."""
        return self.lib is None or bool(self.lib.ready)

    def on_default(self) -> bool:
        """Is the send queue on the default (primary) path?"""
        state = getattr(self.qp, "sq_state", None)
        return state is None or state.value == "default"

    def poll(self, n: int) -> list[Any]:
        return list(self.cq.poll(n)[1])

    def close(self) -> None:
        """Close the device(s); pyverbs closes every child (QPs, MRs, CQs, PDs) first."""
        ctxs = [self.ctx] if self.lib is None else [c for c in (self.lib.bctx, self.lib.ctx) if c is not None]
        for c in ctxs:
            try:
                c.close()
            except Exception as exc:  # teardown after a fault must not hide the run's result
                print(f"[endpoint] close {c}: {exc}", flush=True)


def wait_port_active(backend: Any, device: str, timeout_s: float = 15.0) -> bool:
    """Wait until ``device``'s port 1 is ACTIVE (a restored link takes a moment); False after the timeout."""
    ctx = backend.Context(name=device)
    try:
        deadline = time.monotonic() + timeout_s
        while ctx.query_port(1).state != ibv_port_state.IBV_PORT_ACTIVE:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
    finally:
        ctx.close()


def open_endpoint(backend: Any, variant: str, devs: Devices, kv: Any, buf_bytes: int, depth: int,
                  max_recv: int = 0, probe_ns: int = 100_000_000) -> Endpoint:
    """``standard`` (stock verbs, also strategy ``none``'s behaviour) or a strategy's layer on ``devs``."""
    cap = QPCap(max_send_wr=2 * depth + 16, max_recv_wr=max(2 * depth + 16, max_recv))
    if variant == STANDARD:
        ctx = backend.Context(name=devs.primary)
        pd = backend.PD(ctx)
        mr = backend.MR(pd, buf_bytes, ACCESS)
        cq = backend.CQ(ctx, 4 * depth + 64 + max_recv)
        qp = backend.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
        return Endpoint(variant, ctx, mr, cq, qp, None, devs.gid_index)
    from shift_core.shift.lib import ShiftLib

    lib = ShiftLib(backend, devs.primary, devs.backup, kv, variant, probe_interval_ns=probe_ns)
    pd = lib.alloc_pd()
    mr = lib.reg_mr(pd, buf_bytes, ACCESS)
    cq = lib.create_cq(4 * depth + 64 + max_recv)
    qp = lib.create_qp(pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
    return Endpoint(variant, lib.ctx, mr, cq, qp, lib, devs.gid_index)
