"""NCCL's Simple protocol between the two hosts (a fault-matrix workload): data WRITEs, a WRITE_WITH_IMM that
notifies the step, and the receiver's CTS WRITE back that lets the sender reuse a slot.

Per step the host (sender) fills slot ``step % SLOTS`` with two unsignaled WRITEs and a signaled
WRITE_WITH_IMM(imm = step + 1); the peer, on the immediate's completion, checks the slot's bytes and the step
order, then RDMA-WRITEs ``step + 1`` into the host's CTS word. The host reuses a slot only after its CTS, so a
duplicated or lost step shows up at the peer as a duplicate/gap and a torn slot as corrupt bytes -- the case
where ``naive`` re-executes under ACK loss (Theorem 1) and SHIFT must not.
"""

from __future__ import annotations

import time
from typing import Any

from shift_core.backend.attrs import SGE, RecvWR, SendWR
from shift_core.backend.enums import ibv_wr_opcode as O
from shift_core.realverbs.faults import PeerFaults, Schedule
from shift_core.realverbs.session import Context, pair_up
from shift_core.realverbs.stream import body, idle
from shift_core.realverbs.stream_run import layer_state

MSG = 4096
SLOTS = 4
CTS = 2 * SLOTS * MSG  #: offset of the CTS word (host) / the immediates' RECV buffer and CTS source (peer)
BUF = CTS + 64


def pattern(step: int) -> bytes:
    return step.to_bytes(8, "little") + body(step % 251, MSG)


def host(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    ep, peer = pair_up(ctx, spec["variant"], BUF, 4 * SLOTS)
    mr, qp = ep.mr, ep.qp
    try:
        mr.write((0).to_bytes(8, "little"), 8, CTS)
        ctx.ch.recv("receiving")
        t0 = time.monotonic_ns()
        schedule = Schedule(spec.get("faults", []), ctx.ch, t0)
        end = t0 + int(float(spec["duration_s"]) * 1e9)
        step = out = errors = ok = ok_after = 0
        dead = False
        while (now := time.monotonic_ns()) < end:
            schedule.step(now)
            cts = int.from_bytes(mr.read(8, CTS), "little")
            if not dead and step - cts < SLOTS and out < 2 * SLOTS:
                slot = step % SLOTS
                src = mr.buf + (SLOTS + slot) * MSG
                mr.write(pattern(step), MSG, (SLOTS + slot) * MSG)
                try:
                    for k in range(2):
                        w = SendWR(wr_id=10_000_000 + 2 * step + k, opcode=O.IBV_WR_RDMA_WRITE, send_flags=0,
                                   sg_list=[SGE(src + k * MSG // 2, MSG // 2, mr.lkey)])
                        w.set_wr_rdma(int(peer["rkey"]), int(peer["addr"]) + slot * MSG + k * MSG // 2)
                        qp.post_send(w)
                    n = SendWR(wr_id=step, opcode=O.IBV_WR_RDMA_WRITE_WITH_IMM, imm_data=step + 1, sg_list=[])
                    n.set_wr_rdma(int(peer["rkey"]), int(peer["addr"]) + CTS)
                    qp.post_send(n)
                except Exception:  # the layer refused a post (failed QP): the app sees the error
                    errors += 1
                    dead = True
                else:
                    step += 1
                    out += 1
            wcs = ep.poll(16)
            for wc in wcs:
                out -= 1
                if wc.ok:
                    ok += 1
                    ok_after += schedule.started > 0
                else:
                    errors += 1
                    dead = True
            if not wcs:
                idle()
        faults = schedule.finish(ctx.offset)
        ctx.ch.send("stop")
        verified = ctx.ch.recv("verified", timeout_s=120)
        return {"faults": faults, "posted_steps": step, "completed": ok, "completed_after_fault": ok_after,
                "errors": errors, "verify": verified["result"], "layer": layer_state(ep),
                "peer_layer": verified["layer"], "t0_ns": t0}
    finally:
        ep.close()


def peer(ctx: Context, spec: dict[str, Any]) -> None:
    ep, host_attrs = pair_up(ctx, spec["variant"], BUF, 4 * SLOTS, max_recv=SLOTS)
    mr, qp = ep.mr, ep.qp
    faults = PeerFaults(ctx.ch)
    got = {"delivered": 0, "duplicates": 0, "gaps": 0, "corrupt": 0, "errors": 0}
    expect = 0
    dead = False
    try:
        for i in range(SLOTS):
            qp.post_recv(RecvWR(wr_id=i, sg_list=[SGE(mr.buf + CTS, 8, mr.lkey)]))
        ctx.ch.send("receiving")
        while ctx.ch.poll("stop") is None:
            faults.step()
            wcs = ep.poll(16)
            for wc in wcs:
                if not wc.ok:
                    got["errors"] += 1
                    dead = True
                    continue
                if wc.opcode.name == "IBV_WC_RDMA_WRITE":
                    continue  # our own CTS write completed
                step = wc.imm_data - 1
                if step < expect:
                    got["duplicates"] += 1
                elif step > expect:
                    got["gaps"] += step - expect
                if mr.read(MSG, (step % SLOTS) * MSG) != pattern(step):
                    got["corrupt"] += 1
                expect = max(expect, step + 1)
                got["delivered"] += 1
                qp.post_recv(RecvWR(wr_id=wc.wr_id, sg_list=[SGE(mr.buf + CTS, 8, mr.lkey)]))
                if dead:
                    continue
                mr.write((step + 1).to_bytes(8, "little"), 8, CTS + 8)
                c = SendWR(wr_id=20_000_000 + step, opcode=O.IBV_WR_RDMA_WRITE,
                           sg_list=[SGE(mr.buf + CTS + 8, 8, mr.lkey)])
                c.set_wr_rdma(int(host_attrs["rkey"]), int(host_attrs["addr"]) + CTS)
                try:
                    qp.post_send(c)
                except Exception:
                    got["errors"] += 1
                    dead = True
            if not wcs:
                idle()
        faults.finish()
        got["last_step"] = expect - 1
        ctx.ch.send("verified", result=got, layer=layer_state(ep))
    finally:
        ep.close()
