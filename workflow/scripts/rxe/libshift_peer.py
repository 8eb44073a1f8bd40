#!/usr/bin/python3
"""The Python end of a C <-> Python SHIFT connection: shift_core.shift (ShiftLib) on pyverbs, in the rxe guest.

    python3 libshift_peer.py --role a|b --exchange DIR --kv DIR [--duration-s S] [--at-s T:CMD ...]

Speaks csrc/shift_pair's protocol for the ``send`` workload: the connection details go through
``DIR/<role>.json`` ({"gid": 32 hex digits, "qpn", "rkey", "addr"}), message ``seq`` is its 8-byte
little-endian number followed by bytes ``(seq * 131 + i) & 0xff`` at offsets i >= 8, and at the end each side
writes ``DIR/<role>.done`` ({"sent", "delivered"}). The SHIFT layers of the two ends -- libshift.so's C and this
Python -- fail over, exchange receive counters and switch back through the same KV store (``dir://`` here, the
format of libshift's file store) and the same wire format; this script only checks the messages. Prints one
JSON line like shift_pair's; exit 0 when every message arrived once, in order, intact.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.environ.get("SHIFT_PROJECT", "/project"))

from shift_core.backend import SGE, AHAttr, GlobalRoute, QPAttr, QPCap, QPInitAttr, RecvWR, SendWR
from shift_core.backend import ibv_wr_opcode as O

SIZE, SLOTS = 4096, 8
ACCESS = 15  #: local write | remote write | remote read | remote atomic
DEVICES = {"a": ("rxe_p0", "rxe_b0"), "b": ("rxe_p1", "rxe_b1")}


def pattern(seq: int) -> bytes:
    """shift_pair.c's pattern(): the number, then (seq * 131 + i) & 0xff at offset i."""
    return seq.to_bytes(8, "little") + bytes(((seq * 131 + i) & 0xFF) for i in range(8, SIZE))


def gid_text(hex32: str) -> str:
    """32 hex digits -> pyverbs' spelling (what ShiftLib's KV keys use)."""
    return ":".join(hex32[i:i + 4] for i in range(0, 32, 4))


def write_json(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj) + "\n")
    tmp.replace(path)


def wait_json(path: Path, give_up_s: float = 60) -> dict[str, Any]:
    t0 = time.monotonic()
    while not path.exists():
        if time.monotonic() - t0 > give_up_s:
            raise SystemExit(f"libshift_peer: no {path} within {give_up_s:.0f} s")
        time.sleep(0.01)
    return dict(json.loads(path.read_text()))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=("a", "b"), required=True)
    ap.add_argument("--exchange", type=Path, required=True)
    ap.add_argument("--kv", required=True, help="directory of the shared KV store (libshift's SHIFT_KV_DIR)")
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--at-s", action="append", default=[], help="SECONDS:shell command (role a)")
    ap.add_argument("--give-up-s", type=float, default=90.0)
    args = ap.parse_args(argv)

    from shift_core.kv.dir_store import DirKV
    from shift_core.shift.lib import ShiftLib
    from shift_core.verbs import open_backend

    backend = open_backend("rxe")
    primary, backup = DEVICES[args.role]
    lib = ShiftLib(backend, primary, backup, DirKV(args.kv), "shift", probe_interval_ns=100_000_000)
    pd = lib.alloc_pd()
    mr = lib.reg_mr(pd, 2 * SLOTS * SIZE + 64, ACCESS)
    cq = lib.create_cq(256)
    qp = lib.create_qp(pd, QPInitAttr(scq=cq, rcq=cq, cap=QPCap(max_send_wr=4 * SLOTS, max_recv_wr=2 * SLOTS)))
    hex_gid = lib.default_gid.replace(":", "")
    write_json(args.exchange / f"{args.role}.json", {"gid": hex_gid, "qpn": qp.qp_num, "rkey": mr.rkey,
                                                     "addr": mr.buf})
    peer = wait_json(args.exchange / ("b.json" if args.role == "a" else "a.json"))
    qp.to_rts(QPAttr(dest_qp_num=int(peer["qpn"]), timeout=14, retry_cnt=6, rnr_retry=7,
                     ah_attr=AHAttr(gr=GlobalRoute(dgid=gid_text(peer["gid"]), sgid_index=lib.gid_index,
                                                   hop_limit=64))))
    for _ in range(20):  # shadow verbs: backup QP created, published, connected once the peer published too
        lib.progress()
        time.sleep(0.01)
    res = {"host": args.role.upper(), "workload": "send", "role": "sender" if args.role == "a" else "receiver",
           "sent": 0, "completed": 0, "delivered": 0, "duplicates": 0, "gaps": 0, "corrupt": 0, "errors": 0,
           "error_status": "", "layer": "python"}
    if args.role == "b":
        receive(lib, qp, cq, mr, args, res)
    else:
        send(lib, qp, cq, mr, args, res)
    res["ok"] = not (res["errors"] or res["duplicates"] or res["gaps"] or res["corrupt"])
    res["transitions"] = [f"{t.queue} {t.from_}-{t.event}->{t.to}" for t in lib.record.transitions]
    res["skipped_by_counter"] = lib.record.skipped_by_counter
    res["switch_backs"] = lib.record.switch_backs
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1


def receive(lib: Any, qp: Any, cq: Any, mr: Any, args: argparse.Namespace, res: dict[str, Any]) -> None:
    """B: check every message, repost its RECV; done when A's count arrived."""
    for s in range(SLOTS):
        qp.post_recv(RecvWR(wr_id=s, sg_list=[SGE(mr.buf + s * SIZE, SIZE, mr.lkey)]))
    expect, peer_sent, t0 = 0, None, time.monotonic()
    while time.monotonic() - t0 < args.give_up_s:
        for wc in cq.poll(16)[1]:
            if not wc.ok:
                res["errors"] += 1
                res["error_status"] = res["error_status"] or wc.status.name
                continue
            data = mr.read(SIZE, wc.wr_id * SIZE)
            seq = int.from_bytes(data[:8], "little")
            res["duplicates"] += seq < expect
            res["gaps"] += max(0, seq - expect)
            res["corrupt"] += data != pattern(seq)
            expect = max(expect, seq + 1)
            res["delivered"] += 1
            qp.post_recv(RecvWR(wr_id=wc.wr_id, sg_list=[SGE(mr.buf + wc.wr_id * SIZE, SIZE, mr.lkey)]))
        done = args.exchange / "a.done"
        if peer_sent is None and done.exists():
            peer_sent = int(json.loads(done.read_text())["sent"])
        if peer_sent is not None and expect >= peer_sent:
            break
    write_json(args.exchange / "b.done", {"sent": 0, "delivered": res["delivered"]})
    linger(lib, cq, args.exchange / "a.done", args.give_up_s)


def send(lib: Any, qp: Any, cq: Any, mr: Any, args: argparse.Namespace, res: dict[str, Any]) -> None:
    """A: SEND numbered messages for --duration-s, with the --at-s faults; wait until all completed."""
    actions = sorted((float(a.split(":", 1)[0]), a.split(":", 1)[1]) for a in args.at_s)
    seq = out = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.give_up_s:
        now = time.monotonic() - t0
        while actions and now >= actions[0][0]:
            cmd = actions.pop(0)[1]
            subprocess.run(cmd, shell=True, check=False)
            print(f"libshift_peer: {time.monotonic():.3f} {cmd}", file=sys.stderr, flush=True)
        sending = now < args.duration_s and not res["errors"]
        while sending and out < SLOTS:
            slot = SLOTS + seq % SLOTS
            mr.write(pattern(seq), SIZE, slot * SIZE)
            qp.post_send(SendWR(wr_id=seq, opcode=O.IBV_WR_SEND, sg_list=[SGE(mr.buf + slot * SIZE, SIZE,
                                                                               mr.lkey)]))
            seq, out = seq + 1, out + 1
        for wc in cq.poll(16)[1]:
            if not wc.ok:
                res["errors"] += 1
                res["error_status"] = res["error_status"] or wc.status.name
            else:
                res["completed"] += 1
            out -= 1
        if not sending and out <= 0:
            break
    res["sent"] = seq
    write_json(args.exchange / "a.done", {"sent": seq, "delivered": 0})
    linger(lib, cq, args.exchange / "b.done", args.give_up_s)


def linger(lib: Any, cq: Any, peer_done: Path, give_up_s: float) -> None:
    """Keep the layer's background step running until the peer is done (its switch-back may need ours)."""
    t0 = time.monotonic()
    while not peer_done.exists() and time.monotonic() - t0 < give_up_s:
        cq.poll(16)
        time.sleep(0.002)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # see guest_suite.py: pyverbs objects must not be finalised in arbitrary order at exit
