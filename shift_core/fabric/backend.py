"""The ``sim`` backend: one object carrying the verbs classes, the clock and the trace (``Backend``
protocol of :mod:`shift_core.backend.interface`).

``make_fabric()`` builds the paper's testbed shape by default: two hosts, two NICs each, one switch,
100 Gb/s links::

    b = make_fabric(hosts=2, nics_per_host=2, seed=1)
    ctx = b.Context(name="h0.nic0")
    ...
    b.faults.link_down("h1.nic0", at_ns=50_000)
    b.advance(1_000_000)          # run 1 ms of virtual time
    b.recorder.trace              # model events, judged by shift_core.model
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shift_core.backend.interface import TraceRecorder
from shift_core.fabric import verbs
from shift_core.fabric.injector import FaultInjector
from shift_core.fabric.topology import Fabric

if TYPE_CHECKING:
    from shift_core.fabric.faults import FaultSchedule


class SimBackend:
    """The embedded software RDMA fabric as a backend (``name = "sim"``)."""

    name = "sim"
    gid_index = 0  #: the GID table index to use (rxe needs 1, its RoCEv2 IPv4 GID)
    PD = verbs.PD
    MR = verbs.MR
    CQ = verbs.CQ
    CompChannel = verbs.CompChannel
    QP = verbs.QP

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        #: ``Context`` bound to this fabric (a subclass per backend, so two fabrics never mix)
        self.Context: type[verbs.Context] = type("Context", (verbs.Context,), {"_fabric": fabric})
        self.recorder: TraceRecorder = fabric.recorder
        self.faults = FaultInjector(fabric)

    def get_device_list(self) -> list[str]:
        """``ibv_get_device_list``: the device names (``h0.nic0``, ...)."""
        return list(self.fabric.nics)

    def now_ns(self) -> int:
        """Virtual time (ns)."""
        return self.fabric.env.now

    def advance(self, ns: int) -> None:
        """Run the event loop for ``ns`` of virtual time."""
        env = self.fabric.env
        env.run(env.now + ns)

    def run_until_idle(self, limit_ns: int | None = None) -> None:
        """Run until nothing is scheduled (or ``limit_ns`` of virtual time passed)."""
        env = self.fabric.env
        env.run(None if limit_ns is None else env.now + limit_ns)


def make_fabric(hosts: int = 2, nics_per_host: int = 2, gbps: float = 100.0, prop_ns: int = 500,
                switch_ns: int = 300, seed: int = 0, dup_write: str = "reexecute",
                schedule: FaultSchedule | dict[str, Any] | str | Path | None = None) -> SimBackend:
    """A ``sim`` backend over a fresh fabric; ``schedule`` (a path, dict or
    :class:`~shift_core.fabric.faults.FaultSchedule`) is validated and armed."""
    backend = SimBackend(Fabric(hosts, nics_per_host, gbps, prop_ns, switch_ns, seed, dup_write))
    if schedule is not None:
        from shift_core.fabric.faults import load_schedule
        load_schedule(schedule).arm(backend.faults)
    return backend
