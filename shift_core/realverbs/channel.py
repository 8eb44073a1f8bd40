"""The application's out-of-band channel between the two hosts: JSON lines over one TCP connection.

Every RDMA application bootstraps this way (perftest's port 18515, NCCL's bootstrap ring): QP numbers, GIDs,
rkeys and "ready" travel over TCP on the management network before and beside the RDMA traffic. Here the two
halves of each benchmark also use it to tell each other when to inject a fault and what they verified.

Clocks: each side timestamps with its own ``CLOCK_MONOTONIC``; :func:`measure_offset` (NTP's min-RTT method)
maps the peer's clock onto the host's, so timelines need no synchronised clocks, and the uncertainty is half
the best round trip. :class:`ClockError` is raised when that bound, or the drift of the offset over a run, is
larger than the tolerance: then peer-side times could no longer be placed on the host's timeline.
"""

from __future__ import annotations

import json
import select
import socket
import time
from dataclasses import dataclass
from typing import Any


class ChannelClosed(Exception):
    """The other side closed the connection (its agent exited)."""


class ClockError(Exception):
    """The peer's clock cannot be mapped onto the host's within the tolerance (one-line message)."""


class RemoteError(Exception):
    """The other side reported an error instead of the message we waited for."""


class Aborted(Exception):
    """The host gave up on the current run (its half failed): the peer's half stops and waits for the next."""


class Channel:
    """One TCP connection carrying JSON objects, one per line; ``poll`` never blocks."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._buf = b""
        self._queue: list[dict[str, Any]] = []

    @classmethod
    def connect(cls, host: str, port: int, timeout_s: float = 30.0) -> Channel:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return cls(socket.create_connection((host, port), timeout=10))
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def send(self, kind: str, **payload: Any) -> None:
        self.sock.sendall(json.dumps({"t": kind, **payload}).encode() + b"\n")

    def _fill(self, timeout_s: float | None) -> None:
        r, _, _ = select.select([self.sock], [], [], timeout_s)
        if not r:
            return
        data = self.sock.recv(1 << 16)
        if not data:
            raise ChannelClosed("the other side closed the channel")
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self._queue.append(json.loads(line))

    def poll(self, kind: str | None = None) -> dict[str, Any] | None:
        """The next message (of ``kind``, when given) already received, or ``None``; never blocks.

        :raises Aborted: the host sent ``abort`` while we wait for something else (a peer half stops).
        """
        self._fill(0)
        if kind not in (None, "abort") and any(m["t"] == "abort" for m in self._queue):
            self._queue = [m for m in self._queue if m["t"] != "abort"]
            raise Aborted("the host aborted the run")
        for i, msg in enumerate(self._queue):
            if kind is None or msg["t"] == kind:
                return self._queue.pop(i)
        return None

    def recv(self, kind: str | None = None, timeout_s: float = 60.0) -> dict[str, Any]:
        """The next message (of ``kind``), waiting at most ``timeout_s``.

        :raises TimeoutError: nothing arrived in time.
        :raises ChannelClosed: the other side went away.
        :raises RemoteError: the other side sent ``error`` instead.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            err = self.poll("error") if kind not in (None, "error") else None
            if err is not None:
                raise RemoteError(err.get("message", "the other side failed"))
            msg = self.poll(kind)
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind or 'message'} from the other side within {timeout_s:.0f} s")
            self._fill(min(left, 1.0))

    def discard(self) -> None:
        """Drop every message received so far (leftovers of an aborted run)."""
        self._fill(0)
        self._queue.clear()

    def close(self) -> None:
        self.sock.close()


def listen(addr: str) -> socket.socket:
    """A listening socket on ``addr`` and a free port (the agent prints the port for the controller)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, 0))
    srv.listen(1)
    return srv


@dataclass(frozen=True)
class Offset:
    """``peer_ns - host_ns`` at the same instant, within ``uncertainty_ns`` (half the best round trip)."""

    offset_ns: int
    uncertainty_ns: int
    samples: int

    def to_host(self, peer_ns: int) -> int:
        return peer_ns - self.offset_ns


def measure_offset(ch: Channel, samples: int = 16, good_ns: int = 0) -> Offset:
    """Ping the peer ``samples`` times; keep the exchange with the smallest round trip (NTP's filter). When
    ``good_ns`` is given and the best half round trip is above it, ping up to three times as often more."""
    best: tuple[int, int] | None = None  #: (rtt, offset)
    done = 0
    while done < samples or (good_ns and done < 4 * samples and best is not None and best[0] // 2 > good_ns):
        t0 = time.monotonic_ns()
        ch.send("ping", i=done)
        pong = ch.recv("pong", timeout_s=10)
        t1 = time.monotonic_ns()
        done += 1
        rtt = t1 - t0
        off = int(pong["ns"]) - (t0 + t1) // 2
        if best is None or rtt < best[0]:
            best = (rtt, off)
    assert best is not None
    return Offset(best[1], best[0] // 2, done)


def answer_ping(ch: Channel, msg: dict[str, Any]) -> None:
    ch.send("pong", i=msg.get("i"), ns=time.monotonic_ns())


def check_clock(before: Offset, after: Offset, tolerance_ms: float, what: str) -> None:
    """:raises ClockError: when either offset is too uncertain or the offset moved by more than the tolerance."""
    tol = tolerance_ms * 1e6
    worst = max(before.uncertainty_ns, after.uncertainty_ns)
    if worst > tol:
        raise ClockError(f"{what}: the host-peer clock offset is only known to +-{worst / 1e6:.1f} ms (round trip "
                         f"{2 * worst / 1e6:.1f} ms on the management network) > backends.nic.max_skew_ms="
                         f"{tolerance_ms:g}: peer-side fault times would be misplaced on the timeline; use a "
                         "quieter management network or raise the limit")
    drift = abs(after.offset_ns - before.offset_ns)
    if drift > tol + before.uncertainty_ns + after.uncertainty_ns:
        raise ClockError(f"{what}: the peer's clock moved {drift / 1e6:.1f} ms against the host's during the run "
                         f"(> backends.nic.max_skew_ms={tolerance_ms:g}): a clock was stepped or slewed; let "
                         "chrony/ptp4l settle (or stop it) and rerun")
