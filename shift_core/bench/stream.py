"""One perftest bandwidth stream through an endpoint pair, sampled over virtual time, with the path in use.

The sender keeps ``depth`` WRs of ``op`` outstanding (perftest ``run_iter_bw``); for SEND the receiver keeps
receive WQEs posted and reposts each one it polls. Between steps both layers run their background step. Per
sample window we record goodput (bytes of successful app completions) and the share of polling steps in which
the sender's QP was on its default path (the layer's send-queue state; always 1 without a layer), so a figure
can show both *that* traffic flows and *which* NIC carries it. An error completion handed to the application
ends the stream, as it ends perftest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shift_core.bench.endpoints import Endpoint
from shift_core.bench.perftest import recv_wr, send_wr


@dataclass
class Sample:
    """One sample window ending at ``t_ns``."""

    t_ns: int
    good_bytes: int
    default_share: float  #: share of the window's polling steps with the sender on its default path


@dataclass
class StreamRun:
    """What one stream did: samples, the app-visible errors, and the time of each successful completion."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    ok_ns: list[int] = field(default_factory=list)


def next_event(backend: Any, limit_ns: int) -> None:
    """Advance to the fabric's next scheduled event (at most ``limit_ns``): what a busy-polling app sees."""
    env = backend.fabric.env
    nxt = env.peek()
    target = limit_ns if nxt is None else min(max(nxt, env.now), limit_ns)
    backend.advance(max(0, target - env.now))


def run_stream(backend: Any, a: Endpoint, b: Endpoint, op: str, nbytes: int, depth: int, until_ns: int,
               sample_ns: int, step_ns: int) -> StreamRun:
    """Stream ``op`` from ``a`` to ``b`` until ``until_ns``; one :class:`Sample` per ``sample_ns``.

    ``step_ns`` is the polling period; ``0`` polls after every fabric event (exact, slower), which is how the
    downtime benchmark keeps its measurement from being quantised by the step."""
    out = StreamRun()
    if op == "send":
        for i in range(2 * depth):
            b.post_recv(recv_wr(i, b.mr, nbytes))
    outstanding, next_id, alive = 0, 0, True
    window_end, good, steps, on_default = backend.now_ns() + sample_ns, 0, 0, 0
    while backend.now_ns() < until_ns:
        while alive and outstanding < depth:
            try:
                a.post_send(send_wr(op, next_id, a.mr, b.mr, nbytes))
            except Exception as exc:
                out.errors.append((backend.now_ns(), f"post_send: {exc}"))
                alive = False
                break
            next_id += 1
            outstanding += 1
        if step_ns:
            backend.advance(step_ns)
        else:
            next_event(backend, until_ns)
        a.progress()
        b.progress()
        now = backend.now_ns()
        steps += 1
        on_default += a.on_default()
        for wc in a.poll(2 * depth):
            outstanding -= 1
            if wc.ok:
                good += nbytes
                out.ok_ns.append(now)
            else:
                out.errors.append((now, wc.status.name))
                alive = False
        if op == "send":
            for wc in b.poll(2 * depth):
                if wc.ok:
                    b.post_recv(recv_wr(wc.wr_id, b.mr, nbytes))
        if now >= window_end:
            out.samples.append(Sample(window_end, good, on_default / steps))
            window_end += sample_ns
            good, steps, on_default = 0, 0, 0
    return out
