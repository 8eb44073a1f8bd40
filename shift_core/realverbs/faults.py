"""Fault commands on real hosts: run without blocking the benchmark's poll loop, timestamped on this host.

A run's spec carries its faults as data, ``{"at_s", "side", "cmd"}`` (the controller expands a fault site into
the commands of config ``backends.nic.faults``: ``ip link set <netdev> down``, netem, a switch-port command),
plus ``restore`` commands that put every link back whatever happened. :class:`Schedule` (on the host, the
stream's clock) starts each command when it is due: its own side's here, the peer's by a ``fault`` message
that the peer's :class:`PeerFaults` answers with its times. Spawning ``ip``/``tc`` takes 100-250 ms under
QEMU, so each command reports when it started and when it returned; the link is down by the latter.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from shift_core.realverbs.channel import Channel, Offset


def operstate(netdev: str) -> str:
    try:
        with open(f"/sys/class/net/{netdev}/operstate") as fh:
            return fh.read().strip()
    except OSError:
        return ""


class Command:
    """One shell command started now; ``poll`` notes when it returned and, for a command on a link
    (``watch``), when the link's operational state changed -- the moment the fault took effect, which under
    QEMU lies hundreds of ms before ``ip`` exits."""

    def __init__(self, cmd: str, watch: str = "") -> None:
        self.cmd = cmd
        self.watch = watch
        self.state0 = operstate(watch) if watch else ""
        self.start_ns = time.monotonic_ns()
        self.end_ns: int | None = None
        self.effect_ns: int | None = None
        self.proc = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def poll(self) -> bool:
        if self.watch and self.effect_ns is None and operstate(self.watch) != self.state0:
            self.effect_ns = time.monotonic_ns()
        if self.end_ns is None and self.proc.poll() is not None:
            self.end_ns = time.monotonic_ns()
        return self.end_ns is not None and (not self.watch or self.effect_ns is not None
                                            or time.monotonic_ns() - self.end_ns > 2e9)

    def wait(self, timeout_s: float = 30.0) -> None:
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.poll()

    def result(self) -> dict[str, Any]:
        err = self.proc.stderr.read() if self.proc.stderr is not None else ""
        return {"cmd": self.cmd, "start_ns": self.start_ns, "end_ns": self.end_ns, "effect_ns": self.effect_ns,
                "rc": self.proc.returncode, "stderr": (err or "").strip()[-300:]}


def run_now(cmds: list[str], timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Run restore commands one after the other (blocking); their results."""
    out = []
    for cmd in cmds:
        c = Command(cmd)
        c.wait(timeout_s)
        out.append(c.result())
    return out


class Schedule:
    """The host's view of a run's faults: start each when due (relative to the stream's ``t0_ns``)."""

    def __init__(self, faults: list[dict[str, Any]], ch: Channel, t0_ns: int) -> None:
        self.pending = sorted(faults, key=lambda f: float(f["at_s"]))
        self.ch = ch
        self.t0 = t0_ns
        self.local: list[tuple[dict[str, Any], Command]] = []
        self.remote: dict[int, dict[str, Any]] = {}
        self.done: list[dict[str, Any]] = []
        self._next_id = 0

    def step(self, now_ns: int) -> None:
        while self.pending and now_ns - self.t0 >= float(self.pending[0]["at_s"]) * 1e9:
            f = self.pending.pop(0)
            if f["side"] == "host":
                self.local.append((f, Command(f["cmd"], f.get("watch", ""))))
            else:
                self.remote[self._next_id] = f
                self.ch.send("fault", id=self._next_id, cmd=f["cmd"], watch=f.get("watch", ""))
                self._next_id += 1
        for f, c in list(self.local):
            if c.poll():
                self.local.remove((f, c))
                self.done.append({**f, **c.result(), "clock": "host"})
        while (msg := self.ch.poll("fault_done")) is not None:
            f = self.remote.pop(int(msg["id"]))
            self.done.append({**f, **{k: msg[k] for k in ("cmd", "start_ns", "end_ns", "effect_ns", "rc", "stderr")},
                              "clock": "peer"})

    @property
    def started(self) -> int:
        """How many faults have been started (host or peer)."""
        return len(self.done) + len(self.local) + len(self.remote)

    def first_end_ns(self) -> int | None:
        """When the first fault command returned, on the host's clock (peer times need the offset: ``finish``)."""
        host = [d["end_ns"] for d in self.done if d["clock"] == "host" and d["end_ns"]]
        return min(host) if host else None

    def finish(self, offset: Offset, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Wait for every started fault; their times in seconds from ``t0`` on the host's clock."""
        deadline = time.monotonic() + timeout_s
        while (self.local or self.remote) and time.monotonic() < deadline:
            self.step(time.monotonic_ns())
            time.sleep(0.01)
        out = []
        for d in self.done:
            conv = offset.to_host if d["clock"] == "peer" else (lambda ns: ns)
            out.append({"at_s": d["at_s"], "side": d["side"], "action": d.get("action", ""), "cmd": d["cmd"],
                        "rc": d["rc"], "stderr": d["stderr"],
                        "start_s": (conv(int(d["start_ns"])) - self.t0) / 1e9,
                        "end_s": (conv(int(d["end_ns"])) - self.t0) / 1e9 if d["end_ns"] else None,
                        "effect_s": (conv(int(d["effect_ns"])) - self.t0) / 1e9 if d.get("effect_ns") else None})
        return sorted(out, key=lambda d: d["at_s"])


class PeerFaults:
    """The peer's side of :class:`Schedule`: start commands the host asks for, report when they returned."""

    def __init__(self, ch: Channel) -> None:
        self.ch = ch
        self.running: list[tuple[int, Command]] = []

    def step(self) -> None:
        while (msg := self.ch.poll("fault")) is not None:
            self.running.append((int(msg["id"]), Command(msg["cmd"], msg.get("watch", ""))))
        for i, c in list(self.running):
            if c.poll():
                self.running.remove((i, c))
                self.ch.send("fault_done", id=i, **c.result())

    def finish(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.running and time.monotonic() < deadline:
            self.step()
            time.sleep(0.01)
