"""Counterexamples as drawable sequence diagrams (lanes + arrows), plus readable labels for events and ops.

Rocq has no counterpart; this is how the book shows what the searches find. A :class:`Diagram` is plain data
(lanes, then steps in order), exported as JSON (``to_json``) and as a Mermaid ``sequenceDiagram``
(``to_mermaid``). A trace maps onto three lanes: ``sender`` (the requester and its NIC: posts, completions,
timeouts), ``nic`` (the responder NIC: receive, execute) and ``receiver`` (the responder application: consume,
reuse, post_recv). Losses are arrows that do not arrive (``lost=True``). Schedules of concurrent actors (the CAS
search) use one lane per actor plus ``memory``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shift_core.model.events import (
    AckLost,
    AppConsume,
    AppReuse,
    Completion,
    Event,
    Execute,
    Fault,
    PacketLost,
    PostRecv,
    Receive,
    Send,
    Timeout,
)
from shift_core.model.operations import CAS, FADD, CASResult, FADDVal, Op, OpResult, Read, ReadVal, SendResult, Write

TRACE_LANES: tuple[str, ...] = ("sender", "nic", "receiver")


def op_label(op: Op) -> str:
    """Short verbs-style name of an operation, e.g. ``FADD(a0,+1)`` or ``CAS(a0,0->1)``."""
    if isinstance(op, Write):
        return f"WRITE(a{op.addr},{op.val})"
    if isinstance(op, Read):
        return f"READ(a{op.addr})"
    if isinstance(op, FADD):
        return f"FADD(a{op.addr},+{op.delta})"
    if isinstance(op, CAS):
        return f"CAS(a{op.addr},{op.expected}->{op.new})"
    return f"SEND({op.val})"


def result_label(res: OpResult) -> str:
    """Short name of a result, e.g. ``old=0`` or ``ok,old=0``."""
    if isinstance(res, FADDVal):
        return f"old={res.old}"
    if isinstance(res, CASResult):
        return f"{'ok' if res.success else 'fail'},old={res.old}"
    if isinstance(res, ReadVal):
        return f"val={res.val}"
    if isinstance(res, SendResult):
        return "RNR" if res.buf is None else f"buf=a{res.buf}"
    return "ack"


def event_label(ev: Event) -> str:
    """One event in the Rocq vocabulary, e.g. ``Execute(FADD(a0,+1)) -> old=0``."""
    if isinstance(ev, (Execute, Completion)):
        return f"{type(ev).__name__}({op_label(ev.op)}) -> {result_label(ev.res)}"
    if isinstance(ev, (Send, PacketLost, AckLost, Receive, Timeout)):
        return f"{type(ev).__name__}({op_label(ev.op)})"
    if isinstance(ev, (AppConsume, AppReuse)):
        return f"{type(ev).__name__}(a{ev.addr},{ev.val})"
    if isinstance(ev, PostRecv):
        return f"PostRecv(a{ev.buf})"
    if isinstance(ev, Fault):
        return f"Fault({ev.what})"
    raise TypeError(f"not an event: {ev!r}")


def trace_labels(trace: Iterable[Event]) -> tuple[str, ...]:
    """The counterexample form stored in :class:`~shift_core.model.check.CheckResult`."""
    return tuple(event_label(ev) for ev in trace)


@dataclass(frozen=True, slots=True)
class Step:
    """One arrow (``src != dst``) or note (``src == dst``) of a sequence diagram."""

    src: str
    dst: str
    label: str
    lost: bool = False


@dataclass(frozen=True, slots=True)
class Diagram:
    """A drawable counterexample: lanes left to right, steps top to bottom."""

    title: str
    lanes: tuple[str, ...]
    steps: tuple[Step, ...]

    def to_json(self) -> dict[str, object]:
        return {"title": self.title, "lanes": list(self.lanes),
                "steps": [{"src": s.src, "dst": s.dst, "label": s.label, "lost": s.lost} for s in self.steps]}

    def to_mermaid(self) -> str:
        """A Mermaid ``sequenceDiagram`` (lost messages drawn as ``--x``, local actions as notes)."""
        lines = ["sequenceDiagram", f"    title {self.title}"]
        lines += [f"    participant {lane}" for lane in self.lanes]
        for s in self.steps:
            label = s.label.replace(";", ",")
            if s.src == s.dst:
                lines.append(f"    Note over {s.src}: {label}")
            else:
                lines.append(f"    {s.src}{'--x' if s.lost else '->>'}{s.dst}: {label}")
        return "\n".join(lines) + "\n"


def _trace_step(ev: Event) -> Step:
    label = event_label(ev)
    if isinstance(ev, Send):
        return Step("sender", "nic", label)
    if isinstance(ev, PacketLost):
        return Step("sender", "nic", label, lost=True)
    if isinstance(ev, AckLost):
        return Step("nic", "sender", label, lost=True)
    if isinstance(ev, Completion):
        return Step("nic", "sender", label)
    if isinstance(ev, (Receive, Execute)):
        return Step("nic", "nic", label)
    if isinstance(ev, PostRecv):
        return Step("receiver", "nic", label)
    if isinstance(ev, (AppConsume, AppReuse)):
        return Step("receiver", "receiver", label)
    return Step("sender", "sender", label)  # Timeout, Fault


def trace_diagram(title: str, trace: Sequence[Event]) -> Diagram:
    """Sender / NIC / receiver lanes for one trace."""
    return Diagram(title, TRACE_LANES, tuple(_trace_step(ev) for ev in trace))


def pair_diagram(title: str, t1: Sequence[Event], t2: Sequence[Event]) -> Diagram:
    """Two traces with equal sender views, one after the other, separated by a note on every lane."""
    sep = (Step("sender", "sender", "--- T2 (same sender view) ---"),)
    first = (Step("sender", "sender", "--- T1 ---"),)
    return Diagram(title, TRACE_LANES, first + tuple(map(_trace_step, t1)) + sep + tuple(map(_trace_step, t2)))


def schedule_diagram(title: str, actors: Sequence[str], steps: Sequence[tuple[str, str]]) -> Diagram:
    """Concurrent actors acting on one memory: each ``(actor, label)`` is an arrow actor -> ``memory``."""
    return Diagram(title, (*actors, "memory"), tuple(Step(a, "memory", label) for a, label in steps))
