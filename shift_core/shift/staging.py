"""The ``staging`` strategy: exactly-once by giving up the zero-copy datapath (the Trilemma's third corner).

Every app send WR becomes one or more *staged messages*: the sending layer copies a header (sequence number,
opcode, target address, length, offset / atomic operands, immediate, ring position) and the payload into its
staging ring and WRITE_WITH_IMMs it into the same place of the peer's staging ring; the peer's layer (its CPU,
in the background step) *commits* messages in sequence order exactly once: it copies a WRITE's payload to its
target, delivers a SEND / WRITE_WITH_IMM to the app's (software) receive queue, executes an atomic on local
memory and sends the old value back as a REPLY message. A retransmission after failover (every outstanding
message is resent on the backup QP, no handshake needed) is recognised by its sequence number and dropped, and
an atomic is answered from the result cache, so no app-visible effect ever happens twice.

The ring is ``SLOTS`` x ``SLOT_BYTES``; a message takes as many consecutive slots as its header and payload need
(it never wraps: the tail of the ring is skipped instead), and a WR larger than a *piece* (``PIECE_SLOTS`` slots)
is cut into pieces committed in order, so perftest-sized WRs (64 KiB and up) are carried whole. Flow control is
credit-based, as a staging ring must be: the receiver WRITEs back how far it has consumed (ring position and
message count, one inline WRITE per quarter ring / quarter receive pool), and the sender stages a message only
into consumed space; what does not fit waits in software (accepted, not yet staged), never failing the post.

The price is measured: a payload copy per piece on each side (``copies`` / ``copied_bytes``), an extra remote op
per piece beyond one per WR, per credit return and per atomic reply (``extra_remote_ops``), receiver CPU on
every message. The sim charges no time for the copies (they are counted, not timed). RDMA READs are not staged
(they do not change the responder's memory), so a READ is not ordered after the *commit* of an earlier staged
WRITE to the same address (that would need a fence on the commit); no workload here reads what it wrote.
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shift_core.backend.attrs import SGE, WC, QPAttr, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import ibv_qp_attr_mask, ibv_qp_state, ibv_wc_opcode, ibv_wc_status, ibv_wr_opcode
from shift_core.errors import ShiftRDMAError
from shift_core.kv.store import KVUnavailable
from shift_core.shift.exchange import region_key
from shift_core.shift.machine import RQEvent, RQState, SQEvent, SQState
from shift_core.shift.qp import _ATOMIC, _OK, _REGION_ACCESS, _SIGNALED, _WC_OF, AppRecv, AppSend, ShiftQP
from shift_core.shift.wrid import PostKind

if TYPE_CHECKING:
    from shift_core.shift.lib import ShiftLib, ShiftMR, ShiftPD

W = ibv_wr_opcode
HDR = 64
_HFMT = "<QQQQQQQQ"  # seq, opcode (| MORE), addr (reply: the op's seq), length, offset / compare_add, swap, imm, slot
SLOTS = 128
SLOT_BYTES = 4096
PIECE_SLOTS = SLOTS // 4  #: the largest message in slots; a bigger WR is cut into pieces of at most this
PIECE_BYTES = PIECE_SLOTS * SLOT_BYTES - HDR  #: payload bytes of a full piece
POOL = 64  #: zero-length receive WQEs kept on each QP for incoming staged messages (capped by max_recv_wr)
REPLY = 0xFF  #: opcode of a reply message
MORE = 1 << 8  #: opcode flag of a piece that is not its WR's last
_SEND_FAMILY = frozenset({int(W.IBV_WR_SEND), int(W.IBV_WR_SEND_WITH_IMM)})
_WRITE_FAMILY = frozenset({int(W.IBV_WR_RDMA_WRITE), int(W.IBV_WR_RDMA_WRITE_WITH_IMM)})


def slots_for(nbytes: int) -> int:
    """Ring slots a message of ``nbytes`` (header included) occupies."""
    return -(-nbytes // SLOT_BYTES)


@dataclass(slots=True)
class Piece:
    """One message waiting for ring space: a piece of app WR ``wr`` (``e``, the app entry, on its last piece
    only: landing that one completes the WR), an atomic, or a reply (no ``wr``)."""

    opcode: int
    addr: int
    offset: int
    length: int
    cmp: int = 0
    swap: int = 0
    imm: int = 0
    e: AppSend | None = None
    wr: SendWR | None = None
    first: bool = True


class StagingQP(ShiftQP):
    """A :class:`shift_core.shift.qp.ShiftQP` whose every send is staged and committed once by the peer's layer."""

    def __init__(self, lib: ShiftLib, pd: ShiftPD, init_attr: QPInitAttr) -> None:
        super().__init__(lib, pd, init_attr)
        self.ring: ShiftMR = lib.reg_mr(pd, SLOTS * SLOT_BYTES, _REGION_ACCESS)   # the peer writes here
        self.out: ShiftMR = lib.reg_mr(pd, SLOTS * SLOT_BYTES, _REGION_ACCESS)    # what we send, kept to resend
        self.credit: ShiftMR = lib.reg_mr(pd, 16, _REGION_ACCESS)  # the peer writes (slot end, seq) consumed
        self.pool = max(1, min(POOL, init_attr.cap.max_recv_wr))
        # sending
        self.tx_seq = 0
        self.tx_slot = 0                      #: next free ring position (a counter; the slot is it % SLOTS)
        self.credit_seen = (0, 0)             #: the peer has consumed our ring up to (slot, seq)
        self.backlog: deque[Piece] = deque()  #: accepted, waiting for ring space (in order)
        self.layout: dict[int, tuple[int, int]] = {}  #: staged seq -> (ring position, bytes), until it lands
        self.msgs: dict[int, AppSend] = {}    #: staged seq -> app entry (a placeholder for pieces and replies)
        # receiving
        self.committed = 0
        self.rx_free = 0                      #: ring position up to which every message is consumed
        self.credit_sent = (0, 0)
        self.early: dict[int, tuple[bytes, int]] = {}  #: seq -> (message, its ring end), arrived ahead of order
        self.results: dict[int, int] = {}   #: our seq of a committed atomic -> old value (answers duplicates)
        self.replies: dict[int, int] = {}   #: peer's atomic seq -> our reply message seq
        lib.shadow(self._shadow_publish_ring)
        lib.shadow(self._shadow_fetch_peer_ring)

    def _shadow_publish_ring(self) -> bool:
        if self.ring.backup_rkey is None or self.credit.backup_rkey is None:
            return False
        self.lib.kv.put(region_key("stage", self.gid, self.qp_num),
                        {"addr": self.ring.buf, "rkey": self.ring.rkey, "brkey": self.ring.backup_rkey,
                         "pool": self.pool})
        self.lib.kv.put(region_key("credit", self.gid, self.qp_num),
                        {"addr": self.credit.buf, "rkey": self.credit.rkey, "brkey": self.credit.backup_rkey})
        return True

    def _shadow_fetch_peer_ring(self) -> bool:
        """Look the peer's ring and credit word up once, in the setup phase: a credit return or a resend after
        a failover must not need the KV store (a store that is down by then would fail the whole QP)."""
        if self.peer is None:
            return False
        try:
            self._peer_region("stage")
            self._peer_region("credit")
        except KVUnavailable:
            return False
        return True

    # -- setup: receive pools on both QPs ---------------------------------------------------------------------
    def to_rts(self, attr: QPAttr) -> None:
        super().to_rts(attr)
        self._fill_pool(backup=False)

    def _shadow_connect(self) -> bool:
        if not super()._shadow_connect():
            return False
        self._fill_pool(backup=True)
        return True

    def _fill_pool(self, backup: bool) -> None:
        qp = self.backup if backup else self.default
        for _ in range(self.pool):
            pid = self._new_post(PostKind.STAGE_RECV, 0, backup)
            qp.post_recv(RecvWR(wr_id=pid))

    # -- sending ----------------------------------------------------------------------------------------------
    def _post_one(self, wr: SendWR) -> None:
        if self.sq_state is SQState.FAILED:
            raise ShiftRDMAError("Failed to post send: the QP's error was surfaced, no failover path left",
                                 errno.EIO)
        op = ibv_wr_opcode(wr.opcode)
        if op == W.IBV_WR_RDMA_READ:  # not staged: reads leave the responder's memory alone
            super()._post_one(wr)
            return
        self.lib.record.app_wrs += 1
        self._seq += 1
        e = AppSend(self._seq, wr, 0, unsafe=False, signaled=wr.signaled, atomic=op in _ATOMIC)
        self.sq[e.seq] = e
        if op in _ATOMIC:
            self.backlog.append(Piece(int(op), wr.remote_addr, 0, 0, wr.compare_add, wr.swap, 0, e))
        else:
            total = sum(s.length for s in wr.sg_list)
            offset = 0
            while True:  # one piece per PIECE_BYTES; a zero-length WR is one empty piece
                n = min(PIECE_BYTES, total - offset)
                last = offset + n >= total
                piece_op = int(op) if last else (int(W.IBV_WR_RDMA_WRITE) if int(op) in _WRITE_FAMILY
                                                  else int(op) | MORE)
                addr = wr.remote_addr + offset if int(op) in _WRITE_FAMILY else 0
                self.backlog.append(Piece(piece_op, addr, offset, n, imm=wr.imm_data, e=e if last else None,
                                          wr=wr, first=offset == 0))
                offset += n
                if last:
                    break
        self._flush_backlog()

    def _gather(self, sg_list: list[SGE], offset: int, length: int) -> bytes:
        """``length`` bytes of the WR's payload from ``offset`` (a CPU load from the app's registered memory)."""
        out = b""
        for s in sg_list:
            if length <= 0:
                break
            if offset >= s.length:
                offset -= s.length
                continue
            n = min(s.length - offset, length)
            out += self.lib.read_local(s.addr + offset, n)
            length -= n
            offset = 0
        return out

    def _flush_backlog(self) -> None:
        """Stage waiting messages, in order, while the peer's credit leaves ring space and receive WQEs."""
        if self.sq_state is SQState.FAILED or not self.backlog:
            return
        raw = self.credit.read(16)
        slot, seq = struct.unpack("<QQ", raw)
        self.credit_seen = (max(self.credit_seen[0], slot), max(self.credit_seen[1], seq))
        try:
            pool = int(self._peer_region("stage").get("pool", POOL))
        except KVUnavailable:
            pool = POOL
        while self.backlog:
            p = self.backlog[0]
            nbytes = HDR + (p.length if p.opcode not in (REPLY, *map(int, _ATOMIC)) else 0)
            n = slots_for(nbytes)
            pad = SLOTS - self.tx_slot % SLOTS if self.tx_slot % SLOTS + n > SLOTS else 0
            if (self.tx_slot + pad + n - self.credit_seen[0] > SLOTS
                    or self.tx_seq + 1 - self.credit_seen[1] > pool):
                return  # wait for the peer's next credit
            self.backlog.popleft()
            self.tx_slot += pad
            self._stage(p, nbytes)
            if self.sq_state is SQState.FAILED:
                return

    def _stage(self, p: Piece, nbytes: int) -> None:
        self.tx_seq += 1
        seq = self.tx_seq
        pos = self.tx_slot
        self.tx_slot += slots_for(nbytes)
        rec = self.lib.record
        data = b""
        if nbytes > HDR:
            assert p.wr is not None
            data = self._gather(p.wr.sg_list, p.offset, p.length)
            rec.copies += 1
            rec.copied_bytes += len(data)
        if not p.first:
            rec.extra_remote_ops += 1  # a piece beyond one message per WR
        hdr = struct.pack(_HFMT, seq, p.opcode, p.addr, len(data), p.cmp if p.opcode in (REPLY, *map(int, _ATOMIC))
                          else p.offset, p.swap, p.imm, pos)
        self.out.write(hdr + data, HDR + len(data), (pos % SLOTS) * SLOT_BYTES)
        holder = p.e if p.e is not None else AppSend(-seq, SendWR(), 0, False, False, False)
        if p.e is not None:
            holder.post_ids = [seq]
        self.msgs[seq] = holder
        self.layout[seq] = (pos, HDR + len(data))
        self._send_msg(seq, backup=self.sq_state is not SQState.DEFAULT)

    def _send_msg(self, seq: int, backup: bool) -> None:
        pos, nbytes = self.layout[seq]
        off = (pos % SLOTS) * SLOT_BYTES
        try:
            ring = self._peer_region("stage")
            lkey = self.out.lkey if not backup else self.lib.lkey_map[self.out.lkey]
            pid = self._new_post(PostKind.STAGED, seq, backup)
            wr = SendWR(wr_id=pid, opcode=W.IBV_WR_RDMA_WRITE_WITH_IMM,
                        sg_list=[SGE(self.out.buf + off, nbytes, lkey)],
                        send_flags=_SIGNALED, imm_data=pos & 0xFFFFFFFF,
                        remote_addr=ring["addr"] + off, rkey=ring["brkey"] if backup else ring["rkey"])
            (self.backup if backup else self.default).post_send(wr)
        except (KVUnavailable, ShiftRDMAError, KeyError) as exc:
            if backup:
                self._second_failure(f"Failed to stage on the backup QP: {exc}")
            else:
                self._default_path_failed(ibv_wc_status.IBV_WC_GENERAL_ERR)

    def _send_credit(self, force: bool = False) -> None:
        """Tell the peer how far its messages are consumed: an inline WRITE, once per quarter ring / pool."""
        slot, seq = self.credit_sent
        if not force and self.rx_free - slot < SLOTS // 4 and self.committed - seq < max(1, self.pool // 4):
            return
        if (self.rx_free, self.committed) == self.credit_sent and not force:
            return
        backup = self.sq_state is not SQState.DEFAULT
        try:
            region = self._peer_region("credit")
            self._post_internal(backup, PostKind.CREDIT, W.IBV_WR_RDMA_WRITE,
                                remote=(region["addr"], region["brkey"] if backup else region["rkey"]),
                                payload=struct.pack("<QQ", self.rx_free, self.committed))
        except (KVUnavailable, ShiftRDMAError) as exc:
            if backup:
                self._second_failure(f"Failed to return staging credit: {exc}")
            return
        self.credit_sent = (self.rx_free, self.committed)

    def post_recv(self, wr: RecvWR | list[RecvWR]) -> None:
        """App RECVs stay in software: committed SENDs / WRITE_WITH_IMMs are copied into them in order."""
        for w in wr if isinstance(wr, list) else [wr]:
            if self.rq_state is RQState.FAILED:
                raise ShiftRDMAError("Failed to post recv: the QP's error was surfaced", errno.EIO)
            self._rseq += 1
            self.rq[self._rseq] = AppRecv(self._rseq, w)

    # -- completions ------------------------------------------------------------------------------------------
    def on_wc(self, wc: WC, on_backup: bool) -> None:
        post = self._posts.get(wc.wr_id)
        if post is None or post.kind not in (PostKind.STAGE_RECV, PostKind.STAGED):
            super().on_wc(wc, on_backup)
            return
        del self._posts[wc.wr_id]
        if wc.status != _OK:
            if self.sq_state is SQState.FAILED or (not on_backup and self.sq_state is not SQState.DEFAULT):
                return
            if on_backup:
                self._second_failure(f"backup path error {ibv_wc_status(wc.status).name}")
            else:
                self._default_path_failed(ibv_wc_status(wc.status))
            return
        if post.kind is PostKind.STAGE_RECV:
            qp = self.backup if on_backup else self.default
            pid = self._new_post(PostKind.STAGE_RECV, 0, on_backup)
            qp.post_recv(RecvWR(wr_id=pid))
            self._arrived(wc.imm_data, on_backup)
            return
        e = self.msgs.pop(post.seq, None)  # our staged message landed in the peer's ring
        self.layout.pop(post.seq, None)
        if e is None:
            return
        self._note_ok(on_backup)
        if e.seq > 0 and not e.atomic:
            self.sq.pop(e.seq, None)
            if e.signaled:
                self.scq.deliver(self._app_wc(e.wr.wr_id, _OK, _WC_OF[ibv_wr_opcode(e.wr.opcode)]))

    def _arrived(self, imm: int, on_backup: bool) -> None:
        slot = (imm % SLOTS) * SLOT_BYTES
        raw = self.ring.read(HDR, slot)
        seq, opcode, _addr, length, _cmp, _swap, _imm, pos = struct.unpack(_HFMT, raw)
        if pos & 0xFFFFFFFF != imm:
            self.lib.record.notes.append(f"qp {self.qp_num}: staging slot {imm % SLOTS} overwritten")
            return
        if seq <= self.committed or seq in self.early:
            if opcode in (int(W.IBV_WR_ATOMIC_FETCH_AND_ADD), int(W.IBV_WR_ATOMIC_CMP_AND_SWP)) and \
                    seq in self.replies and self.replies[seq] <= self.tx_seq and self.replies[seq] not in self.msgs:
                self._reply(seq, self.results[seq])  # the peer retried: answer from the cache
            return
        self.early[seq] = (self.ring.read(HDR + length, slot), pos + slots_for(HDR + length))
        while self.committed + 1 in self.early:
            self.committed += 1
            msg, self.rx_free = self.early.pop(self.committed)
            self._commit(self.committed, msg)
            if self.sq_state is SQState.FAILED:
                return

    def _commit(self, seq: int, raw: bytes) -> None:
        _, opcode, addr, length, cmp, swap, imm, _pos = struct.unpack(_HFMT, raw[:HDR])
        data = raw[HDR:HDR + length]
        rec = self.lib.record
        if opcode == REPLY:
            self._reply_arrived(addr, cmp)
            return
        more = bool(opcode & MORE)
        op = ibv_wr_opcode(opcode & ~MORE)
        if op in (W.IBV_WR_RDMA_WRITE, W.IBV_WR_RDMA_WRITE_WITH_IMM) and data:
            self.lib.write_local(addr, data)
            rec.copies += 1
            rec.copied_bytes += length
        if op in (W.IBV_WR_RDMA_WRITE_WITH_IMM, W.IBV_WR_SEND, W.IBV_WR_SEND_WITH_IMM):
            if not self.rq:
                self.lib.record.notes.append(f"qp {self.qp_num}: staged message {seq} found no RECV")
                self._second_failure("receiver not ready (no RECV posted)")
                return
            head = next(iter(self.rq))
            r = self.rq[head]
            if op != W.IBV_WR_RDMA_WRITE_WITH_IMM and r.wr.sg_list and data:
                room = max(0, r.wr.sg_list[0].length - cmp)  # cmp = this piece's offset in the message
                if room:
                    self.lib.write_local(r.wr.sg_list[0].addr + cmp, data[:room])
                    rec.copies += 1
                    rec.copied_bytes += min(room, length)
            if more:
                return  # the RECV is consumed by the WR's last piece
            self.rq.pop(head)
            self.recv_count += 1
            wc_op = (ibv_wc_opcode.IBV_WC_RECV_RDMA_WITH_IMM if op == W.IBV_WR_RDMA_WRITE_WITH_IMM
                     else ibv_wc_opcode.IBV_WC_RECV)
            self.rcq.deliver(WC(wr_id=r.wr.wr_id, status=_OK, opcode=wc_op, qp_num=self.qp_num,
                                byte_len=cmp + length, imm_data=imm))
        elif op in _ATOMIC:
            old = int.from_bytes(self.lib.read_local(addr, 8), "little")
            if op == W.IBV_WR_ATOMIC_FETCH_AND_ADD:
                new = (old + cmp) % (1 << 64)
            else:
                new = swap if old == cmp else old
            self.lib.write_local(addr, new.to_bytes(8, "little"))
            self.results[seq] = old
            self._reply(seq, old)

    def _reply(self, for_seq: int, old: int) -> None:
        self.lib.record.extra_remote_ops += 1
        self.backlog.append(Piece(REPLY, for_seq, 0, 0, cmp=old))
        self._flush_backlog()
        # the reply's staged seq (or, while it waits for credit, the seq it will get): answers duplicates
        self.replies[for_seq] = self.tx_seq + sum(1 for _ in self.backlog)

    def _reply_arrived(self, for_seq: int, old: int) -> None:
        e = next((x for x in self.sq.values() if x.atomic and for_seq in x.post_ids), None)
        if e is None:
            return
        self.sq.pop(e.seq)
        s = e.wr.sg_list[0]
        self.lib.write_local(s.addr, old.to_bytes(8, "little"))
        if e.signaled:
            self.scq.deliver(self._app_wc(e.wr.wr_id, _OK, _WC_OF[ibv_wr_opcode(e.wr.opcode)]))

    # -- failover: resend every outstanding staged message on the backup QP -----------------------------------
    def _fail_over(self, status: ibv_wc_status, by_peer: bool) -> None:
        rec = self.lib.record
        if rec.first_error_ns is None:
            rec.first_error_ns = self.lib.now()
        self.scq.drain("default")
        if self.sq_state is not SQState.DEFAULT:
            return
        if not self.backup_ready:
            self._second_failure("the backup QP is not connected (setup incomplete or KV store down)")
            return
        if self.default.qp_state != ibv_qp_state.IBV_QPS_ERR:
            self.default.modify(QPAttr(qp_state=ibv_qp_state.IBV_QPS_ERR), int(ibv_qp_attr_mask.IBV_QP_STATE))
        self._step_sq(SQEvent.ERROR_SAFE)
        self._step_rq(RQEvent.HANDSHAKE)
        for seq in sorted(self.msgs):
            self._send_msg(seq, backup=True)
            rec.resubmitted += 1
            if self.sq_state is SQState.FAILED:
                return
        for e in [x for x in self.sq.values() if x.posted == "default"]:  # unstaged READs
            self._post_app(e, backup=True)
            rec.resubmitted += 1
        if self.credit_sent != (0, 0):
            self._send_credit(force=True)  # the last credit WRITE may have died with the default path

    def background(self) -> None:
        """Commit staged arrivals even when the app is not polling (the receiver CPU's job), return credit,
        and stage what was waiting for it."""
        if self.sq_state is SQState.FAILED:
            return
        self.rcq.drain()
        if self.scq is not self.rcq:
            self.scq.drain()
        if self.sq_state is SQState.FAILED:
            return
        self._send_credit()
        self._flush_backlog()
