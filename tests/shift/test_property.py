"""Hypothesis over random fault schedules: ``shift`` never silently corrupts the traffic it supports
(NCCL Simple, RDMA READ, SEND/RECV; paper Table 1), whatever the fault kind, site, timing and duration.
A positive control runs the same generator against ``naive`` and must find a corruption, so the property
is not vacuous."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shift_core.bench.matrix import MatrixConfig, Schedule, run_schedule
from shift_core.bench.workloads import SUPPORTED_WORKLOADS
from shift_core.vocabulary import FAULT_KINDS, FAULT_SITES

schedules = st.builds(
    lambda wl, fk, site, after, delay, scale, up, count, prob, second, kv, host, seed: Schedule(
        0, seed, wl, "shift", fk, site, after,
        {"delay": delay, "scale": scale, "up": up, "count": float(count), "prob": prob, "second": second,
         "second_kv": float(kv), "second_host": float(host)}),
    st.sampled_from(SUPPORTED_WORKLOADS), st.sampled_from(FAULT_KINDS), st.sampled_from(FAULT_SITES),
    st.integers(0, 4), st.floats(0, 3_000), st.floats(0.4, 3.0), st.floats(0.2, 2.0), st.integers(1, 3),
    st.floats(0.05, 1.0), st.floats(0.0, 2.5), st.booleans(), st.booleans(), st.integers(0, 2**16))

CFG = MatrixConfig(n=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules)
def test_shift_never_silently_corrupts_supported_traffic(s: Schedule) -> None:
    row = run_schedule(s, CFG)
    assert row["outcome"] != "silent_corruption", row


def test_positive_control_naive_corrupts_under_the_same_generator() -> None:
    found = []
    for seed in range(60):
        s = Schedule(0, seed, "send_recv", "naive", "ack_loss", "sender_nic", 2,
                     {"delay": 0.0, "scale": 2.0, "up": 1.0, "count": 1.0, "prob": 1.0, "second": 0.0,
                      "second_kv": 0.0, "second_host": 0.0})
        if run_schedule(s, CFG)["outcome"] == "silent_corruption":
            found.append(seed)
            break
    assert found, "naive never slid the queue: the generator cannot reach the failure the property excludes"
