"""NCCL LL and LL128 over ``net_ib``: data and flag in the same line of a plain RDMA WRITE.

The sender posts, per iteration, one RDMA WRITE of ``packets`` x ``lines`` lines into slot ``s % slots`` and (as
``ncclIbIsend`` does for every protocol) a closing WRITE_WITH_IMM. A line carries data and flag together: LL's
8-byte half-line is 4 B data + 4 B flag, written with 8-byte atomicity (NCCL's stated assumption); LL128's
128-byte line is 120 B data + 8 B flag, relying on in-order writes within the line. The receiver consumes a
line as soon as its flag matches (before any notification) and releases the slot once every line of the
iteration is consumed; independently, its proxy polls the WRITE_WITH_IMM CQEs and checks each notification's
step.

``split_line=True`` (LL128) writes a line as two units in address order, data then flag, each a separate step
of the NIC's DMA: the in-order ("byte-level ordering") guarantee LL128 relies on, without making the 128 bytes
atomic. The receiver reads the flag and the data together (one warp-wide load). ``split_line=False`` (LL) keeps
each 8-byte half-line (4 B data + 4 B flag) one atomic cell.

``flag="step"`` is NCCL's rule: the flag is ``NCCL_LL_FLAG(step + 1)`` (a 32-bit step number, so a line from an
older iteration never matches). ``flag="valid_bit"`` is a deliberately different rule (flag = 1, the receiver
clears a line after consuming it), used as the positive control that the search catches a broken rule.
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
from shift_core.model.operations import Op, Write
from shift_core.model.operations import Send as SendOp

FLAG_BITS = 8  #: a line value is data << FLAG_BITS | flag


@dataclass(frozen=True)
class LL(BoundaryProtocol):
    """LL / LL128: lines of (data, flag) in one RDMA WRITE + WRITE_WITH_IMM; consume a line when its flag matches."""

    protocol: str = "nccl_ll"
    packets: int = 2
    lines: int = 1
    flag: Literal["step", "valid_bit"] = "step"
    line_bytes: int = 8
    split_line: bool = False
    title: str = "NCCL LL: 8-byte lines (4 B data + 4 B flag), receiver consumes a line when its flag matches"
    ops: str = "WRITE (data+flag lines) + WRITE_WITH_IMM"

    @property
    def lines_total(self) -> int:
        return self.packets * self.lines

    @property
    def cells(self) -> int:
        return self.lines_total * (2 if self.split_line else 1)

    def bound(self) -> dict[str, Any]:
        return {**BoundaryProtocol.bound(self), "packets": self.packets, "lines_per_packet": self.lines,
                "flag": self.flag, "line_bytes": self.line_bytes, "split_line": self.split_line}

    def line(self, s: int) -> int:
        """The value of every line iteration ``s`` writes: data ``s + 1`` and its flag."""
        return (s + 1) << FLAG_BITS | self._flag(s)

    def _flag(self, s: int) -> int:
        return s + 1 if self.flag == "step" else 1

    def table(self) -> tuple[WRSpec, ...]:
        out: list[WRSpec] = []
        for s in range(self.steps):
            base = L.DATA + (s % self.slots) * self.cells
            wid = len(out)
            pkts: tuple[tuple[Op, ...], ...]
            if self.split_line:  # data unit, then flag unit, line after line (DMA in address order)
                pkts = tuple((Write(base + 2 * k + half, s + 1 if half == 0 else self._flag(s), L.uid(wid, k, half)),)
                             for k in range(self.lines_total) for half in (0, 1))
            else:
                pkts = tuple(tuple(Write(base + p * self.lines + c, self.line(s), L.uid(wid, p, c))
                                   for c in range(self.lines)) for p in range(self.packets))
            out.append(WRSpec(f"D{s}", "RDMA_WRITE", "rx", pkts, signaled=False))
            wid = len(out)
            out.append(WRSpec(f"I{s}", "RDMA_WRITE_WITH_IMM", "rx", ((SendOp(s + 1, L.uid(wid, 0)),),)))
        return tuple(out)

    def init(self) -> State:
        rx = Memory.of(rq=[L.CQE + k for k in range(self.steps + 1)])
        return State(rx, Memory(), (QP(),), (0,) * (2 * self.steps), snd=(0,), rcv=(0, 0, 0, 0))

    def done(self, s: State) -> bool:
        return s.rcv[0] == self.steps

    def app_moves(self, s: State) -> Iterator[Move]:
        (nxt,) = s.snd
        cur, i, released, cq = s.rcv
        if nxt < self.steps and (nxt < self.slots or released > nxt - self.slots):
            step, s2, _ = post(s, 0, (2 * nxt, 2 * nxt + 1), self.table())
            yield replace(step, text=f"slot free for step {nxt}; " + step.text), replace(s2, snd=(nxt + 1,)), None
        if cq < self.steps:
            v = s.rx.read(L.CQE + cq)
            if v:
                bad = None if v == cq + 1 else "wrong_notification"
                yield (Step("receiver", f"proxy poll_cq: CQE #{cq} imm={v} (expects {cq + 1})", "rx",
                            (AppConsume(L.CQE + cq, v),), cq + 1), replace(s, rcv=(cur, i, released, cq + 1)), bad)
        if cur >= self.steps:
            return
        base = L.DATA + (cur % self.slots) * self.cells
        if self.split_line:
            addr, flag_addr = base + 2 * i, base + 2 * i + 1
            v, flag = s.rx.read(addr), s.rx.read(flag_addr)
            want = cur + 1
        else:
            addr = flag_addr = base + i
            v = s.rx.read(addr)
            flag = v & ((1 << FLAG_BITS) - 1)
            want = self.line(cur)
        if flag != self._flag(cur):
            return  # flag does not match yet: keep polling (no move)
        bad = None if v == want else "stale_or_torn_read"
        last = i + 1 == self.lines_total
        events: tuple[Any, ...] = (AppConsume(addr, v),)
        rx = s.rx
        if self.flag == "valid_bit":
            for a in dict.fromkeys((addr, flag_addr)):
                events += (AppReuse(a, 0),)
                rx = rx.write(a, 0)
        rcv = (cur + 1, 0, released + 1, cq) if last else (cur, i + 1, released, cq)
        tail = "; slot released" if last else ""
        clear = "; clear line" if self.flag == "valid_bit" else ""
        data = v if self.split_line else v >> FLAG_BITS
        yield (Step("receiver", f"line {i} flag [{flag_addr}] = {flag} matches: consume data [{addr}] = {data} "
                                f"(step {cur} expects {cur + 1}){clear}{tail}", "rx", events, want),
               replace(s, rx=rx, rcv=rcv), bad)
