"""An app-visible CQ over one CQ per NIC, with SHIFT's WC buffer (paper §4.3.2 step 1, App. B).

:meth:`shift_core.shift.cq.ShiftCQ.poll` first runs the background step, then hands the app completions in
order from the WC buffer: successful completions drained from the default CQ at a failure wait there until the
app polls, so the app sees exactly the completions it would have seen without the failure, then the ones from the
backup path. The backup CQ is polled before the default one in every round, because the only moment both
carry completions of one QP is a switch-back, where RC order puts every backup completion first.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import WC

if TYPE_CHECKING:
    from shift_core.shift.lib import ShiftLib
    from shift_core.shift.qp import ShiftQP


class ShiftCQ:
    """pyverbs ``CQ`` for SHIFT QPs: ``poll(n) -> (n, [WC])`` with app ``wr_id`` and default ``qp_num``."""

    def __init__(self, lib: ShiftLib, cqe: int) -> None:
        self.lib = lib
        self.cqe = cqe
        self.default: Any = lib.backend.CQ(lib.ctx, cqe)
        self.backup: Any = None
        self.buffer: deque[WC] = deque()
        self.qps: dict[int, ShiftQP] = {}  #: default or backup qp_num -> owner

        def shadow() -> bool:
            if lib.bctx is None:
                return False
            self.backup = lib.backend.CQ(lib.bctx, cqe)
            return True

        lib.shadow(shadow)

    def attach(self, qpn: int, qp: ShiftQP) -> None:
        self.qps[qpn] = qp

    def drain(self, which: str = "both") -> None:
        """Poll the backend CQ(s) until empty, routing each completion to its QP (which may buffer app WCs)."""
        sources = []
        if which in ("both", "backup") and self.backup is not None:
            sources.append((self.backup, True))
        if which in ("both", "default"):
            sources.append((self.default, False))
        for cq, on_backup in sources:
            while True:
                n, wcs = cq.poll(32)
                if n == 0:
                    break
                for wc in wcs:
                    qp = self.qps.get(wc.qp_num)
                    if qp is not None:
                        qp.on_wc(wc, on_backup)

    def deliver(self, wc: WC) -> None:
        """Queue an app-visible completion (called by the QPs)."""
        self.buffer.append(wc)

    def poll(self, num_entries: int = 1) -> tuple[int, list[WC]]:
        """``ibv_poll_cq``: up to ``num_entries`` completions, in the order the app must see them."""
        self.lib.progress()
        if len(self.buffer) < num_entries:
            self.drain()
        out: list[WC] = []
        while self.buffer and len(out) < num_entries:
            out.append(self.buffer.popleft())
        return len(out), out

    def close(self) -> None:
        if self.backup is not None:
            self.backup.close()
        self.default.close()
