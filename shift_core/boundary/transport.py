"""RC transport + SHIFT's WR-level retransmission, as a nondeterministic state machine (``ibv_post_send`` on a QP
that may fail over to a backup QP).

This is the part of the boundary model shared by every protocol. A work request (WR) is a list of *packets*;
each packet is a tuple of model operations (:mod:`shift_core.model.operations`) that the responder NIC executes
at once (the packet is the unit of DMA atomicity here; a WR spanning several packets can be torn). RC order: the
NIC executes packets strictly in post order on the current path.

Fault model (one fault per run, at any point of the WR sequence):

* *ACK loss*: the sender's acknowledged prefix advances only when an ``ack`` move fires; any set of lost ACKs
  is any interleaving in which some ``ack`` moves never fire, so every acknowledged prefix ``0..executed`` is
  reachable (ACKs are cumulative in RC).
* *fault*: the primary path dies (fail-stop: a packet not executed before the fault is never executed on it).
* *failover*: SHIFT resubmits on the backup path from a restart point that depends on :class:`Policy`:

  - ``counter_prefix`` (SHIFT as the paper describes it, our default): the first unacknowledged WR, moved past
    the last two-sided WR (WRITE_WITH_IMM) that the receiver's receive counter reports as consumed; by RC order
    every WR before it executed (paper §4.3.2 step 4 "those sends count as completed").
  - ``skip_sends``: the literal reading: resubmit from the first unacknowledged WR, skipping only the two-sided
    WRs the receive counter reports.
  - ``ack_only``: no handshake; resubmit from the first unacknowledged WR.

  With ``atomic_guard`` (SHIFT's retransmission-safe check), an atomic among the WRs to resubmit makes SHIFT
  refuse: the QP is ``dead`` and the error goes to the application (outcome ``error_surfaced``).

Not modelled (stated where users read it): packets of the dead path executing late (zombie DMA: SHIFT acts only
after the RC timeout x retry count, far longer than a packet lives in the fabric), a second fault, several QPs
per connection (``NCCL_IB_QPS_PER_CONNECTION > 1``), and sub-packet tearing (a 64 B CTS entry or a 128 B LL128
line is written whole). The receive counter counts RECV WQEs consumed at the NIC (the receiver drains its CQ
before answering the handshake), not completions the application has polled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from shift_core.model.events import Completion, Event, Execute, Fault, Send
from shift_core.model.memory import Memory
from shift_core.model.operations import CAS, FADD, Op, WriteAck, exec_op
from shift_core.model.operations import Send as SendOp

Lane = Literal["sender", "nic", "receiver"]
Side = Literal["rx", "tx"]
RestartPolicy = Literal["counter_prefix", "skip_sends", "ack_only"]
RESTART_POLICIES: tuple[RestartPolicy, ...] = ("counter_prefix", "skip_sends", "ack_only")
AckGranularity = Literal["wr", "signaled"]


@dataclass(frozen=True, slots=True)
class WRSpec:
    """One work request as posted by ``ibv_post_send``: opcode name, target side and packets.

    :param label: short name used in counterexamples (``D0.1`` = step 0, data WR 1).
    :param opcode: ``RDMA_WRITE``, ``RDMA_WRITE_WITH_IMM`` or ``ATOMIC_FETCH_AND_ADD``.
    :param side: whose memory the responder NIC writes: ``rx`` (the data receiver) or ``tx`` (the data sender,
        for reverse CTS writes).
    :param packets: each packet's operations, executed together.
    :param signaled: posted with ``IBV_SEND_SIGNALED`` (only then does its completion reach the sender's CQ).
    """

    label: str
    opcode: str
    side: Side
    packets: tuple[tuple[Op, ...], ...]
    signaled: bool = True

    @property
    def two_sided(self) -> bool:
        """Consumes a receive WQE (WRITE_WITH_IMM): counted by the receiver's receive counter."""
        return any(isinstance(op, SendOp) for pkt in self.packets for op in pkt)

    @property
    def atomic(self) -> bool:
        return any(isinstance(op, (FADD, CAS)) for pkt in self.packets for op in pkt)

    @property
    def signal(self) -> bool:
        """A notification whose second execution is itself a violation (WRITE_WITH_IMM or atomic)."""
        return self.two_sided or self.atomic


@dataclass(frozen=True, slots=True)
class Policy:
    """How SHIFT fails over, and which QPs the adversary may fault.

    :param ack: ``wr``: the sender may learn any executed prefix (WR-level ACKs, the strongest adversary);
        ``signaled``: only prefixes ending at a signaled WR (what SHIFTLib sees through the CQ, since an
        unsignaled WR completes silently and is known complete only through a later signaled one).
    """

    restart: RestartPolicy = "counter_prefix"
    ack: AckGranularity = "wr"
    atomic_guard: bool = True
    max_faults: int = 1
    faultable: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class QP:
    """One RC QP as the sender's SHIFTLib sees it, plus the responder's execution point.

    :param posted: WR ids in post order.
    :param wr: index (into ``posted``) of the next WR to execute on the current path; ``pkt``: next packet.
    :param acked: length of the acknowledged prefix the sender has seen.
    :param path: ``primary``, ``backup`` (after failover) or ``dead`` (failover refused).
    :param resent: WRs before this index were executed (at least partly) before the fault: a backup-path
        execution below it is a retransmission (labels only).
    :param skip: positions SHIFT will not resubmit (``skip_sends`` policy).
    """

    posted: tuple[int, ...] = ()
    wr: int = 0
    pkt: int = 0
    acked: int = 0
    path: Literal["primary", "backup", "dead"] = "primary"
    resent: int = 0
    skip: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class State:
    """A global state: both memories, the QPs, per-WR execution counts and the protocol's registers."""

    rx: Memory
    tx: Memory
    qps: tuple[QP, ...]
    execs: tuple[int, ...]
    faults: int = 0
    snd: tuple[int, ...] = ()
    rcv: tuple[int, ...] = ()

    def mem(self, side: Side) -> Memory:
        return self.rx if side == "rx" else self.tx

    def with_mem(self, side: Side, m: Memory) -> State:
        return replace(self, rx=m) if side == "rx" else replace(self, tx=m)


@dataclass(frozen=True, slots=True)
class Step:
    """One move of a run, printable on a sender / NIC / receiver lane and replayable as model events.

    :param expect: for a consuming read, the value the protocol intends the reader to see (the replay judge
        compares it with what the model's memory holds); ``None`` when the read is not judged.
    """

    lane: Lane
    text: str
    side: Side = "rx"
    events: tuple[Event, ...] = ()
    expect: int | None = None

    def __str__(self) -> str:
        return f"[{self.lane:<8}] {self.text}"


Move = tuple[Step, State, str | None]  #: (step, next state, violation kind or None)
Updater = Callable[[QP], tuple[QP, ...]]  #: replaces one QP in the state's QP tuple


def post(s: State, qp: int, wr_ids: tuple[int, ...], table: tuple[WRSpec, ...], who: Lane = "sender") -> Move:
    """The application posts ``wr_ids`` on QP ``qp`` (SHIFTLib queues them on the backup after failover)."""
    q = s.qps[qp]
    qps = (*s.qps[:qp], replace(q, posted=(*q.posted, *wr_ids)), *s.qps[qp + 1:])
    ops = tuple(op for w in wr_ids for pkt in table[w].packets for op in pkt)
    names = ", ".join(f"{table[w].label} {table[w].opcode}" for w in wr_ids)
    return Step(who, f"post_send(qp={qp}): {names}", table[wr_ids[0]].side, tuple(Send(op) for op in ops)), \
        replace(s, qps=qps), None


def _restart(q: QP, s: State, table: tuple[WRSpec, ...], policy: Policy) -> tuple[int, frozenset[int]]:
    consumed = [i for i, w in enumerate(q.posted) if table[w].two_sided and s.execs[w] > 0]
    if policy.restart == "counter_prefix" and consumed:
        return max(q.acked, consumed[-1] + 1), frozenset()
    if policy.restart == "skip_sends":
        return q.acked, frozenset(i for i in consumed if i >= q.acked)
    return q.acked, frozenset()


def nic_moves(s: State, table: tuple[WRSpec, ...], policy: Policy) -> Iterator[Move]:
    """Every transport move enabled in ``s``: execute the next packet, deliver an ACK, or fault + fail over."""
    for qi, q in enumerate(s.qps):
        def upd(nq: QP, qi: int = qi) -> tuple[QP, ...]:
            return (*s.qps[:qi], nq, *s.qps[qi + 1:])

        if q.path != "dead" and q.wr < len(q.posted):
            if q.wr in q.skip:
                w = q.posted[q.wr]
                nq = replace(q, wr=q.wr + 1, pkt=0)
                yield Step("nic", f"qp{qi}: SHIFT skips {table[w].label} (receive counter: already consumed)"), \
                    replace(s, qps=upd(nq)), None
            else:
                yield _execute(s, qi, q, table, upd)
        upto = _ackable(q, table, policy)
        if q.path != "dead" and upto > q.acked:
            w = q.posted[upto - 1]
            yield (Step("nic", f"qp{qi}: completion for {table[w].label} reaches the sender (prefix {upto} acked)",
                        table[w].side, (Completion(table[w].packets[-1][-1], WriteAck()),)),
                   replace(s, qps=upd(replace(q, acked=upto))), None)
        if q.path == "primary" and s.faults < policy.max_faults and qi in policy.faultable:
            yield _failover(s, qi, q, table, policy, upd)


def _ackable(q: QP, table: tuple[WRSpec, ...], policy: Policy) -> int:
    """The longest executed prefix the sender can learn of now."""
    if policy.ack == "wr":
        return q.wr
    return max((i + 1 for i in range(q.wr) if table[q.posted[i]].signaled), default=0)


def _execute(s: State, qi: int, q: QP, table: tuple[WRSpec, ...], upd: Updater) -> Move:
    w = q.posted[q.wr]
    spec = table[w]
    m = s.mem(spec.side)
    events: list[Event] = []
    for op in spec.packets[q.pkt]:
        m, res = exec_op(m, op)
        events.append(Execute(op, res))
    last = q.pkt + 1 == len(spec.packets)
    nq = replace(q, wr=q.wr + 1, pkt=0) if last else replace(q, pkt=q.pkt + 1)
    execs = s.execs
    violation = None
    if last:
        execs = (*execs[:w], execs[w] + 1, *execs[w + 1:])
        if spec.signal and execs[w] > 1:
            violation = "signal_executed_twice"
    how = "backup, retransmission" if q.path == "backup" and q.wr < q.resent else q.path
    pk = f".p{q.pkt}" if len(spec.packets) > 1 else ""
    eff = "; ".join(_effect(op) for op in spec.packets[q.pkt])
    step = Step("nic", f"qp{qi} ({how}): execute {spec.label}{pk} {spec.opcode}: {eff}", spec.side, tuple(events))
    return step, replace(s.with_mem(spec.side, m), qps=upd(nq), execs=execs), violation


def _failover(s: State, qi: int, q: QP, table: tuple[WRSpec, ...], policy: Policy, upd: Updater) -> Move:
    start, skip = _restart(q, s, table, policy)
    pending = [table[w] for i, w in enumerate(q.posted[start:], start) if i not in skip]
    touched = q.wr + (1 if q.pkt else 0)
    what = f"qp{qi} primary path fails (executed {q.wr} WRs, acked {q.acked})"
    if policy.atomic_guard and any(spec.atomic for spec in pending):
        nq = replace(q, path="dead")
        return (Step("nic", f"{what}; SHIFT refuses: atomic in flight -> error to the application",
                     events=(Fault(f"nic_fatal:qp{qi}"),)), replace(s, qps=upd(nq), faults=s.faults + 1), None)
    nq = replace(q, path="backup", wr=start, pkt=0, acked=start, resent=touched, skip=skip)
    first = table[q.posted[start]].label if start < len(q.posted) else "nothing"
    return (Step("nic", f"{what}; SHIFT resubmits from {first} on the backup QP",
                 events=(Fault(f"nic_fatal:qp{qi}"),)), replace(s, qps=upd(nq), faults=s.faults + 1), None)


def _effect(op: Op) -> str:
    if isinstance(op, SendOp):
        return f"IMM {op.val} -> next RECV's CQE"
    if isinstance(op, FADD):
        return f"[{op.addr}] += {op.delta}"
    if isinstance(op, CAS):
        return f"CAS [{op.addr}] {op.expected}->{op.new}"
    return f"[{op.addr}] = {getattr(op, 'val', '?')}"
