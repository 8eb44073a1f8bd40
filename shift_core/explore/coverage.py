"""Coverage of the failover machine: which (state, event) pairs of :mod:`shift_core.shift.machine`'s tables the
explored runs took, how often, and the first run that took each (its placement, so it can be replayed).

A pair no run took is *not reached at this bound*, or reachable by no run at all; :data:`WHY_UNREACHED` names the
pairs the exploration shows no way into and says why (the reason is written from the code, and the table shows
it beside the zero count, so an unreached pair is never silent).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shift_core.shift.machine import RQ_TRANSITIONS, SQ_TRANSITIONS

Key = tuple[str, str, str]  #: (queue, from state, event)

#: pairs no explored run can take, and why (filled from the code paths that raise each event)
WHY_UNREACHED: dict[Key, str] = {}


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
