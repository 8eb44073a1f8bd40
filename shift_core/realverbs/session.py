"""What one host's half of a benchmark run has at hand, and how the two halves set up a connection.

:func:`pair_up` is the application-level bootstrap every benchmark shares: open the endpoint (stock verbs or
a strategy's layer), trade attributes over the channel, connect, then keep the layer's background step running
until both hosts report their backup path set up ("ready") -- SHIFT's shadow verbs replay best-effort and need
the peer's published attributes, so neither side may block waiting for the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from shift_core.realverbs.channel import Channel, Offset
from shift_core.realverbs.endpoint import Devices, Endpoint, PrefixKV, open_endpoint


@dataclass
class Context:
    """One host's half of a run: its role (``host`` sends, ``peer`` is the target), devices and channel."""

    role: str
    backend: Any
    devs: Devices
    ch: Channel
    kv: Any
    rc: dict[str, int]
    run_id: str = "run"
    offset: Offset = field(default_factory=lambda: Offset(0, 0, 0))  #: the peer's clock vs the host's

    @property
    def is_host(self) -> bool:
        return self.role == "host"

    def exchange(self, kind: str, payload: dict[str, Any], timeout_s: float = 120) -> dict[str, Any]:
        """Send ``payload`` as ``kind`` and receive the other side's (the host sends first)."""
        if self.is_host:
            self.ch.send(kind, **payload)
            return self.ch.recv(kind, timeout_s)
        got = self.ch.recv(kind, timeout_s)
        self.ch.send(kind, **payload)
        return got


def pair_up(ctx: Context, variant: str, buf_bytes: int, depth: int, max_recv: int = 0,
            ready_timeout_s: float = 120) -> tuple[Endpoint, dict[str, Any]]:
    """A connected endpoint of ``variant`` and the peer's attributes, with both backup paths ready."""
    kv = PrefixKV(ctx.kv, f"{ctx.run_id}:") if ctx.kv is not None else None
    ep = open_endpoint(ctx.backend, variant, ctx.devs, kv, buf_bytes, depth, max_recv)
    peer = ctx.exchange("attrs", ep.attrs())
    ep.connect(peer, int(ctx.rc["timeout"]), int(ctx.rc["retry_cnt"]))
    wait_ready(ctx, ep, ready_timeout_s)
    return ep, peer


def wait_ready(ctx: Context, ep: Endpoint, timeout_s: float = 120) -> None:
    """Run the layer's background step until both hosts have their backup path (``ready`` both ways)."""
    sent = got = False
    deadline = time.monotonic() + timeout_s
    while not (sent and got):
        ep.progress()
        if not sent and ep.ready:
            ctx.ch.send("ready")
            sent = True
        if not got and ctx.ch.poll("ready") is not None:
            got = True
        if time.monotonic() > deadline:
            raise TimeoutError(f"backup path not set up within {timeout_s:.0f} s (this host ready: {ep.ready}, "
                               f"peer ready: {got}): is the backup device's link up on both hosts?")
        time.sleep(0.002)
