"""One explored run: a :class:`~shift_core.explore.schedule.ReplaySchedule` executed on a fresh ``sim`` fabric
through the real SHIFT layer, judged by the model, with (on request) its census of injectable points.

The census lists every request message and response on the wire (:mod:`shift_core.fabric.taps`), each labelled
with what the layer sent it for (``A.default.app``, ``A.backup.handshake``, ``B.default.probe``,
``A.backup.fence``, ``B.default.notify``, ``A.backup.filler``, ``A.default.log_write``, ``A.default.staged``...), and
every state a host's machine entered (:class:`Entry`), all on one time line (``seq``), so a placement "after the
first fault" is exact. Faults armed at an index the run never reached are counted (``unfired``): for a placement
taken from a census of the same run prefix this is always 0, which the explorer checks (determinism).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shift_core.backend.enums import ibv_wr_opcode, local_ack_timeout_ns
from shift_core.bench.judge import Verdict, judge
from shift_core.bench.workloads import MR_BYTES, run_failover
from shift_core.errors import ShiftUserError
from shift_core.explore.controls import resolve_strategy
from shift_core.explore.schedule import ReplaySchedule
from shift_core.fabric import make_fabric
from shift_core.fabric.env import URGENT
from shift_core.fabric.faults import FaultSchedule, TransitionTrigger
from shift_core.fabric.taps import Message, Response, Taps
from shift_core.kv.memory_store import MemoryKV
from shift_core.shift.machine import RQState, SQState
from shift_core.shift.wrid import PostKind

if TYPE_CHECKING:
    from shift_core.fabric.backend import SimBackend
    from shift_core.fabric.transport import RCTransport, SendWQE
    from shift_core.shift.lib import ShiftLib
    from shift_core.shift.record import Transition

#: the two hosts of every explored run: (default NIC, backup NIC)
HOSTS: dict[str, tuple[str, str]] = {"A": ("h0.nic0", "h0.nic1"), "B": ("h1.nic0", "h1.nic1")}
_STATES = {"sq": {s.value for s in SQState}, "rq": {s.value for s in RQState}}


@dataclass(frozen=True, slots=True)
class Entry:
    """A machine state a host entered: the ``nth`` time its ``queue`` machine entered ``to``."""

    seq: int
    t_ns: int
    host: str
    queue: str
    from_: str
    event: str
    to: str
    nth: int


@dataclass(slots=True)
class RunOutcome:
    """What one explored run did, as judged, plus its census when asked for."""

    schedule: ReplaySchedule
    verdict: Verdict
    end_state: str                    #: digest of what the run ended with (outcome, data consumed, states, memory)
    steps: tuple[tuple[str, str, str, str, str], ...]  #: (host, queue, from, event, to) of every transition
    wall_ms: float
    unfired: list[dict[str, Any]]     #: triggers of faults whose point the run never reached
    first_fault: tuple[int, int] | None  #: (seq, t_ns) when the first fault struck
    messages: list[Message] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return self.verdict.outcome


class _Layer:
    """The SHIFT-layer side of a schedule (:class:`shift_core.fabric.faults.LayerHooks`): transition triggers
    and the KV store's faults; with ``record``, the census of entered states."""

    def __init__(self, backend: SimBackend, kv: MemoryKV, taps: Taps, record: bool) -> None:
        self.backend, self.kv, self.taps, self.record = backend, kv, taps, record
        self.pending: dict[tuple[str, str, str], list[tuple[int, Callable[[], None]]]] = defaultdict(list)
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.entries: list[Entry] = []
        self.fired: list[tuple[int, int]] = []

    # LayerHooks
    def on_transition(self, trigger: TransitionTrigger, action: Callable[[], None]) -> None:
        if trigger.host != "any" and trigger.host not in HOSTS:
            raise ShiftUserError(f"fault schedule: transition host {trigger.host!r}: use one of "
                                 f"{', '.join(HOSTS)} or any")
        if trigger.to not in _STATES[trigger.queue]:
            raise ShiftUserError(f"fault schedule: transition to {trigger.to!r}: a {trigger.queue} state is one of "
                                 f"{', '.join(sorted(_STATES[trigger.queue]))}")
        self.pending[(trigger.host, trigger.queue, trigger.to)].append((trigger.nth, action))

    def kv_down(self, for_ns: int | None) -> None:
        self.kv.available = False
        if for_ns:
            self.backend.fabric.env.schedule(for_ns, self.kv_up, priority=URGENT)

    def kv_up(self) -> None:
        self.kv.available = True

    # the records' listener
    def bind(self, libs: dict[str, ShiftLib]) -> None:
        for host, lib in libs.items():
            lib.record.listener = (lambda t, h=host: self._seen(h, t))

    def _seen(self, host: str, t: Transition) -> None:
        seq = self.taps.tick()
        now = self.backend.fabric.env.now
        for key in ((host, t.queue, t.to), ("any", t.queue, t.to)):
            self.counts[key] += 1
            nth = self.counts[key]
            if key[0] == host and self.record:
                self.entries.append(Entry(seq, now, host, t.queue, t.from_, t.event, t.to, nth))
            due = [a for n, a in self.pending.get(key, ()) if n == nth]
            if due:
                self.fired.append((seq, now))
                self.pending[key] = [(n, a) for n, a in self.pending[key] if n != nth]
                for act in due:
                    act()

    @property
    def unfired(self) -> list[dict[str, Any]]:
        """The transition triggers that never fired (``{"transition": {...}}``)."""
        return [{"transition": {"host": h, "queue": q, "to": to, "nth": n}}
                for (h, q, to), pend in sorted(self.pending.items()) for n, _ in pend]


def _labeler(libs: dict[str, ShiftLib]) -> Callable[[RCTransport, SendWQE], str]:
    """Name what each message is for, from the SHIFT layer that posted it (see the module docstring)."""
    owners: dict[int, tuple[str, Any, str]] = {}
    regions: dict[int, str] = {}
    for host, lib in libs.items():
        if lib.mrs:
            app = lib.mrs[0]  # run_failover registers the app's MR first
            regions[app.rkey] = "app"
            if app.backup_rkey is not None:
                regions[app.backup_rkey] = "app"
        for qp in lib.qps:
            owners[qp.default.qp_num] = (host, qp, "default")
            if qp.backup is not None:
                owners[qp.backup.qp_num] = (host, qp, "backup")
            for role in ("mbox", "scratch", "logmr", "ring", "credit"):
                mr = getattr(qp, role, None)
                if mr is not None:
                    regions[mr.rkey] = role
                    if mr.backup_rkey is not None:
                        regions[mr.backup_rkey] = role

    def label(qp: RCTransport, wqe: SendWQE) -> str:
        own = owners.get(qp.qp_num)
        if own is None:
            return "?"
        host, sqp, path = own
        post = sqp._posts.get(wqe.wr_id) if wqe.wr_id else None
        if post is not None:
            what = post.kind.value
            if post.kind is PostKind.APP_SEND:
                fence = path == "backup" and wqe.signaled and sqp.sq_state is SQState.WAIT_SIGNALED
                what = "fence" if fence else "app"
        elif wqe.opcode == ibv_wr_opcode.IBV_WR_SEND and wqe.length == 0:
            what = "filler"
        else:
            what = {"mbox": "handshake", "logmr": "log_write", "credit": "credit", "app": "app"}.get(
                regions.get(wqe.rkey, ""), "internal")
        return f"{host}.{path}.{what}"

    return label


def _end_state(v: Verdict, libs: dict[str, ShiftLib], consumed: list[int]) -> str:
    """A short digest of how the run ended: outcome, what the receiving app consumed, every QP's machine states
    and both hosts' application memory (two runs with one digest ended the same way)."""
    h = hashlib.blake2b(digest_size=6)
    h.update(repr((v.outcome, tuple(consumed))).encode())
    for host in sorted(libs):
        lib = libs[host]
        h.update(repr([(q.sq_state.value, q.rq_state.value) for q in lib.qps]).encode())
        if lib.mrs:
            h.update(lib.mrs[0].read(MR_BYTES))
    return h.hexdigest()


def execute(s: ReplaySchedule, census: bool = False) -> RunOutcome:
    """Run schedule ``s`` once (a pure function of it) and judge it; ``census``: also list its injectable points.

    :raises ShiftUserError: for a fault the run cannot arm (a bad device, host or state name).
    """
    t0 = time.perf_counter()
    r = s.run
    b = make_fabric(seed=r.seed, dup_write=r.dup_write)
    taps = Taps(record=census).attach(b.fabric)
    kv = MemoryKV("explore", fresh=True)
    layer = _Layer(b, kv, taps, census)
    FaultSchedule(faults=s.faults).arm(b.faults, layer)
    libs: dict[str, ShiftLib] = {}

    def on_setup(ls: dict[str, ShiftLib]) -> None:
        libs.update(ls)
        layer.bind(ls)
        taps.labeler = _labeler(ls)

    res = run_failover(b, HOSTS, r.workload, resolve_strategy(r.strategy), n=r.n, kv=kv, deadline_ns=r.deadline_ns,
                       timeout=r.timeout, retry_cnt=r.retry_cnt, max_poll_ns=r.max_poll_ns,
                       probe_interval_ns=r.probe_interval_ns, pace_ns=r.pace_ns, on_setup=on_setup,
                       linger_ns=2 * (r.retry_cnt + 1) * local_ack_timeout_ns(r.timeout))
    fired = sorted(taps.fired + layer.fired)
    first = fired[0] if fired else None
    res.fault_ns = first[1] if first else None
    v = judge(res)
    steps = tuple((host, t.queue, t.from_, t.event, t.to) for host, rec in sorted(res.records.items())
                  for t in rec.transitions)
    notes = [f"{host}: {n}" for host, rec in sorted(res.records.items()) for n in rec.notes]
    return RunOutcome(s, v, _end_state(v, libs, res.ledger.consumed), steps,
                      round((time.perf_counter() - t0) * 1000, 2), [*taps.unfired, *layer.unfired], first,
                      taps.messages, taps.responses, layer.entries, notes)
