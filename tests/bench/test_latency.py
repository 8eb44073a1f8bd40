"""Write latency on the sim: deterministic, physically bounded, idle QPs add no work on the wire."""

from __future__ import annotations

from shift_core.bench import latency
from shift_core.bench.config import load_config


def _settings(iterations: int = 20) -> dict:
    config = load_config()
    return {"seed": 2, "fabric": config["fabric"],
            "latency": {"sizes": [1, 16], "iterations": iterations, "idle_qps": 20}}


def test_latency_is_at_least_the_wire_path_and_repeatable() -> None:
    settings = _settings()
    lat, _ = latency.measure(settings, "standard", 8)
    fabric = settings["fabric"]
    assert min(lat) * 1e3 >= fabric["prop_delay_ns"]  # two links of prop_delay/2 each, plus the switch
    assert lat == latency.measure(settings, "standard", 8)[0]


def test_idle_qps_do_not_change_sim_latency() -> None:
    settings = _settings()
    assert latency.measure(settings, "idle_qps", 4)[0] == latency.measure(settings, "standard", 4)[0]
