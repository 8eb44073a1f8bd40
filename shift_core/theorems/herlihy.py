"""Bounded wait-free consensus protocols over shared registers: the engine of a genuine Herlihy check.

Host-side (uses numpy), so it lives beside the checks rather than in the standard-library-only model.

No Rocq counterpart: ``Theorem4/ConsensusNumber.v`` proves "register CN = 1" by a pid-blind observation
argument on solo runs (``readwrite_2consensus_impossible_same_protocol``), never by interleaving processes.
Here two processes P0, P1 each run a deterministic *program tree* of at most two steps on shared registers,
chosen by their input bit: step 1 is fixed, step 2 may depend on step 1's result. A protocol is four trees
``(a, b, c, d)`` = (P0 on input 0, P0 on input 1, P1 on input 0, P1 on input 1). A process's *local view* is
its input plus the results it saw; it must decide from that view alone.

Whether *some* decision map makes a protocol solve consensus is decided exactly, without enumerating the
maps: agreement ties the two views of every run together, validity forces views of runs with equal inputs
(``(a, c)`` to 0, ``(b, d)`` to 1), and mixed-input runs allow either. The protocol is solvable iff no
connected component of the agreement graph of the mixed runs ``(a, d)`` and ``(b, c)`` holds a view forced
to 0 and one forced to 1 (runs with equal inputs only add edges between views forced alike). That is the
bivalence argument made finite. :func:`solvable_count` evaluates it for all ``T^4`` protocols with bit
masks (numpy), :func:`explain` returns the chain of runs that defeats one protocol.

Registers hold naturals starting at 0. Primitives: ``("read",)``, ``("write", v)``, ``("faa", delta)``
(returns the old value), ``("cas", e, n)`` (returns the old value). Layouts: ``shared`` (one multi-writer
register R) and ``swmr`` (P_i writes only R_i and reads only R_{1-i}).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Prim = tuple[str | int, ...]  #: ("read",) | ("write", v) | ("faa", delta) | ("cas", e, n)
Layout = Literal["shared", "swmr"]


@dataclass(frozen=True, slots=True)
class Tree:
    """One process's program for one input: ``first`` step (or ``None``: decide at once) and the second step
    per result of the first (``None``: stop)."""

    first: Prim | None
    second: tuple[tuple[int, Prim | None], ...] = ()

    def next_after(self, result: int) -> Prim | None:
        """The second step after ``result`` (non-read first steps do not branch: key -1)."""
        for r, p in self.second:
            if r == result or r == -1:
                return p
        return None

    def label(self) -> str:
        if self.first is None:
            return "decide"
        tail = ", ".join(f"{r}->{_plabel(p)}" for r, p in self.second if p is not None)
        return _plabel(self.first) + (f"; then {{{tail}}}" if tail else "")


def _plabel(p: Prim | None) -> str:
    return "stop" if p is None else f"{p[0]}({','.join(map(str, p[1:]))})"


def _exec(regs: tuple[int, int], pid: int, prim: Prim, layout: Layout) -> tuple[tuple[int, int], int]:
    """Apply one primitive; returns the new registers and the result (writes return 0 = ack)."""
    rd = 0 if layout == "shared" else 1 - pid
    wr = 0 if layout == "shared" else pid
    kind = prim[0]
    if kind == "read":
        return regs, regs[rd]
    r = list(regs)
    if kind == "write":
        r[wr] = int(prim[1])
        return (r[0], r[1]), 0
    old = regs[wr]
    if kind == "faa":
        r[wr] = old + int(prim[1])
    elif kind == "cas":
        if old == int(prim[1]):
            r[wr] = int(prim[2])
    else:
        raise ValueError(f"unknown primitive {prim!r}")
    return (r[0], r[1]), old


View = tuple[int, ...]
Run = tuple[tuple[int, ...], View, View]  # (schedule of pids, P0's results, P1's results)


def runs(t0: Tree, t1: Tree, layout: Layout) -> list[Run]:
    """Every interleaving of P0 running ``t0`` and P1 running ``t1`` (both from registers (0, 0))."""
    out: list[Run] = []
    trees = (t0, t1)

    def step(regs: tuple[int, int], views: tuple[View, View], sched: tuple[int, ...]) -> None:
        moved = False
        for pid in (0, 1):
            v = views[pid]
            t = trees[pid]
            prim = t.first if not v else (t.next_after(v[0]) if len(v) == 1 else None)
            if prim is None:
                continue
            moved = True
            regs2, res = _exec(regs, pid, prim, layout)
            nv = ((*v, res), views[1]) if pid == 0 else (views[0], (*v, res))
            step(regs2, nv, (*sched, pid))
        if not moved:
            out.append((sched, views[0], views[1]))

    step((0, 0), ((), ()), ())
    return out


def trees(first_prims: Sequence[Prim], second_prims: Sequence[Prim], results: Sequence[int]) -> list[Tree]:
    """Every tree of <= 2 steps: first step from ``first_prims``, second step (or stop) per result.

    A read branches on every value in ``results``; any other first step does not branch (its second step is
    fixed), although its result is still part of the process's view.
    """
    seconds: list[Prim | None] = [None, *second_prims]
    out = [Tree(None)]
    for p in first_prims:
        keys = list(results) if p[0] == "read" else [-1]
        for choice in itertools.product(seconds, repeat=len(keys)):
            out.append(Tree(p, tuple(zip(keys, choice, strict=True))))
    return out


@dataclass(frozen=True, slots=True)
class PairTables:
    """Per (x, y) tree pair: component bits of each view and which views occur."""

    cb0: list[list[list[int]]]  # [x][y][i] -> 1 << component, or 0 if P0's view i does not occur
    cb1: list[list[list[int]]]
    nviews: int


def _index_views(ts: list[Tree], layout: Layout) -> tuple[list[dict[View, int]], dict[tuple[int, int], list[Run]]]:
    index: list[dict[View, int]] = [{} for _ in ts]
    all_runs: dict[tuple[int, int], list[Run]] = {}
    for x, y in itertools.product(range(len(ts)), repeat=2):
        rs = runs(ts[x], ts[y], layout)
        all_runs[(x, y)] = rs
        for _s, v0, v1 in rs:
            index[x].setdefault(v0, len(index[x]))
            index[y].setdefault(v1, len(index[y]))
    return index, all_runs


def _tables(ts: list[Tree], layout: Layout) -> tuple[PairTables, dict[tuple[int, int], list[Run]], int]:
    index, all_runs = _index_views(ts, layout)
    nv = max(len(ix) for ix in index)
    n = len(ts)
    cb0 = [[[0] * nv for _ in range(n)] for _ in range(n)]
    cb1 = [[[0] * nv for _ in range(n)] for _ in range(n)]
    for (x, y), rs in all_runs.items():
        parent = list(range(2 * nv))

        def find(u: int, parent: list[int] = parent) -> int:
            while parent[u] != u:
                parent[u] = parent[parent[u]]
                u = parent[u]
            return u

        nodes: set[int] = set()
        for _s, v0, v1 in rs:
            i, j = index[x][v0], nv + index[y][v1]
            nodes.update((i, j))
            parent[find(i)] = find(j)
        roots = sorted({find(u) for u in nodes})
        if len(roots) > 30:
            raise ValueError(f"{len(roots)} agreement components do not fit the int32 masks; use fewer views")
        bit = {r: 1 << k for k, r in enumerate(roots)}
        for u in nodes:
            if u < nv:
                cb0[x][y][u] = bit[find(u)]
            else:
                cb1[x][y][u - nv] = bit[find(u)]
    total = sum(len(rs) for rs in all_runs.values())
    return PairTables(cb0, cb1, nv), all_runs, total


@dataclass(frozen=True, slots=True)
class HerlihyCount:
    """Outcome of checking every protocol ``(a, b, c, d)`` over a tree family."""

    trees: int
    protocols: int
    solvable: int
    runs_simulated: int
    first_solvable: tuple[int, int, int, int] | None


def solvable_count(ts: list[Tree], layout: Layout) -> HerlihyCount:
    """Count the protocols over ``ts`` for which some decision map gives agreement + validity."""
    tables, _runs, total = _tables(ts, layout)
    cb0 = np.array(tables.cb0, dtype=np.int32)  # (x, y, i)
    cb1 = np.array(tables.cb1, dtype=np.int32)
    vm0, vm1 = cb0 != 0, cb1 != 0
    n, nv = len(ts), tables.nviews
    s1 = np.zeros((n, n, n), dtype=np.int32)  # [a, d, c]: components of G_ad holding a view of a forced to 0
    s2 = np.zeros((n, n, n), dtype=np.int32)  # [a, d, b]: components of G_ad holding a view of d forced to 1
    m1 = np.zeros((n, n, n), dtype=np.int32)  # [b, c, a]: components of G_bc holding a view of c forced to 0
    m2 = np.zeros((n, n, n), dtype=np.int32)  # [b, c, d]: components of G_bc holding a view of b forced to 1
    for i in range(nv):
        s1 |= cb0[:, :, None, i] * vm0[:, None, :, i]
        s2 |= cb1[:, :, None, i] * vm1[:, :, i].T[None, :, :]
        m1 |= cb1[:, :, None, i] * vm1[:, :, i].T[None, :, :]
        m2 |= cb0[:, :, None, i] * vm0[:, None, :, i]
    m2_dbc = np.ascontiguousarray(m2.transpose(2, 0, 1))
    solvable = 0
    first: tuple[int, int, int, int] | None = None
    for a in range(n):
        # [d, b, c]: no component of G_ad nor of G_bc holds a view forced to 0 and one forced to 1
        ok = ((s2[a][:, :, None] & s1[a][:, None, :]) | (m1[:, :, a][None, :, :] & m2_dbc)) == 0
        k = int(ok.sum())
        if k and first is None:
            d, b, c = (int(z) for z in np.argwhere(ok)[0])
            first = (a, b, c, d)
        solvable += k
    return HerlihyCount(n, n**4, solvable, total, first)


def explain(ts: Sequence[Tree], proto: tuple[int, int, int, int], layout: Layout) -> list[str] | None:
    """The chain of runs forcing a view to decide both 0 and 1, or ``None`` if the protocol is solvable.

    Nodes are (process, input, view); a run links its two views (agreement); runs with equal inputs force.
    """
    a, b, c, d = proto
    tree_of = {(0, 0): a, (0, 1): b, (1, 0): c, (1, 1): d}
    edges: dict[tuple[int, int, View], list[tuple[tuple[int, int, View], str]]] = {}
    forced: dict[tuple[int, int, View], tuple[int, str]] = {}
    for x0, x1 in itertools.product((0, 1), repeat=2):
        for sched, v0, v1 in runs(ts[tree_of[(0, x0)]], ts[tree_of[(1, x1)]], layout):
            n0, n1 = (0, x0, v0), (1, x1, v1)
            desc = f"inputs ({x0},{x1}) schedule {''.join(f'P{p}' for p in sched) or '-'}: P0 sees {v0}, P1 sees {v1}"
            if x0 == x1:
                forced.setdefault(n0, (x0, desc))
                forced.setdefault(n1, (x0, desc))
            edges.setdefault(n0, []).append((n1, desc))
            edges.setdefault(n1, []).append((n0, desc))
    for start, (val, why) in forced.items():
        if val != 0:
            continue
        prev: dict[tuple[int, int, View], tuple[tuple[int, int, View], str] | None] = {start: None}
        queue = [start]
        for node in queue:
            if forced.get(node, (0, ""))[0] == 1:
                chain = [f"forces 1: {forced[node][1]}"]
                cur: tuple[tuple[int, int, View], str] | None = prev[node]
                while cur is not None:
                    chain.append(f"agreement: {cur[1]}")
                    cur = prev[cur[0]]
                chain.append(f"forces 0: {why}")
                return list(reversed(chain))
            for nxt, desc in edges.get(node, []):
                if nxt not in prev:
                    prev[nxt] = (node, desc)
                    queue.append(nxt)
    return None

