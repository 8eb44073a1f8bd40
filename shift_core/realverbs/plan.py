"""From the ``backends.nic`` config and what each host has (:mod:`.probe`) to the suite's list of runs.

A fault *site* (the vocabulary of :mod:`shift_core.bench.sim`) becomes commands on a host, from the templates
in ``backends.nic.faults`` with ``{netdev}`` the primary device's network interface on that host:

* ``sender_nic``: the host's primary link goes down (``link_down`` on the host; it sends).
* ``receiver_nic``: the peer's primary link goes down.
* ``switch_port``: the path between the two primaries loses every packet while both ports stay up: the
  configured switch-port command (run on the host), else netem 100 % loss on both primaries (both directions).
* fault-matrix kinds: ``packet_loss`` drops the host's requests (netem on the host), ``ack_loss`` drops what the
  peer sends back -- ACKs, READ responses, CTS writes -- (netem on the peer), so requests execute and the
  sender times out: Theorem 1's case, where ``naive`` re-executes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from shift_core.errors import ShiftUserError

SITES = ("sender_nic", "receiver_nic", "switch_port")
#: fault-matrix rows: (fault kind, site)
MATRIX_FAULTS = {"link_down@sender_nic": ("link_down", "sender_nic"),
                 "link_down@receiver_nic": ("link_down", "receiver_nic"),
                 "packet_loss@switch_port": ("packet_loss", "switch_port"),
                 "ack_loss@switch_port": ("ack_loss", "switch_port")}
PERFTEST_ARGS = {"bw": ["-F", "--report_gbits", "-s", "65536"], "lat": ["-F", "-s", "2"]}
DEFAULT_FAULTS = {"link_down": "ip link set {netdev} down", "link_up": "ip link set {netdev} up",
                  "loss_on": "tc qdisc replace dev {netdev} root netem loss 100%",
                  "loss_off": "tc qdisc del dev {netdev} root", "switch_down": "", "switch_up": ""}


@dataclass(frozen=True)
class SideDevices:
    """One host's primary/backup devices as probed: GID indexes and network interfaces."""

    primary: str
    backup: str
    gid_index: int
    backup_gid_index: int
    netdev: str
    backup_netdev: str
    ipv4: str

    def as_dict(self) -> dict[str, Any]:
        return {"primary": self.primary, "backup": self.backup, "gid_index": self.gid_index,
                "backup_gid_index": self.backup_gid_index, "netdev": self.netdev, "backup_netdev": self.backup_netdev}


def split_devices(devices: list[str]) -> dict[str, list[str]]:
    """``[primary, backup]`` (same on both hosts) or ``[host primary, host backup, peer primary, peer backup]``."""
    if len(devices) == 2:
        return {"host": list(devices), "peer": list(devices)}
    if len(devices) == 4:
        return {"host": list(devices[:2]), "peer": list(devices[2:])}
    raise ShiftUserError(f"backends.nic.devices has {len(devices)} entries: give [primary, backup] (the same names "
                         "on both hosts) or [host primary, host backup, peer primary, peer backup]")


class Faults:
    """The fault templates of config, expanded per host."""

    def __init__(self, templates: dict[str, str], host: SideDevices, peer: SideDevices) -> None:
        self.t = {**DEFAULT_FAULTS, **{k: v for k, v in templates.items() if v is not None}}
        self.dev = {"host": host, "peer": peer}

    def cmd(self, name: str, side: str) -> str:
        return self.t[name].format(netdev=self.dev[side].netdev, dev=self.dev[side].primary)

    def site(self, site: str, at_s: float, until_s: float | None) -> list[dict[str, Any]]:
        """The commands of a Fig 7 / Fig 8b fault site, down at ``at_s`` and (if given) up at ``until_s``."""
        pairs: list[tuple[str, str, str]]  # (side, down, up)
        if site in ("sender_nic", "receiver_nic"):
            side = "host" if site == "sender_nic" else "peer"
            return self._events([(side, self.cmd("link_down", side), self.cmd("link_up", side))], at_s, until_s,
                                watch=self.dev[side].netdev)
        if site == "switch_port" and self.t["switch_down"]:
            pairs = [("host", self.t["switch_down"], self.t["switch_up"])]
        elif site == "switch_port":
            pairs = [(s, self.cmd("loss_on", s), self.cmd("loss_off", s)) for s in ("host", "peer")]
        else:
            raise ShiftUserError(f"unknown fault site {site!r}: use {', '.join(SITES)}")
        return self._events(pairs, at_s, until_s)

    def kind(self, kind: str, site: str, at_s: float, until_s: float | None) -> list[dict[str, Any]]:
        """The commands of a fault-matrix row (fault kind at a site)."""
        if kind == "link_down" or (kind == "packet_loss" and self.t["switch_down"]):
            return self.site(site, at_s, until_s)
        side = {"packet_loss": "host", "ack_loss": "peer"}.get(kind)
        if side is None:
            raise ShiftUserError(f"fault kind {kind!r} cannot be injected on real hosts: use "
                                 f"{', '.join(MATRIX_FAULTS)}")
        return self._events([(side, self.cmd("loss_on", side), self.cmd("loss_off", side))], at_s, until_s)

    @staticmethod
    def _events(pairs: list[tuple[str, str, str]], at_s: float, until_s: float | None,
                watch: str = "") -> list[dict[str, Any]]:
        """Down (and up) events; ``watch`` names the link whose state change marks when a command took effect."""
        out = [{"at_s": at_s, "side": side, "cmd": down, "action": "down", "watch": watch} for side, down, _ in pairs]
        if until_s is not None:
            out += [{"at_s": until_s, "side": side, "cmd": up, "action": "up", "watch": watch} for side, _, up in pairs]
        return out

    def restore(self, events: list[dict[str, Any]]) -> dict[str, list[str]]:
        """The undo of every ``down`` event, per host (run after the run whatever happened)."""
        undo = {"link_down": "link_up", "loss_on": "loss_off"}
        out: dict[str, list[str]] = {"host": [], "peer": []}
        for side in ("host", "peer"):
            for down, up in undo.items():
                if any(e["cmd"] == self.cmd(down, side) for e in events if e["side"] == side):
                    out[side].append(self.cmd(up, side))
        if self.t["switch_up"] and any(e["cmd"] == self.t["switch_down"] for e in events):
            out["host"].append(self.t["switch_up"])
        return out

    def cleanup(self) -> dict[str, list[str]]:
        """Links up and no netem on both primaries (errors ignored: nothing may be left to undo)."""
        return {s: [f"{self.cmd('link_up', s)} ; {self.cmd('loss_off', s)} 2>/dev/null ; true"]
                for s in ("host", "peer")}


def _run(name: str, bench: str, spec: dict[str, Any], faults: Faults, events: list[dict[str, Any]],
         meta: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "bench": bench, "spec": {**spec, "faults": events}, "restore": faults.restore(events),
            "meta": meta}


def timeline_runs(cfg: dict[str, Any], faults: Faults) -> list[dict[str, Any]]:
    """Fig 7: every (strategy, op, site) the config lists; fault at ``fault_at_s``, recovery at ``recover_at_s``.

    Strategies are interleaved per (op, site): a slow drift of the hosts (another tenant, a warming cache) then
    shifts none, naive and shift alike instead of making one strategy look faster than another."""
    depth = int(cfg["depth"])
    runs: list[dict[str, Any]] = []
    all_sites = list(dict.fromkeys(s for sites in cfg["strategies"].values() for s in sites))
    for op in cfg["ops"]:
        for site in all_sites:
            for strategy in [s for s, sites in cfg["strategies"].items() if site in sites]:
                ev = faults.site(site, float(cfg["fault_at_s"]), float(cfg["recover_at_s"]))
                spec = {"variant": "standard" if strategy == "none" else strategy, "op": op,
                        "nbytes": int(cfg["message_bytes"]), "depth": depth, "slots": 2 * depth,
                        "duration_s": float(cfg["duration_s"]), "sample_s": 1.0 / float(cfg["samples_per_s"])}
                runs.append(_run(f"timeline {strategy} {op} {site}", "stream", spec, faults, ev,
                                 {"stem": "timeline", "strategy": strategy, "op": op, "site": site}))
    return runs


def downtime_runs(cfg: dict[str, Any], faults: Faults, rc: dict[str, int], seed: int) -> list[dict[str, Any]]:
    """Fig 8b: ``runs`` SHIFT streams per (site, op), each faulted once at a seeded moment after a warm-up."""
    detect_s = (int(rc["retry_cnt"]) + 1) * 4.096e-6 * 2 ** int(rc["timeout"])
    runs: list[dict[str, Any]] = []
    for site in cfg["sites"]:
        for op in cfg["ops"]:
            for r in range(int(cfg["runs"])):
                run_seed = seed * 10_000 + len(runs)
                at = 1.0 + random.Random(run_seed).uniform(0.0, 0.5)
                spec = {"variant": "shift", "op": op, "nbytes": int(cfg["message_bytes"]), "depth": int(cfg["depth"]),
                        "slots": 2 * int(cfg["depth"]), "duration_s": at + 3 * detect_s + 5.0, "sample_s": 1.0,
                        "stop_after_failover_s": 0.3}
                runs.append(_run(f"downtime {site} {op} #{r}", "stream", spec, faults, faults.site(site, at, None),
                                 {"stem": "downtime", "site": site, "op": op, "seed": run_seed}))
    return runs


def matrix_runs(cfg: dict[str, Any], faults: Faults) -> list[dict[str, Any]]:
    """Fault-matrix rows: workload x strategy x (kind, site); down for ``down_s`` after ``warmup_s``."""
    runs: list[dict[str, Any]] = []
    warm, down, after = float(cfg["warmup_s"]), float(cfg["down_s"]), float(cfg["after_s"])
    for workload in cfg["workloads"]:
        for strategy in cfg["strategies"]:
            for fault in cfg["faults"]:
                kind, site = MATRIX_FAULTS[fault]
                ev = faults.kind(kind, site, warm, warm + down)
                tail = after * (2 if strategy == "shift" else 1)  # time for probe -> fence -> switch-back
                spec: dict[str, Any] = {"variant": strategy, "duration_s": warm + down + tail}
                bench = "nccl_simple"
                if workload != "nccl_simple":
                    bench = "stream"
                    spec.update(op={"send_recv": "send", "rdma_read": "read"}[workload], nbytes=4096, depth=4,
                                slots=8, sample_s=0.25)
                runs.append(_run(f"faults {workload} {strategy} {fault}", bench, spec, faults, ev,
                                 {"stem": "faults", "workload": workload, "strategy": strategy, "fault": kind,
                                  "site": site}))
    return runs


def interposer_run(cfg: dict[str, Any], peer_addr: str, libshift: dict[str, str]) -> dict[str, Any]:
    tools = {t: [*PERFTEST_ARGS[t.rsplit("_", 1)[1]],
                 *(["-D", str(cfg["bw_seconds"])] if t.endswith("_bw") else ["-n", str(cfg["lat_iters"])])]
             for t in cfg["tools"]}
    modes = ["plain", "libshift"] if libshift.get("host") and libshift.get("peer") else ["plain"]
    spec = {"tools": tools, "reps": int(cfg["reps"]), "modes": modes, "libshift": libshift, "peer_addr": peer_addr}
    return {"name": "interposer", "bench": "interposer", "spec": spec, "restore": {}, "meta": {"stem": "interposer"}}


def all_runs(suite: dict[str, Any], faults: Faults, rc: dict[str, int], seed: int, peer_addr: str,
             libshift: dict[str, str], parts: list[str]) -> list[dict[str, Any]]:
    """The runs of the selected ``parts`` (timeline, downtime, verbs_cost, latency, faults, interposer)."""
    runs: list[dict[str, Any]] = []
    for part in parts:
        if part == "timeline":
            runs += timeline_runs(suite["timeline"], faults)
        elif part == "downtime":
            runs += downtime_runs(suite["downtime"], faults, rc, seed)
        elif part == "faults":
            runs += matrix_runs(suite["faults"], faults)
        elif part == "verbs_cost":
            c = suite["verbs_cost"]
            runs.append({"name": "verbs_cost", "bench": "verbs_cost", "restore": {}, "meta": {"stem": "verbs_cost"},
                         "retries": 1,
                         "spec": {"variants": ["standard", "shift"], "control_reps": c["control_reps"],
                                  "data_reps": c["data_reps"]}})
        elif part == "latency":
            c = suite["latency"]
            runs.append({"name": "latency", "bench": "latency", "restore": {}, "meta": {"stem": "latency"},
                         "retries": 1,
                         "spec": {"variants": ["standard", "shift", "idle_qps"], "sizes": c["sizes"],
                                  "iterations": c["iterations"], "idle_qps": c["idle_qps"]}})
        elif part == "interposer":
            runs.append(interposer_run(suite["interposer"], peer_addr, libshift))
        else:
            raise ShiftUserError(f"unknown suite part {part!r}: use {', '.join(PARTS)}")
    return runs


PARTS = ("verbs_cost", "latency", "interposer", "timeline", "downtime", "faults")
