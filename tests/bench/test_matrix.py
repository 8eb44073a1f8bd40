"""The fault matrix: schedules are seeded, balanced and validated; a small matrix runs and summarises."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from shift_core.bench.matrix import MatrixConfig, make_schedules, run_matrix, summarize
from shift_core.errors import ShiftUserError
from shift_core.vocabulary import FAULT_KINDS, OUTCOMES, STRATEGIES, WORKLOADS


def test_schedules_are_deterministic_and_balanced() -> None:
    a, b = make_schedules(480, seed=5), make_schedules(480, seed=5)
    assert a == b and make_schedules(480, seed=6) != a
    cells = {(s.workload, s.strategy, s.fault) for s in a}
    assert len(cells) == len(WORKLOADS) * len(STRATEGIES) * len(FAULT_KINDS)


@pytest.mark.parametrize("kw", [{"workloads": ["bogus"]}, {"strategies": []}, {"faults": ["meteor"]}])
def test_bad_names_are_user_errors(kw: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ShiftUserError):
        make_schedules(10, **kw)
    with pytest.raises(ShiftUserError, match="positive"):
        make_schedules(0)


def test_small_matrix_runs_and_summarises() -> None:
    sch = make_schedules(24, workloads=["send_recv", "fadd_counter"], strategies=["shift", "naive"],
                         faults=["ack_loss", "nic_fatal", "link_flap"], seed=1)
    rows = list(run_matrix(sch, MatrixConfig(n=6), processes=1))
    assert sorted(r["run"] for r in rows) == list(range(24))
    assert all(r["outcome"] in OUTCOMES for r in rows)
    s = summarize(rows)
    assert s["runs"] == 24 and sum(sum(c.values()) for c in s["by_strategy_workload"].values()) == 24
    assert s["silent_corruption_on_supported"]["shift"] == 0


def test_a_worker_keeps_nothing_of_finished_runs() -> None:
    """A worker runs its share of 10^5 schedules in one process: memory held after 40 more runs must not grow
    by anything like a run's state (when each run's KV namespace stayed registered: ~3.6 kB a run)."""
    sch = make_schedules(50, workloads=["send_recv", "nccl_simple"], strategies=["shift"], faults=["nic_fatal"],
                         seed=3)
    cfg = MatrixConfig(n=6)
    list(run_matrix(sch[:10], cfg, processes=1))  # warm-up: imports, caches
    gc.collect()
    tracemalloc.start()
    try:
        list(run_matrix(sch[10:], cfg, processes=1))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 40 * 512, f"{held / 40:.0f} bytes kept per finished run"
