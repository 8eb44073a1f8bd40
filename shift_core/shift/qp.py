"""SHIFT's data-exchange phase for one RC QP: the per-QP state machine driven by completions (paper §4.3).

Default: app WRs go to the default QP; the layer counts sends that consume the peer's receive WQEs and
receives it completed. First error completion on the default path (``_default_path_failed``):

1. drain the default CQ into the WC buffer (successful completions reach the app in order);
2. the outstanding set is every app WR not retired yet; the *retransmission-safe check* surfaces the error
   when an atomic or an app-flagged WR is in it (``SHIFT_NON_IDEMPOTENT``, the paper's hint in an unused
   WR field), with no failover;
3. reposts the outstanding RECVs on the backup QP and writes a handshake (receive counter) to the peer;
4. when the peer's counter arrives, *WQ rewind*: sends the peer already consumed are retired (no queue
   sliding; RC order retires every WR before them too), the rest are re-posted on the backup QP with
   backup lkeys / rkeys (KV) / QPN;
5. the background step resets the default QP and probes it; probe ok -> WaitSignaled; the app's next
   signaled WR is the fence on the backup QP -> WaitDrained (later WRs are withheld: "post without doorbell");
   fence completion -> switch-back notification (WRITE_WITH_IMM) on the default QP -> withheld WRs rung
   on the default QP -> Default. The peer reposts its outstanding RECVs on the default QP when that
   notification arrives. While either queue is failed over, the background step also polls the QP's CQs: a
   passive side (the responder of a WRITE-only or READ-only stream, whose app never polls) must still see its
   probe's completion and the peer's notification, or neither side could switch back. A probe whose reset,
   modify or post fails (RoCE resolves the route at RESET->RTR: ENETUNREACH while the local link is down) is a
   failed probe, retried at the next interval, never an error raised into the app.

Any error on the backup path, or an unreachable KV store, while failed over is a *second failure*: the
error is surfaced to the app (error completions for every outstanding WR), never hidden.

Every transition goes through :func:`shift_core.shift.machine.next_sq` / :func:`next_rq` and is appended to
the host's :class:`~shift_core.shift.record.LayerRecord`. Standard library only.
"""

from __future__ import annotations

import copy
import errno
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import SGE, WC, QPAttr, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import (
    ibv_access_flags,
    ibv_qp_attr_mask,
    ibv_qp_state,
    ibv_send_flags,
    ibv_wc_opcode,
    ibv_wc_status,
    ibv_wr_opcode,
)
from shift_core.errors import ShiftRDMAError
from shift_core.kv.store import KVUnavailable
from shift_core.shift.exchange import mr_key, qp_key, region_key
from shift_core.shift.machine import RQEvent, RQState, SQEvent, SQState, next_rq, next_sq
from shift_core.shift.mailbox import ACK, MAILBOX_BYTES, REQ, Handshake
from shift_core.shift.record import Transition
from shift_core.shift.wrid import Post, PostKind

if TYPE_CHECKING:
    from shift_core.shift.cq import ShiftCQ
    from shift_core.shift.lib import ShiftLib, ShiftMR, ShiftPD

#: the app's "do not retransmit" hint: a send_flags bit no provider uses (the paper: an unused WR field)
SHIFT_NON_IDEMPOTENT = 1 << 30

W = ibv_wr_opcode
_CONSUMING = frozenset({W.IBV_WR_SEND, W.IBV_WR_SEND_WITH_IMM, W.IBV_WR_RDMA_WRITE_WITH_IMM})
_ATOMIC = frozenset({W.IBV_WR_ATOMIC_CMP_AND_SWP, W.IBV_WR_ATOMIC_FETCH_AND_ADD})
_RDMA = frozenset({W.IBV_WR_RDMA_WRITE, W.IBV_WR_RDMA_WRITE_WITH_IMM, W.IBV_WR_RDMA_READ, *_ATOMIC})
_WC_OF = {
    W.IBV_WR_RDMA_WRITE: ibv_wc_opcode.IBV_WC_RDMA_WRITE, W.IBV_WR_RDMA_WRITE_WITH_IMM: ibv_wc_opcode.IBV_WC_RDMA_WRITE,
    W.IBV_WR_SEND: ibv_wc_opcode.IBV_WC_SEND, W.IBV_WR_SEND_WITH_IMM: ibv_wc_opcode.IBV_WC_SEND,
    W.IBV_WR_RDMA_READ: ibv_wc_opcode.IBV_WC_RDMA_READ, W.IBV_WR_ATOMIC_CMP_AND_SWP: ibv_wc_opcode.IBV_WC_COMP_SWAP,
    W.IBV_WR_ATOMIC_FETCH_AND_ADD: ibv_wc_opcode.IBV_WC_FETCH_ADD,
}
_REGION_ACCESS = int(ibv_access_flags.IBV_ACCESS_LOCAL_WRITE | ibv_access_flags.IBV_ACCESS_REMOTE_WRITE
                     | ibv_access_flags.IBV_ACCESS_REMOTE_READ)
_SIGNALED = int(ibv_send_flags.IBV_SEND_SIGNALED)
_INLINE = int(ibv_send_flags.IBV_SEND_INLINE)
_OK = ibv_wc_status.IBV_WC_SUCCESS
_FLUSH = ibv_wc_status.IBV_WC_WR_FLUSH_ERR
_NOTIFY_IMM = 0x5348_4654  # "SHFT": the switch-back notification's immediate
#: probe intervals a switch-back notification may take before the default path counts as failed again: it takes one
#: round trip, but a peer that reset its default QP just after our probe executed there expects the probe's PSN
#: again, and RC resends our notification, out of sequence, forever without an error (seen on rxe)
NOTIFY_TIMEOUT_PROBES = 10


@dataclass(slots=True)
class AppSend:
    """One app send WR in the outstanding set: ``seq`` in post order, ``rq_seq`` > 0 if it consumes a peer WQE."""

    seq: int
    wr: SendWR
    rq_seq: int
    unsafe: bool
    signaled: bool
    atomic: bool
    posted: str = ""  #: "" (not on any QP yet), "default" or "backup"
    post_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class AppRecv:
    """One app RECV not consumed yet."""

    rseq: int
    wr: RecvWR


class ShiftQP:
    """pyverbs ``QP`` (RC) with SHIFT failover.

    Create with :meth:`shift_core.shift.lib.ShiftLib.create_qp`; connect with ``to_rts`` (the app's own
    attributes; the backup is connected from the KV store by a shadow verb).
    """

    def __init__(self, lib: ShiftLib, pd: ShiftPD, init_attr: QPInitAttr) -> None:
        self.lib = lib
        self.strategy = lib.strategy
        self.scq: ShiftCQ = init_attr.scq  # type: ignore[assignment]
        self.rcq: ShiftCQ = init_attr.rcq  # type: ignore[assignment]
        self.cap = init_attr.cap
        b = lib.backend
        self.default: Any = b.QP(pd.default, QPInitAttr(init_attr.qp_type, self.scq.default, self.rcq.default,
                                                          init_attr.cap, init_attr.sq_sig_all))
        self.qp_num: int = self.default.qp_num
        self.gid = lib.default_gid
        self.scq.attach(self.qp_num, self)
        self.rcq.attach(self.qp_num, self)
        self.backup: Any = None
        self.saved_attr: QPAttr | None = None
        self.peer: tuple[str, int] | None = None  #: the peer's default (gid, qpn), as the app connected it
        self.sq_state = SQState.DEFAULT
        self.rq_state = RQState.DEFAULT
        self.sq: dict[int, AppSend] = {}
        self.rq: dict[int, AppRecv] = {}
        self._seq = 0
        self._rseq = 0
        self._rq_posted = 0          #: peer-WQE-consuming sends posted (rq_seq of the last one)
        self.recv_count = 0          #: app RECVs completed (the counter the handshake carries)
        self._posts: dict[int, Post] = {}
        self._next_post = 0
        self._recv_posts: dict[int, list[int]] = {}   #: rseq -> live post ids
        self._backup_recv_posts: set[int] = set()     #: recv post ids on the backup QP not consumed yet
        self.stale_total = 0         #: stale backup WQEs ever created here (reported to the peer)
        self.fillers_sent = 0        #: fillers posted toward the peer's stale WQEs
        self.peer_stale_total = 0
        self.peer_counter: int | None = None
        self.resubmit_pending = False
        self.hs_sent = 0
        self.hs_seen = 0
        self.hs_awaiting = False
        self.withheld: list[AppSend] = []
        self.fence_seq: int | None = None
        self.notify_deadline_ns: int | None = None  #: while the switch-back notification is in flight
        self.probe_inflight = False
        self.next_probe_ns = 0
        self.log_pending = False
        self.log_value: int | None = None
        self._failing = False
        # layer-owned regions (registered on both NICs like any MR)
        self.mbox: ShiftMR | None = None
        self.scratch: ShiftMR | None = None
        self.logmr: ShiftMR | None = None
        if self.strategy.failover:
            self.mbox = lib.reg_mr(pd, MAILBOX_BYTES, _REGION_ACCESS)
            self.scratch = lib.reg_mr(pd, 64, _REGION_ACCESS)
            self.logmr = lib.reg_mr(pd, 8, _REGION_ACCESS) if self.strategy.completion_log else None
            lib.shadow(lambda: self._shadow_create(pd))
            lib.shadow(self._shadow_publish_regions)
            lib.shadow(self._shadow_connect)

    # -- setup phase (shadow verbs) ---------------------------------------------------------------------------
    def _shadow_create(self, pd: ShiftPD) -> bool:
        if pd.backup is None or self.scq.backup is None or self.rcq.backup is None:
            return False
        self.backup = self.lib.backend.QP(pd.backup, QPInitAttr(scq=self.scq.backup, rcq=self.rcq.backup,
                                                                 cap=self.cap))
        self.scq.attach(self.backup.qp_num, self)
        self.rcq.attach(self.backup.qp_num, self)
        self.lib.kv.put(qp_key(self.gid, self.qp_num), {"gid": self.lib.backup_gid, "qpn": self.backup.qp_num})
        return True

    def _shadow_publish_regions(self) -> bool:
        regions = [("mbox", self.mbox)] + ([("log", self.logmr)] if self.logmr is not None else [])
        if any(mr is None or mr.backup_rkey is None for _, mr in regions):
            return False
        for kind, mr in regions:
            assert mr is not None
            self.lib.kv.put(region_key(kind, self.gid, self.qp_num),
                            {"addr": mr.buf, "rkey": mr.rkey, "brkey": mr.backup_rkey})
        return True

    def _shadow_connect(self) -> bool:
        if self.backup is None or self.peer is None or self.saved_attr is None:
            return False
        peer_backup = self.lib.kv.get(qp_key(*self.peer))
        if peer_backup is None:
            return False  # the peer has not replayed its create_qp yet: rescan later
        attr = copy.deepcopy(self.saved_attr)
        attr.dest_qp_num = int(peer_backup["qpn"])
        attr.ah_attr.gr.dgid = str(peer_backup["gid"])
        attr.qp_state = ibv_qp_state.IBV_QPS_RESET
        self.backup.to_rts(attr)
        return True

    @property
    def backup_ready(self) -> bool:
        return self.backup is not None and self.backup.qp_state == ibv_qp_state.IBV_QPS_RTS

    def to_rts(self, attr: QPAttr) -> None:
        """pyverbs ``QP.to_rts``: connect the default QP; the attributes are kept for resets and the backup."""
        self.saved_attr = copy.deepcopy(attr)
        self.peer = (attr.ah_attr.gr.dgid, attr.dest_qp_num)
        self.default.to_rts(attr)

    # -- bookkeeping ------------------------------------------------------------------------------------------
    def _step_sq(self, event: SQEvent) -> None:
        old, self.sq_state = self.sq_state, next_sq(self.qp_num, self.sq_state, event)
        self.lib.record.add(Transition(self.lib.now(), self.qp_num, "sq", old.value, event.value,
                                       self.sq_state.value))

    def _step_rq(self, event: RQEvent) -> None:
        old, self.rq_state = self.rq_state, next_rq(self.qp_num, self.rq_state, event)
        self.lib.record.add(Transition(self.lib.now(), self.qp_num, "rq", old.value, event.value,
                                       self.rq_state.value))

    def _new_post(self, kind: PostKind, seq: int, backup: bool) -> int:
        self._next_post += 1
        self._posts[self._next_post] = Post(kind, seq, backup)
        return self._next_post

    def _app_wc(self, wr_id: int, status: ibv_wc_status, opcode: ibv_wc_opcode, wc: WC | None = None) -> WC:
        return WC(wr_id=wr_id, status=status, opcode=opcode, qp_num=self.qp_num,
                  byte_len=wc.byte_len if wc else 0, imm_data=wc.imm_data if wc else 0,
                  wc_flags=wc.wc_flags if wc else 0, src_qp=wc.src_qp if wc else 0)

    def _peer_region(self, kind: str) -> dict[str, Any]:
        """The peer's layer region (mailbox/log) from the KV store; missing = the peer's backup is not set up."""
        assert self.peer is not None
        val = self.lib.remote.get(region_key(kind, *self.peer))
        if val is None:
            raise KVUnavailable(f"Failed to look up the peer's {kind} region: not published")
        return val

    # -- posting ----------------------------------------------------------------------------------------------
    def post_send(self, wr: SendWR | list[SendWR]) -> None:
        """``ibv_post_send``: the WR joins the outstanding set and goes where the SQ state says."""
        for w in wr if isinstance(wr, list) else [wr]:
            self._post_one(w)

    def _post_one(self, wr: SendWR) -> None:
        if self.sq_state is SQState.FAILED:
            raise ShiftRDMAError("Failed to post send: the QP's error was surfaced, no failover path left",
                                 errno.EIO)
        self.lib.record.app_wrs += 1
        self._seq += 1
        op = ibv_wr_opcode(wr.opcode)
        rq_seq = 0
        if op in _CONSUMING:
            self._rq_posted += 1
            rq_seq = self._rq_posted
        e = AppSend(self._seq, copy.deepcopy(wr), rq_seq, unsafe=op in _ATOMIC or bool(wr.send_flags
                    & SHIFT_NON_IDEMPOTENT), signaled=wr.signaled, atomic=op in _ATOMIC)
        self.sq[e.seq] = e
        state = self.sq_state
        if state is SQState.DEFAULT:
            self._post_app(e, backup=False)
        elif state is SQState.FALLBACK:
            if not self.resubmit_pending:
                self._post_app(e, backup=True)
        elif state is SQState.WAIT_SIGNALED:
            self._post_app(e, backup=True)
            if e.signaled and self.sq_state is SQState.WAIT_SIGNALED:
                self.fence_seq = e.seq
                self._step_sq(SQEvent.FENCE_POSTED)
        else:  # WAIT_DRAINED: queued on the default QP without ringing its doorbell
            self.withheld.append(e)

    def _translate(self, e: AppSend, post_id: int, backup: bool) -> SendWR:
        wr = e.wr
        flags = wr.send_flags & ~SHIFT_NON_IDEMPOTENT
        sges = [SGE(s.addr, s.length, s.lkey) for s in wr.sg_list]
        rkey = wr.rkey
        if backup:
            for s in sges:
                lk = self.lib.lkey_map.get(s.lkey)
                if lk is None:
                    raise KVUnavailable("Failed to rewind: a local MR has no backup registration yet")
                s.lkey = lk
            if ibv_wr_opcode(wr.opcode) in _RDMA:
                assert self.peer is not None
                val = self.lib.remote.get(mr_key(self.peer[0], wr.rkey))
                if val is None:
                    raise KVUnavailable(f"Failed to rewind: the peer's rkey {wr.rkey:#x} has no backup rkey")
                rkey = int(val["rkey"])
        return SendWR(wr_id=post_id, opcode=wr.opcode, sg_list=sges, send_flags=flags, imm_data=wr.imm_data,
                      remote_addr=wr.remote_addr, rkey=rkey, compare_add=wr.compare_add, swap=wr.swap)

    def _post_app(self, e: AppSend, backup: bool) -> None:
        pid = self._new_post(PostKind.APP_SEND, e.seq, backup)
        try:
            wr = self._translate(e, pid, backup)
            (self.backup if backup else self.default).post_send(wr)
        except KVUnavailable as exc:
            del self._posts[pid]
            self._second_failure(str(exc))
            return
        except ShiftRDMAError as exc:
            del self._posts[pid]
            if backup:
                self._second_failure(f"Failed to post on the backup QP: {exc}")
            else:
                self._default_path_failed(ibv_wc_status.IBV_WC_GENERAL_ERR)
            return
        e.posted = "backup" if backup else "default"
        e.post_ids.append(pid)
        if self.strategy.completion_log:
            self._post_log_write(e.seq, backup)

    def _post_internal(self, backup: bool, kind: PostKind, opcode: ibv_wr_opcode, *, remote: tuple[int, int],
                       payload: bytes = b"", signaled: bool = False, imm: int = 0, seq: int = 0) -> None:
        """A layer-issued remote op (counted in ``extra_remote_ops``); inline payload from the scratch MR."""
        assert self.scratch is not None
        sges: list[SGE] = []
        flags = _SIGNALED if signaled else 0
        if payload:
            self.scratch.write(payload, len(payload))
            lkey = self.scratch.lkey if not backup else self.lib.lkey_map[self.scratch.lkey]
            sges = [SGE(self.scratch.buf, len(payload), lkey)]
            if opcode != W.IBV_WR_RDMA_READ:
                flags |= _INLINE
        pid = self._new_post(kind, seq, backup) if signaled else 0
        wr = SendWR(wr_id=pid, opcode=opcode, sg_list=sges, send_flags=flags, imm_data=imm,
                    remote_addr=remote[0], rkey=remote[1])
        self.lib.record.extra_remote_ops += 1
        (self.backup if backup else self.default).post_send(wr)

    def post_recv(self, wr: RecvWR | list[RecvWR]) -> None:
        """``ibv_post_recv``: on whichever QP the RQ state names."""
        for w in wr if isinstance(wr, list) else [wr]:
            if self.rq_state is RQState.FAILED:
                raise ShiftRDMAError("Failed to post recv: the QP's error was surfaced", errno.EIO)
            self._rseq += 1
            r = AppRecv(self._rseq, copy.deepcopy(w))
            self.rq[r.rseq] = r
            self._post_recv_on(r, backup=self.rq_state is RQState.FALLBACK)

    def _post_recv_on(self, r: AppRecv, backup: bool) -> None:
        pid = self._new_post(PostKind.APP_RECV, r.rseq, backup)
        sges = [SGE(s.addr, s.length, s.lkey) for s in r.wr.sg_list]
        if backup:
            for s in sges:
                s.lkey = self.lib.lkey_map[s.lkey]
        try:
            (self.backup if backup else self.default).post_recv(RecvWR(wr_id=pid, sg_list=sges))
        except ShiftRDMAError as exc:
            del self._posts[pid]
            if backup:
                self._second_failure(f"Failed to post recv on the backup QP: {exc}")
            return
        self._recv_posts.setdefault(r.rseq, []).append(pid)
        if backup:
            self._backup_recv_posts.add(pid)

    # -- completions ------------------------------------------------------------------------------------------
    def on_wc(self, wc: WC, on_backup: bool) -> None:
        """Route one backend completion (called by :class:`shift_core.shift.cq.ShiftCQ`)."""
        post = self._posts.pop(wc.wr_id, None)
        if post is None:
            if wc.status == _OK:
                return
            post = Post(PostKind.HANDSHAKE, 0, on_backup)  # an unsignaled internal WR failed: the path did
        if post.kind is PostKind.APP_RECV:
            self._backup_recv_posts.discard(wc.wr_id)
            live = self._recv_posts.get(post.seq)
            if live is not None and wc.wr_id in live:
                live.remove(wc.wr_id)
        if wc.status != _OK:
            self._on_error_wc(wc, post, on_backup)
            return
        kind = post.kind
        if kind is PostKind.APP_SEND:
            self._send_done(post.seq, wc, on_backup)
        elif kind is PostKind.APP_RECV:
            self._recv_done(post, wc, on_backup)
        elif kind is PostKind.PROBE:
            self.probe_inflight = False
            if self.sq_state is SQState.FALLBACK and not self.resubmit_pending:
                self._step_sq(SQEvent.PROBE_OK)
        elif kind is PostKind.NOTIFY:
            self._notify_done()
        elif kind is PostKind.NOTIFY_RECV:
            self._peer_switched_back()
        elif kind is PostKind.LOG_READ:
            assert self.scratch is not None
            self.log_value = struct.unpack("<Q", self.scratch.read(8))[0]
            self.log_pending = False
            if self.resubmit_pending and self.peer_counter is not None:
                self._resubmit()

    def _send_done(self, seq: int, wc: WC, on_backup: bool) -> None:
        e = self.sq.get(seq)
        if e is None:
            return
        for s in [s for s in self.sq if s <= seq]:  # RC: a completion retires every earlier WR
            done = self.sq.pop(s)
            for pid in done.post_ids:
                self._posts.pop(pid, None)
        self.scq.deliver(self._app_wc(e.wr.wr_id, _OK, _WC_OF[ibv_wr_opcode(e.wr.opcode)], wc))
        self._note_ok(on_backup)
        if on_backup and seq == self.fence_seq and self.sq_state is SQState.WAIT_DRAINED:
            self.fence_seq = None
            self._post_notify()

    def _recv_done(self, post: Post, wc: WC, on_backup: bool) -> None:
        if post.stale:  # a filler consumed a WQE left on the backup QP by the last switch-back
            return
        r = self.rq.pop(post.seq, None)
        if r is None:
            return
        for pid in self._recv_posts.pop(post.seq, []):  # its copy on the other QP is stale from now on
            p = self._posts.get(pid)
            if p is not None:
                p.stale = True
        self.recv_count += 1
        self.rcq.deliver(self._app_wc(r.wr.wr_id, _OK, wc.opcode, wc))
        self._note_ok(on_backup)

    def _note_ok(self, on_backup: bool) -> None:
        rec = self.lib.record
        if on_backup and rec.first_error_ns is not None and rec.first_backup_ok_ns is None:
            rec.first_backup_ok_ns = self.lib.now()

    def _on_error_wc(self, wc: WC, post: Post, on_backup: bool) -> None:
        if not self.strategy.failover:  # stock RDMA: the error is the app's
            self._surface_post(wc, post)
            return
        if post.stale or self.sq_state is SQState.FAILED:
            return
        if on_backup:
            self._second_failure(f"backup path error {ibv_wc_status(wc.status).name} on QP {wc.qp_num}")
            return
        if post.kind is PostKind.PROBE:
            self.probe_inflight = False
            if self.rq_state is RQState.DEFAULT:
                # our RECVs already went back to the default QP (the peer switched back first): a reset would
                # drop them, so the receive queue fails over again instead (they are reposted on the backup)
                self._default_path_failed(ibv_wc_status(wc.status))
            elif self.sq_state is SQState.FALLBACK and not self.lib.default_port_failed:
                # the default QP is in ERR again: reset it now, so it is connected when the peer's probe comes
                # (both sides probe; a QP left in ERR until our next interval would drop the peer's probe)
                self._reset_default(drain=False)
            return
        if post.kind is PostKind.NOTIFY_RECV or self._failing:
            return
        if post.kind is PostKind.APP_RECV and self.rq_state is not RQState.DEFAULT:
            return  # a flushed copy on a default QP this RQ already left
        if post.kind is PostKind.APP_SEND:
            e = self.sq.get(post.seq)
            if e is None or e.posted != "default":
                return
        self._default_path_failed(ibv_wc_status(wc.status))

    def _surface_post(self, wc: WC, post: Post) -> None:
        """``none``: hand the error completion to the app as stock RDMA would."""
        self.lib.record.errors_surfaced += 1
        if self.lib.record.first_error_ns is None:
            self.lib.record.first_error_ns = self.lib.now()
        if post.kind is PostKind.APP_SEND:
            e = self.sq.pop(post.seq, None)
            if e is not None:
                self.scq.deliver(self._app_wc(e.wr.wr_id, ibv_wc_status(wc.status),
                                              _WC_OF[ibv_wr_opcode(e.wr.opcode)]))
        elif post.kind is PostKind.APP_RECV:
            r = self.rq.pop(post.seq, None)
            if r is not None:
                self.rcq.deliver(self._app_wc(r.wr.wr_id, ibv_wc_status(wc.status), ibv_wc_opcode.IBV_WC_RECV))

    # -- failover ---------------------------------------------------------------------------------------------
    def _default_path_failed(self, status: ibv_wc_status, by_peer: bool = False) -> None:
        """The default path is gone (our error completion, or the peer's handshake): move this QP over."""
        if self._failing:
            return
        self._failing = True
        try:
            self._fail_over(status, by_peer)
        finally:
            self._failing = False

    def _fail_over(self, status: ibv_wc_status, by_peer: bool) -> None:
        rec = self.lib.record
        if rec.first_error_ns is None and not by_peer:
            rec.first_error_ns = self.lib.now()
        self.scq.drain("default")
        if self.rcq is not self.scq:
            self.rcq.drain("default")
        if self.sq_state is SQState.FAILED:
            return
        if self.default.qp_state != ibv_qp_state.IBV_QPS_ERR:
            self.default.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_ERR), int(ibv_qp_attr_mask.IBV_QP_STATE))
            self.scq.drain("default")
            if self.rcq is not self.scq:
                self.rcq.drain("default")
        sq_moves = self.sq_state is not SQState.FALLBACK
        if sq_moves:
            if self.sq_state is SQState.DEFAULT:
                if self.strategy.safe_check and any(e.unsafe for e in self.sq.values()):
                    self._step_sq(SQEvent.ERROR_UNSAFE)
                    self._surface_all(status, "an atomic or app-flagged WR is outstanding")
                    return
                if not self.backup_ready:
                    self._second_failure("the backup QP is not connected (setup incomplete or KV store down)")
                    return
                self._step_sq(SQEvent.PEER_FALLBACK if by_peer else SQEvent.ERROR_SAFE)
            else:  # WAIT_SIGNALED / WAIT_DRAINED: the default path failed again during the switch-back
                self._step_sq(SQEvent.DEFAULT_ERROR)
                self.fence_seq = None
                self.notify_deadline_ns = None
                self.withheld.clear()
            self.resubmit_pending = True
            if not by_peer:
                self.peer_counter = None  # wait for this cycle's handshake
            self.probe_inflight = False
            self.next_probe_ns = self.lib.now() + self.lib.probe_interval_ns
        rq_moved = False
        if self.rq_state is RQState.DEFAULT:
            for r in list(self.rq.values()):
                self._post_recv_on(r, backup=True)
                if self.sq_state is SQState.FAILED:
                    return
            self._step_rq(RQEvent.HANDSHAKE)
            rq_moved = True
        if self.strategy.completion_log and sq_moves and not self.log_pending:
            self._post_log_read()
        if not by_peer and (sq_moves or rq_moved) and not self.hs_awaiting:
            self._send_handshake(REQ)
            self.hs_awaiting = True

    def _send_handshake(self, kind: int) -> None:
        try:
            mbox = self._peer_region("mbox")
        except KVUnavailable as exc:
            self._second_failure(str(exc))
            return
        self.hs_sent += 1
        msg = Handshake(self.hs_sent, kind, self.recv_count, self.stale_total)
        try:
            self._post_internal(True, PostKind.HANDSHAKE, W.IBV_WR_RDMA_WRITE, remote=(mbox["addr"], mbox["brkey"]),
                                payload=msg.pack())
        except ShiftRDMAError as exc:
            self._second_failure(f"Failed to write the handshake: {exc}")

    def _on_handshake(self, msg: Handshake) -> None:
        """The peer's handshake (paper step (2)/(3)): fail over if still on the default path, answer, rewind."""
        self.hs_seen = msg.number
        self.peer_counter = msg.recv_count
        self.peer_stale_total = msg.stale
        on_default = self.rq_state is RQState.DEFAULT or self.sq_state in (
            SQState.DEFAULT, SQState.WAIT_SIGNALED, SQState.WAIT_DRAINED)
        if on_default:
            self._default_path_failed(ibv_wc_status.IBV_WC_WR_FLUSH_ERR, by_peer=True)
            if self.sq_state is SQState.FAILED:
                return
        else:
            self._step_rq(RQEvent.HANDSHAKE)  # counters exchanged again; our RECVs are already on the backup
        if self.hs_awaiting:
            self.hs_awaiting = False  # their message answers ours (sent at the same time or as the ACK)
        elif msg.kind == REQ:
            self._send_handshake(ACK)
        if self.resubmit_pending and not self.log_pending and self.peer_counter is not None:
            self._resubmit()

    def _resubmit(self) -> None:
        """WQ rewind onto the backup QP, skipping what the peer's counter (or log) shows as executed."""
        if self.sq_state is SQState.FAILED:
            return
        rec = self.lib.record
        pending = [e for e in self.sq.values() if e.posted != "backup"]
        done_upto = 0
        if self.strategy.counters and self.peer_counter is not None:
            for e in pending:
                if 0 < e.rq_seq <= self.peer_counter:
                    done_upto = e.seq
        if self.strategy.completion_log and self.log_value is not None:
            logged = self.log_value
            if any(e.atomic and e.seq <= logged for e in pending):
                self._step_sq(SQEvent.ERROR_UNSAFE)  # executed, but its result died with the NIC
                self._surface_all(ibv_wc_status.IBV_WC_RETRY_EXC_ERR, "an executed atomic's result was lost")
                return
            first_unlogged = next((e for e in pending if e.seq > logged), None)
            if (first_unlogged is not None and first_unlogged.atomic and first_unlogged.seq > done_upto):
                self._step_sq(SQEvent.ERROR_UNSAFE)  # ambiguous atomic: a log cannot decide it (Thm 3)
                self._surface_all(ibv_wc_status.IBV_WC_RETRY_EXC_ERR, "an atomic's execution is undecidable")
                return
            done_upto = max(done_upto, logged)
        rest: list[AppSend] = []
        for e in pending:
            if e.seq <= done_upto and ibv_wr_opcode(e.wr.opcode) != W.IBV_WR_RDMA_READ:
                self.sq.pop(e.seq)
                for pid in e.post_ids:
                    self._posts.pop(pid, None)
                rec.skipped_by_counter += 1
                if e.signaled:
                    self.scq.deliver(self._app_wc(e.wr.wr_id, _OK, _WC_OF[ibv_wr_opcode(e.wr.opcode)]))
            else:
                rest.append(e)
        self.resubmit_pending = False
        self.log_value = None
        need = self.peer_stale_total - self.fillers_sent
        if need > 0:
            try:
                for _ in range(need):
                    self._post_internal(True, PostKind.FILLER, W.IBV_WR_SEND, remote=(0, 0))
            except ShiftRDMAError as exc:
                self._second_failure(f"Failed to post a filler: {exc}")
                return
            self.fillers_sent += need
            rec.fillers += need
        for e in rest:
            self._post_app(e, backup=True)
            if self.sq_state is SQState.FAILED:
                return
            rec.resubmitted += 1

    def _second_failure(self, why: str) -> None:
        """Backup path or KV store failed while needed: fail closed, surface every outstanding WR."""
        if self.sq_state is SQState.FAILED:
            return
        self.lib.record.notes.append(f"qp {self.qp_num}: second failure: {why}")
        self._step_sq(SQEvent.SECOND_FAILURE)
        self._surface_all(ibv_wc_status.IBV_WC_RETRY_EXC_ERR, why, second=True)

    def _surface_all(self, status: ibv_wc_status, why: str, second: bool = False) -> None:
        rec = self.lib.record
        if rec.first_error_ns is None:
            rec.first_error_ns = self.lib.now()
        if self.rq_state is not RQState.FAILED:
            self._step_rq(RQEvent.SECOND_FAILURE if second and self.rq_state is RQState.FALLBACK
                          else RQEvent.SURFACED)
        first = True
        for e in list(self.sq.values()):
            if e.signaled or first:
                self.scq.deliver(self._app_wc(e.wr.wr_id, status if first else _FLUSH,
                                              _WC_OF[ibv_wr_opcode(e.wr.opcode)]))
                rec.errors_surfaced += 1
                first = False
        for r in list(self.rq.values()):
            self.rcq.deliver(self._app_wc(r.wr.wr_id, _FLUSH, ibv_wc_opcode.IBV_WC_RECV))
            rec.errors_surfaced += 1
        if first:  # nothing outstanding: the app still learns, on its next poll, that the QP is gone
            self.scq.deliver(self._app_wc(0, status, ibv_wc_opcode.IBV_WC_SEND))
            rec.errors_surfaced += 1
        rec.notes.append(f"qp {self.qp_num}: error surfaced: {why}")
        self.sq.clear()
        self.rq.clear()
        self.withheld.clear()
        self._posts.clear()

    # -- completion log (receiver_log) ------------------------------------------------------------------------
    def _post_log_write(self, seq: int, backup: bool) -> None:
        try:
            log = self._peer_region("log")
            self._post_internal(backup, PostKind.LOG_WRITE, W.IBV_WR_RDMA_WRITE,
                                remote=(log["addr"], log["brkey"] if backup else log["rkey"]),
                                payload=struct.pack("<Q", seq))
        except (KVUnavailable, ShiftRDMAError) as exc:
            if backup:
                self._second_failure(str(exc))

    def _post_log_read(self) -> None:
        try:
            log = self._peer_region("log")
            self.log_pending = True
            self._post_internal(True, PostKind.LOG_READ, W.IBV_WR_RDMA_READ, remote=(log["addr"], log["brkey"]),
                                payload=b"\0" * 8, signaled=True)
        except (KVUnavailable, ShiftRDMAError) as exc:
            self._second_failure(str(exc))

    # -- background thread: handshake mailbox, probe, switch-back ---------------------------------------------
    def background(self) -> None:
        """One background step: read the mailbox, poll the CQs while failed over, probe the default QP when due."""
        if not self.strategy.failover or self.mbox is None or self.sq_state is SQState.FAILED:
            return
        if self.lib.default_port_failed and self.sq_state in (SQState.WAIT_SIGNALED, SQState.WAIT_DRAINED):
            self._default_path_failed(ibv_wc_status.IBV_WC_GENERAL_ERR)  # the recovered port failed again
        if (self.sq_state is SQState.WAIT_DRAINED and self.notify_deadline_ns is not None
                and self.lib.now() >= self.notify_deadline_ns):
            self._default_path_failed(ibv_wc_status.IBV_WC_GENERAL_ERR)  # the notification never completed
        msg = Handshake.unpack(self.mbox.read(MAILBOX_BYTES))
        if msg.number > self.hs_seen:
            self._on_handshake(msg)
        if self.sq_state is not SQState.DEFAULT or self.rq_state is not RQState.DEFAULT:
            # a passive side (WRITE/READ responder, no app polling) must still see its probe's completion
            # and the peer's switch-back notification: the background thread polls the CQs while failed over
            self.scq.drain()
            if self.rcq is not self.scq:
                self.rcq.drain()
            if self.sq_state is SQState.FAILED:
                return
        if (self.strategy.switch_back and self.sq_state is SQState.FALLBACK and not self.resubmit_pending
                and not self.probe_inflight and not self.lib.default_port_failed
                and self.lib.now() >= self.next_probe_ns):
            self._probe()

    def _probe(self) -> None:
        """Reset the default QP if it is not connected, then an empty signaled WRITE to the peer's mailbox.

        Any verbs error on the way (RoCE resolves the route at RESET->RTR, so a local link that is still down
        fails ``to_rts`` with ENETUNREACH) means "probe failed": retry at the next interval, as a NIC would.
        """
        assert self.saved_attr is not None
        self.next_probe_ns = self.lib.now() + self.lib.probe_interval_ns
        try:
            mbox = self._peer_region("mbox")
        except KVUnavailable:
            return  # the KV store is only needed again to switch back; keep running on the backup
        if self.default.qp_state != ibv_qp_state.IBV_QPS_RTS and not self._reset_default():
            return
        try:
            self._post_internal(False, PostKind.PROBE, W.IBV_WR_RDMA_WRITE, remote=(mbox["addr"], mbox["rkey"]),
                                signaled=True)
        except ShiftRDMAError as exc:
            self._probe_failed(f"post: {exc}")
            return
        self.probe_inflight = True
        self.lib.record.probes += 1

    def _reset_default(self, drain: bool = True) -> bool:
        """ERR -> RESET -> RTS with the app's saved attributes, so the default QP answers the peer's probe and
        receives its switch-back notification (a fresh RECV for it when this RQ is failed over).

        :param drain: poll the default CQ first; False when called while that CQ is being drained (a nested
            drain would hand later completions over before the earlier ones of the same batch).
        :returns: False if a verbs call failed (counted; the QP is left for the next probe to reset again).
        """
        assert self.saved_attr is not None
        if drain:
            self.scq.drain("default")
        try:
            self.default.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_RESET), int(ibv_qp_attr_mask.IBV_QP_STATE))
            attr = copy.deepcopy(self.saved_attr)
            attr.qp_state = ibv_qp_state.IBV_QPS_RESET
            self.default.to_rts(attr)
            if self.rq_state is RQState.FALLBACK:  # a fresh RECV for the peer's switch-back notification
                pid = self._new_post(PostKind.NOTIFY_RECV, 0, False)
                try:
                    self.default.post_recv(RecvWR(wr_id=pid))
                except ShiftRDMAError:
                    del self._posts[pid]
                    raise
        except ShiftRDMAError as exc:
            self._probe_failed(f"reset: {exc}")
            return False
        return True

    def _probe_failed(self, why: str) -> None:
        rec = self.lib.record
        rec.probe_failures += 1
        if rec.probe_failures == 1:  # one note per host is enough to say why; the count says how often
            rec.notes.append(f"qp {self.qp_num}: probe failed ({why}); retrying every probe interval")

    def _post_notify(self) -> None:
        """Fence completed on the backup QP: ring the switch-back notification on the default QP."""
        try:
            mbox = self._peer_region("mbox")
            self._post_internal(False, PostKind.NOTIFY, W.IBV_WR_RDMA_WRITE_WITH_IMM,
                                remote=(mbox["addr"], mbox["rkey"]), signaled=True, imm=_NOTIFY_IMM)
            self.notify_deadline_ns = self.lib.now() + NOTIFY_TIMEOUT_PROBES * self.lib.probe_interval_ns
        except (KVUnavailable, ShiftRDMAError):
            self._default_path_failed(ibv_wc_status.IBV_WC_GENERAL_ERR)

    def _notify_done(self) -> None:
        """The notification landed: ring the doorbell for the withheld WRs on the default QP -> Default."""
        if self.sq_state is not SQState.WAIT_DRAINED:
            return
        self.notify_deadline_ns = None
        held, self.withheld = self.withheld, []
        self._step_sq(SQEvent.FENCE_DONE)
        self.lib.record.switch_backs += 1
        for e in held:
            self._post_app(e, backup=False)

    def _peer_switched_back(self) -> None:
        """The peer's notification: every backup arrival is in (RC order), so RECVs move to the default QP."""
        if self.rq_state is not RQState.FALLBACK:
            return
        self.rcq.drain("backup")
        if self.scq is not self.rcq:
            self.scq.drain("backup")
        for pid in list(self._backup_recv_posts):
            p = self._posts.get(pid)
            if p is not None and not p.stale:
                p.stale = True
            self.stale_total += 1
        self._backup_recv_posts.clear()
        for r in list(self.rq.values()):
            self._post_recv_on(r, backup=False)
        self._step_rq(RQEvent.SWITCH_BACK)
