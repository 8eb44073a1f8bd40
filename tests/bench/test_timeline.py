"""Fig 7 timeline mechanics: samples on the paper's axis, stock RDMA dies at the fault, wire bytes attributed."""

from __future__ import annotations

from shift_core.bench import timeline
from shift_core.bench.config import load_config


def _settings() -> dict:
    config = load_config()
    p = dict(config["timeline"], duration_s=6, fault_at_s=3, recover_at_s=5, ops=["write"], strategies=["none"])
    return {"seed": 1, "fabric": config["fabric"], "timeline": p}


def test_stock_stream_stops_at_the_fault_and_samples_use_the_paper_axis() -> None:
    rows = timeline.run_one(_settings(), "none", "write", "receiver_nic")
    assert [r["t_s"] for r in rows] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    before = [r["gbps"] for r in rows if r["t_s"] <= 3]
    after = [r["gbps"] for r in rows if r["t_s"] >= 5]
    assert min(before) > 50 and max(after) == 0.0
    assert all(r["default_share"] == 1.0 for r in rows if r["t_s"] <= 3)


def test_scaled_timeout_shrinks_detection_with_the_axis() -> None:
    assert timeline.scaled_timeout(14, 1.0) == 14
    assert timeline.scaled_timeout(14, 0.001) == 4
    assert timeline.scaled_timeout(3, 0.0001) == 1
