"""The app's channel between the two halves: JSON lines that never block the poll loop, an abort that stops the
peer's half, and the clock mapping -- measured, bounded, and refused in one line when it cannot be trusted."""

from __future__ import annotations

import threading
import time

import pytest

from shift_core.realverbs.channel import (
    Aborted,
    Channel,
    ClockError,
    Offset,
    RemoteError,
    answer_ping,
    check_clock,
    measure_offset,
)


def test_messages_arrive_in_order_and_poll_never_blocks(pair: tuple[Channel, Channel]) -> None:
    host, peer = pair
    assert peer.poll() is None
    host.send("attrs", qpn=17)
    host.send("ready")
    assert peer.recv("ready", timeout_s=5) == {"t": "ready"}
    assert peer.poll("attrs") == {"t": "attrs", "qpn": 17}  # a message of another kind waits in the queue
    with pytest.raises(TimeoutError, match="no verified from the other side within 0 s"):
        peer.recv("verified", timeout_s=0.01)


def test_an_abort_stops_the_peers_half_and_an_error_reaches_the_host(pair: tuple[Channel, Channel]) -> None:
    host, peer = pair
    host.send("abort")
    with pytest.raises(Aborted):
        peer.poll("stop")
    peer.send("error", message="peer: TimeoutError: stalled")
    with pytest.raises(RemoteError, match="stalled"):
        host.recv("verified", timeout_s=5)


def test_the_offset_is_measured_to_half_the_best_round_trip(pair: tuple[Channel, Channel]) -> None:
    host, peer = pair
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            msg = peer.poll("ping")
            if msg:
                answer_ping(peer, msg)
            time.sleep(0.0005)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        off = measure_offset(host, samples=8)
    finally:
        stop.set()
        t.join()
    assert off.samples == 8 and off.uncertainty_ns < 50_000_000
    assert abs(off.offset_ns) <= off.uncertainty_ns + 1_000_000  # one clock here: the mapping is ~0
    assert Offset(1_000, 0, 1).to_host(5_000) == 4_000


def test_clock_trouble_is_one_line_naming_the_limit() -> None:
    good = Offset(10_000_000_000, 100_000, 16)
    check_clock(good, Offset(10_000_100_000, 100_000, 16), tolerance_ms=5, what="run 3")
    with pytest.raises(ClockError) as exc:
        check_clock(good, Offset(10_030_000_000, 100_000, 16), tolerance_ms=5, what="run 3")
    assert "run 3: the peer's clock moved 30.0 ms" in str(exc.value) and "backends.nic.max_skew_ms=5" in str(exc.value)
    assert "\n" not in str(exc.value)
    with pytest.raises(ClockError, match=r"only known to \+-8.0 ms"):
        check_clock(Offset(0, 8_000_000, 16), good, tolerance_ms=5, what="run 4")
