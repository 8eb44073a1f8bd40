"""Detection latency on the sim fabric follows the RC timer: (retry_cnt + 1) ACK timeouts, give or take one."""

from __future__ import annotations

from shift_core.bench import detection
from shift_core.bench.config import load_config
from shift_core.bench.sim import ack_timeout_ns


def test_detection_is_bounded_by_the_rc_timer_and_grows_with_timeout() -> None:
    fabric = load_config()["fabric"]
    short = detection.measure(fabric, timeout=6, retry_cnt=2, seed=3)
    longer = detection.measure(fabric, timeout=8, retry_cnt=2, seed=3)
    t6 = ack_timeout_ns(6) / 1e9
    assert 2 * t6 <= short <= 4 * t6
    assert longer > 3 * short


def test_run_reports_one_metric_per_setting() -> None:
    config = load_config()
    settings = {"seed": 1, "fabric": config["fabric"],
                "detection": {"timeouts": [5, 6], "retry_cnts": [1], "runs": 2}}
    result = detection.run(settings)
    assert set(result.summary) == {"detect_s_t5_r1", "detect_s_t6_r1"}
    assert len(result.frame) == 4
