"""Fixtures for the sim fabric tests: resources built like rdma-core's ``tests/base.py`` players."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shift_core.backend import (
    SGE,
    WC,
    QPCap,
    QPInitAttr,
    RecvWR,
    SendWR,
    ibv_access_flags,
    ibv_wr_opcode,
)
from shift_core.fabric import SimBackend, connect, make_fabric

A = ibv_access_flags
ALL_ACCESS = int(A.IBV_ACCESS_LOCAL_WRITE | A.IBV_ACCESS_REMOTE_WRITE | A.IBV_ACCESS_REMOTE_READ
                 | A.IBV_ACCESS_REMOTE_ATOMIC)


@dataclass
class Player:
    """One side: a device's context, PD, one MR, one CQ and one RC QP."""

    b: SimBackend
    ctx: Any
    pd: Any
    mr: Any
    cq: Any
    qp: Any

    def sge(self, offset: int, length: int) -> SGE:
        return SGE(self.mr.buf + offset, length, self.mr.lkey)

    def post(self, opcode: ibv_wr_opcode, offset: int, length: int, peer: Player | None = None,
             remote_offset: int = 0, wr_id: int = 0, **kw: Any) -> None:
        wr = SendWR(wr_id=wr_id, opcode=opcode, sg_list=[self.sge(offset, length)], **kw)
        if peer is not None:
            wr.set_wr_rdma(peer.mr.rkey, peer.mr.buf + remote_offset)
        self.qp.post_send(wr)

    def recv(self, offset: int, length: int, wr_id: int = 0) -> None:
        self.qp.post_recv(RecvWR(wr_id=wr_id, sg_list=[self.sge(offset, length)]))

    def wait(self, n: int = 1, step_ns: int = 1_000, limit_ns: int = 10_000_000_000) -> list[WC]:
        """Poll until ``n`` completions arrived (advancing virtual time), like rdma-core's ``poll_cq``."""
        out: list[WC] = []
        waited = 0
        while len(out) < n:
            _, wcs = self.cq.poll(n - len(out))
            out += wcs
            if len(out) >= n:
                break
            if waited >= limit_ns:
                raise AssertionError(f"only {len(out)} of {n} completions after {limit_ns} ns")
            nxt = self.b.fabric.env.peek()
            step = step_ns if nxt is None else max(step_ns, nxt - self.b.now_ns())
            self.b.advance(step)
            waited += step
        return out


def make_player(b: SimBackend, device: str, mr_len: int = 1 << 16, access: int = ALL_ACCESS,
                cqe: int = 4096, channel: Any = None) -> Player:
    ctx = b.Context(name=device)
    pd = b.PD(ctx)
    mr = b.MR(pd, mr_len, access)
    cq = b.CQ(ctx, cqe, None, channel)
    qp = b.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=QPCap(max_send_wr=4096, max_recv_wr=4096)))
    return Player(b, ctx, pd, mr, cq, qp)


@pytest.fixture
def players() -> Callable[..., tuple[Player, Player]]:
    """``players(**qp_attrs)`` -> (client on h0.nic0, server on h1.nic0), connected RC QPs in RTS."""

    def build(seed: int = 0, dup_write: str = "reexecute", client: str = "h0.nic0", server: str = "h1.nic0",
              b: SimBackend | None = None, **attrs: Any) -> tuple[Player, Player]:
        attrs.setdefault("timeout", 8)
        attrs.setdefault("retry_cnt", 3)
        b = b or make_fabric(seed=seed, dup_write=dup_write)
        c, s = make_player(b, client), make_player(b, server)
        connect(c.qp, c.ctx, s.qp, s.ctx, **attrs)
        return c, s

    return build
