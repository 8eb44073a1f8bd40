"""perftest between the hosts with and without ``libshift.so`` (``LD_PRELOAD``), interleaved in one run.

The peer runs the perftest server, the host the client against the peer's management address, as a user
would run them; each mode's env applies to both ends. Reps alternate the order (plain, libshift /
libshift, plain) so drift cancels within a rep's pair; the controller reports per-pair ratios and their
spread. libshift's KV store is the run's Redis (``SHIFT_KV_REDIS``), flushed before each libshift pair so no
stale backup attributes survive from an earlier connection.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from shift_core.realverbs.perftest_output import rep_row
from shift_core.realverbs.session import Context


def _env(ctx: Context, spec: dict[str, Any], side: str, mode: str) -> dict[str, str]:
    if mode != "libshift":
        return dict(os.environ)
    url = str(ctx.kv.url).removeprefix("redis://").split("/")[0]
    return {**os.environ, "LD_PRELOAD": spec["libshift"][side], "SHIFT_BACKUP_DEVICE": ctx.devs.backup,
            "SHIFT_BACKUP_GID_INDEX": str(ctx.devs.backup_gid_index), "SHIFT_KV_REDIS": url, "SHIFT_LOG": "1"}


def _cmd(ctx: Context, tool: str, args: list[str], port: int) -> list[str]:
    return [tool, "-d", ctx.devs.primary, "-x", str(ctx.devs.gid_index), "-p", str(port), *args]


def listening(port: int) -> bool:
    """Is a TCP socket listening on ``port`` (perftest's server is ready for the client)?"""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 3 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _flush(ctx: Context) -> None:
    import redis

    redis.Redis.from_url(str(ctx.kv.url)).flushdb()


def host(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    modes = list(spec["modes"])
    rows: list[dict[str, Any]] = []
    port = int(spec.get("port", 18515))
    for rep in range(int(spec["reps"])):
        for tool, args in spec["tools"].items():
            for mode in modes if rep % 2 == 0 else list(reversed(modes)):
                if mode == "libshift":
                    _flush(ctx)
                ctx.ch.send("perftest_server", tool=tool, args=args, mode=mode, port=port)
                ready = ctx.ch.recv("perftest_listening", timeout_s=60)
                if not ready["ok"]:
                    rows.append(rep_row(tool, mode, rep, 1, "", "", ready["output"]))
                    continue
                try:
                    cli = subprocess.run([*_cmd(ctx, tool, args, port), spec["peer_addr"]], capture_output=True,
                                         text=True, timeout=float(spec.get("timeout_s", 180)),
                                         env=_env(ctx, spec, "host", mode))
                    rc, out, err = cli.returncode, cli.stdout, cli.stderr
                except subprocess.TimeoutExpired as exc:
                    rc, out, err = 124, str(exc.stdout or ""), f"client timed out after {exc.timeout:.0f} s"
                ctx.ch.send("perftest_wait")
                srv = ctx.ch.recv("perftest_done", timeout_s=120)
                rows.append(rep_row(tool, mode, rep, rc or int(srv["rc"]), out, err, srv["output"]))
    ctx.ch.send("perftest_end")
    return {"rows": rows}


def peer(ctx: Context, spec: dict[str, Any]) -> None:
    proc: subprocess.Popen[str] | None = None
    while True:
        msg = ctx.ch.recv(timeout_s=600)
        if msg["t"] == "perftest_end":
            return
        if msg["t"] == "perftest_server":
            port = int(msg["port"])
            proc = subprocess.Popen(_cmd(ctx, msg["tool"], msg["args"], port), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, env=_env(ctx, spec, "peer", msg["mode"]))
            deadline = time.monotonic() + 30
            while not listening(port) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            ok = proc.poll() is None and listening(port)
            ctx.ch.send("perftest_listening", ok=ok, output="" if ok else _stop(proc)[1])
            if not ok:
                proc = None
        elif msg["t"] == "perftest_wait" and proc is not None:
            rc, output = _stop(proc, 90)
            ctx.ch.send("perftest_done", rc=rc, output=output)
            proc = None


def _stop(proc: subprocess.Popen[str], timeout_s: float = 5) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        out = (out or "") + f"\n[server killed after {timeout_s:.0f} s]"
    return proc.returncode or 0, out or ""
