"""Replay a boundary counterexample through the model's events and predicates, independently of the search.

The judge re-executes every ``Execute`` event with :func:`shift_core.model.operations.exec_op` on fresh memories
(Rocq ``memory_after_events``), checks that each recorded result and each value an application read
(``AppConsume``) is what the model's memory actually held at that point, and then judges the run:

* ``stale_or_torn_read``: a consuming read saw a value other than the one the protocol intended (stale, torn or
  overwritten data; for a CTS read: a stale FIFO entry; for a read-back: a ghost write);
* ``signal_executed_twice``: a signal operation (atomic, or WRITE_WITH_IMM, which consumes a RECV) has
  ``execution_count > 1`` (Rocq ``execution_count``; :func:`shift_core.model.operations.consumes_resources`).

It uses nothing of :mod:`shift_core.boundary.search` or :mod:`shift_core.boundary.transport`'s moves: only the
steps' events, the initial memories and the steps' intended values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shift_core.boundary.transport import Side, Step
from shift_core.errors import InvalidModel
from shift_core.model.events import AppConsume, Event, Execute, apply_event
from shift_core.model.memory import Memory
from shift_core.model.operations import consumes_resources, exec_op
from shift_core.model.properties import executed_ops, execution_count


@dataclass(frozen=True)
class Verdict:
    """The replay's findings: violation descriptions (empty = the run is correct) and the final memories."""

    violations: tuple[str, ...]
    rx: Memory
    tx: Memory

    @property
    def violated(self) -> bool:
        return bool(self.violations)


def replay(steps: Iterable[Step], rx: Memory, tx: Memory = Memory()) -> Verdict:
    """Re-execute ``steps`` from memories ``rx`` / ``tx`` and judge the run.

    :raises InvalidModel: when a recorded result or read value disagrees with the model (the run is not a run
        of the model, so it proves nothing).
    """
    mem: dict[Side, Memory] = {"rx": rx, "tx": tx}
    trace: dict[Side, list[Event]] = {"rx": [], "tx": []}
    found: list[str] = []
    for n, step in enumerate(steps, 1):
        for ev in step.events:
            m = mem[step.side]
            if isinstance(ev, Execute):
                _, res = exec_op(m, ev.op)
                if res != ev.res:
                    raise InvalidModel(f"step {n}: recorded result {ev.res} but the model gives {res}: "
                                       "the counterexample does not replay")
            if isinstance(ev, AppConsume):
                if m.read(ev.addr) != ev.val:
                    raise InvalidModel(f"step {n}: the application read {ev.val} at {ev.addr} but memory holds "
                                       f"{m.read(ev.addr)}: the counterexample does not replay")
                if step.expect is not None and ev.val != step.expect:
                    found.append(f"stale_or_torn_read at step {n}: read {ev.val} at [{ev.addr}], "
                                 f"intended {step.expect}")
            mem[step.side] = apply_event(m, ev)
            trace[step.side].append(ev)
    for side in ("rx", "tx"):
        for op in executed_ops(trace[side]):
            k = execution_count(trace[side], op)
            if consumes_resources(op) and k > 1:
                found.append(f"signal_executed_twice: {op} executed {k} times")
    return Verdict(tuple(found), mem["rx"], mem["tx"])
