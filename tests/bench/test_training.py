"""Fig 10 mechanics: checkpoint-restart falls back to the last checkpoint and finishes later than no failure."""

from __future__ import annotations

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
