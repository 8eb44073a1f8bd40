"""The per-host process of the suite, started by the controller over ssh (or locally for the host side).

    python3 -m shift_core.realverbs.agent peer --listen ADDR      # prints {"listening": PORT}, then serves
    python3 -m shift_core.realverbs.agent host                    # reads the plan (one JSON line) on stdin

The peer agent listens on its management address and serves the host agent's requests over the app's
channel (:mod:`.channel`): one half of each run, fault commands, restores. The host agent connects to it,
starts a private Redis for SHIFT's KV store (paper §4.2) on its own address toward the peer, runs the plan's
runs one after the other, and prints one JSON line per event on stdout (``setup``, ``run``, ``error``,
``done``) for the controller. Before and after each run it measures the peer's clock offset; a run whose
offset cannot be bounded stops the suite with one line (:class:`~.channel.ClockError`). Whatever a run does,
its ``restore`` commands run on both hosts afterwards, so a failed run never leaves a link down.

Standard library + the distribution's pyverbs (+ python3-redis) only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from shift_core.realverbs import interposer, latency, nccl, stream_run, verbs_cost
from shift_core.realverbs.channel import (
    Aborted,
    Channel,
    ChannelClosed,
    ClockError,
    RemoteError,
    answer_ping,
    check_clock,
    listen,
    measure_offset,
)
from shift_core.realverbs.endpoint import Devices, wait_port_active
from shift_core.realverbs.faults import run_now
from shift_core.realverbs.session import Context

#: bench name -> (host half, peer half)
BENCHES: dict[str, tuple[Callable[[Context, dict[str, Any]], Any], Callable[[Context, dict[str, Any]], Any]]] = {
    "stream": (stream_run.host, stream_run.peer),
    "nccl_simple": (nccl.host, nccl.peer),
    "verbs_cost": (verbs_cost.host, verbs_cost.peer),
    "latency": (latency.host, latency.peer),
    "interposer": (interposer.host, interposer.peer),
}


def log(msg: str) -> None:
    print(f"[agent {time.monotonic():10.3f}] {msg}", file=sys.stderr, flush=True)


def emit(event: str, **payload: Any) -> None:
    print(json.dumps({"event": event, **payload}, default=str), flush=True)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_redis(addr: str) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on ``addr`` (no persistence), child of this agent; returns it and its URL."""
    s = socket.socket()
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(["redis-server", "--bind", addr, "--port", str(port), "--save", "", "--appendonly", "no",
                             "--protected-mode", "no", "--daemonize", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    url = f"redis://{addr}:{port}/0"
    import redis

    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=2).ping()
            return proc, url
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on {addr}:{port}") from None
            time.sleep(0.1)


def devices(d: dict[str, Any]) -> Devices:
    return Devices(d["primary"], d["backup"], int(d["gid_index"]), int(d["backup_gid_index"]), d.get("netdev", ""),
                   d.get("backup_netdev", ""))


def open_side(label: str, side: dict[str, Any], kv_url: str) -> tuple[Any, Devices, Any]:
    from shift_core.kv.redis_store import RedisKV
    from shift_core.verbs import open_backend

    devs = devices(side["devices"])
    backend = open_backend(label, devs.gid_index)
    backend.require_devices([devs.primary, devs.backup])
    return backend, devs, RedisKV(kv_url, timeout_s=5.0)


def ports_active(backend: Any, devs: Devices) -> None:
    for dev in (devs.primary, devs.backup):
        if not wait_port_active(backend, dev):
            raise RuntimeError(f"{dev}: port not ACTIVE after 15 s (is its link up?)")


# -- peer ---------------------------------------------------------------------------------------------------
def peer_main(addr: str) -> int:
    srv = listen(addr)
    emit("listening", port=srv.getsockname()[1])
    srv.settimeout(600)
    conn, _ = srv.accept()
    srv.close()
    ch = Channel(conn)
    setup = ch.recv("setup", timeout_s=600)
    try:
        backend, devs, kv = open_side(setup["label"], setup["peer"], setup["kv"])
    except Exception as exc:
        ch.send("error", message=f"peer: {type(exc).__name__}: {exc}")
        return 2
    ch.send("setup_ok")
    log(f"peer ready on {devs.primary}/{devs.backup}")
    while True:
        try:
            msg = ch.recv(timeout_s=7200)
        except ChannelClosed:
            return 0
        kind = msg["t"]
        if kind == "ping":
            answer_ping(ch, msg)
        elif kind == "run":
            ctx = Context("peer", backend, devs, ch, kv, setup["rc"], run_id=msg["run_id"])
            try:
                ports_active(backend, devs)
                BENCHES[msg["bench"]][1](ctx, msg["spec"])
            except Aborted:
                log(f"run {msg['run_id']} aborted by the host")
            except ChannelClosed:
                return 0
            except Exception as exc:  # this half failed: tell the host, which records the run as failed
                log(traceback.format_exc())
                ch.send("error", message=f"peer: {type(exc).__name__}: {exc}")
        elif kind == "restore":
            ch.send("restored", results=run_now(msg["cmds"]))
        elif kind == "bye":
            return 0


# -- host ---------------------------------------------------------------------------------------------------
def host_main() -> int:
    plan = json.loads(sys.stdin.readline())
    ch = Channel.connect(plan["peer_addr"], int(plan["peer_port"]), timeout_s=60)
    redis_proc, kv_url = start_redis(ch.sock.getsockname()[0])
    try:
        return _host_runs(plan, ch, kv_url)
    finally:
        redis_proc.terminate()


def _host_runs(plan: dict[str, Any], ch: Channel, kv_url: str) -> int:
    backend, devs, kv = open_side(plan["label"], plan["host"], kv_url)
    ch.send("setup", label=plan["label"], peer=plan["peer"], kv=kv_url, rc=plan["rc"])
    ch.recv("setup_ok", timeout_s=120)
    off = measure_offset(ch)
    emit("setup", kv=kv_url, offset_ns=off.offset_ns, uncertainty_ns=off.uncertainty_ns)
    _restore(ch, plan.get("cleanup", {}))  # links up, no netem: whatever an earlier, killed suite left behind
    good = int(float(plan["max_skew_ms"]) * 1e6 / 2)
    for i, run in enumerate(plan["runs"], start=int(plan.get("first", 0))):
        t0 = time.monotonic()
        run_id = f"r{i}-{int(time.time())}"
        before = measure_offset(ch, good_ns=good)
        ctx = Context("host", backend, devs, ch, kv, plan["rc"], run_id=run_id, offset=before)
        status, result, error, earlier = "ok", None, "", []
        for attempt in range(1 + int(run.get("retries", 0))):
            if attempt:  # a run without faults that failed (a spurious RC timeout under load): once more
                earlier.append(error)
                _restore(ch, run.get("restore", {}))
                ch.discard()
                ctx.run_id = f"{run_id}-{attempt}"
            status, error = "ok", ""
            try:
                ports_active(backend, devs)
                ch.send("run", bench=run["bench"], spec=run["spec"], run_id=ctx.run_id)
                result = BENCHES[run["bench"]][0](ctx, run["spec"])
                break
            except ChannelClosed as exc:
                emit("error", message=f"the peer agent went away during run {i}: {exc}", fatal=False)
                return 3
            except Exception as exc:  # this half failed (or a bug in it): a failed result, the suite goes on
                status, error = "failed", f"{type(exc).__name__}: {exc}"
                log(traceback.format_exc())
                ch.send("abort")
        restored = _restore(ch, run.get("restore", {}))
        time.sleep(float(plan.get("settle_s", 0.5)))
        ch.discard()
        after = measure_offset(ch, good_ns=good)
        offset = {"before_ns": before.offset_ns, "after_ns": after.offset_ns,
                  "uncertainty_ns": max(before.uncertainty_ns, after.uncertainty_ns)}
        emit("run", index=i, name=run.get("name", run["bench"]), bench=run["bench"], status=status, error=error,
             result=result, offset=offset, restored=restored, earlier_errors=earlier,
             seconds=round(time.monotonic() - t0, 3))
        try:
            check_clock(before, after, float(plan["max_skew_ms"]), f"run {run.get('name', i)}")
        except ClockError as exc:
            emit("error", message=str(exc), fatal=True)
            return 4
    ch.send("bye")
    emit("done")
    return 0


def _restore(ch: Channel, restore: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Run a run's restore commands on both hosts whatever happened (undoing a fault twice is harmless: the
    second ``tc qdisc del`` just fails); their results, for the record."""
    mine = [{**r, "side": "host"} for r in run_now(restore.get("host", []))]
    ch.send("restore", cmds=restore.get("peer", []))
    deadline = time.monotonic() + 120
    while True:
        try:
            got = ch.recv("restored", timeout_s=max(1.0, deadline - time.monotonic()))
            return mine + [{**r, "side": "peer"} for r in got["results"]]
        except RemoteError:  # the peer's half of the run just ended reported its failure: already recorded
            continue


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "host":
        return host_main()
    if len(argv) >= 4 and argv[1] == "peer" and argv[2] == "--listen":
        return peer_main(argv[3])
    print("usage: python3 -m shift_core.realverbs.agent host | peer --listen ADDR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    # skip interpreter teardown: pyverbs objects finalised in arbitrary order can touch closed device fds
    import os

    os._exit(code)
