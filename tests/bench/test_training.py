"""Fig 10 mechanics: checkpoint-restart falls back to the last checkpoint and finishes later than no failure; a
longer job does not hold more memory."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from shift_core.bench import training
from shift_core.bench.config import load_config


def test_checkpoint_restart_loses_progress_since_the_last_checkpoint() -> None:
    config = load_config()
    p = dict(config["training"], epochs=3, iters_per_epoch=10, fault_at_epoch=1.5, bucket_bytes=262144)
    settings = {"seed": 1, "fabric": config["fabric"], "training": p}
    rows = training.run_case(settings, "checkpoint_restart")
    failure = next(r for r in rows if r["event"] == "failure")
    restart = next(r for r in rows if r["event"] == "restart")
    assert failure["iter"] == 15 and restart["iter"] == 10
    assert restart["t_ms"] - failure["t_ms"] >= p["restart_ms"]
    assert rows[-1]["progress_pct"] == 100.0
    assert [r["iter"] for r in rows if r["event"] == "checkpoint"] == [10, 20, 30]


def _peak_bytes(case: str, iters: int) -> int:
    """Peak traced bytes of one job of ``iters`` iterations of a 2 MiB bucket: per rank and step one 512 KiB
    data WRITE (a batched stream) and the 512 KiB WRITE_WITH_IMM that notifies the peer."""
    config = load_config()
    p = dict(config["training"], epochs=1, iters_per_epoch=iters, fault_at_epoch=0.5,
             bucket_bytes=4 * training.CHUNK)
    settings = {"seed": 1, "fabric": config["fabric"], "training": p}
    gc.collect()
    tracemalloc.start()
    try:
        rows = training.run_case(settings, case)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows[-1]["iter"] == iters
    return peak


@pytest.mark.parametrize("case", ["no_failure", "shift_idle"])
def test_memory_does_not_grow_with_iterations(case: str) -> None:
    """Each iteration sends 2 MiB as batched data WRITEs; a job four times longer must not peak higher by one
    such WRITE over all 12 extra iterations (when retired batches kept their payload for the trace: +2 MiB an
    iteration, 13 GiB at the full profile). The trace itself grows by a few kB an iteration."""
    short, long = _peak_bytes(case, 4), _peak_bytes(case, 16)
    assert long - short < training.CHUNK, f"{(long - short) / 12 / 1e6:.2f} MB more per iteration"
