"""Coverage of the failover machine: which (state, event) pairs of :mod:`shift_core.shift.machine`'s tables the
explored runs took, how often, and the first run that took each (its placement, so it can be replayed).

A pair no run took is shown with what reaching it takes (:data:`WHY_UNREACHED`, written from the code paths that
raise each event), or as *not reached at this bound*; so an unreached pair is never silent.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shift_core.shift.machine import RQ_TRANSITIONS, SQ_TRANSITIONS

Key = tuple[str, str, str]  #: (queue, from state, event)

_SECOND = "a second fault (reached by the pair exploration)"
#: what it takes to reach a pair, shown when a run reached none: the single-fault exploration cannot reach these
#: with SHIFT's own strategies, because each event needs something to fail after the first fault struck
WHY_UNREACHED: dict[Key, str] = {
    ("sq", "default", "second_failure"): "the backup QP or the KV store must already be unusable when the first "
                                         f"error arrives: {_SECOND}",
    ("sq", "fallback", "second_failure"): f"the backup path must fail while traffic is on it: {_SECOND}",
    ("sq", "wait_signaled", "default_error"): f"the recovered default path must fail again before the fence: {_SECOND}",
    ("sq", "wait_drained", "default_error"): "the recovered default path must fail again while the fence drains: "
                                             f"{_SECOND}",
    ("sq", "wait_signaled", "second_failure"): f"the backup path must fail during the switch-back: {_SECOND}",
    ("sq", "wait_drained", "second_failure"): f"the backup path must fail while the fence drains: {_SECOND}",
    ("rq", "fallback", "second_failure"): f"the backup path must fail while receives are on it: {_SECOND}",
}


def table() -> list[tuple[str, str, str, str]]:
    """Every (queue, state, event, next state) of the machine, in table order."""
    return ([("sq", s.value, e.value, t.value) for (s, e), t in SQ_TRANSITIONS.items()]
            + [("rq", s.value, e.value, t.value) for (s, e), t in RQ_TRANSITIONS.items()])


def coverage_rows(counts: Counter[Key], witness: dict[Key, str]) -> list[dict[str, Any]]:
    """One row per table pair: how many explored runs took it, and the first of them (``cell: placement``)."""
    rows = []
    for queue, state, event, to in table():
        key = (queue, state, event)
        n = counts.get(key, 0)
        rows.append({"queue": queue, "state": state, "event": event, "next": to, "runs": n,
                     "witness": witness.get(key, ""),
                     "why_unreached": "" if n else WHY_UNREACHED.get(key, "not reached at this bound")})
    return rows


def outside_table(counts: Counter[Key]) -> list[Key]:
    """Steps taken that the table does not list (impossible: ``next_sq``/``next_rq`` raise on them)."""
    known = {(q, s, e) for q, s, e, _ in table()}
    return sorted(k for k in counts if k not in known)
