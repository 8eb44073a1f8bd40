"""Benchmarks (marker ``benchmark``; excluded by default): search throughput and the suite's wall time.

Run: ``.venv/bin/python -m pytest -q -m benchmark tests/theorems/test_benchmark.py -s``. They print numbers
and assert only that the work was done, never a time.
"""

from __future__ import annotations

import time

import pytest

from shift_core.model.operations import FADD
from shift_core.model.universes import Universe, explore
from shift_core.theorems import run_check


@pytest.mark.benchmark
@pytest.mark.parametrize("depth", [8, 11, 12])
def test_thm1_states_per_second(depth: int) -> None:
    """Distinct (view, hidden) states per second of the Thm 1 BFS (rocq universe, HEAD statement, FADD).

    The default Thm 1 bounds (causal 8, rocq 6) finish in milliseconds, so throughput is measured deeper.
    CPU seconds are reported beside wall seconds because the machine may be shared.
    """
    u = Universe(FADD(0, 1), "rocq", "head")
    start, cpu = time.perf_counter(), time.process_time()
    r = explore(u, depth, keep_views=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\nthm1 rocq depth={depth}: {r.states:,} distinct states; wall {seconds:.3f} s = "
          f"{r.states / seconds:,.0f} states/s; cpu {cpu:.3f} s = {r.states / max(cpu, 1e-9):,.0f} states/cpu-s "
          f"({r.traces:,} traces)")
    assert r.states > 0 and r.first_pair is not None


@pytest.mark.benchmark
def test_suite_wall_time() -> None:
    """Every theorem check at its default bounds, one process."""
    start, cpu = time.perf_counter(), time.process_time()
    results = run_check("all")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\nall theorem checks: {len(results)} results; wall {seconds:.2f} s, cpu {cpu:.2f} s")
    assert all(r.passed for r in results)
