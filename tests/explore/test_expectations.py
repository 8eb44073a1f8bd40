"""The expectations file: every cell resolves, later rules override, and a violated expectation is named."""

from __future__ import annotations

from shift_core.explore.controls import CONTROL_STRATEGIES
from shift_core.explore.expectations import load_expectations
from shift_core.vocabulary import STRATEGIES, WORKLOADS


def test_the_repository_file_states_the_theorems_predictions() -> None:
    e = load_expectations()
    for w in ("nccl_simple", "rdma_read", "send_recv", "fadd_counter", "cas_lock"):
        assert e.cell(w, "shift").silent_corruption == "none"
    for w in ("fadd_counter", "cas_lock", "send_recv"):
        assert e.cell(w, "naive").silent_corruption == "some"
    assert e.cell("buffer_reuse", "shift").silent_corruption == "some"  # Thm 1
    assert all(e.cell(w, s).stall == "none" for w in WORKLOADS for s in ("shift", "staging", "receiver_log"))
    for name in CONTROL_STRATEGIES:
        assert any(e.cell(w, name).silent_corruption == "some" for w in WORKLOADS)
    assert all(e.cell(w, s).corruption_source for w in WORKLOADS for s in STRATEGIES)


def test_problems_name_the_violation() -> None:
    e = load_expectations().cell("send_recv", "shift")
    assert e.problems({"silent_corruption": 0, "stall": 0}, "correct") == []
    assert "2 silent corruption(s), expected none" in e.problems({"silent_corruption": 2}, "correct")[0]
    assert "census run is stall" in e.problems({}, "stall")[0]
    some = load_expectations().cell("send_recv", "naive")
    assert "no silent corruption found" in some.problems({"silent_corruption": 0}, "correct")[0]
