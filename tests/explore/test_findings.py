"""What the exploration found, pinned as replays of the schedules it printed (the report and the book cite these):
each test replays one schedule and asserts the behaviour found. A change that alters one of them fails here and
must update the finding, not the test's expectation alone."""

from __future__ import annotations

from shift_core.explore.runner import execute
from shift_core.explore.schedule import load_replay

FLAP = [{"kind": "link_down", "nic": "h0.nic0", "when": {"message": 1}},
        {"kind": "link_up", "nic": "h0.nic0", "when": {"transition": {"host": "any", "to": "fallback"}}}]


def test_naive_hangs_nccl_ll_after_a_nic_death() -> None:
    """naive (no counters) resends a WRITE_WITH_IMM the receiver already consumed; the receiver's proxy answers
    the duplicate with one CTS too many, which overwrites a CTS FIFO slot the sender has not read yet, and the
    sender waits for its CTS forever: a silent hang (stall), no corruption of the consumed lines."""
    o = execute(load_replay({"run": {"workload": "nccl_ll", "strategy": "naive", "n": 8},
                             "faults": [{"kind": "nic_fatal", "nic": "h0.nic0", "when": {"response": 6}}]}))
    assert o.outcome == "stall" and o.unfired == []


def test_first_probe_is_lost_to_the_peers_errored_qp() -> None:
    """Both sides probe after failing over; the first probe reaches the peer's default QP while it is still in ERR
    (the peer resets it only when its own probe is due), is dropped, and the switch-back waits one RC timeout for
    the retransmitted probe (65.5 us here at timeout 4; 4.2 ms at timeout 10; about 4.3 s at NCCL's timeout 20)."""
    o = execute(load_replay({"run": {"workload": "send_recv", "strategy": "shift", "n": 4}, "faults": FLAP}),
                census=True)
    probes = [(m.label, m.attempt, m.t_ns) for m in o.messages if m.label.endswith(".probe")]
    assert probes[0][:2] == ("A.default.probe", 1) and ("A.default.probe", 2) in [p[:2] for p in probes]
    retry = next(t for label, attempt, t in probes if attempt == 2) - probes[0][2]
    assert retry >= 4096 * 2**4 and o.outcome == "correct"
