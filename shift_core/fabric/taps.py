"""Per-message hooks on the wire: a census of every request and response, and faults at exact message indices
(the systematic explorer's handle on the fabric; no verbs counterpart).

Every request transmission (a first send or a retransmission, of any QP) gets the next *message index*, and every
response a responder sends (ACK, NAK, READ or atomic response) the next *response index*, both 1-based and
fabric-wide. The fabric is deterministic, so the same run numbers the same messages the same way: "drop message 17"
or "take h1.nic0's link down just before message 17 leaves" names one exact point of one run, and a run replayed
with that fault reaches it again (everything before it is identical). Actions at an index run before the message
is put on the wire, so a link taken down there already drops it.

Indices count WR-level messages of the per-WR path; the batched fast path (:mod:`.batch`) sends no individual
messages, so a fabric with taps armed runs with ``batching`` off (:meth:`Taps.attach`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shift_core.fabric.topology import Fabric
    from shift_core.fabric.transport import RCTransport, SendWQE

Action = Callable[[], None]
#: names what a message is for, from the requester QP and the WR (the explorer asks the SHIFT layer)
Labeler = Callable[["RCTransport", "SendWQE"], str]


@dataclass(frozen=True, slots=True)
class Message:
    """One request transmission as the census saw it."""

    seq: int        #: position among every tapped event of the run (messages, responses, :meth:`Taps.tick`)
    index: int
    t_ns: int
    nic: str        #: the requester's device
    qpn: int
    psn: int
    npkts: int
    attempt: int    #: 1 = first transmission, 2.. = retransmissions
    opcode: str     #: ``RDMA_WRITE``, ``SEND``, ... (``ibv_wr_opcode`` without the prefix)
    label: str      #: what the layer posted it for (``app``, ``handshake``, ``probe``...; ``""`` without a labeler)


@dataclass(frozen=True, slots=True)
class Response:
    """One response as the census saw it."""

    seq: int
    index: int
    t_ns: int
    nic: str        #: the responder's device (the response travels to the requester's)
    requester: str  #: the requester's device
    kind: str       #: ``ack``, ``nak_seq``, ``rnr``, ``nak_access``, ``nak_inv``
    psn: int        #: first PSN of the request it answers
    label: str      #: the request's label


class Taps:
    """Census and exact-index faults of one fabric.

    :param record: keep a :class:`Message` / :class:`Response` per index (the census run); off for the runs that
        only need the triggers.
    """

    def __init__(self, record: bool = False) -> None:
        self.record = record
        self.messages: list[Message] = []
        self.responses: list[Response] = []
        self.at_message: dict[int, list[Action]] = {}
        self.at_response: dict[int, list[Action]] = {}
        self.drop_message: dict[int, int] = {}   #: message index -> index of the packet dropped
        self.drop_response: set[int] = set()
        self.labeler: Labeler | None = None
        self.seq = 0  #: tapped events so far (orders messages, responses and the layer's own ticks)
        self.fired: list[tuple[int, int]] = []  #: (seq, t_ns) of every index whose faults struck
        self._labels: dict[int, tuple[Any, str]] = {}  # id(wqe) -> (wqe, label): one label per WR, from its first send

    def attach(self, fabric: Fabric) -> Taps:
        """Arm on ``fabric`` (per-WR path only, so every message is counted)."""
        fabric.taps = self
        fabric.batching = False
        return self

    def tick(self) -> int:
        """The next position in the run's order of tapped events (the layer's transitions take one too)."""
        self.seq += 1
        return self.seq

    def label(self, qp: RCTransport, wqe: SendWQE) -> str:
        hit = self._labels.get(id(wqe))
        if hit is not None and hit[0] is wqe:
            return hit[1]
        text = self.labeler(qp, wqe) if self.labeler is not None else ""
        self._labels[id(wqe)] = (wqe, text)
        return text

    def on_message(self, index: int, qp: RCTransport, wqe: SendWQE) -> int:
        """Message ``index`` is about to leave ``qp``: run its actions; the packet to drop, or -1."""
        seq = self.tick()
        if index in self.at_message or index in self.drop_message:
            self.fired.append((seq, qp.fabric.env.now))
        for act in self.at_message.pop(index, ()):
            act()
        if self.record:
            self.messages.append(Message(seq, index, qp.fabric.env.now, qp.nic.name, qp.qp_num, wqe.psn, wqe.npkts,
                                         wqe.attempt, wqe.opcode.name.removeprefix("IBV_WR_"), self.label(qp, wqe)))
        return self.drop_message.pop(index, -1)

    def on_response(self, index: int, responder: RCTransport, requester: RCTransport, kind: str,
                    wqe: SendWQE) -> bool:
        """Response ``index`` is about to leave ``responder``: run its actions; True if it is dropped."""
        seq = self.tick()
        if index in self.at_response or index in self.drop_response:
            self.fired.append((seq, responder.fabric.env.now))
        for act in self.at_response.pop(index, ()):
            act()
        if self.record:
            self.responses.append(Response(seq, index, responder.fabric.env.now, responder.nic.name, requester.nic.name,
                                           kind, wqe.psn, self.label(requester, wqe)))
        if index in self.drop_response:
            self.drop_response.discard(index)
            return True
        return False

    @property
    def unfired(self) -> list[dict[str, int]]:
        """The triggers of faults armed at an index the run never reached (``{"message": k}`` or
        ``{"response": k}``): a replay that diverged, or a point past the run's end."""
        msgs = {k for k, v in self.at_message.items() if v} | set(self.drop_message)
        resps = {k for k, v in self.at_response.items() if v} | self.drop_response
        return [{"message": k} for k in sorted(msgs)] + [{"response": k} for k in sorted(resps)]
