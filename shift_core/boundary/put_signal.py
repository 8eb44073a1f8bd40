"""NVSHMEM ``put_signal`` and MSCCL++ ``putWithSignal``: data RDMA WRITEs, then an atomic signal the receiver waits on.

Per iteration the sender posts the data WRITE(s) into slot ``s % slots`` and an RDMA FETCH_AND_ADD of 1 on the
receiver's signal word, on the same QP (RC order puts the atomic after the data). The receiver waits until the
signal reaches ``s + 1`` (``nvshmem_signal_wait_until(sig, NVSHMEM_CMP_GE, s + 1)``; MSCCL++ ``wait()`` on its
monotonic semaphore), reads the slot, then releases it to the sender.

``reuse="in_place"`` (NVSHMEM: the symmetric buffer is application memory) adds what applications do with it:
after reading, the receiver writes its own result into the buffer and reads it back before releasing it; a
retransmitted WRITE landing in between is the paper's "ghost write". ``reuse="slot"`` (MSCCL++) releases the
slot straight away; the sender's next iteration reuses it.

``early_read=True`` is the deliberately broken receiver rule (read the slot without waiting for the signal),
the positive control that the search catches violations.
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
from shift_core.model.operations import FADD, Write


@dataclass(frozen=True)
class SignalProtocol(BoundaryProtocol):
    """Data WRITE(s) + atomic FETCH_AND_ADD signal; the receiver waits for ``signal >= s + 1`` before reading."""

    protocol: str = "nvshmem"
    packets: int = 2
    reuse: Literal["in_place", "slot"] = "in_place"
    early_read: bool = False
    title: str = "NVSHMEM put_signal: data WRITE + atomic signal, receiver waits on the signal"
    ops: str = "WRITE + ATOMIC_FETCH_AND_ADD (signal)"

    def bound(self) -> dict[str, Any]:
        return {**BoundaryProtocol.bound(self), "packets": self.packets, "reuse": self.reuse}

    def table(self) -> tuple[WRSpec, ...]:
        out: list[WRSpec] = []
        for s in range(self.steps):
            base = L.DATA + (s % self.slots) * self.packets
            wid = len(out)
            pkts = tuple((Write(base + p, s + 1, L.uid(wid, p)),) for p in range(self.packets))
            out.append(WRSpec(f"D{s}", "RDMA_WRITE", "rx", pkts, signaled=False))
            wid = len(out)
            out.append(WRSpec(f"A{s}", "ATOMIC_FETCH_AND_ADD", "rx", ((FADD(L.SIGNAL, 1, L.uid(wid, 0)),),)))
        return tuple(out)

    def init(self) -> State:
        return State(Memory(), Memory(), (QP(),), (0,) * (2 * self.steps), snd=(0,), rcv=(0, 0, 0, 0))

    def done(self, s: State) -> bool:
        return s.rcv[0] == self.steps

    def app_moves(self, s: State) -> Iterator[Move]:
        (nxt,) = s.snd
        cur, phase, i, released = s.rcv
        if nxt < self.steps and (nxt < self.slots or released > nxt - self.slots):
            step, s2, _ = post(s, 0, (2 * nxt, 2 * nxt + 1), self.table())
            yield replace(step, text=f"slot free for step {nxt}; " + step.text), replace(s2, snd=(nxt + 1,)), None
        if cur >= self.steps:
            return
        base = L.DATA + (cur % self.slots) * self.packets
        if phase == 0:
            v = s.rx.read(L.SIGNAL)
            if v >= cur + 1 or self.early_read:
                how = "reads without waiting" if self.early_read else f"signal_wait_until(sig >= {cur + 1}) returns"
                yield (Step("receiver", f"{how} (sig = {v})", "rx", (AppConsume(L.SIGNAL, v),)),
                       replace(s, rcv=(cur, 1, 0, released)), None)
            return
        if phase == 1:
            addr = base + i
            v = s.rx.read(addr)
            bad = None if v == cur + 1 else "stale_or_torn_read"
            last = i + 1 == self.packets
            nphase = (2 if self.reuse == "in_place" else 0) if last else 1
            rcv = ((cur + 1, 0, 0, released + 1) if nphase == 0 and last else (cur, nphase, 0 if last else i + 1,
                                                                                released))
            tail = "; slot released" if nphase == 0 and last else ""
            yield (Step("receiver", f"read [{addr}] = {v} (step {cur} expects {cur + 1}){tail}", "rx",
                        (AppConsume(addr, v),), cur + 1), replace(s, rcv=rcv), bad)
            return
        mine = L.REUSE + cur
        if phase == 2:
            yield (Step("receiver", f"reuse buffer in place: write [{base}] = {mine}", "rx", (AppReuse(base, mine),)),
                   replace(s, rx=s.rx.write(base, mine), rcv=(cur, 3, 0, released)), None)
            return
        v = s.rx.read(base)
        bad = None if v == mine else "ghost_write"
        yield (Step("receiver", f"read back own result [{base}] = {v} (expects {mine}); slot released", "rx",
                    (AppConsume(base, v),), mine), replace(s, rcv=(cur + 1, 0, 0, released + 1)), bad)
