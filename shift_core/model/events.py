"""Events, traces and the sender view (Rocq ``Core/Traces.v``).

The nine Rocq event kinds are :class:`Send`, :class:`Timeout`, :class:`Completion` (sender side),
:class:`PacketLost`, :class:`AckLost` (network), :class:`Receive`, :class:`Execute` (responder NIC) and
:class:`AppConsume`, :class:`AppReuse` (receiver application). Two extensions carry what the emulator and the
rxe runs need and Rocq lacks: :class:`PostRecv` (the receiver posts a receive WQE) and :class:`Fault` (an
annotation: a NIC or link fault happened). Extensions are invisible to the sender view.

Every event has a ``t_ns`` timestamp that does not take part in equality, so a backend can time its trace
while the model compares traces exactly as Rocq does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shift_core.model.memory import INIT_MEMORY, Memory
from shift_core.model.operations import Op, OpResult, exec_op


@dataclass(frozen=True, slots=True)
class Send:
    """Rocq ``EvSend op``: the sender posts (or re-posts) ``op``."""

    op: Op
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class PacketLost:
    """Rocq ``EvPacketLost op``: the request never reaches the responder."""

    op: Op
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class AckLost:
    """Rocq ``EvAckLost op``: the responder executed ``op`` but its ACK/response is lost."""

    op: Op
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Receive:
    """Rocq ``EvReceive op``: the request arrives at the responder NIC."""

    op: Op
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Execute:
    """Rocq ``EvExecute op res``: the responder NIC executes ``op`` with result ``res``."""

    op: Op
    res: OpResult
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Completion:
    """Rocq ``EvCompletion op res``: the sender polls a successful completion for ``op``."""

    op: Op
    res: OpResult
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Timeout:
    """Rocq ``EvTimeout op``: the sender gives up on ``op`` (error completion; ``status`` names it)."""

    op: Op
    status: str = field(default="RETRY_EXC_ERR", compare=False)
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class AppConsume:
    """Rocq ``EvAppConsume addr val``: the receiver application reads ``val`` at ``addr``."""

    addr: int
    val: int
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class AppReuse:
    """Rocq ``EvAppReuse addr val``: the receiver application reuses its buffer, writing ``val``."""

    addr: int
    val: int
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class PostRecv:
    """Extension (no Rocq): the receiver posts a receive WQE pointing at buffer ``buf``."""

    buf: int
    t_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Fault:
    """Extension (no Rocq): annotation of an injected fault (``what`` e.g. ``"nic_fatal:h0.nic0"``)."""

    what: str
    t_ns: int = field(default=0, compare=False)


Event = (Send | PacketLost | AckLost | Receive | Execute | Completion | Timeout | AppConsume | AppReuse
         | PostRecv | Fault)
Trace = tuple[Event, ...]  #: Rocq ``Trace = list Event``

ROCQ_EVENT_KINDS: tuple[type, ...] = (Send, Timeout, Completion, PacketLost, AckLost, Receive, Execute,
                                      AppConsume, AppReuse)
EXTENSION_EVENT_KINDS: tuple[type, ...] = (PostRecv, Fault)


@dataclass(frozen=True, slots=True)
class ObsSent:
    """Rocq ``ObsSent op``."""

    op: Op


@dataclass(frozen=True, slots=True)
class ObsCompleted:
    """Rocq ``ObsCompleted op res``."""

    op: Op
    res: OpResult


@dataclass(frozen=True, slots=True)
class ObsTimeout:
    """Rocq ``ObsTimeout op``."""

    op: Op


SenderObs = ObsSent | ObsCompleted | ObsTimeout
View = tuple[SenderObs, ...]


def observe(ev: Event) -> SenderObs | None:
    """The sender's observation of one event, or ``None`` when the sender cannot see it."""
    if isinstance(ev, Send):
        return ObsSent(ev.op)
    if isinstance(ev, Completion):
        return ObsCompleted(ev.op, ev.res)
    if isinstance(ev, Timeout):
        return ObsTimeout(ev.op)
    return None


def sender_view(trace: Iterable[Event]) -> View:
    """Rocq ``sender_view``: keep sends, completions and timeouts, in order (a filter-map)."""
    out: list[SenderObs] = []
    for ev in trace:
        obs = observe(ev)
        if obs is not None:
            out.append(obs)
    return tuple(out)


def sender_indistinguishable(t1: Iterable[Event], t2: Iterable[Event]) -> bool:
    """Rocq ``sender_indistinguishable``: equal sender views."""
    return sender_view(t1) == sender_view(t2)


def has_packet_loss(trace: Iterable[Event], op: Op) -> bool:
    """Rocq ``has_packet_loss``."""
    return PacketLost(op) in tuple(trace)


def op_executed(trace: Iterable[Event], op: Op) -> bool:
    """Rocq ``op_executed``: some ``Execute op _`` occurs."""
    return any(isinstance(ev, Execute) and ev.op == op for ev in trace)


def has_ack_loss(trace: Iterable[Event], op: Op) -> bool:
    """Rocq ``has_ack_loss``: ``AckLost op`` occurs and ``op`` executed."""
    t = tuple(trace)
    return AckLost(op) in t and op_executed(t, op)


def op_completed(trace: Iterable[Event], op: Op) -> bool:
    """Rocq ``op_completed``."""
    return any(isinstance(ev, Completion) and ev.op == op for ev in trace)


def sender_saw_timeout(trace: Iterable[Event], op: Op) -> bool:
    """Rocq ``sender_saw_timeout``."""
    return any(isinstance(ev, Timeout) and ev.op == op for ev in trace)


def apply_event(m: Memory, ev: Event) -> Memory:
    """One step of Rocq ``memory_after_events`` (the recorded result is ignored, as in Rocq)."""
    if isinstance(ev, Execute):
        return exec_op(m, ev.op)[0]
    if isinstance(ev, AppReuse):
        return m.write(ev.addr, ev.val)
    if isinstance(ev, PostRecv):
        return m.post_recv(ev.buf)
    return m


def memory_after_events(m: Memory, trace: Iterable[Event]) -> Memory:
    """Rocq ``memory_after_events``: fold :func:`apply_event` over the trace."""
    for ev in trace:
        m = apply_event(m, ev)
    return m


def final_memory(trace: Iterable[Event], init: Memory = INIT_MEMORY) -> Memory:
    """Rocq ``final_memory`` (from ``init_memory`` unless another start is given)."""
    return memory_after_events(init, trace)
