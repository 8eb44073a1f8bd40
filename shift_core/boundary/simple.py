"""NCCL Simple over ``net_ib``: the data chain (``ncclIbMultiSend``) and the reverse CTS (``ncclIbPostFifo``).

Main path (:class:`Simple`): per iteration the sender posts unsignaled RDMA WRITEs of the chunk and one
signaled RDMA WRITE_WITH_IMM (NCCL: immediate = size); the receiver touches the slot only after polling that
WRITE_WITH_IMM's CQE, then releases the slot (its next CTS lets the sender reuse it). The CTS path is taken as
reliable here: its own exposure is the separate :class:`SimpleCTS` check.

Exception (:class:`SimpleCTS`): the receiver writes each CTS entry (remote addr, rkey, size, tag, idx) into the
sender's FIFO with a plain RDMA WRITE. The sender (``ncclIbIsend``) polls ``slots[0].idx == fifoHead + 1``,
then, after ``__sync_synchronize()``, reads addr/rkey/size/tag, sends, and ``memset``\\s the slot to 0. The
two reads are separate moves, as in NCCL. The FIFO has ``slots`` entries reused round-robin (NCCL: 64 slots,
older releases 32; the bound here is small, the structure is the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from shift_core.boundary import layout as L
from shift_core.boundary.protocol import BoundaryProtocol
from shift_core.boundary.transport import QP, Move, State, Step, WRSpec, post
from shift_core.model.events import AppConsume, AppReuse
from shift_core.model.memory import Memory
from shift_core.model.operations import Send as SendOp
from shift_core.model.operations import Write


@dataclass(frozen=True)
class Simple(BoundaryProtocol):
    """NCCL Simple's data chain: WRITE x ``data_wrs`` (``packets`` each) + WRITE_WITH_IMM; read after the CQE.

    ``reuse="in_place"`` models zero-copy into registered user buffers: after reading, the application writes its
    own result into the buffer and reads it back before releasing it (a ghost write would show there).
    """

    protocol: str = "nccl_simple"
    data_wrs: int = 1
    packets: int = 2
    reuse: Literal["slot", "in_place"] = "slot"
    title: str = "NCCL Simple data chain: data WRITEs + WRITE_WITH_IMM, receiver reads after the IMM's CQE"
    ops: str = "WRITE x n + WRITE_WITH_IMM"

    @property
    def cells(self) -> int:
        return self.data_wrs * self.packets

    def bound(self) -> dict[str, Any]:
        return {**BoundaryProtocol.bound(self), "data_wrs": self.data_wrs, "packets": self.packets,
                "reuse": self.reuse}

    def _wrs(self, s: int) -> tuple[int, ...]:
        base = s * (self.data_wrs + 1)
        return tuple(range(base, base + self.data_wrs + 1))

    def table(self) -> tuple[WRSpec, ...]:
        out: list[WRSpec] = []
        for s in range(self.steps):
            slot = s % self.slots
            for w in range(self.data_wrs):
                wid = len(out)
                pkts = tuple((Write(L.DATA + slot * self.cells + w * self.packets + p, s + 1, L.uid(wid, p)),)
                             for p in range(self.packets))
                out.append(WRSpec(f"D{s}.{w}", "RDMA_WRITE", "rx", pkts, signaled=False))
            wid = len(out)
            out.append(WRSpec(f"I{s}", "RDMA_WRITE_WITH_IMM", "rx", ((SendOp(s + 1, L.uid(wid, 0)),),)))
        return tuple(out)

    def init(self) -> State:
        rx = Memory.of(rq=[L.CQE + k for k in range(self.steps + 1)])
        return State(rx, Memory(), (QP(),), (0,) * len(self.table()), snd=(0,), rcv=(0, 0, 0, 0))

    def done(self, s: State) -> bool:
        return s.rcv[0] == self.steps

    def app_moves(self, s: State) -> Iterator[Move]:
        (nxt,) = s.snd
        cur, phase, i, released = s.rcv
        if nxt < self.steps and (nxt < self.slots or released > nxt - self.slots):
            step, s2, _ = post(s, 0, self._wrs(nxt), self.table())
            yield replace(step, text=f"CTS for step {nxt} seen; " + step.text), replace(s2, snd=(nxt + 1,)), None
        if cur >= self.steps:
            return
        if phase == 0:
            v = s.rx.read(L.CQE + cur)
            if v:
                bad = None if v == cur + 1 else "wrong_notification"
                yield (Step("receiver", f"poll_cq: CQE #{cur} imm={v} (step {cur} expects {cur + 1})", "rx",
                            (AppConsume(L.CQE + cur, v),), cur + 1), replace(s, rcv=(cur, 1, 0, released)), bad)
            return
        base = L.DATA + (cur % self.slots) * self.cells
        if phase == 2:
            yield (Step("receiver", f"reuse buffer in place: write [{base}] = {L.REUSE + cur}", "rx",
                        (AppReuse(base, L.REUSE + cur),)),
                   replace(s, rx=s.rx.write(base, L.REUSE + cur), rcv=(cur, 3, 0, released)), None)
            return
        if phase == 3:
            v = s.rx.read(base)
            bad = None if v == L.REUSE + cur else "ghost_write"
            yield (Step("receiver", f"read back own result [{base}] = {v} (expects {L.REUSE + cur}); slot released",
                        "rx", (AppConsume(base, v),), L.REUSE + cur),
                   replace(s, rcv=(cur + 1, 0, 0, released + 1)), bad)
            return
        addr = base + i
        v = s.rx.read(addr)
        bad = None if v == cur + 1 else "stale_or_torn_read"
        last = i + 1 == self.cells
        if last and self.reuse == "in_place":
            rcv = (cur, 2, 0, released)
        else:
            rcv = (cur + 1, 0, 0, released + 1) if last else (cur, 1, i + 1, released)
        tail = "; slot released (next CTS may reuse it)" if last and self.reuse == "slot" else ""
        yield (Step("receiver", f"read [{addr}] = {v} (step {cur} expects {cur + 1}){tail}", "rx",
                    (AppConsume(addr, v),), cur + 1), replace(s, rcv=rcv), bad)


@dataclass(frozen=True)
class SimpleCTS(BoundaryProtocol):
    """NCCL Simple's reverse CTS: plain RDMA WRITE of (addr, idx) into the sender's FIFO slot; idx polled first."""

    protocol: str = "nccl_simple"
    variant: str = "cts"
    title: str = "NCCL Simple reverse CTS: plain WRITE of (addr, rkey, tag, idx) into the sender's FIFO"
    ops: str = "CTS: WRITE (reverse)"

    def table(self) -> tuple[WRSpec, ...]:
        return tuple(
            WRSpec(f"CTS{s}", "RDMA_WRITE", "tx",
                   ((Write(L.FIFO + 2 * (s % self.slots), self._addr(s), L.uid(s, 0, 0)),
                     Write(L.FIFO + 2 * (s % self.slots) + 1, s + 1, L.uid(s, 0, 1))),),
                   signaled=s % self.slots == 0)  # ncclIbPostFifo: IBV_SEND_SIGNALED only when slot == 0
            for s in range(self.steps))

    @staticmethod
    def _addr(s: int) -> int:
        """The receive-buffer address CTS ``s`` advertises (stands for addr, rkey, size and tag)."""
        return 101 + s

    def init(self) -> State:
        return State(Memory(), Memory(), (QP(),), (0,) * self.steps, snd=(0, 0), rcv=(0, 0))

    def done(self, s: State) -> bool:
        return s.snd[0] == self.steps

    def app_moves(self, s: State) -> Iterator[Move]:
        cur, phase = s.snd
        posted, recv_done = s.rcv
        if posted < self.steps and (posted < self.slots or recv_done > posted - self.slots):
            step, s2, _ = post(s, 0, (posted,), self.table(), who="receiver")
            yield (replace(step, text=f"irecv step {posted}: ncclIbPostFifo " + step.text),
                   replace(s2, rcv=(posted + 1, recv_done)), None)
        if cur >= self.steps:
            return
        j = cur % self.slots
        if phase == 0:
            v = s.tx.read(L.FIFO + 2 * j + 1)
            if v == cur + 1:
                yield (Step("sender", f"isend step {cur}: slots[{j}].idx == {v} (fifoHead+1)", "tx",
                            (AppConsume(L.FIFO + 2 * j + 1, v),), cur + 1), replace(s, snd=(cur, 1)), None)
            return
        a = s.tx.read(L.FIFO + 2 * j)
        bad = None if a == self._addr(cur) else "stale_cts_read"
        tx = s.tx.write(L.FIFO + 2 * j, 0).write(L.FIFO + 2 * j + 1, 0)
        yield (Step("sender", f"isend step {cur}: read slots[{j}].addr = {a} (expects {self._addr(cur)}); "
                              f"WRITE data there + WRITE_WITH_IMM; memset(slot {j}, 0)", "tx",
                    (AppConsume(L.FIFO + 2 * j, a), AppReuse(L.FIFO + 2 * j, 0), AppReuse(L.FIFO + 2 * j + 1, 0)),
                    self._addr(cur)),
               replace(s, tx=tx, snd=(cur + 1, 0), rcv=(posted, recv_done + 1)), bad)
