"""The enumeration at tiny bounds: pinned counts (a change in what is explored shows up here), the positive
control (a deliberately broken SHIFT is caught, with a schedule), and the fault-free control."""

from __future__ import annotations

from shift_core.explore.expectations import Expectations, load_expectations
from shift_core.explore.search import ExploreConfig, explore


def _explore(mode: str, workload: str, strategies: tuple[str, ...], n: int = 1,
             expectations: Expectations | None = None) -> dict:
    cfg = ExploreConfig(mode=mode, workloads=(workload,), strategies=strategies, knobs={"n": n}, processes=1)
    return explore(cfg, expectations or load_expectations())


def test_pinned_single_fault_counts() -> None:
    rep = _explore("single", "send_recv", ("shift", "naive"))
    # census: 1 SEND + 1 ACK -> shift: 2 drops + 2 instants x 6 kinds = 14; naive (no switch-back, no flap): 10
    assert [(c["strategy"], c["runs"], c["distinct_end_states"]) for c in rep["cells"]] == [
        ("shift", 14, 3), ("naive", 10, 3)]
    assert rep["runs"] == 26 and rep["outcomes"] == {"correct": 20, "error_surfaced": 0, "silent_corruption": 4,
                                                     "stall": 0}
    assert all(c["census_outcome"] == "correct" for c in rep["cells"])  # the fault-free control
    assert rep["met"] and not rep["diverged"]


def test_pinned_pair_counts() -> None:
    rep = _explore("pairs", "rdma_read", ("shift",))
    assert (rep["first_fault_runs"], rep["placements"], rep["distinct_end_states"]) == (12, 1428, 8)
    assert rep["outcomes"] == {"correct": 850, "error_surfaced": 578, "silent_corruption": 0, "stall": 0}
    assert rep["met"] and not rep["diverged"]  # every second fault's point came: the replays are exact


def test_positive_control_broken_strategy_is_caught() -> None:
    rep = _explore("single", "fadd_counter", ("shift", "shift_unchecked"), n=2)
    cells = {c["strategy"]: c for c in rep["cells"]}
    assert cells["shift"]["outcomes"]["silent_corruption"] == 0
    assert cells["shift_unchecked"]["outcomes"]["silent_corruption"] > 0 and cells["shift_unchecked"]["met"]
    # the same run under an expectation that forbids corruption: a violation with a replayable schedule
    strict = Expectations.model_validate({"rules": [{"workloads": "*", "strategies": "*", "silent_corruption": "none",
                                                     "source": "test"}]})
    rep = _explore("single", "fadd_counter", ("shift_unchecked",), n=2, expectations=strict)
    assert not rep["met"] and rep["violations"]
    v = rep["violations"][0]
    assert v["outcome"] == "silent_corruption" and v["reason"]
    assert "silent corruption(s), expected none" in rep["cells"][0]["problems"][0]
    assert v["yaml"].startswith("run: {workload: fadd_counter, strategy: shift_unchecked")


def test_coverage_table_lists_every_machine_pair() -> None:
    from shift_core.shift.machine import RQ_TRANSITIONS, SQ_TRANSITIONS

    rep = _explore("single", "send_recv", ("shift",), n=2)
    cov = rep["coverage"]
    assert len(cov) == len(SQ_TRANSITIONS) + len(RQ_TRANSITIONS) and not rep["outside_table"]
    reached = {(r["queue"], r["state"], r["event"]) for r in cov if r["runs"]}
    assert {("sq", "default", "error_safe"), ("sq", "fallback", "probe_ok"), ("rq", "default", "handshake")} <= reached
    assert all(r["why_unreached"] for r in cov if not r["runs"])
