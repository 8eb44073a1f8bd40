"""RDMA operations, their results and ``exec_op`` (Rocq ``Core/Operations.v``).

Rocq identifies operations by value (``op_eq`` is structural), so two posts of the same op cannot be told
apart. We keep value equality and add an optional ``uid`` (default 0) so a backend can give each work
request its own identity; model checks that mirror Rocq leave it at 0.

``Send`` (two-sided SEND consuming a receive WQE) is our extension: Rocq has no SEND/RECV.
"""

from __future__ import annotations

from dataclasses import dataclass

from shift_core.model.memory import Memory


@dataclass(frozen=True, slots=True)
class Write:
    """Rocq ``OpWrite a v`` (RDMA WRITE of one value)."""

    addr: int
    val: int
    uid: int = 0


@dataclass(frozen=True, slots=True)
class Read:
    """Rocq ``OpRead a`` (RDMA READ)."""

    addr: int
    uid: int = 0


@dataclass(frozen=True, slots=True)
class FADD:
    """Rocq ``OpFADD a delta`` (RDMA FETCH_AND_ADD)."""

    addr: int
    delta: int
    uid: int = 0


@dataclass(frozen=True, slots=True)
class CAS:
    """Rocq ``OpCAS a expected new`` (RDMA COMPARE_AND_SWAP)."""

    addr: int
    expected: int
    new: int
    uid: int = 0


@dataclass(frozen=True, slots=True)
class Send:
    """Two-sided SEND of ``val`` into the buffer of the head receive WQE (our extension; no Rocq)."""

    val: int
    uid: int = 0


Op = Write | Read | FADD | CAS | Send


@dataclass(frozen=True, slots=True)
class WriteAck:
    """Rocq ``ResWriteAck``."""


@dataclass(frozen=True, slots=True)
class ReadVal:
    """Rocq ``ResReadVal v``."""

    val: int


@dataclass(frozen=True, slots=True)
class FADDVal:
    """Rocq ``ResFADDVal old``."""

    old: int


@dataclass(frozen=True, slots=True)
class CASResult:
    """Rocq ``ResCASResult success old``."""

    success: bool
    old: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """Result of a SEND (our extension): the buffer it landed in, or ``None`` for RNR (no receive WQE)."""

    buf: int | None


OpResult = WriteAck | ReadVal | FADDVal | CASResult | SendResult

NON_IDEMPOTENT = (FADD, CAS)  #: Rocq ``NonIdempotentOp``: syntactically FADD or CAS


def is_non_idempotent(op: Op) -> bool:
    """Rocq ``NonIdempotentOp`` (FADD or CAS). SEND is non-idempotent too (queue sliding), but Rocq
    has no SEND; use :func:`consumes_resources` for the two-sided notion."""
    return isinstance(op, NON_IDEMPOTENT)


def consumes_resources(op: Op) -> bool:
    """True for ops whose repetition is not harmless even on an unchanged memory: atomics and SEND."""
    return isinstance(op, (FADD, CAS, Send))


def exec_op(m: Memory, op: Op) -> tuple[Memory, OpResult]:
    """Rocq ``exec_op``: execute ``op`` on ``m``, returning the new memory and the result."""
    if isinstance(op, Write):
        return m.write(op.addr, op.val), WriteAck()
    if isinstance(op, Read):
        return m, ReadVal(m.read(op.addr))
    if isinstance(op, FADD):
        old = m.read(op.addr)
        return m.write(op.addr, old + op.delta), FADDVal(old)
    if isinstance(op, CAS):
        old = m.read(op.addr)
        if old == op.expected:
            return m.write(op.addr, op.new), CASResult(True, old)
        return m, CASResult(False, old)
    if isinstance(op, Send):
        m2, buf = m.pop_recv()
        if buf is None:
            return m, SendResult(None)
        return m2.write(buf, op.val), SendResult(buf)
    raise TypeError(f"not an operation: {op!r}")


def idempotent(op: Op, m: Memory) -> bool:
    """Rocq ``Idempotent op m``: executing twice leaves the same memory AND the same result as once."""
    m1, r1 = exec_op(m, op)
    m2, r2 = exec_op(m1, op)
    return m1 == m2 and r1 == r2
