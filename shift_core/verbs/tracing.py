"""Work requests and completions of a real verbs provider as model events (Rocq ``Core/Traces.v``).

A real NIC shows the sender only what it posts and what it polls, so a pyverbs run records the sender-side
events (``Send``, ``Completion``, ``Timeout``) and the receiver's ``PostRecv``; responder-side events
(``Receive``/``Execute``/``AckLost``) are invisible here and the model judges the run by its sender view and
the end-to-end data checks. Values: a WRITE/SEND carries the CRC-32 of its payload (the bytes at post time),
a READ returns the CRC-32 of what landed, atomics their 64-bit operands; ``uid`` is the ``wr_id``, so a WR
that SHIFT re-posts on the backup is the same operation re-sent, as in Rocq.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

from shift_core.backend.attrs import WC, SendWR
from shift_core.backend.enums import ibv_wc_status, ibv_wr_opcode
from shift_core.model import events as ev
from shift_core.model.operations import (
    CAS,
    FADD,
    CASResult,
    FADDVal,
    Op,
    OpResult,
    Read,
    ReadVal,
    SendResult,
    Write,
    WriteAck,
)
from shift_core.model.operations import Send as SendOp

#: reads ``length`` bytes at virtual address ``addr`` of a local MR with ``lkey``
LocalReader = Callable[[int, int, int], bytes]


def payload_value(data: bytes) -> int:
    """The model value of a payload: its CRC-32 (cheap, and equal payloads compare equal)."""
    return zlib.crc32(data)


@dataclass(slots=True)
class Posted:
    """One posted send WR still owned by the provider (until its completion or flush)."""

    wr_id: int
    opcode: ibv_wr_opcode
    op: Op
    signaled: bool
    sges: tuple[tuple[int, int, int], ...]  #: (addr, length, lkey)


def op_of(wr: SendWR, read_local: LocalReader) -> Op:
    """The model operation a send WR performs."""
    opc = ibv_wr_opcode(wr.opcode)
    if opc in (ibv_wr_opcode.IBV_WR_RDMA_WRITE, ibv_wr_opcode.IBV_WR_RDMA_WRITE_WITH_IMM):
        return Write(wr.remote_addr, payload_value(_gather(wr, read_local)), wr.wr_id)
    if opc == ibv_wr_opcode.IBV_WR_RDMA_READ:
        return Read(wr.remote_addr, wr.wr_id)
    if opc == ibv_wr_opcode.IBV_WR_ATOMIC_FETCH_AND_ADD:
        return FADD(wr.remote_addr, wr.compare_add, wr.wr_id)
    if opc == ibv_wr_opcode.IBV_WR_ATOMIC_CMP_AND_SWP:
        return CAS(wr.remote_addr, wr.compare_add, wr.swap, wr.wr_id)
    return SendOp(payload_value(_gather(wr, read_local)), wr.wr_id)


def _gather(wr: SendWR, read_local: LocalReader) -> bytes:
    return b"".join(read_local(s.addr, s.length, s.lkey) for s in wr.sg_list)


def result_of(p: Posted, read_local: LocalReader) -> OpResult:
    """The result a successful completion of ``p`` returns to the sender (read from the local buffers)."""
    if isinstance(p.op, Write):
        return WriteAck()
    landed = b"".join(read_local(a, n, k) for a, n, k in p.sges)
    if isinstance(p.op, Read):
        return ReadVal(payload_value(landed))
    if isinstance(p.op, FADD):
        return FADDVal(int.from_bytes(landed[:8], "little"))
    if isinstance(p.op, CAS):
        old = int.from_bytes(landed[:8], "little")
        return CASResult(old == p.op.expected, old)
    return SendResult(0)  # the sender cannot see which receive buffer a SEND consumed; 0 = "some buffer"


def completion_event(p: Posted, wc: WC, read_local: LocalReader, t_ns: int) -> ev.Event:
    """``Completion`` for a successful WC, ``Timeout`` (status named) for an error or flush WC."""
    if wc.status == ibv_wc_status.IBV_WC_SUCCESS:
        return ev.Completion(p.op, result_of(p, read_local), t_ns)
    return ev.Timeout(p.op, wc.status.name.removeprefix("IBV_WC_"), t_ns)
