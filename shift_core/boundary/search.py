"""Exhaustive breadth-first search of one protocol model (stateright-style ``check()``; returns data, prints nothing).

BFS with a parent map, so the first violating transition of each kind closes the *shortest* run reaching it.
A violating transition is recorded and not expanded (the run is already wrong); every other reachable state is
expanded, so the whole bounded space is explored unless ``max_states`` cuts it (then ``complete`` is false and a
"holds" answer is not evidence).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shift_core.boundary.protocol import BoundaryProtocol
from shift_core.boundary.transport import State, Step

DEFAULT_MAX_STATES = 2_000_000


@dataclass(frozen=True)
class SearchResult:
    """What one search found.

    :param witnesses: the shortest run (list of steps) reaching each violation kind found.
    :param transitions: transitions generated; ``unique_states``: distinct states reached.
    :param done_reached: some run consumed every iteration; ``done_after_fault``: some run did so after a fault
        (failover completes).
    :param error_surfaced: distinct states in which SHIFT refused to fail over (atomic in flight).
    """

    witnesses: dict[str, tuple[Step, ...]]
    transitions: int
    unique_states: int
    max_depth: int
    complete: bool
    seconds: float
    done_reached: bool
    done_after_fault: bool
    error_surfaced: int
    violation_counts: dict[str, int] = field(default_factory=dict)

    @property
    def shortest(self) -> tuple[str, tuple[Step, ...]] | None:
        """The overall shortest violating run (ties broken by kind name), or ``None``."""
        if not self.witnesses:
            return None
        kind = min(self.witnesses, key=lambda k: (len(self.witnesses[k]), k))
        return kind, self.witnesses[kind]


def search(proto: BoundaryProtocol, max_states: int = DEFAULT_MAX_STATES,
           progress: Callable[[int, int], None] | None = None) -> SearchResult:
    """Explore every interleaving of ``proto``'s application moves with the transport's execute/ACK/fault moves."""
    t0 = time.perf_counter()
    table = proto.table()
    init = proto.init()
    parent: dict[State, tuple[State, Step] | None] = {init: None}
    depth: dict[State, int] = {init: 0}
    queue: deque[State] = deque([init])
    witnesses: dict[str, tuple[Step, ...]] = {}
    counts: dict[str, int] = {}
    transitions = 0
    max_depth = 0
    done_reached = done_after_fault = False
    complete = True
    while queue:
        s = queue.popleft()
        d = depth[s]
        if proto.done(s):
            done_reached = True
            done_after_fault = done_after_fault or s.faults > 0
        for step, nxt, violation in proto.successors(s, table):
            transitions += 1
            if violation is not None:
                counts[violation] = counts.get(violation, 0) + 1
                if violation not in witnesses:
                    witnesses[violation] = (*_path(parent, s), step)
                continue
            if nxt in parent:
                continue
            if len(parent) >= max_states:
                complete = False
                continue
            parent[nxt] = (s, step)
            depth[nxt] = d + 1
            max_depth = max(max_depth, d + 1)
            queue.append(nxt)
        if progress is not None and len(parent) % 20000 == 0:
            progress(len(parent), transitions)
    dead = sum(1 for s in parent if any(q.path == "dead" for q in s.qps))
    return SearchResult(witnesses, transitions, len(parent), max_depth, complete, time.perf_counter() - t0,
                        done_reached, done_after_fault, dead, counts)


def _path(parent: dict[State, tuple[State, Step] | None], s: State) -> tuple[Step, ...]:
    steps: list[Step] = []
    link = parent[s]
    while link is not None:
        prev, step = link
        steps.append(step)
        link = parent[prev]
    return tuple(reversed(steps))
