"""The BFS: shortest witnesses, completeness, and its cut-off."""

from __future__ import annotations

from dataclasses import replace

from shift_core.boundary.search import search
from shift_core.boundary.simple import SimpleCTS
from shift_core.boundary.transport import Policy


def test_witness_is_shortest_and_search_is_complete():
    r = search(SimpleCTS(steps=2, slots=1))
    assert r.complete and set(r.witnesses) == {"stale_cts_read"}
    w = r.witnesses["stale_cts_read"]
    # post CTS0, execute, idx, addr, post CTS1, execute, idx, fault, re-execute CTS0, stale addr read
    assert len(w) == 10
    assert r.shortest == ("stale_cts_read", w)
    assert r.transitions >= r.unique_states > 1 and r.max_depth >= len(w) - 1


def test_no_fault_no_violation_and_done_reached():
    r = search(SimpleCTS(steps=3, slots=2, policy=Policy(max_faults=0)))
    assert not r.witnesses and r.done_reached and not r.done_after_fault


def test_max_states_cut_marks_the_search_incomplete():
    proto = SimpleCTS(steps=3, slots=2)
    r = search(replace(proto), max_states=20)
    assert not r.complete and r.unique_states == 20
