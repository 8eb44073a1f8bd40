"""Hosts, NICs, links and the switch between them (the physical fabric; no verbs counterpart).

Every NIC has one port cabled to one switch port. A :class:`Link` is that cable: it carries the port's
state (a link down takes both ends down, so the NIC sees ``IBV_EVENT_PORT_ERR``), its rate, its propagation
delay, and the fault knobs the schedule turns (loss probability, exact-PSN drops, extra delay). The switch
is cut-through with one queue per egress port, so two senders into one NIC share its downlink.

Timing per message (WR granularity): the message occupies the sender's uplink for its serialization time
(payload + per-packet RoCEv2 headers at the link rate), crosses the switch (``switch_ns``), occupies the
receiver's downlink, and lands one propagation delay later. Packets are not individual events unless a
fault needs them to be: a loss decision is drawn per packet, and the first lost packet's index decides how
much of a multi-packet WRITE was placed before the gap.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import AsyncEvent
from shift_core.backend.enums import ibv_event_type, ibv_port_state
from shift_core.fabric.env import Environment
from shift_core.fabric.recorder import FabricRecorder
from shift_core.model.events import Fault

if TYPE_CHECKING:
    from shift_core.fabric.taps import Taps
    from shift_core.fabric.verbs import Context

ROCE_HEADER_BYTES = 58  #: Eth 14 + IPv4 20 + UDP 8 + BTH 12 + ICRC 4 (RoCEv2, per packet)
ACK_BYTES = ROCE_HEADER_BYTES + 4  #: + AETH


@dataclass(slots=True)
class Link:
    """The cable between one NIC port and the switch, with its fault knobs."""

    gbps: float = 100.0
    prop_ns: int = 500
    up: bool = True
    loss_prob: float = 0.0  #: per request packet sent by this NIC
    ack_loss_prob: float = 0.0  #: per ACK/response heading to this NIC
    extra_delay_ns: int = 0
    drop_psns: dict[tuple[int, int], int] = field(default_factory=dict)  #: (qpn or -1, psn) -> drops left
    drop_ack_psns: dict[tuple[int, int], int] = field(default_factory=dict)
    up_busy: int = 0  #: NIC -> switch serialization horizon (ps)
    down_busy: int = 0  #: switch -> NIC serialization horizon (ps)

    def ser_ps(self, nbytes: int) -> int:
        """Serialization time of ``nbytes`` on this link, in picoseconds."""
        return int(nbytes * 8000 / self.gbps)


@dataclass(eq=False)
class Nic:
    """One RDMA device (``h0.nic0``) with one port."""

    name: str
    host: str
    link: Link
    fatal: bool = False
    contexts: list[Context] = field(default_factory=list)
    qps: dict[int, Any] = field(default_factory=dict)  #: qp_num -> QP

    @property
    def gid(self) -> str:
        return f"sim:{self.name}"

    @property
    def port_state(self) -> ibv_port_state:
        if self.fatal or not self.link.up:
            return ibv_port_state.IBV_PORT_DOWN
        return ibv_port_state.IBV_PORT_ACTIVE

    @property
    def usable(self) -> bool:
        return self.link.up and not self.fatal

    def post_async(self, event_type: ibv_event_type, element: int = 0) -> None:
        """Deliver an async event to every open context of this device."""
        ev = AsyncEvent(event_type, element, self.name)
        for ctx in self.contexts:
            ctx._async_events.append(ev)


class Fabric:
    """The emulated cluster: an event loop, NICs behind one switch, a registry of memory regions.

    :param hosts: number of hosts (``h0``, ``h1``...).
    :param nics_per_host: NICs per host (``h0.nic0``, ``h0.nic1``...).
    :param gbps: link rate; :param prop_ns: NIC-to-switch propagation delay; :param switch_ns: switch latency.
    :param seed: seeds every random draw (probabilistic loss), so a run replays exactly.
    """

    def __init__(self, hosts: int = 2, nics_per_host: int = 2, gbps: float = 100.0, prop_ns: int = 500,
                 switch_ns: int = 300, seed: int = 0, dup_write: str = "reexecute") -> None:
        if dup_write not in ("reexecute", "ack_only"):
            from shift_core.errors import ShiftUserError
            raise ShiftUserError(f"dup_write={dup_write!r}: use 'reexecute' or 'ack_only'")
        self.env = Environment()
        self.recorder = FabricRecorder(self.env)
        self.dup_write = dup_write
        self.dedups: list[Any] = []  #: ops whose duplicate was answered from responder state (see transport)
        self.untraced_executions = 0  #: executions by stale copies the per-op trace cannot place
        self._path_last: dict[tuple[str, str], int] = {}
        self.batching = True  #: stream runs of identical WRITEs at WR granularity (see :mod:`.batch`)
        self.batches: dict[Any, None] = {}  #: active :class:`~shift_core.fabric.batch.WriteBatch` es, oldest first
        self._next_uid = 1
        self.rng = random.Random(seed)
        self.switch_ns = switch_ns
        self.nics: dict[str, Nic] = {}
        for h in range(hosts):
            for n in range(nics_per_host):
                name = f"h{h}.nic{n}"
                self.nics[name] = Nic(name, f"h{h}", Link(gbps=gbps, prop_ns=prop_ns))
        self.by_gid = {nic.gid: nic for nic in self.nics.values()}
        self.mrs: dict[int, Any] = {}  #: lkey/rkey -> MR
        self._next_addr = 0x10000
        self._next_key = 0x100
        self._next_qpn = 0x11
        self.fault_listeners: list[Callable[[str, Nic], None]] = []
        self.msg_count = 0  #: request transmissions so far (the message index of :mod:`.taps`)
        self.resp_count = 0  #: responses sent so far (the response index)
        self.taps: Taps | None = None  #: census and exact-index faults (:class:`~shift_core.fabric.taps.Taps`)

    # -- resources ----------------------------------------------------------------------------------------
    def alloc_addr(self, length: int) -> int:
        """A fabric-wide unique, 4 KiB-aligned virtual address range (so model addresses never collide)."""
        addr = self._next_addr
        self._next_addr += (max(length, 1) + 0xFFF) & ~0xFFF
        self._next_addr += 0x1000  # guard page between regions
        return addr

    def alloc_uid(self) -> int:
        """A fabric-wide work-request identity (the model op's ``uid``)."""
        u = self._next_uid
        self._next_uid += 1
        return u

    def note_fault(self, what: str) -> None:
        """Annotate the trace with a fault that happened now."""
        self.recorder.emit(Fault(what, self.env.now))

    def alloc_key(self) -> int:
        k = self._next_key
        self._next_key += 1
        return k

    def alloc_qpn(self) -> int:
        q = self._next_qpn
        self._next_qpn += 1
        return q

    def nic(self, name: str) -> Nic:
        try:
            return self.nics[name]
        except KeyError:
            from shift_core.errors import NoDevice
            raise NoDevice(f"Failed to open device {name!r}: the sim fabric has {', '.join(self.nics)}") from None

    # -- the wire -----------------------------------------------------------------------------------------
    def transit(self, src: Nic, dst: Nic, nbytes: int) -> int | None:
        """Occupy ``src``'s uplink and ``dst``'s downlink with ``nbytes``; the arrival time (ns), or ``None``
        when the message cannot leave (a dead port drops it at once). Link horizons are integer picoseconds,
        so a stream's times are exact sums (the batch fast path computes the same numbers in closed form)."""
        if not src.usable or not dst.usable:
            return None
        now = self.env.now
        now_ps = now * 1000
        sl, dl = src.link, dst.link
        start = sl.up_busy if sl.up_busy > now_ps else now_ps
        up_end = start + sl.ser_ps(nbytes)
        sl.up_busy = up_end
        at_switch = up_end + (sl.prop_ns + sl.extra_delay_ns + self.switch_ns) * 1000
        down_end = dl.down_busy + dl.ser_ps(nbytes)
        if at_switch > down_end:
            down_end = at_switch
        dl.down_busy = down_end
        arrival = down_end // 1000 + dl.prop_ns + dl.extra_delay_ns
        return self.fifo(src, dst, arrival if arrival > now else now)

    def fifo(self, src: Nic, dst: Nic, arrival: int) -> int:
        """Messages on one path never overtake each other (a delay that ends, a small ACK behind a READ
        response): an arrival is never earlier than the last one on the same path."""
        key = (src.name, dst.name)
        last = self._path_last.get(key, 0)
        if arrival < last:
            arrival = last
        self._path_last[key] = arrival
        return arrival

    def ack_delay(self, src: Nic, dst: Nic) -> int:
        """One-way latency of an ACK/NAK from ``src`` to ``dst``. ACKs are tiny and a NIC interleaves them
        with data at packet granularity, so they are not queued behind reserved data messages."""
        sl, dl = src.link, dst.link
        return int(ACK_BYTES * 8.0 / sl.gbps + sl.prop_ns + sl.extra_delay_ns + self.switch_ns
                   + ACK_BYTES * 8.0 / dl.gbps) + dl.prop_ns + dl.extra_delay_ns

    def split_batches(self) -> None:
        """Turn every batched WR stream back into per-WR events from now on (before any fault or QP state
        change takes effect, so faults always see individual WRs)."""
        if self.batches:
            from shift_core.fabric.batch import split_all
            split_all(self)
