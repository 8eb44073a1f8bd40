"""Execution counts, safety/liveness predicates and overlays (Rocq ``Core/Properties.v``).

Rocq's ``Linearizable`` is the placeholder ``True``; we do not model it (FADD/CAS violations are stated as
execution counts and memory/result inequalities, as in Rocq).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shift_core.model.events import Event, Execute, Send, Trace, View, op_completed, sender_view
from shift_core.model.operations import Op

Overlay = Callable[[Trace, Op], bool]  #: Rocq ``Overlay``: true = retransmit, false = skip
TransparentOverlay = Callable[[View, Op], bool]  #: a decision that sees only the sender view


def execution_count(trace: Iterable[Event], op: Op) -> int:
    """Rocq ``execution_count``: how many ``Execute op _`` the trace holds (results ignored)."""
    return sum(1 for ev in trace if isinstance(ev, Execute) and ev.op == op)


def sent_ops(trace: Iterable[Event]) -> tuple[Op, ...]:
    """The distinct ops sent in the trace, in first-send order."""
    seen: dict[Op, None] = {}
    for ev in trace:
        if isinstance(ev, Send):
            seen.setdefault(ev.op, None)
    return tuple(seen)


def executed_ops(trace: Iterable[Event]) -> tuple[Op, ...]:
    """The distinct ops executed in the trace, in first-execution order."""
    seen: dict[Op, None] = {}
    for ev in trace:
        if isinstance(ev, Execute):
            seen.setdefault(ev.op, None)
    return tuple(seen)


def at_most_once(trace: Iterable[Event]) -> bool:
    """Rocq ``AtMostOnce``: every op executes at most once."""
    t = tuple(trace)
    return all(execution_count(t, op) <= 1 for op in executed_ops(t))


def exactly_once(trace: Iterable[Event]) -> bool:
    """Rocq ``ExactlyOnce``: every sent op executes exactly once."""
    t = tuple(trace)
    return all(execution_count(t, op) == 1 for op in sent_ops(t))


def live(trace: Iterable[Event]) -> bool:
    """Rocq ``Live``: every sent op completes."""
    t = tuple(trace)
    return all(op_completed(t, op) for op in sent_ops(t))


def lift(decide: TransparentOverlay) -> Overlay:
    """Turn a view-only decision ``D'`` into an overlay ``D = D' . sender_view`` (transparent by construction)."""

    def overlay(trace: Trace, op: Op) -> bool:
        return decide(sender_view(trace), op)

    return overlay


def is_transparent_on(overlay: Overlay, traces: Iterable[Trace], ops: Iterable[Op]) -> bool:
    """Rocq ``IsTransparent``, restricted to a finite universe: equal views imply equal decisions."""
    decisions: dict[tuple[View, Op], bool] = {}
    universe = tuple(traces)
    for op in tuple(ops):
        for t in universe:
            key = (sender_view(t), op)
            d = overlay(t, op)
            if decisions.setdefault(key, d) != d:
                return False
    return True
