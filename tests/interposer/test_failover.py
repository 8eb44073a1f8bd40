"""libshift.so's failover, handshake and switch-back, end to end on the fake provider.

csrc/shift_pair checks every message (order, duplicates, gaps, bytes); libshift's trace (SHIFT_TRACE) shows
every transition of the generated table. Faults are the fake provider's link faults: ``down`` (ports down,
LOC_QP_OP_ERR at once), ``blackhole`` (requests lost: RETRY_EXC_ERR after the retries), ``ackloss``
(requests execute, ACKs lost: the indistinguishable case of Lemma 1 that the receive counters resolve)."""

from __future__ import annotations

from typing import Any

import pytest

WORKLOADS = ["send", "nccl", "read", "pingpong"]
FAULTS = ["down", "blackhole", "ackloss"]
CYCLE = ["--n", "800", "--fault-at", "100,450", "--restore-at", "300,650", "--pace-us", "300"]


def pair(fake: Any, workload: str, fault: str, *extra: str, program: str = "shift_pair", **kw: Any) -> Any:
    return fake(program, "--workload", workload, "--fault", f"fake:p:{fault}", "--restore", "fake:p:up",
                *CYCLE, *extra, **kw)


def assert_intact(run: Any) -> None:
    for name, h in run.hosts.items():
        assert h["ok"], (name, h, run.stderr[-3000:])
        assert h["duplicates"] == 0 and h["gaps"] == 0 and h["corrupt"] == 0 and h["errors"] == 0, h
    assert run.rc == 0, run.stderr[-3000:]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_two_failovers_and_switch_backs_deliver_every_message_once(fake: Any, workload: str, fault: str) -> None:
    """Two fault/repair cycles: every message arrives exactly once, in order, intact; the sender's queue
    returns to the default QP after each repair (probe, fence, notification)."""
    run = pair(fake, workload, fault)
    assert_intact(run)
    sender = min(run.summaries())  # A's QP is created first
    steps = run.transitions(sender)
    assert sum(s.startswith("sq DEFAULT-ERROR_SAFE->FALLBACK") or s.startswith("sq DEFAULT-PEER_FALLBACK")
               for s in steps) == 2, steps
    assert steps.count("sq WAIT_DRAINED-FENCE_DONE->DEFAULT") == 2, steps
    assert run.summaries()[sender]["switch_backs"] == 2


@pytest.mark.parametrize("workload", ["send", "pingpong"])
def test_counter_handshake_skips_what_the_peer_already_received(fake: Any, workload: str) -> None:
    """ACK loss: the peer executed SENDs the sender could not see complete. Replaying them would slide the
    receive queue (Lemma 2); the peer's receive counter retires them instead."""
    run = pair(fake, workload, "ackloss")
    assert_intact(run)
    assert sum(s["skipped"] for s in run.summaries().values()) > 0, run.summaries()
    assert "handshake" in run.stderr and "not retransmitted" in run.stderr


@pytest.mark.parametrize("program", ["shift_pair", "shift_pair_dl"])
@pytest.mark.parametrize("workload", ["send", "pingpong"])
def test_event_driven_programs_wake_through_failover_and_switch_back(fake: Any, workload: str,
                                                                       program: str) -> None:
    """Each host sleeps in ibv_get_cq_event whenever its CQ is empty (ibv_rc_pingpong's loop). While failed over
    the completions come from the backup CQ, which never raises the application's channel: libshift's own
    eventfd must wake it, or the run hangs (a libshift without that wake-up times out here)."""
    run = pair(fake, workload, "down", "--events", program=program, timeout=60)
    assert_intact(run)
    assert sum(s["switch_backs"] for s in run.summaries().values()) >= 2, run.summaries()


def test_fillers_consume_the_stale_receive_wqes_of_a_switch_back(fake: Any) -> None:
    """After a switch-back the receiver's backup QP keeps stale RECVs; the next failover's handshake reports
    them and the sender consumes them with zero-length SENDs before its own, so nothing slides."""
    run = pair(fake, "send", "ackloss")
    assert_intact(run)
    assert sum(s["fillers"] for s in run.summaries().values()) > 0, run.summaries()
    assert any(t.get("handshake") and t["stale"] > 0 for t in run.trace)


@pytest.mark.parametrize("workload", ["send", "pingpong"])
def test_send_recv_only_qps_accept_shifts_own_writes(fake: Any, workload: str) -> None:
    """ibv_rc_pingpong sets qp_access_flags 0 (SEND/RECV only). SHIFT's handshake, probe and notification are
    RDMA WRITEs into the peer's mailbox, so its backup QPs and reset default QPs allow remote writes (the fake
    provider, like rxe, rejects them otherwise: found on rxe)."""
    run = pair(fake, workload, "ackloss", "--qp-access", "0")
    assert_intact(run)
    assert sum(s["switch_backs"] for s in run.summaries().values()) >= 2


def test_without_libshift_the_same_fault_kills_the_run(fake: Any) -> None:
    """The control: stock verbs surface the first error completion; the program stops with it."""
    run = pair(fake, "send", "down", shift=False)
    assert run.rc != 0
    assert run.hosts["A"]["errors"] > 0 and run.hosts["A"]["error_status"]


def test_an_atomic_in_flight_surfaces_the_error(fake: Any) -> None:
    """FETCH_AND_ADD outstanding at the fault: not retransmission-safe (Theorem 2): ERROR_UNSAFE, surfaced."""
    run = fake("shift_pair", "--workload", "fadd", "--n", "400", "--fault", "fake:p:ackloss", "--fault-at", "100")
    assert run.hosts["A"]["errors"] > 0
    assert "sq DEFAULT-ERROR_UNSAFE->FAILED" in run.transitions()


def test_the_applications_own_error_is_surfaced_not_failed_over(fake: Any) -> None:
    run = fake("shift_pair", "--workload", "badrkey", "--n", "20")
    assert run.hosts["A"]["error_status"] == "remote access error"
    assert "sq DEFAULT-ERROR_UNSAFE->FAILED" in run.transitions()
    assert not any("FALLBACK" in s for s in run.transitions())


def test_without_a_backup_device_the_error_is_surfaced(fake: Any) -> None:
    """Whichever end polls its flushed WRs first reports the error and stops the run (both are surfaced)."""
    run = fake("shift_pair", "--n", "400", "--fault", "fake:p:down", "--fault-at", "100", backups=None)
    assert run.rc != 0 and run.hosts["A"]["errors"] + run.hosts["B"]["errors"] > 0, run.hosts
    assert "sq DEFAULT-SECOND_FAILURE->FAILED" in run.transitions()
    assert "no backup QP" in run.stderr


def test_the_backup_path_failing_too_is_a_second_failure(fake: Any) -> None:
    """Both links die: the failed-over QP's backup path errors -> SECOND_FAILURE, every outstanding WR completes
    in error (surfaced, never hidden), and nothing was delivered twice."""
    run = fake("shift_pair", "--n", "600", "--at", "100:fake:p:down", "--at", "300:fake:b:down")
    a, b = run.hosts["A"], run.hosts["B"]
    assert a["errors"] > 0 and b["duplicates"] == 0 and b["gaps"] == 0 and b["corrupt"] == 0
    assert "sq FALLBACK-SECOND_FAILURE->FAILED" in run.transitions()


def test_failures_during_the_switch_back_go_where_the_table_says(fake: Any) -> None:
    """A fault while a queue waits for its fence (WAIT_SIGNALED) or for the notification (WAIT_DRAINED) is
    DEFAULT_ERROR -> FALLBACK (machine.py); traffic stays intact and switches back after the last repair.
    B's send queue idles in WAIT_SIGNALED (it never posts a signaled WR in this workload); A's notification is
    black-holed right after its fence (the pacing gives the probe time to succeed before message 101, the
    fence)."""
    run = fake("shift_pair", "--workload", "send", "--n", "250", "--pace-us", "25000",
               "--at", "50:fake:p:down", "--at", "100:fake:p:up", "--at", "101:fake:p:blackhole",
               "--at", "130:fake:p:up", "--restore-at", "100", "--restore", "cmd:true")
    assert_intact(run)
    steps = run.transitions()
    assert "sq WAIT_DRAINED-DEFAULT_ERROR->FALLBACK" in steps, steps
    assert "sq WAIT_SIGNALED-DEFAULT_ERROR->FALLBACK" in steps, steps
    assert steps.count("sq WAIT_DRAINED-FENCE_DONE->DEFAULT") >= 1
