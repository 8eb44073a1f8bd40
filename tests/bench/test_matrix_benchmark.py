"""Benchmark (excluded by default; ``pytest -m benchmark``): fault-matrix throughput in schedules per wall
second on this machine. It records the number; it asserts nothing about time."""

from __future__ import annotations

import time

import pytest

from shift_core.bench.matrix import MatrixConfig, make_schedules, run_matrix


@pytest.mark.benchmark
def test_matrix_throughput(capsys) -> None:  # type: ignore[no-untyped-def]
    sch = make_schedules(480, seed=11)
    t = time.perf_counter()
    rows = list(run_matrix(sch, MatrixConfig(), processes=2))
    dt = time.perf_counter() - t
    assert len(rows) == 480
    with capsys.disabled():
        print(f"\nfault matrix: {len(rows)} schedules in {dt:.1f} s = {len(rows) / dt:.1f} schedules/s (2 processes)")
