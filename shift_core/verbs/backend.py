"""The ``rxe`` / ``nic`` backend object: pyverbs' classes, the wall clock and the trace recorder.

``open_backend("rxe")`` returns an object with the same shape as ``sim``'s (``backend.Context(name=...)``,
``backend.PD(ctx)``, ...), so SHIFT and the workloads swap backends by one call. Time is real:
``now_ns`` is the monotonic clock and ``advance(ns)`` sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shift_core.backend.interface import TraceRecorder
from shift_core.errors import NoDevice, ShiftUserError
from shift_core.verbs.completion import VerbsCompChannel, VerbsCQ
from shift_core.verbs.context import VerbsContext
from shift_core.verbs.memory import VerbsMR, VerbsPD
from shift_core.verbs.pyverbs_api import pyverbs
from shift_core.verbs.queue_pair import VerbsQP

#: GID index of the IPv4-mapped RoCE v2 GID on rxe (index 0 is the IPv6 link-local GID)
RXE_GID_INDEX = 1


class VerbsBackend:
    """pyverbs as a :class:`~shift_core.backend.Backend`. ``name`` is ``"rxe"`` or ``"nic"``."""

    def __init__(self, name: str = "rxe", gid_index: int = RXE_GID_INDEX) -> None:
        if name not in ("rxe", "nic"):
            raise ShiftUserError(f"unknown verbs backend {name!r}: use 'rxe' or 'nic'")
        pyverbs()  # fail early, with the one-line reason, where pyverbs cannot load
        self.name = name
        self.gid_index = gid_index
        self.recorder = TraceRecorder()
        self._mrs: dict[tuple[int, int], VerbsMR] = {}  #: (id(context), lkey)
        self._qps: dict[tuple[int, int], VerbsQP] = {}  #: (id(context), qp_num)
        self.Context = type("Context", (VerbsContext,), {"backend": self})
        self.PD = VerbsPD
        self.MR = VerbsMR
        self.CQ = VerbsCQ
        self.CompChannel = VerbsCompChannel
        self.QP = VerbsQP

    def get_device_list(self) -> list[str]:
        """Names of the RDMA devices; ``[]`` on a kernel without RDMA (pyverbs raises ENOSYS there)."""
        pv = pyverbs()
        try:
            devs = pv.device.get_device_list()
        except pv.pyverbs_error.PyverbsError:
            return []
        return [d.name.decode() if isinstance(d.name, bytes) else str(d.name) for d in devs]

    def require_devices(self, names: list[str]) -> None:
        """:raises NoDevice: one of ``names`` is not present (the message lists what is)."""
        have = self.get_device_list()
        missing = [n for n in names if n not in have]
        if missing:
            raise NoDevice(f"RDMA device(s) {', '.join(missing)} not found (present: {', '.join(have) or 'none'}): "
                           "name existing devices in config, or run on the rxe guest (`shift rxe run`)")

    def forget_context(self, ctx_id: int) -> None:
        """Drop the tracer's MR/QP entries of a closed context (their numbers are reused by new objects)."""
        for reg in (self._mrs, self._qps):
            for key in [k for k in reg if k[0] == ctx_id]:
                del reg[key]

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def advance(self, ns: int) -> None:
        if ns > 0:
            time.sleep(ns / 1e9)

    def read_local(self, ctx_id: int) -> Callable[[int, int, int], bytes]:
        """A reader of local registered memory of the context ``ctx_id`` by (addr, length, lkey), for the tracer."""
        def read(addr: int, length: int, lkey: int) -> bytes:
            mr = self._mrs.get((ctx_id, lkey))
            if mr is None or length == 0:
                return b""
            return mr.read(length, addr - mr.buf)
        return read


def open_backend(name: str = "rxe", gid_index: int = RXE_GID_INDEX) -> VerbsBackend:
    """The verbs backend ``name``.

    :raises NoDevice: pyverbs cannot be imported by this interpreter.
    """
    return VerbsBackend(name, gid_index)
