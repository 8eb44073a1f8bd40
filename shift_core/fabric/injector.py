"""Fault injection into a running fabric (the programmatic side of a fault schedule; no verbs counterpart).

Each method takes effect now, or at ``at_ns`` of virtual time (scheduled at URGENT priority, so a fault at
``t`` precedes packet deliveries at ``t``). What the host software sees is what hardware shows:

* ``link_down``: the NIC's port goes DOWN (``IBV_EVENT_PORT_ERR`` on that device), every message that
  would cross the link is dropped; QPs notice only through their local ACK timers (``RETRY_EXC_ERR``
  after ``(retry_cnt + 1) x 4.096 us x 2^timeout``). ``link_up`` restores it (``IBV_EVENT_PORT_ACTIVE``).
  The peer across the switch sees no event, as on a switched fabric.
* ``nic_fatal``: ``IBV_EVENT_DEVICE_FATAL``; every QP of the device goes to ERR and is flushed
  (``IBV_WC_WR_FLUSH_ERR``, as mlx5 does in its internal-error state); the port stays down.
* ``packet_loss`` / ``ack_loss``: a per-packet probability, or an exact PSN (optionally of one QP) dropped
  once; ACK loss applies to ACKs and read/atomic responses heading back to the requester NIC.
* ``delay``: extra one-way latency on the NIC's link.
"""

from __future__ import annotations

from shift_core.backend.enums import ibv_event_type
from shift_core.fabric.env import URGENT
from shift_core.fabric.topology import Fabric, Nic


class FaultInjector:
    """Turns the fault knobs of a :class:`~shift_core.fabric.topology.Fabric`."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric

    def _at(self, at_ns: int | None, fn: object, *args: object) -> None:
        env = self.fabric.env
        if at_ns is None or at_ns <= env.now:
            self._apply(fn, *args)
        else:
            env.schedule_at(at_ns, self._apply, fn, *args, priority=URGENT)

    def _apply(self, fn: object, *args: object) -> None:
        self.fabric.split_batches()  # faults see individual WRs
        fn(*args)  # type: ignore[operator]

    # -- link and device faults --------------------------------------------------------------------------
    def link_down(self, nic: str, at_ns: int | None = None, label: str = "link_down") -> None:
        self._at(at_ns, self._link_down, self.fabric.nic(nic), label)

    def _link_down(self, nic: Nic, label: str) -> None:
        if not nic.link.up:
            return
        nic.link.up = False
        self.fabric.note_fault(f"{label}:{nic.name}")
        if not nic.fatal:
            nic.post_async(ibv_event_type.IBV_EVENT_PORT_ERR, 1)

    def link_up(self, nic: str, at_ns: int | None = None) -> None:
        self._at(at_ns, self._link_up, self.fabric.nic(nic))

    def _link_up(self, nic: Nic) -> None:
        if nic.link.up:
            return
        nic.link.up = True
        self.fabric.note_fault(f"link_up:{nic.name}")
        if not nic.fatal:
            nic.post_async(ibv_event_type.IBV_EVENT_PORT_ACTIVE, 1)

    def link_flap(self, nic: str, at_ns: int, down_ns: int, up_ns: int, count: int = 1) -> None:
        """``count`` cycles of down for ``down_ns`` then up for ``up_ns``, starting at ``at_ns``."""
        t = at_ns
        for _ in range(count):
            self.link_down(nic, t, label="link_flap")
            self.link_up(nic, t + down_ns)
            t += down_ns + up_ns

    def nic_fatal(self, nic: str, at_ns: int | None = None, label: str = "nic_fatal") -> None:
        self._at(at_ns, self._nic_fatal, self.fabric.nic(nic), label)

    def _nic_fatal(self, nic: Nic, label: str) -> None:
        if nic.fatal:
            return
        nic.fatal = True
        self.fabric.note_fault(f"{label}:{nic.name}")
        nic.post_async(ibv_event_type.IBV_EVENT_DEVICE_FATAL)
        for qp in list(nic.qps.values()):
            qp._to_error()

    # -- loss and delay ----------------------------------------------------------------------------------
    def packet_loss(self, nic: str, probability: float = 0.0, psn: int | None = None, qpn: int | None = None,
                    count: int = 1, at_ns: int | None = None, until_ns: int | None = None) -> None:
        """Drop request packets sent by ``nic``: each with ``probability``, or the one with ``psn``."""
        link = self.fabric.nic(nic).link
        if psn is not None:
            self._at(at_ns, link.drop_psns.__setitem__, (-1 if qpn is None else qpn, psn), count)
        else:
            self._at(at_ns, setattr, link, "loss_prob", probability)
            if until_ns is not None:
                self._at(until_ns, setattr, link, "loss_prob", 0.0)

    def ack_loss(self, nic: str, probability: float = 0.0, psn: int | None = None, qpn: int | None = None,
                 count: int = 1, at_ns: int | None = None, until_ns: int | None = None) -> None:
        """Drop ACKs/responses heading to requester ``nic``: each with ``probability``, or the one for ``psn``
        (the last PSN of the acknowledged message)."""
        link = self.fabric.nic(nic).link
        if psn is not None:
            self._at(at_ns, link.drop_ack_psns.__setitem__, (-1 if qpn is None else qpn, psn), count)
        else:
            self._at(at_ns, setattr, link, "ack_loss_prob", probability)
            if until_ns is not None:
                self._at(until_ns, setattr, link, "ack_loss_prob", 0.0)

    def delay(self, nic: str, extra_ns: int, at_ns: int | None = None, until_ns: int | None = None) -> None:
        """Add ``extra_ns`` one-way latency on ``nic``'s link (both directions) from ``at_ns`` to ``until_ns``."""
        link = self.fabric.nic(nic).link
        self._at(at_ns, setattr, link, "extra_delay_ns", extra_ns)
        if until_ns is not None:
            self._at(until_ns, setattr, link, "extra_delay_ns", 0)
