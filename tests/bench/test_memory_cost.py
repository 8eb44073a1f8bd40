"""Backup memory formula: the paper's inputs give the paper's numbers; the numbers follow the inputs."""

from __future__ import annotations

from shift_core.bench import memory_cost
from shift_core.bench.config import load_config


def test_paper_inputs_give_paper_numbers() -> None:
    result = memory_cost.run(load_config())
    assert result.summary["qp_bytes"] == 3120 + 512 * 256 + 256 * 16 == 138_288
    assert result.summary["cq_bytes"] == 592 + 512 * 64 == 33_360
    assert round(float(result.summary["per_1k_mb"])) == 172  # 171.648 MB: the paper's "≈ 171 MB" truncates


def test_totals_scale_with_connections_and_inputs() -> None:
    config = load_config()
    p = dict(config["memory_cost"], sq_depth=1024, connections=[1, 10])
    result = memory_cost.run({"memory_cost": p})
    assert result.summary["qp_bytes"] == 3120 + 1024 * 256 + 256 * 16
    totals = list(result.frame["total_bytes"])
    assert totals[1] == 10 * totals[0]
