"""The claims table reads the two-host suite's files (the sim's shape) for rxe/nic; the one-guest suite's
perftest/failover mappings fill in only the keys no such file holds."""

from __future__ import annotations

import json
from pathlib import Path

from shift_core.bench.claims import verbs_summary


def test_a_benchmark_file_wins_over_the_one_guest_mapping(tmp_path: Path) -> None:
    rxe = tmp_path / "rxe"
    rxe.mkdir()
    (rxe / "perftest.json").write_text(json.dumps({"status": "ok", "summary": {
        "ib_write_lat": {"median_pair_ratio": 1.02}, "ib_write_bw": {"median_pair_ratio": 0.97}}}))
    assert verbs_summary(tmp_path, "rxe") == {"latency.max_ratio_shift": 1.02,
                                              "timeline.fault_free_ratio_shift_vs_none": 0.97}
    (rxe / "latency.json").write_text(json.dumps({"status": "ok", "summary": {"max_ratio_shift": 1.4}}))
    assert verbs_summary(tmp_path, "rxe") == {"timeline.fault_free_ratio_shift_vs_none": 0.97}
    (rxe / "latency.json").write_text(json.dumps({"status": "failed", "reason": "no data", "summary": {}}))
    assert "latency.max_ratio_shift" in verbs_summary(tmp_path, "rxe")  # a failed file answers nothing
