"""perftest-shaped traffic over the backend interface: ``ib_{write,send,read}_bw`` streams and ``ib_write_lat``.

The loops are those of perftest (linux-rdma/perftest ``run_iter_bw`` / ``run_iter_lat_write``): keep ``depth``
WRs outstanding and refill as completions are polled; for latency, ping-pong one WRITE each way and poll the
last byte. They run on the ``sim`` backend in virtual time, so a measured rate or latency is the fabric's
model (line rate, headers, propagation, switch) and not the host CPU. Only backend-interface calls are used,
so the same loops run under any strategy object that exposes ``post_send`` / ``post_recv`` / ``poll``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shift_core.backend.attrs import SGE, QPCap, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import ibv_access_flags, ibv_mtu, ibv_send_flags, ibv_wr_opcode

ACCESS = int(ibv_access_flags.IBV_ACCESS_LOCAL_WRITE | ibv_access_flags.IBV_ACCESS_REMOTE_WRITE
             | ibv_access_flags.IBV_ACCESS_REMOTE_READ | ibv_access_flags.IBV_ACCESS_REMOTE_ATOMIC)
OPCODES = {"write": ibv_wr_opcode.IBV_WR_RDMA_WRITE, "send": ibv_wr_opcode.IBV_WR_SEND,
           "read": ibv_wr_opcode.IBV_WR_RDMA_READ}


@dataclass
class Side:
    """One end of a connection: device, PD, MR, CQ and QP on one NIC."""

    ctx: Any
    pd: Any
    mr: Any
    cq: Any
    qp: Any


def open_side(backend: Any, device: str, buf_bytes: int, depth: int) -> Side:
    """Open ``device`` and create PD, MR (``buf_bytes``), one CQ and an RC QP sized for ``depth`` WRs."""
    ctx = backend.Context(name=device)
    pd = backend.PD(ctx)
    mr = backend.MR(pd, buf_bytes, ACCESS)
    cq = backend.CQ(ctx, 4 * depth + 16)
    cap = QPCap(max_send_wr=2 * depth + 8, max_recv_wr=2 * depth + 8)
    qp = backend.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=cap))
    return Side(ctx, pd, mr, cq, qp)


def connect_pair(backend: Any, a: str, b: str, buf_bytes: int, depth: int, timeout: int, retry_cnt: int,
                 mtu: ibv_mtu = ibv_mtu.IBV_MTU_4096) -> tuple[Side, Side]:
    """Two connected RC ends on devices ``a`` and ``b`` (the sim's QP connection helper)."""
    from shift_core.fabric import connect

    sa, sb = open_side(backend, a, buf_bytes, depth), open_side(backend, b, buf_bytes, depth)
    connect(sa.qp, sa.ctx, sb.qp, sb.ctx, timeout=timeout, retry_cnt=retry_cnt, path_mtu=mtu)
    return sa, sb


def send_wr(op: str, wr_id: int, local: Any, remote: Any, nbytes: int, signaled: bool = True,
            remote_offset: int = 0) -> SendWR:
    """One perftest WR of ``op`` from ``local``'s MR (offset 0) to ``remote``'s MR at ``remote_offset``."""
    flags = int(ibv_send_flags.IBV_SEND_SIGNALED) if signaled else 0
    wr = SendWR(wr_id=wr_id, opcode=OPCODES[op], sg_list=[SGE(local.buf, nbytes, local.lkey)], send_flags=flags)
    if op != "send":
        wr.set_wr_rdma(remote.rkey, remote.buf + remote_offset)
    return wr


def recv_wr(wr_id: int, mr: Any, nbytes: int) -> RecvWR:
    return RecvWR(wr_id=wr_id, sg_list=[SGE(mr.buf, nbytes, mr.lkey)])


@dataclass
class StreamStats:
    """Completions of a bandwidth stream: per-completion time and bytes, and the first error."""

    done_ns: list[int] = field(default_factory=list)
    done_bytes: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def bw_stream(backend: Any, post: Callable[[int], None], poll: Callable[[], list[Any]], depth: int, nbytes: int,
              until_ns: int, step_ns: int, on_step: Callable[[int], None] | None = None) -> StreamStats:
    """perftest's bandwidth loop: keep ``depth`` WRs outstanding until ``until_ns`` of virtual time.

    ``post(wr_id)`` posts one WR (through whatever layer is under test), ``poll()`` returns completions. A
    failed post (the layer raised) or an error completion stops refilling, as perftest exits on error.
    """
    stats = StreamStats()
    outstanding, next_id, alive = 0, 0, True
    while backend.now_ns() < until_ns:
        while alive and outstanding < depth:
            try:
                post(next_id)
            except Exception as exc:
                stats.errors.append((backend.now_ns(), f"post: {exc}"))
                alive = False
                break
            next_id += 1
            outstanding += 1
        backend.advance(step_ns)
        for wc in poll():
            outstanding -= 1
            if wc.ok:
                stats.done_ns.append(backend.now_ns())
                stats.done_bytes.append(nbytes)
            else:
                stats.errors.append((backend.now_ns(), wc.status.name))
                alive = False
        if on_step is not None:
            on_step(backend.now_ns())
    return stats
