"""perftest-shaped streams between the two hosts, with every byte checked end to end (Fig 7 and Fig 8b).

The host sends (``ib_write_bw`` / ``ib_send_bw`` / ``ib_read_bw``'s loop: keep ``depth`` WRs outstanding, refill
as completions arrive); the peer is the target. Buffers on both sides are ``slots`` messages; a message's first
8 bytes are its sequence number and the rest a pattern of its slot, so a stale, duplicated, reordered or torn
message is visible:

* WRITE: the host writes message ``seq`` from its slot ``seq % slots`` into the peer's same slot, reusing a slot
  only after its previous WR completed. At the end the peer checks every slot: the header must be the last
  completed ``seq`` of that slot (a later, posted but uncompleted one is allowed; an older one means a replay
  landed after newer data), the body the slot's pattern.
* SEND: the peer keeps one RECV per slot posted and checks each message as it arrives: in order, no
  duplicate, no gap, intact.
* READ: the peer's slots hold fixed messages; the host clears a landing slot's header before each READ and
  checks the landed bytes at its completion.

The stream samples goodput (bytes of successful completions) and the share of polling steps with the send
queue on the default path, so a timeline shows both that traffic flows and which NIC carries it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from shift_core.backend.attrs import SGE, RecvWR, SendWR
from shift_core.backend.enums import ibv_send_flags
from shift_core.bench.perftest import OPCODES
from shift_core.realverbs.channel import Channel
from shift_core.realverbs.endpoint import Endpoint
from shift_core.realverbs.faults import PeerFaults, Schedule

HEADER = 8
_BASE = bytes(range(256)) * 2


def body(slot: int, nbytes: int) -> bytes:
    """The pattern of ``slot`` (everything after the header)."""
    n = nbytes - HEADER
    reps = n // 256 + 2
    start = (slot * 37) % 256
    return ((_BASE[start:start + 256]) * reps)[:n]


def message(seq_or_slot: int, slot: int, nbytes: int) -> bytes:
    return seq_or_slot.to_bytes(HEADER, "little") + body(slot, nbytes)


def idle() -> None:
    """Let the kernel's RDMA work run: soft-RoCE does its protocol in softirq context, which a busy-polling
    process on a small (virtual) CPU starves for a scheduler tick (~4 ms at HZ=250)."""
    os.sched_yield()


@dataclass
class StreamResult:
    """What the sender saw (times in ns from the stream's start on the host's clock)."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    posted: int = 0
    completed: int = 0
    read_bad: int = 0
    first_error_ns: int | None = None
    first_backup_ok_ns: int | None = None
    last_posted: list[int] = field(default_factory=list)
    last_completed: list[int] = field(default_factory=list)


def sender(ep: Endpoint, peer: dict[str, Any], op: str, nbytes: int, depth: int, slots: int, duration_s: float,
           sample_s: float, schedule: Schedule, t0_ns: int, stop_after_failover_s: float | None = None) -> StreamResult:
    """Stream ``op`` to the peer for ``duration_s`` (or until ``stop_after_failover_s`` after the first success
    on the backup path); faults of ``schedule`` fire at their times."""
    res = StreamResult(last_posted=[-1] * slots, last_completed=[-1] * slots)
    mr = ep.mr
    if op == "read":
        for s in range(slots):
            mr.write(b"\xff" * HEADER, HEADER, s * nbytes)
    else:
        for s in range(slots):
            mr.write(message(0, s, nbytes), nbytes, s * nbytes)
    expected = [message(s, s, nbytes) for s in range(slots)] if op == "read" else []
    outstanding: dict[int, int] = {}  #: wr_id (= seq) -> slot
    alive = True
    sample_ns, end_ns = int(sample_s * 1e9), t0_ns + int(duration_s * 1e9)
    window_end, good, steps, on_default = t0_ns + sample_ns, 0, 0, 0
    lib = ep.lib
    while True:
        now = time.monotonic_ns()
        if now >= end_ns:
            break
        schedule.step(now)
        while alive and len(outstanding) < depth:
            seq = res.posted
            slot = seq % slots
            if res.last_posted[slot] >= 0 and res.last_completed[slot] < res.last_posted[slot]:
                break  # the slot's previous message is still in flight
            if op == "read":
                mr.write(b"\xff" * HEADER, HEADER, slot * nbytes)
            else:
                mr.write(seq.to_bytes(HEADER, "little"), HEADER, slot * nbytes)
            wr = SendWR(wr_id=seq, opcode=OPCODES[op], send_flags=int(ibv_send_flags.IBV_SEND_SIGNALED),
                        sg_list=[SGE(mr.buf + slot * nbytes, nbytes, mr.lkey)])
            if op != "send":
                wr.set_wr_rdma(int(peer["rkey"]), int(peer["addr"]) + slot * nbytes)
            try:
                ep.qp.post_send(wr)
            except Exception as exc:  # the layer refused (a failed QP): the app sees it, like perftest
                res.errors.append((now - t0_ns, f"post_send: {exc}"))
                alive = False
                break
            outstanding[seq] = slot
            res.last_posted[slot] = seq
            res.posted += 1
        wcs = ep.poll(2 * depth)
        steps += 1
        on_default += ep.on_default()
        now = time.monotonic_ns()
        for wc in wcs:
            settled = _settle(wc, outstanding, res, op, nbytes, expected, mr)
            if settled:
                good += nbytes
            elif settled is not None:
                if res.first_error_ns is None:
                    res.first_error_ns = now - t0_ns
                if len(res.errors) < 20:
                    res.errors.append((now - t0_ns, wc.status.name))
                alive = False
        if not wcs:
            idle()
        if now >= window_end:
            res.samples.append({"t_ns": window_end - t0_ns, "good_bytes": good, "default_share": on_default / steps})
            window_end += sample_ns
            good, steps, on_default = 0, 0, 0
        if stop_after_failover_s is not None and lib is not None and lib.record.first_backup_ok_ns is not None \
                and now - lib.record.first_backup_ok_ns > stop_after_failover_s * 1e9:
            break
        if stop_after_failover_s is not None and not alive and not outstanding:
            break
    _drain(ep, outstanding, res, t0_ns, nbytes, op, expected)
    if lib is not None:
        rec = lib.record
        res.first_error_ns = rec.first_error_ns - t0_ns if rec.first_error_ns is not None else res.first_error_ns
        res.first_backup_ok_ns = rec.first_backup_ok_ns - t0_ns if rec.first_backup_ok_ns is not None else None
    return res


def _drain(ep: Endpoint, outstanding: dict[int, int], res: StreamResult, t0_ns: int, nbytes: int, op: str,
           expected: list[bytes], timeout_s: float = 5.0) -> None:
    """Complete what is in flight (untimed): the verification needs to know what completed."""
    deadline = time.monotonic() + timeout_s
    while outstanding and time.monotonic() < deadline:
        wcs = ep.poll(64)
        for wc in wcs:
            _settle(wc, outstanding, res, op, nbytes, expected, ep.mr)
        if not wcs:
            idle()


def _settle(wc: Any, outstanding: dict[int, int], res: StreamResult, op: str, nbytes: int, expected: list[bytes],
            mr: Any) -> bool | None:
    """Account one completion: ``None`` if it is not one of the stream's WRs, else whether it succeeded (a READ's
    landed bytes are checked against what the peer's slot holds)."""
    if wc.wr_id not in outstanding:
        return None
    slot = outstanding.pop(wc.wr_id)
    if not wc.ok:
        return False
    res.completed += 1
    res.last_completed[slot] = max(res.last_completed[slot], wc.wr_id)
    if op == "read" and mr.read(nbytes, slot * nbytes) != expected[slot]:
        res.read_bad += 1
    return True


def receiver(ep: Endpoint, ch: Channel, op: str, nbytes: int, slots: int) -> dict[str, Any]:
    """The peer's side: keep RECVs posted (SEND), keep polling (the layer's handshake and probe need it),
    run the faults the host asks for, and verify what arrived until the host says ``stop``."""
    faults = PeerFaults(ch)
    mr = ep.mr
    got = {"delivered": 0, "duplicates": 0, "gaps": 0, "corrupt": 0, "misplaced": 0, "errors": 0}
    expect = 0
    bodies = [body(s, nbytes) for s in range(slots)]
    if op == "read":
        for s in range(slots):
            mr.write(message(s, s, nbytes), nbytes, s * nbytes)
    else:
        for s in range(slots):
            mr.write(b"\x00" * nbytes, nbytes, s * nbytes)
    if op == "send":
        for s in range(slots):
            ep.qp.post_recv(RecvWR(wr_id=s, sg_list=[SGE(mr.buf + s * nbytes, nbytes, mr.lkey)]))
    ch.send("receiving")
    stop = None
    while stop is None:
        faults.step()
        wcs = ep.poll(32)
        for wc in wcs:
            if not wc.ok:
                got["errors"] += 1
                continue
            if op != "send" or wc.opcode.name != "IBV_WC_RECV":
                continue
            data = mr.read(nbytes, wc.wr_id * nbytes)
            seq = int.from_bytes(data[:HEADER], "little")
            if seq < expect:
                got["duplicates"] += 1
            elif seq > expect:
                got["gaps"] += seq - expect
            if data[HEADER:] != bodies[seq % slots]:
                got["corrupt"] += 1
            elif seq % slots != wc.wr_id:  # landed in another receive buffer: the RQ slid (Theorem 2)
                got["misplaced"] += 1
            expect = max(expect, seq + 1)
            got["delivered"] += 1
            ep.qp.post_recv(RecvWR(wr_id=wc.wr_id, sg_list=[SGE(mr.buf + wc.wr_id * nbytes, nbytes, mr.lkey)]))
        stop = ch.poll("stop")
        if not wcs:
            idle()
    faults.finish()
    if op == "write":
        got.update(check_write(mr, nbytes, slots, stop["last_completed"], stop["last_posted"], bodies))
    got["last_seq"] = expect - 1
    return got


def check_write(mr: Any, nbytes: int, slots: int, last_completed: list[int], last_posted: list[int],
                bodies: list[bytes]) -> dict[str, int]:
    """The WRITE target's final state, slot by slot, against what the sender saw complete."""
    out = {"stale_slots": 0, "corrupt": 0, "landed_uncompleted": 0}
    for s in range(slots):
        data = mr.read(nbytes, s * nbytes)
        seq = int.from_bytes(data[:HEADER], "little") if any(data) else -1  # all zero: nothing landed
        if last_posted[s] < 0 or seq == last_completed[s] == -1:
            continue
        if seq >= 0 and (seq % slots != s or seq > last_posted[s] or data[HEADER:] != bodies[s]):
            out["corrupt"] += 1
        elif seq < last_completed[s]:
            out["stale_slots"] += 1
        elif seq > last_completed[s]:
            out["landed_uncompleted"] += 1
    return out
