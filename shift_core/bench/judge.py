"""The judge of one failover run: the model's predicates over the run's trace plus the apps' end-to-end
checks, reduced to one outcome of :data:`shift_core.vocabulary.OUTCOMES`.

Model side (:mod:`shift_core.model`), on the trace with work-request uids erased (a re-post on the backup QP is a
new WR with a new uid; Rocq identifies ops by value, and the workloads make every app op's value unique): *duplicate
execution* of a non-idempotent op (FADD, CAS, SEND: :func:`shift_core.model.operations.consumes_resources`); *ghost
write*: a WRITE of a value the app already consumed at that address executes after the app reused the buffer (Thm
1's T2); *lost op*: an app op sent but never executed in a run that surfaced no error. A backend may execute a
copy it cannot place in the per-op trace (the sim: a go-back-N copy superseded by a retransmission that still
executes, ``RunResult.untraced_executions``); each such execution may be one of the "never executed" ops, so
only lost ops beyond that count are evidence (the end-to-end checks below still see a truly lost op's data
missing), and the verdict says the lost-op check was inconclusive. App side: the receiver's
consumed sequence against the expected one (queue misalignment, stale or missing data), workload-specific invariants
(FADD sum, lock word), reused-buffer integrity.

Outcome: any corruption -> ``silent_corruption``; else an error reached an app (an error completion in its CQ,
even if that app never polls it) -> ``error_surfaced``; else
the workload did not finish -> ``stall``; else ``correct``. Standard library + the model only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from shift_core.bench.workloads import RunResult
from shift_core.model.events import AppConsume, AppReuse, Execute, Send
from shift_core.model.operations import CAS, FADD, Write, consumes_resources
from shift_core.model.operations import Send as SendOp

APP_TAG = 0x5A  #: first byte of every app payload tag (see :func:`shift_core.bench.workloads.tag`)


def _app_op(op: Any) -> bool:
    if isinstance(op, (FADD, CAS)):
        return True
    if isinstance(op, (Write, SendOp)):
        return op.val >> 56 == APP_TAG
    return False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judged outcome of one run and the evidence behind it."""

    outcome: str
    reasons: tuple[str, ...]
    duplicate_executions: int
    ghost_writes: int
    lost_ops: int
    app_violations: int
    detection_ns: int | None
    downtime_ns: int | None
    app_wrs: int
    extra_remote_ops: int
    copies: int
    resubmitted: int
    skipped_by_counter: int
    switch_backs: int
    untraced_executions: int = 0  #: executions the backend could not trace (offset against lost ops)


def model_findings(trace: tuple[Any, ...]) -> tuple[int, int, int, list[str]]:
    """(duplicate executions, ghost writes, ops never executed, reasons) from the uid-erased trace."""
    executed: dict[Any, int] = {}
    sent: dict[Any, None] = {}
    consumed: dict[int, set[int]] = {}
    reused: set[int] = set()
    dups = ghosts = 0
    reasons: list[str] = []
    for ev in trace:
        if isinstance(ev, Execute):
            op = dataclasses.replace(ev.op, uid=0)
            c = executed.get(op, 0) + 1
            executed[op] = c
            if c == 2 and consumes_resources(op) and _app_op(op):
                dups += 1
                reasons.append(f"duplicate execution of non-idempotent {op}")
            if isinstance(op, Write) and op.addr in reused and op.val in consumed.get(op.addr, ()):
                ghosts += 1
                reasons.append(f"ghost write: stale {op.val:#x} re-landed at {op.addr:#x} after the app reused it")
        elif isinstance(ev, Send):
            op = dataclasses.replace(ev.op, uid=0)
            if _app_op(op):
                sent.setdefault(op, None)
        elif isinstance(ev, AppConsume):
            consumed.setdefault(ev.addr, set()).add(ev.val)
            reused.discard(ev.addr)
        elif isinstance(ev, AppReuse):
            reused.add(ev.addr)
    lost = [op for op in sent if op not in executed]
    return dups, ghosts, len(lost), reasons + [f"sent, never executed: {op}" for op in lost[:3]]


def judge(run: RunResult) -> Verdict:
    """Reduce one :class:`shift_core.bench.workloads.RunResult` to a :class:`shift_core.bench.judge.Verdict`."""
    led = run.ledger
    dups, ghosts, lost, reasons = model_findings(run.trace)
    recs = list(run.records.values())
    errors = bool(led.errors) or any(r.errors_surfaced for r in recs)  # handed to an app's CQ, polled or not
    untraced = run.untraced_executions
    lost_counts = max(0, lost - untraced) if not errors and not run.stalled else 0
    inconclusive = not errors and not run.stalled and lost > 0 and lost_counts == 0
    corrupt = bool(led.violations) or dups > 0 or ghosts > 0 or lost_counts > 0
    if corrupt:
        outcome = "silent_corruption"
    elif errors:
        outcome = "error_surfaced"
    elif run.stalled or not led.done:
        outcome = "stall"
    else:
        outcome = "correct"
    firsts = [r.first_error_ns for r in recs if r.first_error_ns is not None]
    first_error = min(firsts) if firsts else None
    oks = [r.first_backup_ok_ns for r in recs if r.first_backup_ok_ns is not None]
    detection = first_error - run.fault_ns if first_error is not None and run.fault_ns is not None else None
    downtime = min(oks) - first_error if oks and first_error is not None and min(oks) >= first_error else None
    if not lost_counts:
        reasons = [r for r in reasons if not r.startswith("sent, never executed")]
    if inconclusive:
        reasons.append(f"lost-op check inconclusive: {lost} op(s) sent but not traced as executed, and the backend "
                       f"executed {untraced} copy(ies) it could not trace; end-to-end data judged instead")
    why = tuple(led.violations[:3]) + tuple(reasons[:3]) + tuple(led.errors[:1])
    return Verdict(outcome, why, dups, ghosts, lost_counts, len(led.violations), detection, downtime,
                   sum(r.app_wrs for r in recs), sum(r.extra_remote_ops for r in recs), sum(r.copies for r in recs),
                   sum(r.resubmitted for r in recs), sum(r.skipped_by_counter for r in recs),
                   sum(r.switch_backs for r in recs), untraced)
