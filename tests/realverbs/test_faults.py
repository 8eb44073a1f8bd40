"""Fault commands run beside the poll loop: the host's and the peer's are started when due, their times come
back on the host's clock (the peer's mapped by the measured offset), and a failing command is recorded."""

from __future__ import annotations

import threading
import time

from shift_core.realverbs.channel import Channel, Offset
from shift_core.realverbs.faults import PeerFaults, Schedule, run_now


def test_host_and_peer_faults_fire_when_due_and_report_host_clock_times(pair: tuple[Channel, Channel]) -> None:
    host, peer = pair
    stop = threading.Event()
    offset = Offset(offset_ns=7_000_000_000, uncertainty_ns=0, samples=1)  # the peer's clock runs 7 s ahead

    def peer_loop() -> None:
        faults = PeerFaults(peer)
        while not stop.is_set():
            faults.step()
            time.sleep(0.001)

    t = threading.Thread(target=peer_loop, daemon=True)
    t.start()
    t0 = time.monotonic_ns()
    sched = Schedule([{"at_s": 0.05, "side": "host", "cmd": "true", "action": "down"},
                      {"at_s": 0.10, "side": "peer", "cmd": "sleep 0.05", "action": "down"},
                      {"at_s": 0.15, "side": "host", "cmd": "exit 3", "action": "up"}], host, t0)
    while time.monotonic_ns() - t0 < 300_000_000:
        sched.step(time.monotonic_ns())
        time.sleep(0.002)
    assert sched.started == 3
    done = sched.finish(Offset(0, 0, 1))
    stop.set()
    t.join()
    by_cmd = {d["cmd"]: d for d in done}
    assert by_cmd["true"]["rc"] == 0 and 0.05 <= by_cmd["true"]["start_s"] < by_cmd["true"]["end_s"]
    assert by_cmd["exit 3"]["rc"] == 3  # recorded, not raised: the run goes on and the record says so
    peer_cmd = by_cmd["sleep 0.05"]
    assert peer_cmd["side"] == "peer" and peer_cmd["start_s"] >= 0.10
    assert peer_cmd["end_s"] - peer_cmd["start_s"] >= 0.05
    assert offset.to_host(t0 + 7_000_000_000) == t0


def test_restore_commands_run_one_after_the_other() -> None:
    out = run_now(["true", "false"])
    assert [r["rc"] for r in out] == [0, 1] and all(r["end_ns"] >= r["start_ns"] for r in out)
