"""The integer-packed BFS over trace universes agrees with brute force over the model's own predicates."""

from __future__ import annotations

import itertools

import pytest

from shift_core.model.causal import is_causal
from shift_core.model.events import AppReuse, Event, Send, Timeout, op_executed, sender_saw_timeout, sender_view
from shift_core.model.operations import CAS, FADD, Op, Write, is_non_idempotent
from shift_core.model.universes import (
    MUST_RETRY,
    MUST_SKIP,
    Letter,
    Mode,
    Statement,
    Universe,
    compile_universe,
    count_traces,
    explore,
    obligations_of,
    traces_in_fibre,
)


def _alphabet(u: Universe) -> list[Event]:
    """Rocq-mode concrete events (the causal mode's results come from exec_op; brute force uses rocq letters)."""
    c = compile_universe(Universe(u.op, "rocq", u.statement, u.app), 1)
    return [c.events[0][int(letter)] for letter in Letter]


def _brute_obligation(u: Universe, t: tuple[Event, ...]) -> int:
    """Rocq's premises straight from the model's trace predicates (no summaries)."""
    bits = 0
    if Send(u.op) in t and not op_executed(t, u.op) and sender_saw_timeout(t, u.op):
        bits |= MUST_RETRY
    if u.statement == "head":
        if is_non_idempotent(u.op) and op_executed(t, u.op) and sender_saw_timeout(t, u.op):
            bits |= MUST_SKIP
    elif op_executed(t, u.op) and any(isinstance(e, AppReuse) for e in t):
        bits |= MUST_SKIP
    return bits


@pytest.mark.parametrize(("op", "statement"), [(FADD(0, 1), "head"), (Write(0, 1), "paper"), (Write(0, 1), "head")])
def test_rocq_universe_matches_brute_force(op: Op, statement: Statement) -> None:
    u = Universe(op, "rocq", statement)
    n = 4
    fibres: dict[tuple[object, ...], int] = {}
    traces = 0
    for length in range(n + 1):
        for t in itertools.product(_alphabet(u), repeat=length):
            traces += 1
            fibres[sender_view(t)] = fibres.get(sender_view(t), 0) | _brute_obligation(u, t)
    r = explore(u, n)
    assert r.traces == traces == sum(9**k for k in range(n + 1))
    assert r.fibre_obligations == fibres
    assert r.conflicting_views == sum(1 for ob in fibres.values() if ob == 3)


def test_causal_universe_matches_brute_force() -> None:
    """Causal traces are exactly the automaton's; obligations apply at a final Timeout (the decision point)."""
    op = FADD(0, 1)
    u = Universe(op, "causal", "head")
    c = compile_universe(u, 6)
    accepted: set[tuple[Event, ...]] = {()}
    frontier = [((), 0)]
    for _ in range(6):  # enumerate causal traces by extending with every concrete event the automaton admits
        nxt = []
        for t, h in frontier:
            for letter, h2, _o in c.succ[h]:
                t2 = (*t, c.events[h][letter])
                accepted.add(t2)
                nxt.append((t2, h2))
        frontier = nxt
    assert all(is_causal(t) for t in accepted)
    assert len(accepted) == count_traces(c, 6)
    fibres: dict[tuple[object, ...], int] = {}
    for t in accepted:
        ob = _brute_obligation(u, t) if t and isinstance(t[-1], Timeout) else 0
        fibres[sender_view(t)] = fibres.get(sender_view(t), 0) | ob
        assert obligations_of(u, t) == ob
    assert explore(u, 6).fibre_obligations == fibres


@pytest.mark.parametrize(
    ("op", "statement", "mode", "bound", "states", "views", "traces", "conflicts"),
    [
        # golden counts, computed once and reviewed: rocq traces = sum 9^k; causal counts are small
        (FADD(0, 1), "head", "rocq", 6, 1942, 1093, 597871, 244),
        (Write(0, 1), "paper", "rocq", 6, 1942, 1093, 597871, 64),
        (Write(0, 1), "head", "rocq", 6, 1942, 1093, 597871, 0),
        (FADD(0, 1), "head", "causal", 8, 101, 23, 382, 3),
        (CAS(0, 0, 1), "head", "causal", 8, 101, 23, 383, 3),
        (Write(0, 1), "paper", "causal", 8, 96, 22, 383, 1),
        (Write(0, 1), "head", "causal", 8, 96, 22, 383, 0),
    ],
)
def test_golden_counts(op: Op, statement: Statement, mode: Mode, bound: int, states: int, views: int, traces: int,
                       conflicts: int) -> None:
    r = explore(Universe(op, mode, statement), bound)
    assert (r.states, r.views, r.traces, r.conflicting_views) == (states, views, traces, conflicts)
    assert r.oracle_ok and r.oracle_states > 0


def test_rocq_finds_shorter_non_physical_pair() -> None:
    pair = explore(Universe(FADD(0, 1), "rocq", "head"), 5).first_pair
    assert pair is not None
    t1, t2 = pair
    assert len(t1) == 2 and len(t2) == 3  # [Send, Timeout] vs [Send, Timeout, Execute]
    assert not is_causal(t1) and not is_causal(t2)


def test_bound_too_small_finds_nothing() -> None:
    r = explore(Universe(FADD(0, 1), "causal", "head"), 4)
    assert r.first_pair is None and r.conflicting_views == 0


def test_traces_in_fibre_lists_all_minimal_witnesses() -> None:
    u = Universe(Write(0, 1), "causal", "paper")
    pair = explore(u, 7).first_pair
    assert pair is not None
    found = list(traces_in_fibre(u, sender_view(pair[1]), MUST_SKIP, 7))
    assert len(found) == 3 and pair[1] in found
    assert all(sorted(map(repr, t)) == sorted(map(repr, found[0])) for t in found)  # same events, reordered
