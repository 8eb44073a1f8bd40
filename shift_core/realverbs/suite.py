"""The controller: check both hosts, copy the agent, run the suite's plan, and collect every run's result.

    host = this machine ("local") or an ssh destination; peer = an ssh destination (backends.nic.*)

Order, and the one-line error each step can end in: ssh login (unreachable host) -> copy the agent ->
probe (no pyverbs / python3-redis, a device missing, no RoCE v2 GID, a port down, a missing tool, fault
commands that need root) -> label (soft-RoCE devices are backend ``rxe``, real ones ``nic``; mixed or not the
configured backend is refused) -> the peer agent listens, the host agent connects to it and runs the plan,
printing one JSON event per run, which :mod:`.results` turns into the sim's tables.
"""

from __future__ import annotations

import json
import re
import selectors
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shift_core.errors import NoDevice, ShiftError, ShiftUserError
from shift_core.realverbs import plan as planner
from shift_core.realverbs.transport import Remote

PERFTEST_TOOLS = ("ib_write_bw", "ib_write_lat", "ib_send_bw", "ib_read_bw")


@dataclass
class Setup:
    """Both hosts, checked: their probes, devices, the results' label and where the peer is reached."""

    host: Remote
    peer: Remote
    probes: dict[str, dict[str, Any]]
    devices: dict[str, planner.SideDevices]
    label: str
    peer_addr: str
    faults: planner.Faults
    logs: dict[str, str] = field(default_factory=dict)


def remotes(nic: dict[str, Any], control_dir: Path) -> tuple[Remote, Remote]:
    if not nic.get("peer"):
        raise ShiftUserError("no peer host configured (backends.nic.peer): name the second RDMA host's ssh "
                             "destination and the devices (book/runbook.md)")
    opts = dict(control_dir=control_dir, ssh_config=nic.get("ssh_config", ""), python=nic.get("python", "python3"))
    return Remote("host", nic.get("host") or "local", **opts), Remote("peer", nic["peer"], **opts)


def _ssh_hostname(peer: Remote) -> str:
    """The host name ssh resolves for the peer (``ssh -G``), the default address of the app's TCP exchange."""
    r = subprocess.run([*peer.ssh_argv()[:-1], "-G", peer.dest], capture_output=True, text=True, check=False,
                       timeout=30)
    m = re.search(r"^hostname (\S+)$", r.stdout, re.M)
    return m.group(1) if m else peer.dest.rsplit("@", 1)[-1]


def probe(side: Remote, devices: list[str]) -> dict[str, Any]:
    r = side.run(side.python_cmd("shift_core.realverbs.probe", *devices), timeout_s=120)
    out = r.stdout.decode(errors="replace").strip()
    if r.returncode != 0 or not out:
        err = (r.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ShiftUserError(f"{side.role} {side.dest}: `{side.python} -m shift_core.realverbs.probe` failed ({err}): "
                             "is backends.nic.python a Python 3 with the distribution's pyverbs?")
    return dict(json.loads(out.splitlines()[-1]))


def _check(side: Remote, p: dict[str, Any], names: list[str], templates: dict[str, str], parts: list[str]) -> None:
    """:raises ShiftUserError: the first thing this host lacks, in one line that says what to install or set."""
    where = f"{side.role} {side.dest} ({p.get('hostname', '?')})"
    if p["pyverbs"]:
        raise ShiftUserError(f"{where}: pyverbs not importable by {side.python} ({p['pyverbs']}): install "
                             "python3-pyverbs (rdma-core) or set backends.nic.python")
    if p["redis_py"]:
        raise ShiftUserError(f"{where}: the redis module is not importable by {side.python}: install python3-redis "
                             "(SHIFT's KV store client)")
    missing = [d for d in names if not p["devices"][d]["present"]]
    if missing:
        raise NoDevice(f"{where}: RDMA device(s) {', '.join(missing)} not found (present: "
                       f"{', '.join(p['all_devices']) or 'none'}): fix backends.nic.devices")
    for d in names:
        info = p["devices"][d]
        if info["gid_index"] is None:
            raise NoDevice(f"{where}: {d} has no RoCE v2 IPv4 GID (link layer {info['link_layer'] or '?'}): give its "
                           "network interface an IPv4 address (the suite runs RoCE v2)")
        if info["port_state"] != "ACTIVE":
            raise NoDevice(f"{where}: {d} port 1 is {info['port_state'] or 'unknown'}, not ACTIVE: bring "
                           f"{info['netdev'] or 'its link'} up")
    needed = {"redis-server"} if side.role == "host" else set()
    if "interposer" in parts:
        needed |= set(PERFTEST_TOOLS)
    for name, tpl in templates.items():
        word = tpl.split()[0] if tpl.strip() else ""
        if word == "sudo" and len(tpl.split()) > 1:
            word = next((w for w in tpl.split()[1:] if not w.startswith("-")), "")
        if word in ("ip", "tc") and not name.startswith("switch"):
            needed.add(word)
    lacking = sorted(t for t in needed if not p["tools"].get(t))
    if lacking:
        hint = {"redis-server": "redis-server", "ip": "iproute2", "tc": "iproute2"}
        pkgs = sorted({hint.get(t, "perftest") for t in lacking})
        raise ShiftUserError(f"{where}: {', '.join(lacking)} not found: install {' '.join(pkgs)}")
    if not p["root"] and any(t.strip() and not t.strip().startswith("sudo") for n, t in templates.items()
                             if not n.startswith("switch")):
        raise ShiftUserError(f"{where}: fault injection (`ip link`, `tc`) needs root: log in as root or prefix "
                             "backends.nic.faults.* with `sudo -n`")


def side_devices(p: dict[str, Any], names: list[str]) -> planner.SideDevices:
    a, b = (p["devices"][n] for n in names)
    return planner.SideDevices(names[0], names[1], int(a["gid_index"]), int(b["gid_index"]), a["netdev"],
                               b["netdev"], a["ipv4"])


def label_of(probes: dict[str, dict[str, Any]], devices: dict[str, list[str]]) -> str:
    """``rxe`` when every device is soft RDMA, ``nic`` when none is; mixed is refused."""
    kinds = {(side, d): probes[side]["devices"][d] for side in probes for d in devices[side]}
    soft = {k for k, v in kinds.items() if v["soft"]}
    if soft and len(soft) != len(kinds):
        hard = sorted(f"{s}:{d}" for s, d in kinds.keys() - soft)
        raise ShiftUserError(f"mixed soft and real RDMA devices ({', '.join(f'{s}:{d}' for s, d in sorted(soft))} "
                             f"vs {', '.join(hard)}): one run is one backend; name devices of one kind")
    return "rxe" if soft else "nic"


def prepare(nic: dict[str, Any], parts: list[str], control_dir: Path, log: Callable[[str], None]) -> Setup:
    """Reach, equip and probe both hosts; :raises ShiftUserError: (one line) on the first thing missing."""
    host, peer = remotes(nic, control_dir)
    names = planner.split_devices(list(nic.get("devices") or []))
    templates = {**planner.DEFAULT_FAULTS, **(nic.get("faults") or {})}
    probes = {}
    for side in (host, peer):
        side.check_reachable()
    for side in (host, peer):
        side.ship()
        probes[side.role] = probe(side, names[side.role])
        _check(side, probes[side.role], names[side.role], templates, parts)
        got = probes[side.role]["devices"]
        log(f"{side.role} {side.dest}: {probes[side.role]['hostname']}, " + ", ".join(
            f"{d} ({got[d]['driver']}, {got[d]['netdev']}, GID {got[d]['gid_index']})" for d in names[side.role]))
    label = label_of(probes, names)
    wanted = nic.get("backend", "nic")
    if label != wanted:
        what = "soft-RoCE (rdma_rxe/siw)" if label == "rxe" else "real RDMA NICs"
        raise ShiftUserError(f"the devices are {what}, so their numbers are backend {label}, not {wanted}: set "
                             f"backends.nic.backend: {label} (results go to data/{label}/; soft-RoCE is never nic)")
    devs = {s: side_devices(probes[s], names[s]) for s in ("host", "peer")}
    peer_addr = nic.get("peer_addr") or _ssh_hostname(peer)
    return Setup(host, peer, probes, devs, label, peer_addr, planner.Faults(templates, devs["host"], devs["peer"]))


def make_plan(setup: Setup, nic: dict[str, Any], parts: list[str], seed: int) -> dict[str, Any]:
    rc = {"timeout": int(nic["rc"]["timeout"]), "retry_cnt": int(nic["rc"]["retry_cnt"])}
    libshift = {"host": nic.get("libshift") or setup.host.libshift(), "peer": nic.get("libshift") or
                setup.peer.libshift()}
    runs = planner.all_runs(nic["suite"], setup.faults, rc, seed, setup.peer_addr, libshift, parts)
    return {"label": setup.label, "peer_addr": setup.peer_addr, "rc": rc, "max_skew_ms": float(nic["max_skew_ms"]),
            "host": {"devices": setup.devices["host"].as_dict()}, "peer": {"devices": setup.devices["peer"].as_dict()},
            "cleanup": setup.faults.cleanup(), "runs": runs}


def _drain(stream: Any, sink: list[str]) -> None:
    for line in iter(stream.readline, b""):
        sink.append(line.decode(errors="replace"))


def execute(setup: Setup, plan: dict[str, Any], on_event: Callable[[dict[str, Any]], None],
            log_dir: Path | None = None, max_restarts: int = 3) -> list[dict[str, Any]]:
    """Run ``plan``: every event the host agent prints, in order. When the agents die in the middle of a run
    (a crashed provider, a wedged guest), that run is recorded as failed and fresh agents go on with the next
    one, ``max_restarts`` times at most.

    :raises ShiftError: a clock error, an agent that cannot start, or too many restarts (one line).
    """
    events: list[dict[str, Any]] = []
    first = 0
    for attempt in range(max_restarts + 1):
        got, tail = _execute_once(setup, {**plan, "runs": plan["runs"][first:], "first": first}, on_event,
                                  log_dir, attempt)
        events += got
        fatal = [e["message"] for e in got if e["event"] == "error" and e.get("fatal")]
        if fatal:
            raise ShiftError(fatal[0])
        if any(e["event"] == "done" for e in got):
            return events
        crashed = first + sum(e["event"] == "run" for e in got)
        if crashed >= len(plan["runs"]):
            return events
        why = next((e["message"] for e in got if e["event"] == "error"), tail)
        ev = {"event": "run", "index": crashed, "name": plan["runs"][crashed].get("name", ""),
              "bench": plan["runs"][crashed]["bench"], "status": "failed", "result": None, "restored": [],
              "error": f"the agents stopped during this run ({why[:300]}); restarted for the next one",
              "offset": {"before_ns": 0, "after_ns": 0, "uncertainty_ns": 0}, "seconds": 0.0}
        events.append(ev)
        on_event(ev)
        first = crashed + 1
        if first >= len(plan["runs"]):
            return events
    raise ShiftError(f"the agents stopped {max_restarts + 1} times; last: {events[-1]['error']}")


def _execute_once(setup: Setup, plan: dict[str, Any], on_event: Callable[[dict[str, Any]], None],
                  log_dir: Path | None, attempt: int) -> tuple[list[dict[str, Any]], str]:
    """One pair of agents over ``plan``: their events and the last line they logged."""
    peer = setup.peer.popen(setup.peer.python_cmd("shift_core.realverbs.agent", "peer", "--listen", "0.0.0.0"))
    peer_err: list[str] = []
    host_err: list[str] = []
    threading.Thread(target=_drain, args=(peer.stderr, peer_err), daemon=True).start()
    events: list[dict[str, Any]] = []
    host = None
    try:
        port = _listening_port(peer, peer_err)
        host = setup.host.popen(setup.host.python_cmd("shift_core.realverbs.agent", "host"))
        threading.Thread(target=_drain, args=(host.stderr, host_err), daemon=True).start()
        assert host.stdin is not None and host.stdout is not None
        host.stdin.write((json.dumps({**plan, "peer_port": port}) + "\n").encode())
        host.stdin.close()
        for raw in iter(host.stdout.readline, b""):
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            events.append(ev)
            on_event(ev)
        host.wait(timeout=120)
    finally:
        for proc in (host, peer):
            if proc is not None and proc.poll() is None:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            mode = "w" if attempt == 0 else "a"
            for name, lines in (("host_agent.log", host_err), ("peer_agent.log", peer_err)):
                with open(log_dir / name, mode) as fh:
                    fh.write(f"--- agents, attempt {attempt + 1}\n" + "".join(lines))
    tail = ("".join(host_err + peer_err).strip().splitlines() or ["no output"])[-1]
    return events, tail


def _listening_port(peer: subprocess.Popen[bytes], err: list[str], timeout_s: float = 180) -> int:
    assert peer.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(peer.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = peer.stdout.readline()
            if not line:
                break
            try:
                return int(json.loads(line)["port"])
            except (ValueError, KeyError):
                continue
        if peer.poll() is not None:
            break
    tail = "".join(err).strip().splitlines()[-1:] or ["no output"]
    raise ShiftError(f"the peer agent did not start listening: {tail[0][:300]}")


def run(nic: dict[str, Any], parts: list[str], seed: int, log: Callable[[str], None],
        on_event: Callable[[dict[str, Any]], None], log_dir: Path | None = None) -> tuple[Setup, dict[str, Any],
                                                                                         list[dict[str, Any]]]:
    """Prepare both hosts, build the plan and execute it: (setup, plan, events)."""
    with tempfile.TemporaryDirectory(prefix="shift-ssh-") as control:
        setup = prepare(nic, parts, Path(control), log)
        try:
            the_plan = make_plan(setup, nic, parts, seed)
            log(f"{setup.label}: {len(the_plan['runs'])} runs between {setup.host.dest} and {setup.peer.dest} "
                f"(peer at {setup.peer_addr})")
            events = execute(setup, the_plan, on_event, log_dir)
        finally:
            setup.host.close()
            setup.peer.close()
    return setup, the_plan, events
