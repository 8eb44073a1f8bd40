"""Ping-pong and bandwidth loops over the sim backend (after ``ibv_rc_pingpong`` and ``ib_write_bw``).

Used by ``shift fabric pingpong|bw`` and ``examples/fabric_pingpong.py``. Latency and bandwidth are in
*virtual* time (what the emulated 100 Gb/s fabric would take); ``wall_s`` says how long the emulation took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shift_core.backend.attrs import SGE, WC, QPCap, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import ibv_access_flags, ibv_send_flags, ibv_wr_opcode
from shift_core.errors import ShiftRDMAError
from shift_core.fabric.backend import SimBackend
from shift_core.fabric.connect import connect

ACCESS = int(ibv_access_flags.IBV_ACCESS_LOCAL_WRITE | ibv_access_flags.IBV_ACCESS_REMOTE_WRITE
             | ibv_access_flags.IBV_ACCESS_REMOTE_READ | ibv_access_flags.IBV_ACCESS_REMOTE_ATOMIC)
SIGNALED = int(ibv_send_flags.IBV_SEND_SIGNALED)


@dataclass
class Endpoint:
    """One RC endpoint: a device's context, PD, MR, CQ and QP."""

    ctx: Any
    pd: Any
    mr: Any
    cq: Any
    qp: Any


def open_endpoint(b: SimBackend, device: str, size: int, depth: int = 1024) -> Endpoint:
    """Context, PD, one MR of ``size`` bytes, one CQ and one RC QP on ``device``."""
    ctx = b.Context(name=device)
    pd = b.PD(ctx)
    mr = b.MR(pd, max(size, 64), ACCESS)
    cq = b.CQ(ctx, 2 * depth)
    qp = b.QP(pd, QPInitAttr(scq=cq, rcq=cq, cap=QPCap(max_send_wr=depth, max_recv_wr=depth)))
    return Endpoint(ctx, pd, mr, cq, qp)


def connect_pair(b: SimBackend, dev_a: str, dev_b: str, size: int, **attrs: Any) -> tuple[Endpoint, Endpoint]:
    """Two endpoints with their QPs connected (RTS)."""
    a, z = open_endpoint(b, dev_a, size), open_endpoint(b, dev_b, size)
    connect(a.qp, a.ctx, z.qp, z.ctx, **attrs)
    return a, z


def wait(b: SimBackend, cq: Any, n: int = 1, limit_ns: int = 10**12) -> list[WC]:
    """Poll ``cq`` for ``n`` completions, running the event loop from event to event meanwhile."""
    out: list[WC] = []
    env = b.fabric.env
    deadline = env.now + limit_ns
    while True:
        out += cq.poll(n - len(out))[1]
        if len(out) >= n:
            return out
        nxt = env.peek()
        if nxt is None or nxt > deadline:
            raise ShiftRDMAError(f"Failed to poll CQ: {len(out)} of {n} completions, and nothing more will happen")
        env.run(nxt)


def pingpong(b: SimBackend, a: Endpoint, z: Endpoint, iters: int = 1000, size: int = 64) -> dict[str, Any]:
    """SEND/RECV ping-pong: ``a`` sends, ``z`` answers each message; round-trip times in virtual ns."""
    env = b.fabric.env
    a.qp.post_recv(RecvWR(wr_id=1, sg_list=[SGE(a.mr.buf, size, a.mr.lkey)]))
    z.qp.post_recv(RecvWR(wr_id=1, sg_list=[SGE(z.mr.buf, size, z.mr.lkey)]))
    ping = SendWR(wr_id=2, opcode=ibv_wr_opcode.IBV_WR_SEND, sg_list=[SGE(a.mr.buf, size, a.mr.lkey)])
    pong = SendWR(wr_id=2, opcode=ibv_wr_opcode.IBV_WR_SEND, sg_list=[SGE(z.mr.buf, size, z.mr.lkey)])
    rtts: list[int] = []
    t_wall = time.perf_counter()
    for i in range(iters):
        a.mr.write(i.to_bytes(8, "little"), 8)
        t0 = env.now
        a.qp.post_send(ping)
        for wc in wait(b, z.cq, 1):  # z gets the ping (its send CQ is the same CQ: skip send completions)
            if not wc.ok:
                raise ShiftRDMAError(f"Failed ping-pong: {wc.status.name}")
        z.qp.post_recv(RecvWR(wr_id=1, sg_list=[SGE(z.mr.buf, size, z.mr.lkey)]))
        z.qp.post_send(pong)
        got = 0
        while got < 2:  # a: its send completion and the pong
            for wc in wait(b, a.cq, 1):
                if not wc.ok:
                    raise ShiftRDMAError(f"Failed ping-pong: {wc.status.name}")
                got += 1
        a.qp.post_recv(RecvWR(wr_id=1, sg_list=[SGE(a.mr.buf, size, a.mr.lkey)]))
        rtts.append(env.now - t0)
        wait(b, z.cq, 1)  # z's send completion
    rtts.sort()
    return {"iters": iters, "size": size, "rtt_median_ns": rtts[len(rtts) // 2], "rtt_min_ns": rtts[0],
            "rtt_max_ns": rtts[-1], "wall_s": time.perf_counter() - t_wall}


def bandwidth(b: SimBackend, a: Endpoint, z: Endpoint, size: int = 65536, iters: int = 100_000,
              depth: int = 512, signal_every: int = 64, post_list: int = 64) -> dict[str, Any]:
    """RDMA WRITE stream like ``ib_write_bw``: ``depth`` WRs in flight, every ``signal_every``-th signaled,
    ``post_list`` WRs per ``post_send`` call (1 = ib_write_bw's default; it must divide ``signal_every``).
    Rates per wall second and per CPU second of this process (on a shared machine the second is the
    emulator's own speed)."""
    env = b.fabric.env
    chunk = [SendWR(wr_id=i, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, sg_list=[SGE(a.mr.buf, size, a.mr.lkey)],
                    remote_addr=z.mr.buf, rkey=z.mr.rkey, send_flags=SIGNALED if i == signal_every - 1 else 0)
             for i in range(signal_every)]
    posted = done = 0
    t0, t_wall, t_cpu = env.now, time.perf_counter(), time.process_time()
    while done < iters:
        while posted < iters and posted - done + signal_every <= depth:
            for k in range(0, signal_every, post_list):
                a.qp.post_send(chunk[k:k + post_list] if post_list > 1 else chunk[k])
            posted += signal_every
        for wc in wait(b, a.cq, 1):
            if not wc.ok:
                raise ShiftRDMAError(f"Failed RDMA WRITE stream: {wc.status.name}")
            done += signal_every
    virtual = env.now - t0
    wall = time.perf_counter() - t_wall
    cpu = time.process_time() - t_cpu
    return {"size": size, "wrs": done, "virtual_ns": virtual, "gbps": done * size * 8 / virtual,
            "wall_s": wall, "wr_per_wall_s": done / wall if wall else float("inf"),
            "cpu_s": cpu, "wr_per_cpu_s": done / cpu if cpu else float("inf")}
