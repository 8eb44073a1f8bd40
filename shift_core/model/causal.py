"""The ``causal`` trace universe: a well-formedness automaton over events.

Rocq's theorems quantify over *every* list of events (the ``rocq`` universe): nothing stops an ``Execute``
without a ``Receive`` or a ``Completion`` after a lost ACK. Rocq defines two well-formedness predicates
(``wf_execute_after_receive``, ``wf_loss_after_send``) and never uses them. This automaton is the physical
reading, per operation (identified by value, as in Rocq):

==========  ===============================================  ==========
event       allowed when (phase of that op)                  next phase
==========  ===============================================  ==========
Send        idle, lost, ack_lost, timed_out (a retry)        sent
PacketLost  sent                                             lost
Receive     sent                                             received
Execute     received; result = ``exec_op`` on memory         executed
AckLost     executed                                         ack_lost
Completion  executed; or sent/received/lost after an         completed
            earlier attempt executed (RC duplicate
            detection); result = the executed result
Timeout     lost, ack_lost (the RC timer fires only when a   timed_out
            request or its ACK was dropped)
==========  ===============================================  ==========

Application events: ``AppConsume(a, v)`` needs memory[a] = v (the app reads what is there);
``AppReuse(a, v)`` needs an earlier ``AppConsume`` of ``a`` not yet followed by a reuse (consume, then reuse).
Extensions: ``PostRecv`` and ``Fault`` are always allowed.

A transport-level retransmission after a loss is a second ``Send`` of the same op ("retry = a second Send").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
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
    apply_event,
)
from shift_core.model.memory import INIT_MEMORY, Memory
from shift_core.model.operations import Op, OpResult, exec_op


class Phase(enum.Enum):
    """Where one operation's current attempt stands."""

    IDLE = "idle"
    SENT = "sent"
    LOST = "lost"
    RECEIVED = "received"
    EXECUTED = "executed"
    ACK_LOST = "ack_lost"
    COMPLETED = "completed"
    TIMED_OUT = "timed_out"


SEND_FROM = frozenset({Phase.IDLE, Phase.LOST, Phase.ACK_LOST, Phase.TIMED_OUT})
TIMEOUT_FROM = frozenset({Phase.LOST, Phase.ACK_LOST})
#: a re-sent attempt may complete without executing again when an earlier attempt executed (RC duplicate
#: detection answers it from the PSN/atomic cache; or a cumulative ACK covers it), with the recorded result
DEDUP_FROM = frozenset({Phase.SENT, Phase.RECEIVED, Phase.LOST})


@dataclass(frozen=True, slots=True)
class CausalState:
    """Hashable automaton state: memory, per-op phase and last executed result, consumed addresses."""

    memory: Memory = INIT_MEMORY
    phases: frozenset[tuple[Op, Phase]] = frozenset()
    results: frozenset[tuple[Op, OpResult]] = frozenset()
    consumed: frozenset[int] = frozenset()

    def phase(self, op: Op) -> Phase:
        for o, p in self.phases:
            if o == op:
                return p
        return Phase.IDLE

    def result(self, op: Op) -> OpResult | None:
        for o, r in self.results:
            if o == op:
                return r
        return None

    def _with_phase(self, op: Op, phase: Phase) -> frozenset[tuple[Op, Phase]]:
        return frozenset({(o, p) for o, p in self.phases if o != op} | {(op, phase)})


def step(state: CausalState, ev: Event) -> CausalState | None:
    """Advance the automaton by one event; ``None`` when the event is not allowed here."""
    if isinstance(ev, (PostRecv, Fault)):
        return CausalState(apply_event(state.memory, ev), state.phases, state.results, state.consumed)
    if isinstance(ev, AppConsume):
        if state.memory.read(ev.addr) != ev.val:
            return None
        return CausalState(state.memory, state.phases, state.results, state.consumed | {ev.addr})
    if isinstance(ev, AppReuse):
        if ev.addr not in state.consumed:
            return None
        return CausalState(apply_event(state.memory, ev), state.phases, state.results,
                           state.consumed - {ev.addr})
    op = ev.op
    phase = state.phase(op)
    if isinstance(ev, Send):
        nxt = Phase.SENT if phase in SEND_FROM else None
    elif isinstance(ev, PacketLost):
        nxt = Phase.LOST if phase is Phase.SENT else None
    elif isinstance(ev, Receive):
        nxt = Phase.RECEIVED if phase is Phase.SENT else None
    elif isinstance(ev, Execute):
        if phase is not Phase.RECEIVED:
            return None
        mem, res = exec_op(state.memory, op)
        if res != ev.res:
            return None
        results = frozenset({(o, r) for o, r in state.results if o != op} | {(op, res)})
        return CausalState(mem, state._with_phase(op, Phase.EXECUTED), results, state.consumed)
    elif isinstance(ev, AckLost):
        nxt = Phase.ACK_LOST if phase is Phase.EXECUTED else None
    elif isinstance(ev, Completion):
        done = phase is Phase.EXECUTED or (phase in DEDUP_FROM and state.result(op) is not None)
        nxt = Phase.COMPLETED if done and state.result(op) == ev.res else None
    elif isinstance(ev, Timeout):
        nxt = Phase.TIMED_OUT if phase in TIMEOUT_FROM else None
    else:  # pragma: no cover - exhaustive over Event
        raise TypeError(f"not an event: {ev!r}")
    if nxt is None:
        return None
    return CausalState(state.memory, state._with_phase(op, nxt), state.results, state.consumed)


def first_violation(trace: Iterable[Event], init: Memory = INIT_MEMORY) -> tuple[int, Event] | None:
    """The index and event of the first step the automaton rejects, or ``None`` if the trace is causal."""
    state: CausalState | None = CausalState(memory=init)
    for i, ev in enumerate(trace):
        assert state is not None
        state = step(state, ev)
        if state is None:
            return i, ev
    return None


def is_causal(trace: Iterable[Event], init: Memory = INIT_MEMORY) -> bool:
    """True when every event of the trace is allowed by the automaton (the ``causal`` universe)."""
    return first_violation(trace, init) is None
