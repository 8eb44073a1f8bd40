"""A small explicit-state BFS checker (after stateright's ``Model`` + ``spawn_bfs``); no Rocq counterpart.

A model is an initial state and a ``successors(state) -> [(action, state')]`` function with a deterministic
action order. :func:`bfs` explores every state within ``max_depth`` actions, keeps a parent map, and so
returns the *shortest* path to any state (BFS order, ties broken by action order). It reports how many
states it generated and how many were distinct, and whether the bound was exhausted (``complete``): a
property that "holds" on an incomplete search is not evidence.

The Thm 1 trace universes use a specialised, integer-packed BFS (:mod:`shift_core.model.universes`); this one serves the
smaller searches (CAS schedules, receive-queue runs).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

S = TypeVar("S", bound=Hashable)
A = TypeVar("A")


@dataclass(slots=True)
class Exploration(Generic[S, A]):
    """Everything one BFS saw: distinct states in discovery order, their depth and parent edge."""

    order: list[S] = field(default_factory=list)
    depth: dict[S, int] = field(default_factory=dict)
    parent: dict[S, tuple[S, A] | None] = field(default_factory=dict)
    generated: int = 0
    complete: bool = True

    @property
    def unique_states(self) -> int:
        return len(self.order)

    @property
    def max_depth(self) -> int:
        return max(self.depth.values(), default=0)

    def path(self, state: S) -> tuple[A, ...]:
        """The actions of the shortest path from an initial state to ``state``."""
        out: list[A] = []
        edge = self.parent[state]
        while edge is not None:
            prev, action = edge
            out.append(action)
            edge = self.parent[prev]
        return tuple(reversed(out))

    def matching(self, pred: Callable[[S], bool]) -> Iterator[S]:
        """States satisfying ``pred``, shortest first."""
        return (s for s in self.order if pred(s))

    def first(self, pred: Callable[[S], bool]) -> S | None:
        """The first (hence a shortest-path) state satisfying ``pred``, or ``None``."""
        return next(self.matching(pred), None)


def bfs(inits: Iterable[S], successors: Callable[[S], Iterable[tuple[A, S]]], max_depth: int,
        max_states: int | None = None) -> Exploration[S, A]:
    """Breadth-first exploration up to ``max_depth`` actions (and at most ``max_states`` distinct states)."""
    ex: Exploration[S, A] = Exploration()
    frontier: list[S] = []
    for s in inits:
        ex.generated += 1
        if s not in ex.depth:
            ex.depth[s] = 0
            ex.parent[s] = None
            ex.order.append(s)
            frontier.append(s)
    for d in range(1, max_depth + 1):
        nxt: list[S] = []
        for s in frontier:
            for action, s2 in successors(s):
                ex.generated += 1
                if s2 in ex.depth:
                    continue
                if max_states is not None and len(ex.order) >= max_states:
                    ex.complete = False
                    return ex
                ex.depth[s2] = d
                ex.parent[s2] = (s, action)
                ex.order.append(s2)
                nxt.append(s2)
        frontier = nxt
        if not frontier:
            break
    return ex
