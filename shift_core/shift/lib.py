"""SHIFTLib for one process: the setup phase (shadow control verbs on a backup NIC, KV exchange) over any
backend (paper §4.1-4.2; SHIFT patches rdma-core's control verbs the same way).

The application calls ``alloc_pd``, ``reg_mr``, ``create_cq``, ``create_qp`` and
the QP's ``to_rts`` exactly as it would call pyverbs; each call runs on the default NIC at once and is
recorded as a *shadow verb* that ``progress()`` (the paper's background thread) replays on the backup NIC
later, best-effort: a verb whose remote attributes are not in the KV store yet is skipped and retried on the
next scan (App. B's deadlock avoidance). Nothing here waits on the backup, so the application's critical
path is unchanged. ``progress()`` also runs each QP's background step (handshake mailbox, probe).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import QPInitAttr
from shift_core.backend.enums import ibv_event_type
from shift_core.errors import ShiftRDMAError
from shift_core.kv.store import KVStore, KVUnavailable
from shift_core.shift.exchange import RemoteCache, mr_key
from shift_core.shift.record import LayerRecord
from shift_core.shift.strategy import Strategy, get_strategy

if TYPE_CHECKING:
    from shift_core.shift.cq import ShiftCQ
    from shift_core.shift.qp import ShiftQP

ShadowVerb = Callable[[], bool]  #: returns True once done; False = remote attributes not ready, retry later


class ShiftPD:
    """A protection domain on the default NIC plus its shadow on the backup NIC."""

    def __init__(self, lib: ShiftLib) -> None:
        self.lib = lib
        self.default: Any = lib.backend.PD(lib.ctx)
        self.backup: Any = None

        def shadow() -> bool:
            if lib.bctx is None:
                return False
            self.backup = lib.backend.PD(lib.bctx)
            return True

        lib.shadow(shadow)


class ShiftMR:
    """A memory region registered on the default NIC and (shadow verb) on the backup NIC over the same bytes.

    The app sees the default MR's ``buf``, ``lkey`` and ``rkey``; the backup rkey is published in the KV store
    under the default one, and the backup lkey is kept locally for WQ rewinds.
    """

    def __init__(self, lib: ShiftLib, pd: ShiftPD, length: int, access: int) -> None:
        self.lib = lib
        self.default: Any = lib.backend.MR(pd.default, length, access)
        self.buf: int = self.default.buf
        self.length: int = length
        self.lkey: int = self.default.lkey
        self.rkey: int = self.default.rkey
        self.backup: Any = None
        self.backup_rkey: int | None = None

        def shadow() -> bool:
            if pd.backup is None:
                return False
            if self.backup is None:
                self.backup = lib.backend.MR(pd.backup, length, access, address=self.buf)
                lib.lkey_map[self.lkey] = self.backup.lkey
                self.backup_rkey = self.backup.rkey
            lib.kv.put(mr_key(lib.default_gid, self.rkey), {"rkey": self.backup.rkey})
            return True

        lib.shadow(shadow)

    def write(self, data: bytes, length: int, offset: int = 0) -> None:
        self.default.write(data, length, offset)

    def read(self, length: int, offset: int = 0) -> bytes:
        return bytes(self.default.read(length, offset))

    def close(self) -> None:
        if self.backup is not None:
            self.backup.close()
        self.default.close()


class ShiftLib:
    """One process's SHIFT layer over ``backend``: default device, backup device, KV store, strategy.

    :param probe_interval_ns: how often a QP in Fallback resets and probes its default QP.
    """

    def __init__(self, backend: Any, default_dev: str, backup_dev: str, kv: KVStore,
                 strategy: str | Strategy = "shift", *, probe_interval_ns: int = 500_000) -> None:
        self.backend = backend
        self.strategy = get_strategy(strategy)
        self.kv = kv
        self.remote = RemoteCache(kv)
        self.gid_index: int = getattr(backend, "gid_index", 0)
        self.ctx: Any = backend.Context(name=default_dev)
        self.default_gid: str = self.ctx.query_gid(1, self.gid_index)
        self.backup_dev = backup_dev
        self.bctx: Any = None
        self.backup_gid: str | None = None
        self.probe_interval_ns = probe_interval_ns
        self.lkey_map: dict[int, int] = {}
        self.qps: list[ShiftQP] = []
        self.mrs: list[ShiftMR] = []
        self.cqs: list[ShiftCQ] = []
        self.record = LayerRecord()
        self._shadow: list[ShadowVerb] = []
        self._in_progress = False
        self.default_port_failed = False
        if self.strategy.failover:
            self.shadow(self._open_backup)

    # -- setup phase ------------------------------------------------------------------------------------------
    def _open_backup(self) -> bool:
        self.bctx = self.backend.Context(name=self.backup_dev)
        self.backup_gid = self.bctx.query_gid(1, self.gid_index)
        return True

    def shadow(self, verb: ShadowVerb) -> None:
        """Record a shadow control verb for replay on the backup NIC (no-op for strategy ``none``)."""
        if self.strategy.failover:
            self._shadow.append(verb)

    def replay(self) -> None:
        """Run pending shadow verbs best-effort: skip the ones not ready and rescan until nothing moves."""
        moved = True
        while self._shadow and moved:
            moved = False
            pending: list[ShadowVerb] = []
            for verb in self._shadow:
                try:
                    done = verb()
                except KVUnavailable:
                    done = False
                if done:
                    moved = True
                else:
                    pending.append(verb)
            self._shadow = pending

    @property
    def ready(self) -> bool:
        """Every shadow verb has been replayed (the backup path is usable)."""
        return not self._shadow

    def alloc_pd(self) -> ShiftPD:
        """pyverbs ``PD(ctx)`` on the default NIC, shadowed on the backup."""
        return ShiftPD(self)

    def reg_mr(self, pd: ShiftPD, length: int, access: int) -> ShiftMR:
        """pyverbs ``MR(pd, length, access)``, shadowed on the backup over the same memory."""
        mr = ShiftMR(self, pd, length, access)
        self.mrs.append(mr)
        return mr

    def _mr_at(self, addr: int, length: int) -> ShiftMR:
        for mr in self.mrs:
            if mr.buf <= addr and addr + length <= mr.buf + mr.length:
                return mr
        raise ShiftRDMAError(f"Failed to access local memory at {addr:#x}: not inside a registered MR", errno.EFAULT)

    def read_local(self, addr: int, length: int) -> bytes:
        """A CPU load from registered memory (the staging strategy's commit copies go through here)."""
        mr = self._mr_at(addr, length)
        return mr.read(length, addr - mr.buf)

    def write_local(self, addr: int, data: bytes) -> None:
        """A CPU store into registered memory."""
        mr = self._mr_at(addr, len(data))
        mr.write(data, len(data), addr - mr.buf)

    def create_cq(self, cqe: int = 256) -> ShiftCQ:
        """pyverbs ``CQ(ctx, cqe)``: a CQ per NIC behind one app-visible CQ with a WC buffer."""
        from shift_core.shift.cq import ShiftCQ
        cq = ShiftCQ(self, cqe)
        self.cqs.append(cq)
        return cq

    def create_qp(self, pd: ShiftPD, init_attr: QPInitAttr) -> ShiftQP:
        """pyverbs ``QP(pd, init_attr)`` (RC); ``scq``/``rcq`` must be :class:`shift_core.shift.cq.ShiftCQ` objects."""
        from shift_core.shift.qp import ShiftQP
        from shift_core.shift.staging import StagingQP
        qp = (StagingQP if self.strategy.staging else ShiftQP)(self, pd, init_attr)
        self.qps.append(qp)
        return qp

    # -- the background thread ----------------------------------------------------------------------------------
    def _poll_async(self) -> None:
        """Track the default port from async events (PORT_ERR / DEVICE_FATAL / PORT_ACTIVE). SHIFT's trigger stays
        the error completion; the port state only aborts a switch-back whose default path failed again."""
        while True:
            ev = self.ctx.get_async_event()
            if ev is None:
                return
            if ev.event_type in (ibv_event_type.IBV_EVENT_PORT_ERR, ibv_event_type.IBV_EVENT_DEVICE_FATAL):
                self.default_port_failed = True
            elif ev.event_type == ibv_event_type.IBV_EVENT_PORT_ACTIVE:
                self.default_port_failed = False

    def now(self) -> int:
        return int(self.backend.now_ns())

    def progress(self) -> None:
        """One step of the background thread: shadow replay, then every QP's handshake/probe work."""
        if self._in_progress:
            return
        self._in_progress = True
        try:
            if self._shadow:
                self.replay()
            self._poll_async()
            for qp in self.qps:
                qp.background()
        finally:
            self._in_progress = False
